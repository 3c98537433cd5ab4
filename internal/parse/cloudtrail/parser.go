// Package cloudtrail parses AWS CloudTrail log files into event records.
//
// It reads, in constant memory, every shape CloudTrail data takes in
// practice: the delivered log file {"Records":[...]} (compact or pretty),
// bare JSON arrays of events, JSON lines and concatenated objects, single
// events, `aws cloudtrail lookup-events` output (Events[].CloudTrailEvent),
// EventBridge "AWS API Call via CloudTrail" envelopes, CloudTrail Insights
// records and digest files. Records are routed by content: Insights events
// to Batch.Insights, digests to Batch.Digests, everything else to
// Batch.Events.
//
// The scanner is hand-written for speed: it does not build a generic JSON
// tree; it maps known fields straight into event.CloudTrail, keeps nested
// documents (requestParameters, ...) as their source text, and collects
// unknown fields into CloudTrail.Unmapped so nothing is dropped. Strings
// alias the read buffer; a batch is valid until emit returns.
package cloudtrail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/trailwatch/trailwatch/internal/event"
)

// Options tune a Parser. The zero value uses the defaults.
type Options struct {
	BatchSize      int // records per emitted batch; default 4096
	BufferSize     int // initial read buffer; default 4 MiB
	MaxRecordBytes int // largest single record or top-level object; default 128 MiB
}

func (o *Options) setDefaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 4096
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 4 << 20
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = 128 << 20
	}
}

// NotCloudTrailError says an object is valid JSON (or not JSON at all) but
// holds no CloudTrail data.
type NotCloudTrailError struct{ Reason string }

func (e *NotCloudTrailError) Error() string { return "not a CloudTrail log: " + e.Reason }

// Parser parses CloudTrail objects. It keeps its buffers between objects;
// use one Parser per goroutine.
type Parser struct {
	opts Options
	rp   recordParser

	r     io.Reader
	data  []byte // backing buffer; rp.s.buf is data[:n]
	eof   bool
	rerr  error
	batch *event.Batch
	emit  func(*event.Batch) error
	ctx   context.Context

	index      int // records seen in this object
	good       int // records parsed into the batch (all batches)
	notRecords int // skipped values that were valid JSON but not CloudTrail
	skipped    event.SkippedError
}

// NewParser returns a Parser with the given options.
func NewParser(opts Options) *Parser {
	opts.setDefaults()
	return &Parser{opts: opts}
}

// Parse reads one object's uncompressed bytes from r, appends records to
// batch (routing Insights and digests to their own slices) and calls emit
// whenever BatchSize records are ready, before the buffer must be reused,
// and at the end. After emit returns the batch is Reset.
//
// Bad records inside a valid container are skipped and reported by a
// *event.SkippedError returned at the end. A malformed or truncated
// container, a read error, or an object that is not CloudTrail at all ends
// parsing with an error; the records emitted before it stand.
func (p *Parser) Parse(ctx context.Context, r io.Reader, batch *event.Batch, emit func(*event.Batch) error) error {
	p.r, p.eof, p.rerr = r, false, nil
	p.batch, p.emit, p.ctx = batch, emit, ctx
	p.index, p.good, p.notRecords = 0, 0, 0
	p.skipped = event.SkippedError{}
	if cap(p.data) < p.opts.BufferSize {
		p.data = make([]byte, p.opts.BufferSize)
	}
	p.rp.s = scanner{buf: p.data[:0], arena: p.rp.s.arena[:0]}
	p.rp.reset()
	defer func() {
		p.r, p.batch, p.emit, p.ctx = nil, nil, nil, nil
		p.rp.s.buf = nil
	}()

	err := p.run()
	if ferr := p.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if p.good == 0 && p.skipped.Skipped > 0 && p.skipped.Skipped == p.notRecords {
		return &NotCloudTrailError{Reason: p.skipped.Error()}
	}
	return p.skipped.Err()
}

// flush emits the pending batch, if any, and resets per-batch state.
func (p *Parser) flush() error {
	if p.batch.Len() > 0 {
		err := p.emit(p.batch)
		// Reset even on error: the final flush in Parse must not hand the
		// rejected batch to emit a second time.
		p.batch.Reset()
		if err != nil {
			return err
		}
	}
	p.rp.reset()
	return nil
}

