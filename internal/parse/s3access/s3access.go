// Package s3access parses Amazon S3 server access log records.
//
// An access log object holds one record per line. A record is a list of
// fields separated by single spaces, in the order of the AWS documentation
// ("Amazon S3 server access log format"):
//
//	bucket owner, bucket, [time], remote IP, requester, request ID, operation,
//	key, "request-URI", HTTP status, error code, bytes sent, object size,
//	total time, turn-around time, "referrer", "user-agent", version ID,
//	host ID, signature version, cipher suite, authentication type,
//	host header, TLS version, access point ARN, aclRequired, source region
//
// for example
//
//	79a59df900b9... awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3
//	79a59df900b9... 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET
//	/awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4"
//	- s9lzHYrFp76Z...= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader
//	awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.1
//
// (one line). The time is in brackets and contains a space; request-URI,
// referrer and user-agent are in double quotes, may contain spaces, and
// escape quotes and backslashes as \" and \\ (not reliably: S3 also writes
// bare quotes there, which the tokenizer tolerates). "-", quoted or not,
// means that a field has no value: it becomes "" in string fields and
// event.NullInt in integer fields.
//
// The format grows at the end. Lines written before 2018 stop at the
// version ID (18 fields), later ones at the TLS version (24), current ones at
// the source region (27); S3 may add fields at any time. Missing trailing
// fields are absent values, not errors, and fields beyond the source region
// are kept in event.AccessLog.Extra. A line needs at least the first ten
// fields (through the HTTP status) to be a record.
//
// Parse streams a whole object through ParseLine in constant memory and
// without allocating per line: records alias an arena that holds the lines
// of one batch and is reused after the batch was handed to the callback.
// Looks tells access log content from other content.
package s3access

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/trailwatch/trailwatch/internal/event"
)

const (
	// maxLineLen is the longest line Parse accepts, in bytes. Longer lines
	// are skipped as bad without being held in memory.
	maxLineLen = 8 << 20
	// defaultBatchSize is used when Parse is given a batch size below 1.
	defaultBatchSize = 1024
	// minReadBuf and maxReadBuf bound Parse's read buffer. It starts small,
	// as access log objects are often a few KB, and doubles while reads
	// fill it.
	minReadBuf = 8 << 10
	maxReadBuf = 256 << 10
	// minArenaSize is the smallest arena Parse allocates.
	minArenaSize = 8 << 10
	// ctxCheckLines is how often, in lines, Parse also checks ctx while
	// filling a batch (bad and blank lines do not fill batches).
	ctxCheckLines = 1 << 16
	// maxEmptyReads is how many (0, nil) reads in a row Parse tolerates.
	maxEmptyReads = 100
)

// Parse reads S3 server access log lines from r (already decompressed), fills
// event.AccessLog records into batch.AccessLogs and calls emit each time
// batchSize records are ready and once at the end (if any remain). batch is
// reused: after emit returns, Parse calls batch.Reset() and keeps filling. Records
// may alias Parse's internal buffer and are valid only during emit.
// Bad lines (too few fields, unparseable) are skipped and reported: after the whole input
// is read, Parse returns a *event.SkippedError listing them (line numbers, reasons), having
// emitted every good line. I/O errors (e.g. from a corrupt gzip reader) are returned wrapped,
// after emitting the good records read before them. ctx cancellation is checked between batches.
//
// More precisely: Parse resets batch before it starts (batch.Object is kept).
// A batchSize below 1 means 1024. Lines end with "\n" or "\r\n"; the last
// line may lack its terminator. Record.Line is the 1-based line number,
// blank lines included; blank lines are skipped silently. Lines longer than
// 8 MiB are skipped as bad. An error returned by emit stops Parse and is
// returned unchanged. A read error drops the incomplete line being read and
// takes precedence over skipped lines. When ctx is done (checked between
// batches, and every 65536 lines), Parse returns its error, wrapped,
// without emitting the records of the unfinished batch.
func Parse(ctx context.Context, r io.Reader, batch *event.Batch, batchSize int, emit func(*event.Batch) error) error {
	return parse(ctx, r, batch, batchSize, emit, maxLineLen)
}

// parse is Parse with a configurable line length limit (for tests).
func parse(ctx context.Context, r io.Reader, batch *event.Batch, batchSize int, emit func(*event.Batch) error, maxLine int) error {
	if batch == nil || emit == nil || r == nil {
		return errors.New("parse access log: nil reader, batch or emit function")
	}
	if batchSize < 1 {
		batchSize = defaultBatchSize
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("parse access log: %w", err)
	}
	batch.Reset()
	p := parser{
		ctx:       ctx,
		batch:     batch,
		batchSize: batchSize,
		emit:      emit,
	}

	rbuf := make([]byte, minReadBuf)
	var (
		lineStart  int   // start of the current line in p.arena.buf
		lineLen    int   // bytes of the current line read so far
		discarding bool  // the current line is too long and being dropped
		empty      int   // (0, nil) reads in a row
		offset     int64 // stream offset of the current line
	)
	for {
		n, rerr := r.Read(rbuf)
		if n < 0 || n > len(rbuf) {
			n, rerr = 0, fmt.Errorf("invalid read count %d", n)
		}
		if n == 0 && rerr == nil {
			if empty++; empty >= maxEmptyReads {
				rerr = io.ErrNoProgress
			}
		} else {
			empty = 0
		}
		data := rbuf[:n]
		if n == len(rbuf) && n < maxReadBuf {
			// data stays valid: it is consumed before the next read.
			rbuf = make([]byte, 2*len(rbuf))
		}
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			seg := data
			if i >= 0 {
				seg = data[:i]
			}
			lineLen += len(seg)
			if !discarding {
				if lineLen > maxLine {
					discarding = true
					p.arena.buf = p.arena.buf[:lineStart]
				} else {
					lineStart = p.arena.reserve(len(seg), lineStart)
					p.arena.buf = append(p.arena.buf, seg...)
				}
			}
			if i < 0 {
				break
			}
			data = data[i+1:]
			if err := p.line(lineStart, discarding, maxLine, offset); err != nil {
				return err
			}
			offset += int64(lineLen) + 1
			lineLen, discarding = 0, false
			lineStart = len(p.arena.buf)
		}
		if rerr == io.EOF {
			if lineLen > 0 {
				if err := p.line(lineStart, discarding, maxLine, offset); err != nil {
					return err
				}
			}
			break
		}
		if rerr != nil {
			if err := p.flush(); err != nil {
				return err
			}
			return fmt.Errorf("read access log: %w", rerr)
		}
	}
	if err := p.flush(); err != nil {
		return err
	}
	return p.skipped.Err()
}

