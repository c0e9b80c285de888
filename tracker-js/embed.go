// Package trackerjs holds the built snippet and the parts it loads, which the
// collector serves.
package trackerjs

import "embed"

// File is a built script (dist/*.js, from src/ by `npm run build`, committed so
// that Go builds need no node) and its gzip encoding (dist/*.js.gz).
type File struct {
	Plain, Gzip []byte
}

//go:embed dist/*.js dist/*.js.gz
var dist embed.FS

var (
	// Script is the snippet, /t.js.
	Script = load("t.js")
	// Links is the cross-domain part, /l.js, which the snippet loads for sites
	// that list their other domains (data-domains).
	Links = load("l.js")
	// Calls is the call-tracking part, /c.js, which the snippet loads for sites
	// with number pools (data-calls).
	Calls = load("c.js")
)

func load(name string) File {
	plain, err := dist.ReadFile("dist/" + name)
	if err != nil {
		panic(err) // dist/ lacks a built file: run npm run build
	}
	gz, err := dist.ReadFile("dist/" + name + ".gz")
	if err != nil {
		panic(err)
	}
	return File{plain, gz}
}