// fill makes more input available, keeping buf[keep:]. It emits the
// pending batch first, because its strings alias the buffer. It returns
// the shift applied to indexes (subtract it from positions >= keep).
func (p *Parser) fill(keep int) (int, error) {
	if p.eof {
		if p.rerr != nil {
			return 0, p.rerr
		}
		return 0, errShort
	}
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	if err := p.flush(); err != nil {
		return 0, err
	}
	s := &p.rp.s
	n := copy(p.data, s.buf[keep:])
	s.base += int64(keep)
	if n == len(p.data) {
		if len(p.data) >= p.opts.MaxRecordBytes {
			return 0, fmt.Errorf("a single JSON value at byte %d is larger than %d MiB", s.base, p.opts.MaxRecordBytes>>20)
		}
		grown := make([]byte, min(2*len(p.data), p.opts.MaxRecordBytes))
		copy(grown, p.data[:n])
		p.data = grown
	}
	for n < len(p.data) {
		m, err := p.r.Read(p.data[n:])
		n += m
		if err != nil {
			p.eof = true
			if !errors.Is(err, io.EOF) {
				p.rerr = fmt.Errorf("read at byte %d: %w", s.base+int64(n), err)
			}
			break
		}
		if m == 0 && n > 0 {
			break
		}
	}
	s.buf = p.data[:n]
	return keep, nil
}

// need runs fn at position i, refilling the buffer and retrying while fn
// reports errShort. It returns fn's end index, adjusted to the current
// buffer, and the adjusted start.
func (p *Parser) need(i int, fn func(i int) (int, error)) (start, end int, err error) {
	for {
		end, err = fn(i)
		if !errors.Is(err, errShort) {
			return i, end, err
		}
		shift, ferr := p.fill(i)
		if ferr != nil {
			if errors.Is(ferr, errShort) {
				return i, 0, p.truncated(i)
			}
			return i, 0, ferr
		}
		i -= shift
	}
}

func (p *Parser) truncated(i int) error {
	if p.rerr != nil {
		return p.rerr
	}
	return fmt.Errorf("unexpected end of input in the value starting at byte %d (truncated file?)", p.rp.s.base+int64(i))
}

// peek returns the index of the next non-space byte, refilling as needed;
// ok is false at the end of input.
func (p *Parser) peek(i int) (int, bool, error) {
	s := &p.rp.s
	for {
		i = s.ws(i)
		if i < len(s.buf) {
			return i, true, nil
		}
		shift, err := p.fill(i)
		if errors.Is(err, errShort) {
			return i, false, p.rerr
		}
		if err != nil {
			return i, false, err
		}
		i -= shift
	}
}

// run parses top-level values until the end of input.
func (p *Parser) run() error {
	s := &p.rp.s
	i, ok, err := p.peek(0)
	if err != nil {
		return err
	}
	if !ok {
		return &NotCloudTrailError{Reason: "the object is empty"}
	}
	if bytes.HasPrefix(s.buf[i:], []byte("\xef\xbb\xbf")) { // UTF-8 byte order mark
		if i, ok, err = p.peek(i + 3); err != nil {
			return err
		} else if !ok {
			return &NotCloudTrailError{Reason: "the object is empty"}
		}
	}
	for {
		i, ok, err = p.peek(i)
		if err != nil || !ok {
			return err
		}
		switch s.buf[i] {
		case '{':
			i, err = p.topObject(i)
		case '[':
			i, err = p.array(i, false)
		default:
			if p.good == 0 && p.index == 0 && p.skipped.Skipped == 0 {
				return &NotCloudTrailError{Reason: fmt.Sprintf("the data does not start with a JSON object or array (found %q)", s.buf[i])}
			}
			p.recordError(i, fmt.Sprintf("unexpected %q between top-level values", s.buf[i]))
			i, err = p.resync(i + 1)
		}
		if err != nil {
			return err
		}
	}
}

// recordError notes a skipped record at buffer index i.
func (p *Parser) recordError(i int, reason string) {
	p.skipped.Add(event.RecordError{Index: p.index, Offset: p.rp.s.base + int64(i), Reason: reason})
	p.index++
}

