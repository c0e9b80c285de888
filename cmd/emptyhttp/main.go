// Command emptyhttp is the baseline of the collector benchmark (scripts/bench-collector.sh):
// a fasthttp server that reads each request and answers 204, doing nothing else.
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("http.listen", "127.0.0.1:18089", "address to listen on")
	flag.Parse()
	h := func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) }
	if err := fasthttp.ListenAndServe(*listen, h); err != nil {
		log.Fatal(err)
	}
}
