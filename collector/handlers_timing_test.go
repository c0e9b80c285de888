package collector

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
)

// BenchmarkHandleEvents measures the collector's own work for one /e request of three
// events (decode, enrich, encode), with an in-memory store instead of Kafka.
func BenchmarkHandleEvents(b *testing.B) {
	ts := newTestServer(b, nil)
	vid := uuid.NewString()
	now := time.Now().UnixMilli()
	body := []byte(batch("demo",
		pageview(uuid.NewString(), vid, now),
		fmt.Sprintf(`{"id":%q,"type":"track","ts":%d,"vid":%q,"name":"signup_click","url":"https://shop.example.com/pricing","props":{"plan":"pro","position":2}}`, uuid.NewString(), now, vid),
		fmt.Sprintf(`{"id":%q,"type":"form_submit","ts":%d,"vid":%q,"form":{"id":"contact","action":"/contact","fields":["name","email"]},"traits":{"email":"a@example.com"}}`, uuid.NewString(), now, vid)))
	h := ts.srv.Handler()
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI("/e")
		ctx.Request.Header.Set("Origin", "http://localhost:3000")
		ctx.Request.Header.Set("User-Agent", browserUA)
		ctx.Request.SetBody(body)
		h(&ctx)
		if ctx.Response.StatusCode() != 204 {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		ts.store.msgs = ts.store.msgs[:0]
	}
}