// resync moves to the start of the next line that begins a JSON value,
// after a top-level value could not be parsed.
func (p *Parser) resync(i int) (int, error) {
	s := &p.rp.s
	for {
		if nl := bytes.IndexByte(s.buf[i:], '\n'); nl >= 0 {
			j, ok, err := p.peek(i + nl + 1)
			if err != nil || !ok {
				return j, err
			}
			if c := s.buf[j]; c == '{' || c == '[' {
				return j, nil
			}
			i = j
			continue
		}
		// No line end in the buffer: drop it and read on.
		if _, err := p.fill(len(s.buf)); errors.Is(err, errShort) {
			return len(s.buf), p.rerr
		} else if err != nil {
			return 0, err
		}
		i = 0
	}
}

// topObject handles a top-level object: a {"Records":[...]} wrapper (streamed),
// or any other object, read whole and classified.
func (p *Parser) topObject(i int) (int, error) {
	s := &p.rp.s
	// Fast path: the delivered shape starts with "Records".
	start, j, err := p.need(i, func(i int) (int, error) {
		j, err := s.expect(i, '{')
		if err != nil {
			return 0, err
		}
		j = s.ws(j)
		if j >= len(s.buf) {
			return 0, errShort
		}
		if s.buf[j] != '"' {
			return j, nil
		}
		key, _, k, err := s.rawStr(j)
		if err != nil {
			return 0, err
		}
		switch string(key) {
		case "Records":
		case "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "eventID", "awsRegion":
			return -1 << 40, nil // signal: a record itself
		default:
			return j, nil
		}
		k, err = s.expect(k, ':')
		if err != nil {
			return 0, err
		}
		k = s.ws(k)
		if k >= len(s.buf) {
			return 0, errShort
		}
		if s.buf[k] == '[' {
			return -k - 1, nil // signal: Records array at k
		}
		return j, nil
	})
	if err != nil {
		return p.badTop(start, err)
	}
	if j == -1<<40 {
		return p.element(start, true)
	}
	if j < 0 {
		// Stream the Records array, then the rest of the wrapper.
		k, err := p.array(-j-1, true)
		if err != nil {
			return 0, err
		}
		return p.wrapperRest(k)
	}
	// Any other object: read it whole (bounded by MaxRecordBytes). The
	// stream's first value keeps the bytes before it in the buffer: a
	// digest file's SHA-256 covers them.
	from := start
	if p.index == 0 && s.base == 0 {
		from = 0
	}
	off := start - from
	from, end, err := p.need(from, func(k int) (int, error) { return s.skip(k + off) })
	start = from + off
	if err != nil {
		return p.badTop(start, err)
	}
	return end, p.classify(start, end)
}

// badTop handles a top-level value that failed to parse: a syntax error
// skips to the next line that starts a value; anything else ends parsing.
func (p *Parser) badTop(i int, err error) (int, error) {
	var se *syntaxError
	if !errors.As(err, &se) {
		return 0, err
	}
	p.recordError(i, err.Error())
	return p.resync(i + 1)
}

// wrapperRest skips the members that follow the Records array of a wrapper
// object, up to its closing brace.
func (p *Parser) wrapperRest(i int) (int, error) {
	s := &p.rp.s
	for {
		var err error
		i, _, err = p.peek(i)
		if err != nil {
			return 0, err
		}
		if i >= len(s.buf) {
			return 0, p.truncated(i)
		}
		switch s.buf[i] {
		case '}':
			return i + 1, nil
		case ',':
			_, end, err := p.need(i+1, func(j int) (int, error) {
				j = s.ws(j)
				if j >= len(s.buf) {
					return 0, errShort
				}
				_, _, k, err := s.rawStr(j)
				if err != nil {
					return 0, err
				}
				if k, err = s.expect(k, ':'); err != nil {
					return 0, err
				}
				return s.skip(k)
			})
			if err != nil {
				return 0, err
			}
			i = end
		default:
			return 0, s.errAt(i, "expected ',' or '}' after Records, found %q", s.buf[i])
		}
	}
}

