package main

import (
	"os"
	"os/signal"
	"syscall"
)

// sighup receives SIGHUP from the start of the process on, so that the signal never
// takes its default action (ending the process) and serve reloads the sites on it.
var sighup = make(chan os.Signal, 1)

func init() { signal.Notify(sighup, syscall.SIGHUP) }
