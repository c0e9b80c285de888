// Package envflag lets every command-line flag also be set from the environment:
// flag "kafka.brokers" reads TP_KAFKA_BROKERS when it is not given on the command line.
// Flags stay declared beside the code that reads them; this is the only config mechanism.
package envflag

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Parse parses the command line, then fills every flag not set there from its TP_ variable.
func Parse() {
	flag.Parse()
	if err := apply(flag.CommandLine, os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// EnvName is the environment variable read for a flag.
func EnvName(flagName string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return "TP_" + strings.ToUpper(r.Replace(flagName))
}

func apply(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("cannot use %s=%q: %w", EnvName(f.Name), v, e)
			}
		}
	})
	return err
}
