// Package trackerjs holds the built snippet that the collector serves at /t.js.
package trackerjs

import _ "embed"

// Script is dist/t.js, built from src/ by `npm run build` and committed so
// that Go builds need no node.
//
//go:embed dist/t.js
var Script []byte

// Calls is dist/c.js, the call-tracking part that the snippet loads for sites with
// number pools (data-calls).
//
//go:embed dist/c.js
var Calls []byte