// array streams the elements of the array whose '[' is at i, parsing each
// object as a record. inWrapper says the array is a wrapper's Records.
func (p *Parser) array(i int, inWrapper bool) (int, error) {
	s := &p.rp.s
	i++ // '['
	first := true
	for {
		var ok bool
		var err error
		i, ok, err = p.peek(i)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, p.truncated(i)
		}
		c := s.buf[i]
		if c == ']' {
			return i + 1, nil
		}
		if !first {
			if c != ',' {
				return 0, s.errAt(i, "expected ',' or ']' in array, found %q", c)
			}
			if i, ok, err = p.peek(i + 1); err != nil {
				return 0, err
			} else if !ok {
				return 0, p.truncated(i)
			}
		}
		first = false
		i, err = p.element(i, false)
		if err != nil {
			return 0, err
		}
		if p.batch.Len() >= p.opts.BatchSize {
			if err := p.ctx.Err(); err != nil {
				return 0, err
			}
			if err := p.flush(); err != nil {
				return 0, err
			}
		}
	}
}

// element parses one array element (or, top, a top-level value) at i as a
// record; a bad element is skipped (found by a lenient scan) and reported.
func (p *Parser) element(i int, top bool) (int, error) {
	s := &p.rp.s
	if s.buf[i] != '{' {
		start, end, err := p.need(i, s.skip)
		if err != nil {
			return 0, err
		}
		p.notRecords++
		p.recordError(start, fmt.Sprintf("array element is not an object: %.40s", s.buf[start:end]))
		return end, nil
	}
	start, end, err := p.need(i, p.recordAt)
	if err == nil {
		return end, nil
	}
	var se *syntaxError
	var nc *notRecordError
	switch {
	case errors.As(err, &nc):
		p.notRecords++
		p.recordError(start, nc.Error())
		return end, nil
	case errors.As(err, &se):
		// Find where the bad element ends without validating it.
		skip := s.lenientSkip
		if top {
			skip = s.lenientSkipLine
		}
		start, end, lerr := p.need(start, skip)
		if lerr != nil {
			return 0, err
		}
		p.recordError(start, err.Error())
		return end, nil
	}
	return 0, err
}

// notRecordError is an object that is valid JSON but not a CloudTrail record.
type notRecordError struct{ keys []string }

func (e *notRecordError) Error() string {
	if len(e.keys) == 0 {
		return "an empty object is not a CloudTrail record"
	}
	return fmt.Sprintf("object with keys %v is not a CloudTrail record", e.keys)
}

// recordAt parses the record object at i into the batch. On errShort the
// slot is released so the retry starts clean.
func (p *Parser) recordAt(i int) (int, error) {
	b := p.batch
	b.Events = append(b.Events, event.CloudTrail{})
	e := &b.Events[len(b.Events)-1]
	resMark, arenaMark := len(p.rp.resources), len(p.rp.s.arena)
	end, err := p.rp.parse(e, i)
	if err == nil && !looksLikeRecord(e) {
		err = &notRecordError{keys: topKeys(&p.rp.s, i, 8)}
	}
	if err != nil {
		b.Events[len(b.Events)-1] = event.CloudTrail{}
		b.Events = b.Events[:len(b.Events)-1]
		p.rp.resources = p.rp.resources[:resMark]
		p.rp.s.arena = p.rp.s.arena[:arenaMark]
		return end, err
	}
	e.Index = p.index
	p.index++
	p.good++
	if e.IsInsight() {
		b.Insights = append(b.Insights, *e)
		b.Events[len(b.Events)-1] = event.CloudTrail{}
		b.Events = b.Events[:len(b.Events)-1]
	}
	return end, nil
}

// looksLikeRecord reports whether a parsed object is a CloudTrail record:
// it must name an event (eventName or eventSource), a time, or a version.
func looksLikeRecord(e *event.CloudTrail) bool {
	return e.EventName != "" || e.EventSource != "" || e.EventVersion != "" || !e.EventTime.IsZero() || e.EventID != ""
}

// topKeys lists up to n keys of the object at i, for error messages.
func topKeys(s *scanner, i, n int) []string {
	var keys []string
	_, _ = s.object(i, func(k []byte, _ bool, v int) (int, error) {
		if len(keys) < n {
			keys = append(keys, string(k))
		}
		return s.skip(v)
	})
	return keys
}

