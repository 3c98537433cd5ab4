package sqs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/pipeline"
)

// Queue is what the source needs of an SQS queue (awsapi.Queue).
type Queue interface {
	Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]awsapi.Message, error)
	Delete(ctx context.Context, handles []string) ([]string, error)
	ChangeVisibility(ctx context.Context, handles []string, timeout time.Duration) error
	URL() string
}

// Fetcher opens S3 objects (awsapi.Buckets).
type Fetcher interface {
	Get(ctx context.Context, bucket, key string) (*awsapi.Object, error)
}

// Options configure a Source.
type Options struct {
	Queue   Queue
	Fetcher Fetcher
	// Kinds are the object kinds to collect; empty means all.
	Kinds []event.Kind
	// Visibility is how long a received message stays invisible; a
	// heartbeat extends it every Visibility/2 while its objects are being
	// processed. Default 2 minutes.
	Visibility time.Duration
	// Wait is the long-poll time; default 20 s.
	Wait time.Duration
	// MaxInFlight bounds the messages received and not yet deleted or
	// handed back (each is kept invisible by the heartbeat). Messages are
	// received only when the pipeline asks for work, at most as many as
	// that leaves room for. Default 1000: the pipeline commits when the limit is reached, and fewer, larger commits are cheaper.
	MaxInFlight int
	// MaxReceives quarantines a message received this many times without
	// being processed (a poison message). Default 5.
	MaxReceives int
	// RetryBackoff is how long a message whose objects failed temporarily
	// stays invisible, times its receive count (up to 8); default 15 s.
	RetryBackoff time.Duration
	// StopWhenEmpty makes Next return io.EOF once a receive finds no
	// message and nothing is in flight (collect --drain). The long poll
	// then waits 2 s unless Wait says otherwise: long enough to see every
	// SQS server, short enough to stop promptly.
	StopWhenEmpty bool
	Logger        *slog.Logger
	Stats         *Stats
}

// Stats count what the source saw; safe to read while it runs.
type Stats struct {
	Received     atomic.Int64 // messages received
	Deleted      atomic.Int64 // messages deleted after their objects were committed (or skipped)
	DeleteErrors atomic.Int64
	TestEvents   atomic.Int64 // s3:TestEvent messages
	Ignored      atomic.Int64 // messages announcing no new object (removals, ...)
	Skipped      atomic.Int64 // announced objects of kinds not collected
	Poison       atomic.Int64 // messages quarantined after MaxReceives
	Unparseable  atomic.Int64 // messages that are not notifications
	Retried      atomic.Int64 // messages handed back for a retry
	Extended     atomic.Int64 // visibility extensions
	ReceiveErrs  atomic.Int64
	LagMillis    atomic.Int64 // now - SentTimestamp of the last message received
	PeakInFlight atomic.Int64 // most messages held at once
}

// Source yields the objects announced by an SQS queue. A message is
// deleted only after every object it announces was committed (or
// quarantined); a message whose objects failed temporarily becomes visible
// again after a backoff.
type Source struct {
	o     Options
	kinds map[event.Kind]bool

	// vis orders visibility changes: a retry's hand-back after the
	// heartbeat that may still extend the same message.
	vis      sync.Mutex
	mu       sync.Mutex
	pending  []*pipeline.Object
	inflight map[string]*message
	lastErr  map[string]string // message ID -> why its last attempt failed (for the poison reason)
	// retryDue holds the messages handed back for a retry, by ID, with when
	// they become visible again: a drain waits for them.
	retryDue map[string]time.Time
	// invisibleSince is when a drain first found only invisible messages
	// left (used by Next's goroutine only).
	invisibleSince time.Time
	slot           chan struct{} // signalled when a message leaves inflight
	starved        chan struct{} // signalled when Next waits for a slot
	deletes        []string
	stopped        bool
	started        bool
	stop           chan struct{}
	// draining is cancelled by Stop, to end a long poll at once.
	draining context.Context
	drain    context.CancelFunc
	bg       sync.WaitGroup
}

