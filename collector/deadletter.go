package collector

import (
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

// add appends m, refused with reason, and returns once it is on disk.
func (f *deadLetterFile) add(m spool.Message, reason error) error {
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
	spoolDeadLetters.Inc()
	log.Printf("collector: Kafka refused a spooled message for good (%d bytes, key %q), set aside in %s: %v", len(m.Value), m.Key, f.path, reason)
	return nil
}
