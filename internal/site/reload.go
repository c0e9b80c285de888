package site

import (
	"context"
	"errors"
	"log"
	"os"
)

// Reload reads the file the registry was loaded from again, with the environment
// overrides, and replaces the whole configuration at once. A file that cannot be read or
// is not valid changes nothing: the error says why, and the old configuration stays.
func (r *Registry) Reload() error {
	if r.file == "" {
		return errors.New("cannot reload sites: the configuration was not read from a file")
	}
	next, err := Load(r.file)
	if err != nil {
		return err
	}
	if err := next.CheckExposure(r.listen...); err != nil {
		return err
	}
	r.cur.Store(next.cur.Load())
	return nil
}

// File is the configuration file the registry was loaded from ("" for New).
func (r *Registry) File() string { return r.file }

// ReloadOn reloads the registry each time a signal arrives on sig (SIGHUP) until ctx is
// done, logging what happened under name.
func (r *Registry) ReloadOn(ctx context.Context, sig <-chan os.Signal, name string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			if err := r.Reload(); err != nil {
				log.Printf("%s: SIGHUP: site configuration not reloaded, the previous one stays in use: %v", name, err)
				continue
			}
			log.Printf("%s: SIGHUP: site configuration reloaded from %s (%d sites)", name, r.file, len(r.Sites()))
		}
	}
}
