package integrity

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// pool runs tasks on a fixed number of goroutines. Submit never blocks:
// tasks wait in a FIFO queue (they are small closures), so a task may
// submit more tasks without deadlock.
type pool struct {
	mu     sync.Mutex
	cond   *sync.Cond
	tasks  []func()
	head   int
	closed bool
	wg     sync.WaitGroup
}

func newPool(workers int) *pool {
	p := &pool{}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

func (p *pool) submit(task func()) {
	p.mu.Lock()
	p.tasks = append(p.tasks, task)
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *pool) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for p.head == len(p.tasks) && !p.closed {
			p.cond.Wait()
		}
		if p.head == len(p.tasks) {
			p.mu.Unlock()
			return
		}
		t := p.tasks[p.head]
		p.tasks[p.head] = nil
		p.head++
		if p.head == len(p.tasks) {
			p.tasks, p.head = p.tasks[:0], 0
		}
		p.mu.Unlock()
		t()
	}
}

// close lets the workers finish the queued tasks and waits for them.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}

// Errors of hashing a log file.
var (
	errFormat    = errors.New("invalid format")
	errTruncated = errors.New("gzip stream truncated")
)

// hasher computes the SHA-256 of a log file's uncompressed bytes, streaming
// in constant memory. Reuse one per goroutine.
type hasher struct {
	src srcReader
	br  *bufio.Reader
	zr  *gzip.Reader
	h   hash.Hash
	buf []byte
}

// srcReader remembers the error of the underlying reader, to tell a failed
// read from a corrupt stream.
type srcReader struct {
	r   io.Reader
	err error
}

func (s *srcReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func newHasher() *hasher {
	return &hasher{br: bufio.NewReaderSize(nil, 64<<10), h: sha256.New(), buf: make([]byte, 64<<10)}
}

// sum returns the hex SHA-256 of r's content after gzip decompression (of
// every member, so bytes appended to a log file change its hash). Content
// that is not gzip at all is hashed as is and errNotGzip returned with the
// hash: a log file stored uncompressed still proves itself when its hash
// matches. It returns errTruncated (with the hash of what was read) for a
// cut gzip stream and an error wrapping errFormat for a corrupt one; other
// errors are read errors.
func (hs *hasher) sum(r io.Reader) (string, error) {
	hs.src = srcReader{r: r}
	hs.br.Reset(&hs.src)
	defer func() { hs.br.Reset(nil); hs.src = srcReader{} }()
	hs.h.Reset()
	magic, err := hs.br.Peek(2)
	if hs.src.err != nil {
		return "", hs.src.err
	}
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		if _, err := io.CopyBuffer(hs.h, hs.br, hs.buf); err != nil {
			return "", err
		}
		return hex.EncodeToString(hs.h.Sum(nil)), errNotGzip
	}
	if hs.zr == nil {
		hs.zr, err = gzip.NewReader(hs.br)
	} else {
		err = hs.zr.Reset(hs.br)
	}
	if err != nil {
		if hs.src.err != nil {
			return "", hs.src.err
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return hex.EncodeToString(hs.h.Sum(nil)), errTruncated
		}
		return "", fmt.Errorf("%w: %v", errFormat, err)
	}
	_, err = io.CopyBuffer(hs.h, hs.zr, hs.buf)
	sum := hex.EncodeToString(hs.h.Sum(nil))
	switch {
	case err == nil:
		return sum, nil
	case hs.src.err != nil:
		return "", hs.src.err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return sum, errTruncated
	}
	return sum, fmt.Errorf("%w: %v", errFormat, err)
}

// errNotGzip marks a hash taken over content that is not gzip.
var errNotGzip = errors.New("not gzip")

// hashers is a pool of hashers shared by the workers.
type hashers struct{ p sync.Pool }

func (h *hashers) get() *hasher {
	if v := h.p.Get(); v != nil {
		return v.(*hasher)
	}
	return newHasher()
}

func (h *hashers) put(x *hasher) { h.p.Put(x) }

// waitDone waits for ch or the context.
func waitDone(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
