package collector

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	"github.com/valyala/fasthttp"

	trackerjs "touchpoint/tracker-js"
)

// trackerFile is an embedded script (/t.js, /l.js, /c.js): brotli, compressed
// once at start, for the browsers that accept it (all current ones over HTTPS,
// ~10 % smaller than gzip for the snippet), gzip (compressed at build time) for
// the rest.
type trackerFile struct {
	plain, br, gz encoded
}

// encoded is one representation of a script, with its own ETag: a validator names
// the bytes sent, so each content coding has its own (a cache that kept the gzip
// bytes must not be told they are the brotli ones).
type encoded struct {
	body, etag []byte
}

func newScriptFile(f trackerjs.File) *trackerFile {
	sum := sha256.Sum256(f.Plain)
	tag := func(coding string) []byte { return []byte(`"` + hex.EncodeToString(sum[:8]) + coding + `"`) }
	br := fasthttp.AppendBrotliBytesLevel(nil, f.Plain, fasthttp.CompressBrotliBestCompression)
	return &trackerFile{plain: encoded{f.Plain, tag("")}, br: encoded{br, tag("-br")}, gz: encoded{f.Gzip, tag("-gz")}}
}

func (t *trackerFile) serve(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD")
		ctx.Error("use GET", fasthttp.StatusMethodNotAllowed)
		return
	}
	h := &ctx.Response.Header
	// An hour fresh, then revalidated in the background: a new tracker reaches every page within a day.
	h.Set(fasthttp.HeaderCacheControl, "public, max-age=3600, stale-while-revalidate=86400")
	h.Set(fasthttp.HeaderVary, "Accept-Encoding")
	f := t.plain
	switch {
	case ctx.Request.Header.HasAcceptEncoding("br"):
		f = t.br
		h.Set(fasthttp.HeaderContentEncoding, "br")
	case ctx.Request.Header.HasAcceptEncoding("gzip"):
		f = t.gz
		h.Set(fasthttp.HeaderContentEncoding, "gzip")
	}
	h.SetBytesV(fasthttp.HeaderETag, f.etag)
	if inm := ctx.Request.Header.Peek(fasthttp.HeaderIfNoneMatch); len(inm) > 0 && bytes.Contains(inm, f.etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType("application/javascript; charset=utf-8")
	ctx.SetBody(f.body)
}