// lenientSkip finds the end of the object or array at i, tracking strings
// and brackets only, so that a malformed record can be stepped over.
func (s *scanner) lenientSkip(i int) (int, error) {
	b := s.buf
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				return 0, errShort
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return i + 1, nil
			}
		}
		i++
	}
	return 0, errShort
}

// lenientSkipLine is lenientSkip for a top-level value (JSON lines,
// concatenated objects): a bad value also ends where a line starts with
// '{' or '[', the start of the next top-level value (nested values are
// indented in pretty-printed JSON, and compact JSON has no line breaks),
// so that a truncated line does not swallow the lines after it.
func (s *scanner) lenientSkipLine(i int) (int, error) {
	b := s.buf
	depth := 0
	inStr := false
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\n':
			if i+1 >= len(b) {
				return 0, errShort
			}
			if b[i+1] == '{' || b[i+1] == '[' {
				return i + 1, nil
			}
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth <= 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errShort
}

// classify handles a complete top-level object other than a Records-first
// wrapper: a single event, a digest, a wrapper with Records elsewhere,
// lookup-events output, or an EventBridge envelope.
func (p *Parser) classify(start, end int) error {
	s := &p.rp.s
	var records, events, detail = -1, -1, -1
	var digest, eventish bool
	var keys []string
	_, err := s.object(start, func(k []byte, esc bool, v int) (int, error) {
		key, err := p.rp.key(k, esc, v)
		if err != nil {
			return 0, err
		}
		if len(keys) < 8 {
			keys = append(keys, string([]byte(key)))
		}
		switch key {
		case "Records":
			if s.buf[v] == '[' {
				records = v
			}
		case "Events":
			if s.buf[v] == '[' {
				events = v
			}
		case "detail":
			if s.buf[v] == '{' {
				detail = v
			}
		case "digestStartTime", "digestEndTime", "digestS3Object", "logFiles", "previousDigestSignature":
			digest = true
		case "eventVersion", "eventTime", "eventName", "eventSource", "eventID":
			eventish = true
		}
		return s.skip(v)
	})
	if err != nil {
		return err
	}
	switch {
	case records >= 0:
		_, err := p.array(records, true)
		return err
	case digest && !eventish:
		return p.digest(start, end)
	case eventish:
		_, err := p.element(start, false)
		return err
	case events >= 0:
		return p.lookupEvents(events)
	case detail >= 0:
		_, err := p.element(detail, false)
		return err
	}
	p.notRecords++
	p.recordError(start, (&notRecordError{keys: keys}).Error())
	return nil
}

// lookupEvents parses `aws cloudtrail lookup-events` output: each element
// of Events carries the record as a JSON string in CloudTrailEvent.
func (p *Parser) lookupEvents(i int) error {
	s := &p.rp.s
	outer := s.buf
	i++
	for {
		i = s.ws(i)
		if i >= len(outer) {
			return p.truncated(i)
		}
		switch outer[i] {
		case ']':
			return nil
		case ',':
			i++
			continue
		}
		var inner string
		end, err := s.object(i, func(k []byte, _ bool, v int) (int, error) {
			if string(k) == "CloudTrailEvent" && s.buf[v] == '"' {
				str, j, err := s.str(v)
				inner = str
				return j, err
			}
			return s.skip(v)
		})
		if err != nil {
			return err
		}
		if inner == "" {
			p.recordError(i, "lookup-events element without CloudTrailEvent")
		} else {
			// Parse the embedded record from its own (unescaped) bytes.
			saved := s.buf
			s.buf = []byte(inner)
			if k := s.ws(0); k < len(s.buf) && s.buf[k] == '{' {
				_, err = p.recordAt(k)
			} else {
				err = &notRecordError{}
			}
			s.buf = saved
			if err != nil {
				p.recordError(i, "CloudTrailEvent: "+err.Error())
			}
		}
		i = end
	}
}

// Looks reports whether data (the first bytes of an object) looks like
// JSON, the only encoding CloudTrail uses.
func Looks(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	i := 0
	for i < len(data) && slices.Contains([]byte(" \t\r\n"), data[i]) {
		i++
	}
	return i < len(data) && (data[i] == '{' || data[i] == '[')
}
