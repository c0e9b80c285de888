package collector

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"touchpoint/collector/spool"
)

var spoolDeadLetters = promauto.NewCounter(prometheus.CounterOpts{
	Name: "tp_collector_spool_dead_letters_total",
	Help: "Spooled messages Kafka refused for good (too large, invalid), set aside in the spool directory's " + deadLetterName + ".",
})

// deadLetterName is the file, in the spool directory, of spooled messages that Kafka
// refused for good.
const deadLetterName = "dead-letters.jsonl"

// deadLetterFile keeps the spooled messages that Kafka refuses for good, one JSON object a
// line, so that an operator can look at them and send them again once the cause is fixed
// (a broker's message.max.bytes raised, say).
type deadLetterFile struct {
	path string
	mu   sync.Mutex
	// The messages set aside since the spool last advanced: an attempt at the same
	// records after a failure does not write them twice.
	done map[[sha256.Size]byte]bool
}

func identity(m spool.Message) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s%d:%s", len(m.Topic), m.Topic, len(m.Key), m.Key)
	h.Write(m.Value)
	return [sha256.Size]byte(h.Sum(nil))
}

// has reports whether m was set aside since the spool last advanced.
func (f *deadLetterFile) has(m spool.Message) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done[identity(m)]
}

// forget is called when the spool advanced past the messages set aside.
func (f *deadLetterFile) forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.done)
}

// deadLetter is one line of the file.
type deadLetter struct {
	At      time.Time         `json:"at"`
	Error   string            `json:"error"`
	Topic   string            `json:"topic"`
	Key     string            `json:"key,omitempty"`
	Value   json.RawMessage   `json:"value,omitempty"`        // when it is JSON, as every event is
	Raw     []byte            `json:"value_base64,omitempty"` // otherwise
	Headers map[string]string `json:"headers,omitempty"`
}

// add appends m, refused with reason, and returns once it is on disk; a message already
// set aside since the spool last advanced is not written again.
func (f *deadLetterFile) add(m spool.Message, reason error) error {
	id := identity(m)
	d := deadLetter{At: time.Now().UTC(), Error: reason.Error(), Topic: m.Topic, Key: string(m.Key)}
	if json.Valid(m.Value) {
		d.Value = m.Value
	} else {
		d.Raw = m.Value
	}
	if len(m.Headers) > 0 {
		d.Headers = map[string]string{}
		for _, h := range m.Headers {
			d.Headers[h.Key] = string(h.Value)
		}
	}
	line, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("cannot encode dead letter: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done[id] {
		return nil
	}
	// The file holds events as the spool does: readable by the service's user only.
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open dead-letter file: %w", err)
	}
	_, err = file.Write(append(line, '\n'))
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write dead-letter file: %w", err)
	}
	if f.done == nil {
		f.done = map[[sha256.Size]byte]bool{}
	}
	f.done[id] = true
	spoolDeadLetters.Inc()
	log.Printf("collector: Kafka refused a spooled message for good (%d bytes, key %q), set aside in %s: %v", len(m.Value), m.Key, f.path, reason)
	return nil
}
