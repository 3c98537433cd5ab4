// Package pipeline moves log objects from a source into a store: bounded
// workers open, decompress and parse objects in parallel; one writer
// appends their records and commits; an object is acknowledged to its
// source only after the commit that made all its records durable
// (at-least-once in, exactly-once stored, with the store's duplicate
// check). Objects that cannot be read are quarantined with the reason, and
// every good record around a bad one is kept.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/store"
)

// Object is one unit of work from a source.
type Object struct {
	Ref event.ObjectRef
	// Source names the source that produced the object (set by Merge).
	Source string
	// Kind is what the source knows of the object; KindUnknown lets the
	// pipeline decide from the key and the content.
	Kind event.Kind
	// Open returns the object's bytes as stored (possibly gzip).
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Meta holds the object's user metadata (S3 x-amz-meta-*, without the
	// prefix), e.g. a digest's "signature".
	Meta map[string]string
	// Ack is called once, after the object's records were committed (err
	// nil), after it was quarantined (err is the permanent reason, already
	// recorded), or when it must be retried (err is retryable). May be nil.
	Ack func(ctx context.Context, err error) error
}

// Source yields objects. Next returns io.EOF when there are no more.
type Source interface {
	Next(ctx context.Context) (*Object, error)
}

// RetryableError marks a failure that may succeed later (throttling, a
// network error); the object is not quarantined but handed back to its
// source.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is (or wraps) a RetryableError.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// Options tune a pipeline run.
type Options struct {
	Workers       int           // parallel parsers; default 2
	CommitEvery   time.Duration // commit at least this often; default 5s
	CommitRecords int           // commit after this many records; default 500,000
	// CommitObjects commits once this many objects are finished and waiting
	// (their sources hold them until then); default 1,000.
	CommitObjects int
	// CommitIdle commits when nothing arrived for this long and something
	// waits: a trickle of small objects (SQS) is acknowledged promptly,
	// while a busy ingest is never idle. Default 200 ms.
	CommitIdle   time.Duration
	SkipIngested bool // skip objects the ledger has as fully ingested with the same size
	Logger       *slog.Logger
	Stats        *Stats // counters, updated live (for progress and metrics); may be nil
	// Observe, when set, sees every parsed batch before it is stored (e.g.
	// the detection engine). Workers call it concurrently; the batch is
	// valid only during the call. Observers must not keep it.
	Observe func(ctx context.Context, b *event.Batch)
	// Done, when set, is told the outcome of every object once it is
	// final for this run (committed, quarantined, skipped or handed back
	// for a retry), e.g. for metrics. It may be called from several
	// goroutines and must not block.
	Done func(o *Object, r Result)
}

// Outcomes of an object, as Result.Outcome.
const (
	OutcomeStored      = "stored"      // its records were committed
	OutcomeQuarantined = "quarantined" // it (or some of its records) could not be read; see Err
	OutcomeSkipped     = "skipped"     // the ledger has it already
	OutcomeRetry       = "retry"       // a temporary failure: the source delivers it again
)

