// Package spool is the collector's bounded local disk queue: when Kafka is unreachable,
// acknowledged events are appended here (and fsynced) and replayed in order once it returns.
//
// On disk a spool is a directory of numbered segment files holding records
// [length uint32][crc32 uint32][payload], plus a cursor file naming the first record not
// yet replayed. Replayed segments are deleted. A record torn by a crash is cut off on Open.
package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ErrFull is returned by Append when the spool holds its maximum size.
var ErrFull = errors.New("spool is full")

// Message is one Kafka message kept in the spool.
type Message struct {
	Topic   string   `json:"t"`
	Key     []byte   `json:"k,omitempty"`
	Value   []byte   `json:"v"`
	Headers []Header `json:"h,omitempty"`
}

// Header is a Kafka message header.
type Header struct {
	Key   string `json:"k"`
	Value []byte `json:"v"`
}

const (
	headerSize = 8
	maxRecord  = 64 << 20
	cursorFile = "cursor"
	segSuffix  = ".seg"
)

// Spool is safe for concurrent use; Peek and Commit are meant for one replaying goroutine.
type Spool struct {
	dir    string
	max    int64
	segMax int64
	sync   bool

	mu    sync.Mutex
	w     *os.File
	wseg  uint64
	wsize int64
	rseg  uint64
	roff  int64
	next  int64 // offset after the record last returned by Peek
	size  int64 // bytes in segments not yet deleted

	// Group commit: concurrent appends share one fsync.
	written uint64     // records appended, under mu
	syncMu  sync.Mutex // one fsync at a time
	synced  uint64     // records known to be on disk, under syncMu
}

// Options tune a spool.
type Options struct {
	MaxBytes     int64 // refuse appends beyond this many bytes on disk
	SegmentBytes int64 // start a new segment file beyond this size (default 16 MiB)
	NoSync       bool  // skip fsync after each append (tests only)
}

// Open opens or creates the spool in dir.
func Open(dir string, o Options) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create spool directory: %w", err)
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 16 << 20
	}
	s := &Spool{dir: dir, max: o.MaxBytes, segMax: o.SegmentBytes, sync: !o.NoSync}
	segs, err := s.segments()
	if err != nil {
		return nil, err
	}
	s.rseg, s.roff = s.readCursor()
	var first uint64
	for _, n := range segs {
		if n < s.rseg {
			os.Remove(s.segPath(n)) // replayed before the last stop
			continue
		}
		fi, err := os.Stat(s.segPath(n))
		if err != nil {
			return nil, fmt.Errorf("cannot stat spool segment: %w", err)
		}
		if first == 0 {
			first = n
		}
		s.size += fi.Size()
		s.wseg = n
	}
	switch {
	case first == 0: // nothing left on disk
		s.wseg, s.rseg, s.roff = max(s.rseg, 1), max(s.rseg, 1), 0
	case first > s.rseg: // the cursor's segment is gone: start at the oldest one left
		s.rseg, s.roff = first, 0
	}
	if err := s.openWriter(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spool) segPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", n, segSuffix))
}

func (s *Spool) segments() ([]uint64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list spool directory: %w", err)
	}
	var out []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func (s *Spool) readCursor() (uint64, int64) {
	b, err := os.ReadFile(filepath.Join(s.dir, cursorFile))
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	seg, err1 := strconv.ParseUint(f[0], 10, 64)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return seg, off
}

func (s *Spool) writeCursor() error {
	tmp := filepath.Join(s.dir, cursorFile+".tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", s.rseg, s.roff), 0o644); err != nil {
		return fmt.Errorf("cannot write spool cursor: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, cursorFile)); err != nil {
		return fmt.Errorf("cannot write spool cursor: %w", err)
	}
	return nil
}

// openWriter opens the last segment for appending, cutting off a record torn by a crash.
func (s *Spool) openWriter() error {
	f, err := os.OpenFile(s.segPath(s.wseg), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open spool segment: %w", err)
	}
	good, err := validPrefix(f)
	if err != nil {
		f.Close()
		return err
	}
	fi, _ := f.Stat()
	if fi.Size() != good {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return fmt.Errorf("cannot cut torn spool record: %w", err)
		}
		s.size -= fi.Size() - good
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("cannot seek spool segment: %w", err)
	}
	s.w, s.wsize = f, good
	return nil
}

// validPrefix is the length of the longest run of whole, checksummed records from the start.
func validPrefix(f *os.File) (int64, error) {
	var off int64
	var h [headerSize]byte
	for {
		if _, err := f.ReadAt(h[:], off); err != nil {
			return off, nil
		}
		n := int64(binary.LittleEndian.Uint32(h[:4]))
		if n > maxRecord {
			return off, nil
		}
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off+headerSize); err != nil {
			return off, nil
		}
		if crc32.ChecksumIEEE(buf) != binary.LittleEndian.Uint32(h[4:]) {
			return off, nil
		}
		off += headerSize + n
	}
}

