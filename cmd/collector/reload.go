package main

import (
	"os"
	"os/signal"
	"syscall"
)

// sitesHUP receives SIGHUP from the start of the process on: the site configuration is
// reloaded on it (openGeo has a channel of its own for the GeoIP databases).
var sitesHUP = make(chan os.Signal, 1)

func init() { signal.Notify(sitesHUP, syscall.SIGHUP) }