// Result is the outcome of one object.
type Result struct {
	Outcome string
	Kind    event.Kind
	Records int   // records stored or offered to the store (before the duplicate check)
	Bad     int   // records skipped as unreadable
	Err     error // why it was quarantined or retried
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.CommitEvery <= 0 {
		o.CommitEvery = 5 * time.Second
	}
	if o.CommitRecords <= 0 {
		o.CommitRecords = 500_000
	}
	if o.CommitObjects <= 0 {
		o.CommitObjects = 1000
	}
	if o.CommitIdle <= 0 {
		o.CommitIdle = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
}

// Stats are live counters of a run; all fields are safe to read while it
// runs.
type Stats struct {
	Objects     atomic.Int64 // objects finished (ingested, quarantined or skipped)
	Skipped     atomic.Int64 // objects skipped as already ingested
	Quarantined atomic.Int64 // objects quarantined, in whole or in part
	Retried     atomic.Int64 // objects handed back to the source for a retry
	Records     atomic.Int64 // records parsed
	BadRecords  atomic.Int64 // records skipped as bad
	Bytes       atomic.Int64 // bytes read as stored (compressed)
	Commits     atomic.Int64
	Stored      atomic.Int64 // records committed (after the duplicate check, when the store reports it)
	Duplicates  atomic.Int64 // records dropped as already stored (when the store reports it)
}

// Summary is the outcome of a run.
type Summary struct {
	Objects, Skipped, Quarantined, Retried int64
	Records, BadRecords, Bytes             int64
	Stored, Duplicates                     int64
	Elapsed                                time.Duration
	// Problems lists the quarantined objects and why (the first 100).
	Problems []Problem
}

// Problem is one quarantined object.
type Problem struct {
	Object string
	Reason string
}

// Counter is implemented by appenders that can say how many rows they
// stored and how many they dropped as duplicates.
type Counter interface {
	StoredCounts() (stored, duplicates int64)
}

// message is what workers send the writer.
type message struct {
	obj   *Object
	batch *event.Batch  // records to append; nil for the end of an object
	done  chan struct{} // closed when the batch was appended (its buffers are free)
	stat  objectResult  // set on the end-of-object message
}

type objectResult struct {
	kind    event.Kind
	records int
	skipped int
	err     error
	sha256  string // of a CloudTrail log file's uncompressed bytes
}

// Run drains src into st and returns when the source is exhausted, or ctx
// is done (then uncommitted work is rolled back and unacknowledged).
func Run(ctx context.Context, src Source, st store.Store, opts Options) (Summary, error) {
	opts.setDefaults()
	start := time.Now()
	app, err := st.Begin(ctx)
	if err != nil {
		return Summary{}, err
	}
	defer app.Close()

	// The feed and the workers stop when the writer fails: nothing more
	// can be committed, so nothing more is read (a queue source would
	// otherwise wait for acknowledgements forever).
	fctx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	work := make(chan *Object, opts.Workers)
	msgs := make(chan message, opts.Workers)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(opts)
			for obj := range work {
				w.process(fctx, obj, msgs)
			}
		}()
	}

	// Feed the workers; check the ledger in chunks when asked to.
	feedErr := make(chan error, 1)
	go func() {
		defer close(work)
		feedErr <- feed(fctx, src, st, opts, work)
	}()
	go func() {
		wg.Wait()
		close(msgs)
	}()

	w := writer{app: app, opts: opts, sum: &Summary{}}
	if sv, ok := src.(Starver); ok {
		w.starved = sv.Starved()
	}
	werr := w.run(ctx, msgs)
	if werr != nil {
		stopFeed()
		// Drain so workers can exit.
		for m := range msgs {
			if m.done != nil {
				close(m.done)
			}
		}
	}
	ferr := <-feedErr
	sum := *w.sum
	s := opts.Stats
	sum.Objects, sum.Skipped, sum.Quarantined, sum.Retried = s.Objects.Load(), s.Skipped.Load(), s.Quarantined.Load(), s.Retried.Load()
	sum.Records, sum.BadRecords, sum.Bytes = s.Records.Load(), s.BadRecords.Load(), s.Bytes.Load()
	sum.Stored, sum.Duplicates = s.Stored.Load(), s.Duplicates.Load()
	sum.Elapsed = time.Since(start)
	if werr != nil {
		return sum, werr
	}
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		return sum, ferr
	}
	return sum, ctx.Err()
}

// feedGather is how long the feed waits for more objects before checking
// a partial chunk against the ledger.
const feedGather = 10 * time.Millisecond