// Append writes msgs as one record; it returns once the record is on disk (fsynced,
// unless the spool was opened with NoSync).
func (s *Spool) Append(msgs []Message) error {
	payload, err := json.Marshal(msgs)
	if err != nil {
		return fmt.Errorf("cannot encode spool record: %w", err)
	}
	rec := make([]byte, headerSize+len(payload))
	binary.LittleEndian.PutUint32(rec[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:8], crc32.ChecksumIEEE(payload))
	copy(rec[headerSize:], payload)

	s.mu.Lock()
	if s.w == nil {
		s.mu.Unlock()
		return errors.New("spool is closed")
	}
	if s.max > 0 && s.size+int64(len(rec)) > s.max {
		s.mu.Unlock()
		return ErrFull
	}
	if s.wsize > 0 && s.wsize+int64(len(rec)) > s.segMax {
		if err := s.rotate(); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	if _, err := s.w.Write(rec); err != nil {
		// Cut what may have been written so the segment stays whole.
		s.w.Truncate(s.wsize)
		s.w.Seek(s.wsize, io.SeekStart)
		s.mu.Unlock()
		return fmt.Errorf("cannot write spool record: %w", err)
	}
	s.wsize += int64(len(rec))
	s.size += int64(len(rec))
	s.written++
	seq := s.written
	s.mu.Unlock()
	if !s.sync {
		return nil
	}
	return s.syncTo(seq)
}

// syncTo returns once record seq is on disk. Appends that arrive while one fsync runs
// wait and are covered together by the next.
func (s *Spool) syncTo(seq uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= seq {
		return nil
	}
	s.mu.Lock()
	target, f := s.written, s.w
	s.mu.Unlock()
	if f == nil {
		return errors.New("spool is closed")
	}
	// A segment is synced before rotate closes it, so a closed file is already on disk.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("cannot sync spool: %w", err)
	}
	s.synced = target
	return nil
}

func (s *Spool) rotate() error {
	if s.sync {
		if err := s.w.Sync(); err != nil {
			return fmt.Errorf("cannot sync spool segment: %w", err)
		}
	}
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("cannot close spool segment: %w", err)
	}
	s.wseg++
	f, err := os.OpenFile(s.segPath(s.wseg), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create spool segment: %w", err)
	}
	s.w, s.wsize = f, 0
	return nil
}

// Peek returns the oldest records not yet committed, whole records of one segment up to
// about max messages (at least one record), or nil when the spool is empty.
func (s *Spool) Peek(max int) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.rseg == s.wseg && s.roff >= s.wsize {
			return nil, nil
		}
		f, err := os.Open(s.segPath(s.rseg))
		if err != nil {
			return nil, fmt.Errorf("cannot open spool segment: %w", err)
		}
		var out []Message
		off := s.roff
		for len(out) < max {
			if s.rseg == s.wseg && off >= s.wsize {
				break // do not read past what Append finished writing
			}
			msgs, next, err := readRecord(f, off)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, err
			}
			out, off = append(out, msgs...), next
		}
		f.Close()
		if len(out) == 0 && s.rseg < s.wseg {
			// The segment is replayed: move to the next one.
			s.dropSegment()
			continue
		}
		s.next = off
		return out, nil
	}
}

func readRecord(f *os.File, off int64) ([]Message, int64, error) {
	var h [headerSize]byte
	if _, err := f.ReadAt(h[:], off); err != nil {
		return nil, 0, io.EOF
	}
	n := int64(binary.LittleEndian.Uint32(h[:4]))
	if n > maxRecord {
		return nil, 0, fmt.Errorf("spool record at %d claims %d bytes", off, n)
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off+headerSize); err != nil {
		return nil, 0, io.EOF
	}
	if crc32.ChecksumIEEE(buf) != binary.LittleEndian.Uint32(h[4:]) {
		return nil, 0, fmt.Errorf("spool record at %d fails its checksum", off)
	}
	var msgs []Message
	if err := json.Unmarshal(buf, &msgs); err != nil {
		return nil, 0, fmt.Errorf("cannot decode spool record: %w", err)
	}
	return msgs, off + headerSize + n, nil
}

func (s *Spool) dropSegment() {
	if fi, err := os.Stat(s.segPath(s.rseg)); err == nil {
		s.size -= fi.Size()
	}
	os.Remove(s.segPath(s.rseg))
	s.rseg++
	s.roff = 0
}

// Commit marks the records returned by the last Peek as replayed.
func (s *Spool) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next <= s.roff {
		return nil
	}
	s.roff = s.next
	if s.rseg == s.wseg && s.roff >= s.wsize {
		// Everything is replayed: start afresh so the disk space comes back.
		if err := s.rotate(); err != nil {
			return err
		}
		s.dropSegment()
	}
	return s.writeCursor()
}

// Empty reports whether every appended record has been committed.
func (s *Spool) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rseg == s.wseg && s.roff >= s.wsize
}

// MaxBytes is the size beyond which appends are refused (0: no limit).
func (s *Spool) MaxBytes() int64 { return s.max }

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Bytes is the disk space the spool uses.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Close closes the spool; what is not replayed stays on disk for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	return err
}