type message struct {
	m         awsapi.Message
	remaining int
	retry     error
}

// New returns a Source; call Close when done.
func New(o Options) *Source {
	if o.Visibility <= 0 {
		o.Visibility = 2 * time.Minute
	}
	if o.Wait <= 0 {
		o.Wait = 20 * time.Second
		if o.StopWhenEmpty {
			o.Wait = 2 * time.Second
		}
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1000
	}
	if o.MaxReceives <= 0 {
		o.MaxReceives = 5
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
	s := &Source{o: o, inflight: map[string]*message{}, lastErr: map[string]string{}, retryDue: map[string]time.Time{}, slot: make(chan struct{}, 1), starved: make(chan struct{}, 1), stop: make(chan struct{}), kinds: map[event.Kind]bool{}}
	for _, k := range o.Kinds {
		s.kinds[k] = true
	}
	s.draining, s.drain = context.WithCancel(context.Background())
	return s
}

// Stop makes Next return io.EOF once the objects already received are
// handed out: no more messages are received (graceful drain).
func (s *Source) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.drain()
	s.signal()
}

func (s *Source) signal() {
	select {
	case s.slot <- struct{}{}:
	default:
	}
}

// Next returns the next announced object, receiving messages as needed.
func (s *Source) Next(ctx context.Context) (*pipeline.Object, error) {
	s.mu.Lock()
	if !s.started {
		s.started = true
		s.bg.Add(2)
		go s.heartbeat()
		go s.deleter()
	}
	s.mu.Unlock()
	backoff := time.Second
	for {
		s.mu.Lock()
		if len(s.pending) > 0 {
			o := s.pending[0]
			s.pending = s.pending[1:]
			s.mu.Unlock()
			return o, nil
		}
		if s.stopped {
			s.mu.Unlock()
			return nil, io.EOF
		}
		free := s.o.MaxInFlight - len(s.inflight)
		idle := len(s.inflight) == 0
		s.mu.Unlock()
		if free <= 0 {
			// Hold no more messages than can be worked on; ask the
			// pipeline to commit, which acknowledges what it holds.
			select {
			case s.starved <- struct{}{}:
			default:
			}
			select {
			case <-s.slot:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		rctx, cancel := context.WithCancel(ctx)
		unhook := context.AfterFunc(s.draining, cancel)
		msgs, err := s.o.Queue.Receive(rctx, min(free, 10), s.o.Wait, s.o.Visibility)
		unhook()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if s.draining.Err() != nil {
				continue // stopped during the long poll: hand out what is pending, then io.EOF
			}
			var ae *awsapi.Error
			if errors.As(err, &ae) && (ae.Denied() || ae.NotFound()) {
				return nil, err // a configuration problem: say so at once
			}
			s.o.Stats.ReceiveErrs.Add(1)
			s.o.Logger.Warn("receive from SQS failed; retrying", "queue", s.o.Queue.URL(), "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.draining.Done():
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		if len(msgs) > 0 {
			s.invisibleSince = time.Time{}
		}
		if len(msgs) == 0 && idle && s.o.StopWhenEmpty && !s.retriesDue() && !s.stillVisible(ctx) {
			return nil, io.EOF
		}
		for _, m := range msgs {
			s.accept(m)
		}
	}
}

// accept turns a message into pending objects, or schedules it for
// deletion when it announces nothing to collect.
func (s *Source) accept(m awsapi.Message) {
	s.o.Stats.Received.Add(1)
	s.mu.Lock()
	delete(s.retryDue, m.ID)
	s.mu.Unlock()
	if !m.SentAt.IsZero() {
		s.o.Stats.LagMillis.Store(time.Since(m.SentAt).Milliseconds())
	}
	s.mu.Lock()
	if held := s.inflight[m.ID]; held != nil {
		// Received again while its objects are still being processed (a
		// visibility lapse, or a duplicate delivery): only the newest
		// receipt handle can delete it.
		held.m.ReceiptHandle, held.m.ReceiveCount = m.ReceiptHandle, m.ReceiveCount
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	ref := event.ObjectRef{Key: fmt.Sprintf("sqs:%s#%s", s.o.Queue.URL(), m.ID)}
	n, err := ParseNotification([]byte(m.Body))
	if m.ReceiveCount > s.o.MaxReceives {
		s.o.Stats.Poison.Add(1)
		s.mu.Lock()
		last := s.lastErr[m.ID]
		delete(s.lastErr, m.ID)
		s.mu.Unlock()
		if last != "" {
			last = "; last error: " + last
		}
		reason := &labeled{"poison", fmt.Errorf("poison message %s: received %d times without being processed (limit %d)%s", m.ID, m.ReceiveCount, s.o.MaxReceives, last)}
		// Quarantine each announced object under its own key, so that the
		// ledger knows it is missing and a backfill reads it again.
		var refs []event.ObjectRef
		if err == nil {
			for _, a := range n.Objects {
				if s.collects(a.Key) {
					refs = append(refs, event.ObjectRef{Bucket: a.Bucket, Key: a.Key, Size: a.Size, ETag: a.ETag, VersionID: a.VersionID, LastModified: a.Time})
				}
			}
		}
		if len(refs) == 0 {
			refs = []event.ObjectRef{ref}
			reason.err = fmt.Errorf("%w; body %s", reason.err, excerpt(m.Body))
		}
		s.quarantine(m, reason, refs...)
		return
	}
	if err != nil {
		s.o.Stats.Unparseable.Add(1)
		s.quarantine(m, &labeled{"not_a_notification", fmt.Errorf("SQS message %s: %w: %s", m.ID, err, excerpt(m.Body))}, ref)
		return
	}
	var objs []Announced
	for _, a := range n.Objects {
		if s.collects(a.Key) {
			objs = append(objs, a)
		} else {
			s.o.Stats.Skipped.Add(1)
		}
	}
	switch {
	case n.Test:
		s.o.Stats.TestEvents.Add(1)
	case n.Ignored != "":
		s.o.Stats.Ignored.Add(1)
	}
	if len(objs) == 0 {
		s.mu.Lock()
		s.deletes = append(s.deletes, m.ReceiptHandle)
		s.mu.Unlock()
		return
	}
	msg := &message{m: m, remaining: len(objs)}
	s.mu.Lock()
	s.inflight[m.ID] = msg
	if n := int64(len(s.inflight)); n > s.o.Stats.PeakInFlight.Load() {
		s.o.Stats.PeakInFlight.Store(n)
	}
	for _, a := range objs {
		s.pending = append(s.pending, s.object(msg, a))
	}
	s.mu.Unlock()
}

// depther reads a queue's approximate depth (awsapi.Queue).
type depther interface {
	Stats(ctx context.Context) (awsapi.QueueStats, error)
}

// stillVisible reports whether a drain should go on although a receive
// returned nothing and this source holds nothing: the queue says messages
// are waiting (a receive may miss some), or that messages are invisible —
// received by a response that was lost (the server took them, the
// connection broke), or by a consumer that stopped — which come back
// when their visibility timeout expires; those are waited for up to one
// visibility timeout.
func (s *Source) stillVisible(ctx context.Context) bool {
	d, ok := s.o.Queue.(depther)
	if !ok {
		return false
	}
	st, err := d.Stats(ctx)
	if err != nil {
		return false
	}
	if st.Visible+st.Delayed > 0 {
		s.o.Logger.Debug("receive found nothing but the queue holds messages; receiving again", "visible", st.Visible, "delayed", st.Delayed)
		return true
	}
	if st.InFlight == 0 {
		s.invisibleSince = time.Time{}
		return false
	}
	if s.invisibleSince.IsZero() {
		s.invisibleSince = time.Now()
	}
	if time.Since(s.invisibleSince) < s.o.Visibility+2*s.o.Wait {
		s.o.Logger.Debug("waiting for invisible messages to come back", "in_flight", st.InFlight)
		return true
	}
	return false
}

// Starved is signalled when the source holds its limit of messages and
// waits for their objects to be committed (pipeline.Starver).
func (s *Source) Starved() <-chan struct{} { return s.starved }

// retriesDue reports whether a message handed back for a retry should
// still come back: a drain waits for it (for up to its backoff plus two
// long polls, in case another consumer took it).
func (s *Source) retriesDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for id, due := range s.retryDue {
		if now.Before(due.Add(2*s.o.Wait + time.Second)) {
			return true
		}
		delete(s.retryDue, id)
	}
	return false
}

// collects reports whether an object key is of a kind this source collects.
func (s *Source) collects(key string) bool {
	k := event.ClassifyKey(key).Kind
	if k == event.KindUnknown {
		return false
	}
	return len(s.kinds) == 0 || s.kinds[k]
}

// quarantine hands a message that cannot be processed to the pipeline as
// an object that fails with the reason: it is recorded in the quarantine
// table and, once that is committed, the message is deleted.
func (s *Source) quarantine(m awsapi.Message, reason error, refs ...event.ObjectRef) {
	msg := &message{m: m, remaining: len(refs)}
	s.mu.Lock()
	s.inflight[m.ID] = msg
	for _, ref := range refs {
		o := &pipeline.Object{Ref: ref}
		o.Open = func(context.Context) (io.ReadCloser, error) { return nil, reason }
		o.Ack = func(ctx context.Context, err error) error { s.ack(msg, err); return nil }
		s.pending = append(s.pending, o)
	}
	s.mu.Unlock()
}

func (s *Source) object(msg *message, a Announced) *pipeline.Object {
	o := &pipeline.Object{
		Ref: event.ObjectRef{Bucket: a.Bucket, Key: a.Key, Size: a.Size, ETag: a.ETag, VersionID: a.VersionID, LastModified: a.Time},
	}
	o.Open = func(ctx context.Context) (io.ReadCloser, error) {
		obj, err := s.o.Fetcher.Get(ctx, a.Bucket, a.Key)
		if err != nil {
			if awsapi.IsRetryable(err) {
				return nil, &pipeline.RetryableError{Err: err}
			}
			return nil, err // e.g. deleted before it could be read: quarantined
		}
		o.Meta = obj.Metadata
		if o.Ref.Size == 0 {
			o.Ref.Size = obj.Size
		}
		return &retryableReader{ReadCloser: obj.Body, size: obj.Size}, nil
	}
	o.Ack = func(ctx context.Context, err error) error { s.ack(msg, err); return nil }
	return o
}

// labeled gives a quarantine reason its metric label (pipeline.Reasoner).
type labeled struct {
	reason string
	err    error
}

func (e *labeled) Error() string  { return e.err.Error() }
func (e *labeled) Unwrap() error  { return e.err }
func (e *labeled) Reason() string { return e.reason }

// retryableReader marks read errors (a connection reset mid-object) and
// a body shorter than its Content-Length as retryable: the object is read
// again from the start later, instead of being taken for a truncated file.
type retryableReader struct {
	io.ReadCloser
	size, read int64
}

func (r *retryableReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.read += int64(n)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && (r.size <= 0 || r.read >= r.size):
	case errors.Is(err, io.EOF):
		err = &pipeline.RetryableError{Err: fmt.Errorf("connection closed after %d of %d bytes: %w", r.read, r.size, io.ErrUnexpectedEOF)}
	default:
		err = &pipeline.RetryableError{Err: fmt.Errorf("read after %d of %d bytes: %w", r.read, r.size, err)}
	}
	return n, err
}

// ack records the outcome of one object of a message; when the last one is
// in, the message is deleted, or made visible again after a backoff if an
// object must be retried.
func (s *Source) ack(msg *message, err error) {
	s.mu.Lock()
	if err != nil && pipeline.IsRetryable(err) {
		msg.retry = err
	}
	msg.remaining--
	if msg.remaining > 0 {
		s.mu.Unlock()
		return
	}
	delete(s.inflight, msg.m.ID)
	retry := msg.retry
	if retry == nil {
		s.deletes = append(s.deletes, msg.m.ReceiptHandle)
		delete(s.lastErr, msg.m.ID)
	}
	// Back off with the number of receives, with jitter.
	d := time.Duration(min(msg.m.ReceiveCount, 8)) * s.o.RetryBackoff
	d += time.Duration(rand.Int64N(int64(s.o.RetryBackoff/3) + 1))
	if retry != nil && len(s.lastErr) < 10000 {
		s.lastErr[msg.m.ID] = retry.Error()
		s.retryDue[msg.m.ID] = time.Now().Add(d)
	}
	handle, id := msg.m.ReceiptHandle, msg.m.ID
	if retry != nil {
		s.bg.Add(1) // hand it back off the commit path
	}
	s.mu.Unlock()
	s.signal()
	if retry != nil {
		s.o.Stats.Retried.Add(1)
		s.o.Logger.Info("objects of a message will be retried", "message", id, "in", d, "err", retry)
		go func() {
			defer s.bg.Done()
			// After any heartbeat in progress, which may still hold the
			// message: its longer visibility must not win.
			s.vis.Lock()
			defer s.vis.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.o.Queue.ChangeVisibility(ctx, []string{handle}, d); err != nil {
				s.o.Logger.Warn("hand a message back to the queue", "message", id, "err", err)
			}
		}()
	}
}

// heartbeat keeps in-flight messages invisible while they are processed.
func (s *Source) heartbeat() {
	defer s.bg.Done()
	t := time.NewTicker(s.o.Visibility / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.vis.Lock()
		s.mu.Lock()
		handles := make([]string, 0, len(s.inflight))
		for _, m := range s.inflight {
			handles = append(handles, m.m.ReceiptHandle)
		}
		s.mu.Unlock()
		if len(handles) == 0 {
			s.vis.Unlock()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.o.Queue.ChangeVisibility(ctx, handles, s.o.Visibility)
		cancel()
		s.vis.Unlock()
		if err != nil {
			s.o.Logger.Warn("extend message visibility", "queue", s.o.Queue.URL(), "err", err)
			continue
		}
		s.o.Stats.Extended.Add(int64(len(handles)))
	}
}

// deleter deletes acknowledged messages in batches of up to ten.
func (s *Source) deleter() {
	defer s.bg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.flushDeletes()
			return
		case <-t.C:
			s.flushDeletes()
		}
	}
}

func (s *Source) flushDeletes() {
	s.mu.Lock()
	handles := s.deletes
	s.deletes = nil
	s.mu.Unlock()
	if len(handles) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	failed, err := s.o.Queue.Delete(ctx, handles)
	s.o.Stats.Deleted.Add(int64(len(handles) - len(failed)))
	if err != nil {
		// The message will be delivered again; its objects are already
		// stored, so the ledger and the duplicate check make that harmless.
		s.o.Stats.DeleteErrors.Add(int64(len(failed)))
		s.o.Logger.Warn("delete processed messages", "queue", s.o.Queue.URL(), "failed", len(failed), "err", err)
	}
}

// Close stops the heartbeat, deletes the messages already acknowledged
// and makes the messages still in flight visible again at once, for the
// next collector to take.
func (s *Source) Close() error {
	s.drain()
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	if started {
		s.bg.Wait()
	} else {
		s.flushDeletes()
	}
	s.mu.Lock()
	handles := make([]string, 0, len(s.inflight))
	for _, m := range s.inflight {
		handles = append(handles, m.m.ReceiptHandle)
	}
	s.inflight = map[string]*message{}
	s.mu.Unlock()
	if len(handles) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.o.Queue.ChangeVisibility(ctx, handles, 0); err != nil {
			s.o.Logger.Warn("release in-flight messages", "queue", s.o.Queue.URL(), "messages", len(handles), "err", err)
		}
	}
	return nil
}

// InFlight returns how many messages are being processed.
func (s *Source) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight)
}

func excerpt(body string) string {
	if len(body) > 200 {
		return fmt.Sprintf("%q…", body[:200])
	}
	return fmt.Sprintf("%q", body)
}