// feed reads the source and hands objects to the workers.
func feed(ctx context.Context, src Source, st store.Store, opts Options, work chan<- *Object) error {
	const chunk = 256
	var pending []*Object
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		skip := map[*Object]bool{}
		if opts.SkipIngested {
			keys := make([]string, len(pending))
			for i, o := range pending {
				keys[i] = store.LedgerKey(o.Ref)
			}
			led, err := st.Ledger(ctx, keys)
			if err != nil {
				return err
			}
			for i, o := range pending {
				if e, ok := led[keys[i]]; ok && e.Error == "" && (o.Ref.Size == 0 || e.Size == o.Ref.Size) {
					skip[o] = true
				}
			}
		}
		for _, o := range pending {
			if skip[o] {
				opts.Stats.Skipped.Add(1)
				opts.Stats.Objects.Add(1)
				if opts.Done != nil {
					opts.Done(o, Result{Outcome: OutcomeSkipped, Kind: o.Kind})
				}
				if o.Ack != nil {
					if err := o.Ack(ctx, nil); err != nil {
						opts.Logger.Warn("acknowledge skipped object", "object", o.Ref.URI(), "err", err)
					}
				}
				continue
			}
			select {
			case work <- o:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pending = pending[:0]
		return nil
	}
	// The source is read ahead by one goroutine so that objects are checked
	// against the ledger in chunks while they come fast, and never held
	// back waiting for more when the source has nothing ready (a queue
	// source hands out no more than it can keep in flight).
	type next struct {
		o   *Object
		err error
	}
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan next)
	go func() {
		for {
			o, err := src.Next(nctx)
			select {
			case ch <- next{o, err}:
			case <-nctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	// A ledger lookup costs about a millisecond: when the source pauses,
	// wait a little for more before checking what is pending.
	gather := time.NewTimer(0)
	defer gather.Stop()
	for {
		var n next
		select {
		case n = <-ch:
		default:
			got := false
			if len(pending) > 0 && opts.SkipIngested {
				gather.Reset(feedGather)
				select {
				case n = <-ch:
					got = true
				case <-gather.C:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if !got {
				if err := flush(); err != nil {
					return err
				}
				select {
				case n = <-ch:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		o, err := n.o, n.err
		if err != nil {
			if ferr := flush(); ferr != nil {
				return ferr
			}
			return err
		}
		pending = append(pending, o)
		// Without a ledger check there is no reason to wait for a chunk.
		if len(pending) >= chunk || !opts.SkipIngested {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// writer owns the appender: it appends batches, commits, and acknowledges
// objects after the commit that covers them.
type writer struct {
	app        store.Appender
	opts       Options
	sum        *Summary
	finished   []finishedObject // objects read to the end, awaiting commit
	uncommited int
	lastCommit time.Time
	starved    <-chan struct{} // the source waits for acknowledgements: commit now
}

type finishedObject struct {
	obj *Object
	err error // permanent (quarantined) or retryable error, nil when fully ingested
	res objectResult
}

func (w *writer) run(ctx context.Context, msgs <-chan message) error {
	w.lastCommit = time.Now()
	idle := time.NewTimer(w.opts.CommitIdle)
	defer idle.Stop()
	for {
		idleFired := false
		select {
		case m, ok := <-msgs:
			if !ok {
				if ctx.Err() != nil {
					return w.abort(ctx.Err())
				}
				return w.commit(ctx)
			}
			if err := w.handle(ctx, m); err != nil {
				return w.abort(err)
			}
		case <-idle.C:
			idleFired = true
		case <-w.starved:
			idleFired = true // as good as idle: nothing more comes until a commit
		}
		if !idle.Stop() && !idleFired {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(w.opts.CommitIdle)
		if ctx.Err() != nil {
			continue // drain; workers stop on their own
		}
		waiting := w.uncommited > 0 || len(w.finished) > 0
		if w.uncommited >= w.opts.CommitRecords || len(w.finished) >= w.opts.CommitObjects ||
			(waiting && (idleFired || time.Since(w.lastCommit) >= w.opts.CommitEvery)) {
			if err := w.commit(ctx); err != nil {
				return w.abort(err)
			}
		}
	}
}

func (w *writer) handle(ctx context.Context, m message) error {
	if m.batch != nil {
		err := w.app.Append(ctx, m.batch)
		w.uncommited += m.batch.Len()
		close(m.done)
		if err != nil {
			return fmt.Errorf("append records of %s: %w", m.obj.Ref.URI(), err)
		}
		return nil
	}
	// End of an object.
	r := m.stat
	st := store.ObjectStatus{Object: m.obj.Ref, Kind: r.kind, Records: r.records, Skipped: r.skipped, SHA256: r.sha256}
	switch {
	case r.err == nil:
	case IsRetryable(r.err):
		w.finished = append(w.finished, finishedObject{m.obj, r.err, r})
		return nil // not in the ledger: it will be read again
	default:
		st.Error = r.err.Error()
		if err := w.app.Quarantine(ctx, store.Quarantined{Object: m.obj.Ref.URI(), Kind: r.kind, Reason: st.Error, Size: m.obj.Ref.Size}); err != nil {
			return err
		}
		if len(w.sum.Problems) < 100 {
			w.sum.Problems = append(w.sum.Problems, Problem{Object: m.obj.Ref.URI(), Reason: st.Error})
		}
	}
	if err := w.app.ObjectDone(ctx, st); err != nil {
		return err
	}
	w.finished = append(w.finished, finishedObject{m.obj, r.err, r})
	return nil
}

// commit makes the appended records durable, then acknowledges the objects
// that are complete.
func (w *writer) commit(ctx context.Context) error {
	if err := w.app.Commit(ctx); err != nil {
		return err
	}
	w.opts.Stats.Commits.Add(1)
	if c, ok := w.app.(Counter); ok {
		stored, dups := c.StoredCounts()
		w.opts.Stats.Stored.Store(stored)
		w.opts.Stats.Duplicates.Store(dups)
	}
	for _, f := range w.finished {
		res := Result{Outcome: OutcomeStored, Kind: f.res.kind, Records: f.res.records, Bad: f.res.skipped, Err: f.err}
		switch {
		case f.err == nil:
		case IsRetryable(f.err):
			w.opts.Stats.Retried.Add(1)
			res.Outcome = OutcomeRetry
		default:
			w.opts.Stats.Quarantined.Add(1)
			res.Outcome = OutcomeQuarantined
		}
		if w.opts.Done != nil {
			w.opts.Done(f.obj, res)
		}
		w.opts.Stats.Objects.Add(1)
		if f.obj.Ack != nil {
			if err := f.obj.Ack(ctx, f.err); err != nil {
				w.opts.Logger.Warn("acknowledge object", "object", f.obj.Ref.URI(), "err", err)
			}
		}
	}
	w.finished = w.finished[:0]
	w.uncommited = 0
	w.lastCommit = time.Now()
	return nil
}

// abort rolls back; nothing uncommitted is acknowledged, so the source
// delivers it again.
func (w *writer) abort(err error) error {
	if rerr := w.app.Rollback(context.WithoutCancel(context.Background())); rerr != nil {
		w.opts.Logger.Error("roll back", "err", rerr)
	}
	return err
}
