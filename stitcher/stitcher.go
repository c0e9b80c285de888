// Package stitcher consumes enriched events from Kafka and writes them to ClickHouse in
// batches, committing Kafka offsets only after ClickHouse accepted the rows.
package stitcher

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"touchpoint/internal/event"
	"touchpoint/internal/kafkabus"
)

// Config holds the stitcher's settings.
type Config struct {
	Group      string
	BatchSize  int
	FlushEvery time.Duration
	Listen     string
}

// RegisterFlags declares the stitcher's flags.
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Group, "kafka.group", "tp-stitcher", "Kafka consumer group")
	fs.IntVar(&c.BatchSize, "batch.size", 10000, "most events in one ClickHouse insert")
	fs.DurationVar(&c.FlushEvery, "batch.flush", time.Second, "longest time an event waits for its batch")
	fs.StringVar(&c.Listen, "http.listen", "127.0.0.1:8082", "address of /healthz and /metrics")
	return c
}

// Stitcher is one consumer-group member.
type Stitcher struct {
	cfg    *Config
	reader *kafka.Reader
	conn   driver.Conn
	db     string
}

// New builds a stitcher reading kc's topic and writing to database db.
func New(cfg *Config, kc *kafkabus.Config, conn driver.Conn, db string) *Stitcher {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        kc.BrokerList(),
		GroupID:        cfg.Group,
		Topic:          kc.Topic,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        200 * time.Millisecond,
		CommitInterval: 0, // commits are synchronous, after each insert
		StartOffset:    kafka.FirstOffset,
	})
	return &Stitcher{cfg: cfg, reader: r, conn: conn, db: db}
}

// Run consumes until ctx is done. Rows of a batch are inserted before its offsets are
// committed; a failed insert is retried with backoff and nothing is committed past it.
func (s *Stitcher) Run(ctx context.Context) error {
	defer s.reader.Close()
	var batch []kafka.Message
	deadline := time.Now().Add(s.cfg.FlushEvery)
	for {
		fctx, cancel := context.WithDeadline(ctx, deadline)
		m, err := s.reader.FetchMessage(fctx)
		cancel()
		switch {
		case err == nil:
			batch = append(batch, m)
			if len(batch) < s.cfg.BatchSize {
				continue
			}
		case ctx.Err() != nil:
			return nil // unflushed messages are not committed: they are read again
		case errors.Is(err, context.DeadlineExceeded):
		default:
			return fmt.Errorf("cannot read from Kafka: %w", err)
		}
		if len(batch) > 0 {
			if err := s.flush(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		deadline = time.Now().Add(s.cfg.FlushEvery)
	}
}

func (s *Stitcher) flush(ctx context.Context, msgs []kafka.Message) error {
	rows := make([]eventRow, 0, len(msgs))
	version := uint64(time.Now().UnixNano())
	for i := range msgs {
		var e event.Enriched
		if err := json.Unmarshal(msgs[i].Value, &e); err != nil {
			log.Printf("stitcher: skipping undecodable message at %s/%d@%d: %v", msgs[i].Topic, msgs[i].Partition, msgs[i].Offset, err)
			continue
		}
		r, err := newEventRow(&e, version)
		if err != nil {
			log.Printf("stitcher: skipping event with bad id at %d@%d: %v", msgs[i].Partition, msgs[i].Offset, err)
			continue
		}
		rows = append(rows, r)
	}
	for attempt := 0; ; attempt++ {
		err := s.insert(ctx, rows)
		if err == nil {
			break
		}
		wait := min(time.Duration(1<<min(attempt, 5))*200*time.Millisecond, 5*time.Second)
		log.Printf("stitcher: insert of %d rows failed (retrying in %s): %v", len(rows), wait, err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	if err := s.reader.CommitMessages(ctx, msgs...); err != nil && ctx.Err() == nil {
		return fmt.Errorf("cannot commit offsets: %w", err)
	}
	return nil
}

func (s *Stitcher) insert(ctx context.Context, rows []eventRow) error {
	if len(rows) == 0 {
		return nil
	}
	// A batch cannot be re-sent after a failure: it is rebuilt from rows on each attempt.
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".events ("+eventColumns+")")
	if err != nil {
		return err
	}
	defer b.Abort()
	for i := range rows {
		if err := b.Append(rows[i].values()...); err != nil {
			return err
		}
	}
	return b.Send()
}