// parser is the state of one Parse call.
type parser struct {
	ctx       context.Context
	batch     *event.Batch
	batchSize int
	emit      func(*event.Batch) error

	arena   arena
	skipped event.SkippedError
	lineNo  int // number of the last line seen (1-based)
	records int // non-blank lines seen
}

// line handles the line that starts at p.arena.buf[start:] (ending at the end
// of the arena) and began at stream offset off. tooLong says it exceeded
// maxLine and was dropped.
func (p *parser) line(start int, tooLong bool, maxLine int, off int64) error {
	p.lineNo++
	if p.lineNo%ctxCheckLines == 0 {
		if err := p.ctx.Err(); err != nil {
			return fmt.Errorf("parse access log: %w", err)
		}
	}
	if tooLong {
		p.records++
		p.skip(off, func() string { return fmt.Sprintf("line longer than %d bytes", maxLine) })
		return nil
	}
	line := p.arena.buf[start:]
	if p.lineNo == 1 {
		line = bytes.TrimPrefix(line, []byte("\uFEFF"))
	}
	if isBlank(line) {
		p.arena.buf = p.arena.buf[:start]
		return nil
	}
	p.records++
	if n := len(line); line[n-1] == '\r' {
		line = line[:n-1]
	}
	recs := p.batch.AccessLogs
	if len(recs) < cap(recs) {
		recs = recs[:len(recs)+1] // parseLine overwrites the whole record
	} else {
		recs = append(recs, event.AccessLog{})
	}
	rec := &recs[len(recs)-1]
	moves := p.arena.moves
	if err := parseLine(line, rec, &p.arena); err != nil {
		*rec = event.AccessLog{}
		if p.arena.moves == moves {
			p.arena.buf = p.arena.buf[:start] // reuse the bad line's room
		}
		p.skip(off, err.Error)
		p.batch.AccessLogs = recs[:len(recs)-1]
		return nil
	}
	rec.Line = p.lineNo
	p.batch.AccessLogs = recs
	if len(recs) >= p.batchSize {
		if err := p.flush(); err != nil {
			return err
		}
		if err := p.ctx.Err(); err != nil {
			return fmt.Errorf("parse access log: %w", err)
		}
	}
	return nil
}

// skip records a bad line. reason is called only if the SkippedError keeps
// the line's details.
func (p *parser) skip(off int64, reason func() string) {
	re := event.RecordError{Line: p.lineNo, Index: p.records - 1, Offset: off}
	if len(p.skipped.Errors) < event.MaxRecordErrors {
		re.Reason = reason()
	}
	p.skipped.Add(re)
}

// flush emits the batch if it holds records, then resets it and the arena.
func (p *parser) flush() error {
	if len(p.batch.AccessLogs) == 0 {
		return nil
	}
	if err := p.emit(p.batch); err != nil {
		return err
	}
	p.batch.Reset()
	p.arena.reset()
	return nil
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// arena holds the bytes and extra-field slices the records of one batch
// alias. It only grows while a batch is filled: when it runs out of room it
// moves to a new, larger buffer and leaves the old one to the records that
// still point into it. reset, called after a batch was emitted, makes the
// whole (largest) buffer reusable.
type arena struct {
	buf   []byte   // lines of the batch, and unescaped values
	strs  []string // AccessLog.Extra values of the batch
	moves int      // how often buf moved to a new buffer
}

// reserve makes room for n more bytes in a.buf. If it has to move to a new
// buffer, it takes the bytes from keep on (an incomplete line) along and
// returns their new start; otherwise it returns keep.
func (a *arena) reserve(n, keep int) int {
	if cap(a.buf)-len(a.buf) >= n {
		return keep
	}
	tail := a.buf[keep:]
	nb := make([]byte, len(tail), max(2*cap(a.buf), len(tail)+n, minArenaSize))
	copy(nb, tail)
	a.buf = nb
	a.moves++
	return 0
}

// unescape returns v with \" and \\ unescaped, stored in the arena (or on the
// heap if a is nil).
func (a *arena) unescape(v []byte) string {
	if a == nil {
		return string(appendUnescaped(make([]byte, 0, len(v)), v))
	}
	a.reserve(len(v), len(a.buf))
	start := len(a.buf)
	a.buf = appendUnescaped(a.buf, v)
	return aliasString(a.buf[start:])
}

func (a *arena) reset() {
	a.buf = a.buf[:0]
	clear(a.strs)
	a.strs = a.strs[:0]
}
