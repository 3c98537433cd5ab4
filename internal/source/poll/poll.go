// Package poll lists a bucket for log objects: a one-pass backfill over a
// date range, or polling at an interval. It knows the key layouts AWS
// writes —
//
//	[prefix]AWSLogs/[o-org/]<account>/CloudTrail{,-Digest,-Insight}/<region>/YYYY/MM/DD/<file>
//	[prefix]YYYY-mm-DD-HH-MM-SS-<id>                                      (S3 access logs)
//	[prefix]<account>/<region>/<bucket>/YYYY/MM/DD/YYYY-mm-DD-HH-MM-SS-<id> (partitioned)
//
// — so it lists each account/region partition once from the first day
// wanted (S3 returns keys in order) instead of the whole bucket, filters by
// account and region, and keeps a durable checkpoint per partition: the
// last key before which everything was committed. Polling re-lists a little
// before the checkpoint (Rewind) to catch files delivered late; the object
// ledger makes the re-listed ones cost nothing.
package poll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/pipeline"
)

// Bucket is what the source needs of S3 (awsapi.Buckets).
type Bucket interface {
	List(ctx context.Context, bucket, prefix, startAfter string, fn func(awsapi.ObjectInfo) error) error
	Prefixes(ctx context.Context, bucket, prefix string) ([]string, error)
	Get(ctx context.Context, bucket, key string) (*awsapi.Object, error)
}

// Checkpoints persist progress (store.Store implements it).
type Checkpoints interface {
	Checkpoint(ctx context.Context, name string) (string, error)
	SetCheckpoint(ctx context.Context, name, value string) error
}

// Options configure a Source.
type Options struct {
	Bucket   string
	Prefix   string       // bucket prefix before AWSLogs/ or before the access log names
	Kinds    []event.Kind // default: CloudTrail logs, digests and Insights; add KindAccessLog for access logs
	Accounts []string     // only these accounts; empty = all
	Regions  []string     // only these regions; empty = all
	Since    time.Time    // first day (UTC); zero = the beginning
	Until    time.Time    // last day (UTC, inclusive); zero = no end
	// Interval > 0 polls: after a pass, wait and list again from the
	// checkpoints. 0 makes one pass (backfill) and then io.EOF.
	Interval time.Duration
	// Rewind re-lists this far before each checkpoint when polling, for
	// files delivered late. Default 1h.
	Rewind      time.Duration
	Checkpoints Checkpoints // nil: no durable progress
	Name        string      // checkpoint namespace; default the bucket and prefix
	S3          Bucket
	Logger      *slog.Logger
	Stats       *Stats
}

// Stats are live counters; safe to read while the source runs.
type Stats struct {
	Listed      atomic.Int64 // objects listed and handed out
	ListedBytes atomic.Int64
	Partitions  atomic.Int64
	Passes      atomic.Int64
	ListErrors  atomic.Int64 // failed passes (polling retries them)
	Done        atomic.Bool  // the backfill's listing is complete (totals are final)
}

// Source yields the objects found by listing.
type Source struct {
	o        Options
	kinds    map[event.Kind]bool
	objs     chan *pipeline.Object
	errc     chan error
	once     sync.Once
	stop     chan struct{} // closed by Stop
	stopOnce sync.Once

	mu    sync.Mutex
	parts map[string]*partition // by checkpoint name
	// saveMu serializes checkpoint writes; lastSave rate-limits them (a
	// write per object cost a millisecond each on the commit path).
	saveMu   sync.Mutex
	lastSave time.Time
}

// checkpointEvery is how often advanced checkpoints are written; Close
// writes the last ones. A crash loses at most this much progress, which
// the ledger makes harmless (the objects are skipped when listed again).
const checkpointEvery = time.Second

// partition tracks the keys of one listing prefix in flight, to advance
// its checkpoint past keys only when every earlier one is committed.
type partition struct {
	name     string
	inflight []string // keys handed out, in order
	done     map[string]bool
	mark     string // checkpoint: every key <= mark is committed
	saved    string // the mark last written
}

// New returns a Source.
func New(o Options) *Source {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
	if o.Rewind <= 0 {
		o.Rewind = time.Hour
	}
	if len(o.Kinds) == 0 {
		o.Kinds = []event.Kind{event.KindCloudTrail, event.KindDigest, event.KindInsight}
	}
	if o.Name == "" {
		o.Name = "poll/" + o.Bucket + "/" + o.Prefix
	}
	s := &Source{o: o, kinds: map[event.Kind]bool{}, objs: make(chan *pipeline.Object, 256), errc: make(chan error, 1), stop: make(chan struct{}), parts: map[string]*partition{}}
	for _, k := range o.Kinds {
		s.kinds[k] = true
	}
	return s
}

var errStopped = errors.New("stopped")

// Stop makes Next return io.EOF: no more objects are handed out (a
// graceful drain; the checkpoints stay before anything not committed).
func (s *Source) Stop() { s.stopOnce.Do(func() { close(s.stop) }) }

// Next returns the next object; io.EOF after a backfill's last one.
func (s *Source) Next(ctx context.Context) (*pipeline.Object, error) {
	s.once.Do(func() { go s.run(ctx) })
	select {
	case <-s.stop:
		return nil, io.EOF
	default:
	}
	select {
	case <-s.stop:
		return nil, io.EOF
	case o, ok := <-s.objs:
		if ok {
			return o, nil
		}
		select {
		case err := <-s.errc:
			return nil, err
		default:
			return nil, io.EOF
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run lists passes until the context ends (or one pass, for a backfill).
func (s *Source) run(ctx context.Context) {
	defer close(s.objs)
	for {
		err := s.pass(ctx)
		s.o.Stats.Passes.Add(1)
		if errors.Is(err, errStopped) {
			return
		}
		if err != nil && s.o.Interval > 0 && ctx.Err() == nil {
			// A daemon keeps polling: the next pass starts again from the
			// checkpoints, and the failure shows in the log and metrics.
			s.o.Stats.ListErrors.Add(1)
			s.o.Logger.Warn("listing the bucket failed; retrying at the next interval", "bucket", s.o.Bucket, "err", err)
		} else if err != nil {
			if ctx.Err() == nil {
				s.errc <- err
			}
			return
		}
		if s.o.Interval <= 0 {
			s.o.Stats.Done.Store(true)
			return
		}
		select {
		case <-time.After(s.o.Interval):
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		}
	}
}

func (s *Source) pass(ctx context.Context) error {
	var parts []string // listing prefixes
	if s.kinds[event.KindCloudTrail] || s.kinds[event.KindDigest] || s.kinds[event.KindInsight] {
		p, err := s.cloudTrailPartitions(ctx)
		if err != nil {
			return err
		}
		parts = append(parts, p...)
	}
	if s.kinds[event.KindAccessLog] {
		p, err := s.accessLogPartitions(ctx)
		if err != nil {
			return err
		}
		parts = append(parts, p...)
	}
	s.o.Stats.Partitions.Store(int64(len(parts)))
	for _, p := range parts {
		if err := s.listPartition(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// cloudTrailPartitions finds the account/service/region prefixes under
// [prefix]AWSLogs/.
func (s *Source) cloudTrailPartitions(ctx context.Context) ([]string, error) {
	root := s.o.Prefix + "AWSLogs/"
	top, err := s.o.S3.Prefixes(ctx, s.o.Bucket, root)
	if err != nil {
		return nil, err
	}
	var accounts []string
	for _, p := range top {
		name := strings.TrimSuffix(strings.TrimPrefix(p, root), "/")
		if strings.HasPrefix(name, "o-") { // organization trail
			sub, err := s.o.S3.Prefixes(ctx, s.o.Bucket, p)
			if err != nil {
				return nil, err
			}
			accounts = append(accounts, sub...)
			continue
		}
		accounts = append(accounts, p)
	}
	var out []string
	for _, a := range accounts {
		acct := lastSegment(a)
		if !isAccount(acct) || !wanted(s.o.Accounts, acct) {
			continue
		}
		for svc, kind := range map[string]event.Kind{"CloudTrail/": event.KindCloudTrail, "CloudTrail-Digest/": event.KindDigest, "CloudTrail-Insight/": event.KindInsight} {
			if !s.kinds[kind] {
				continue
			}
			regions, err := s.o.S3.Prefixes(ctx, s.o.Bucket, a+svc)
			if err != nil {
				return nil, err
			}
			for _, r := range regions {
				if wanted(s.o.Regions, lastSegment(r)) {
					out = append(out, r)
				}
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// accessLogPartitions returns the prefix itself (simple key format) and
// the <account>/<region>/<bucket>/ prefixes below it (date-partitioned).
func (s *Source) accessLogPartitions(ctx context.Context) ([]string, error) {
	out := []string{s.o.Prefix}
	top, err := s.o.S3.Prefixes(ctx, s.o.Bucket, s.o.Prefix)
	if err != nil {
		return nil, err
	}
	for _, a := range top {
		acct := lastSegment(a)
		if !isAccount(acct) || !wanted(s.o.Accounts, acct) {
			continue
		}
		regions, err := s.o.S3.Prefixes(ctx, s.o.Bucket, a)
		if err != nil {
			return nil, err
		}
		for _, r := range regions {
			if !wanted(s.o.Regions, lastSegment(r)) {
				continue
			}
			buckets, err := s.o.S3.Prefixes(ctx, s.o.Bucket, r)
			if err != nil {
				return nil, err
			}
			out = append(out, buckets...)
		}
	}
	return out, nil
}

// listPartition hands out the objects of one partition from its
// checkpoint (or the first day wanted) to the last day wanted.
func (s *Source) listPartition(ctx context.Context, prefix string) error {
	name := s.o.Name + "|" + prefix
	p := s.partition(name)
	start := ""
	if !s.o.Since.IsZero() {
		start = dayKey(prefix, s.o.Since)
	}
	if s.o.Checkpoints != nil {
		mark, err := s.o.Checkpoints.Checkpoint(ctx, name)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if mark > p.mark {
			p.mark = mark
		}
		mark = p.mark
		s.mu.Unlock()
		if mark != "" {
			if s.o.Interval > 0 {
				mark = rewind(mark, s.o.Rewind)
			}
			start = max(start, mark)
		}
	}
	simple := s.kinds[event.KindAccessLog] && prefix == s.o.Prefix && !strings.Contains(prefix, "AWSLogs/")
	past := errors.New("past the last day")
	err := s.o.S3.List(ctx, s.o.Bucket, prefix, start, func(oi awsapi.ObjectInfo) error {
		if simple && strings.Contains(oi.Key[len(prefix):], "/") {
			return nil // a partitioned access log or another tree: listed from its own prefix
		}
		ki := event.ClassifyKey(oi.Key)
		if !s.o.Until.IsZero() && !ki.Date.IsZero() && ki.Date.After(s.o.Until.Add(24*time.Hour-time.Nanosecond)) {
			return past // keys are in time order: nothing later is wanted
		}
		if ki.Kind == event.KindUnknown || !s.kinds[ki.Kind] {
			return nil // not a log object we collect
		}
		o := s.object(p, oi)
		select {
		case s.objs <- o:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return errStopped
		}
		return nil
	})
	if errors.Is(err, past) {
		return nil
	}
	return err
}

func (s *Source) partition(name string) *partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parts[name]
	if p == nil {
		p = &partition{name: name, done: map[string]bool{}}
		s.parts[name] = p
	}
	return p
}

func (s *Source) object(p *partition, oi awsapi.ObjectInfo) *pipeline.Object {
	s.o.Stats.Listed.Add(1)
	s.o.Stats.ListedBytes.Add(oi.Size)
	s.mu.Lock()
	p.inflight = append(p.inflight, oi.Key)
	s.mu.Unlock()
	o := &pipeline.Object{Ref: event.ObjectRef{Bucket: s.o.Bucket, Key: oi.Key, Size: oi.Size, ETag: oi.ETag, LastModified: oi.LastModified}}
	o.Open = func(ctx context.Context) (io.ReadCloser, error) {
		obj, err := s.o.S3.Get(ctx, s.o.Bucket, oi.Key)
		if err != nil {
			if awsapi.IsRetryable(err) {
				return nil, &pipeline.RetryableError{Err: err}
			}
			return nil, err
		}
		o.Meta = obj.Metadata
		return obj.Body, nil
	}
	o.Ack = func(ctx context.Context, err error) error {
		if pipeline.IsRetryable(err) {
			return nil // not done: the checkpoint stays before it, the next pass retries
		}
		return s.advance(ctx, p, oi.Key)
	}
	return o
}

// advance marks key done and moves the partition's checkpoint past every
// key done without a gap.
func (s *Source) advance(ctx context.Context, p *partition, key string) error {
	s.mu.Lock()
	p.done[key] = true
	moved := false
	for len(p.inflight) > 0 && p.done[p.inflight[0]] {
		delete(p.done, p.inflight[0])
		p.mark = p.inflight[0]
		p.inflight = p.inflight[1:]
		moved = true
	}
	s.mu.Unlock()
	if !moved || s.o.Checkpoints == nil {
		return nil
	}
	s.saveMu.Lock()
	due := time.Since(s.lastSave) >= checkpointEvery
	s.saveMu.Unlock()
	if !due {
		return nil
	}
	return s.Flush(ctx)
}

// Flush writes the checkpoints that advanced since they were last written.
func (s *Source) Flush(ctx context.Context) error {
	if s.o.Checkpoints == nil {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.lastSave = time.Now()
	type save struct {
		p    *partition
		mark string
	}
	var todo []save
	s.mu.Lock()
	for _, p := range s.parts {
		if p.mark != p.saved {
			todo = append(todo, save{p, p.mark})
		}
	}
	s.mu.Unlock()
	for _, t := range todo {
		if err := s.o.Checkpoints.SetCheckpoint(ctx, t.p.name, t.mark); err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		s.mu.Lock()
		t.p.saved = t.mark
		s.mu.Unlock()
	}
	return nil
}

// Close writes the last checkpoints, once the pipeline has acknowledged
// what it committed.
func (s *Source) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Flush(ctx)
}

// dayKey is the key prefix of day d under a partition prefix, as StartAfter.
func dayKey(prefix string, d time.Time) string {
	d = d.UTC()
	if strings.HasSuffix(prefix, "/") && strings.Contains(prefix, "AWSLogs/") || isPartitioned(prefix) {
		return prefix + d.Format("2006/01/02/")
	}
	return prefix + d.Format("2006-01-02") // simple access log names start with the date
}

func isPartitioned(prefix string) bool {
	parts := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
	return len(parts) >= 3 && isAccount(parts[len(parts)-3])
}

// rewind moves a checkpoint key back by d, using the time in the file
// name; without one it keeps the start of the checkpoint's day.
func rewind(mark string, d time.Duration) string {
	ki := event.ClassifyKey(mark)
	if ki.Date.IsZero() {
		return ""
	}
	i := strings.LastIndex(mark, "/")
	dir, file := mark[:i+1], mark[i+1:]
	t := ki.Date.Add(-d)
	if t.Format("2006/01/02") != ki.Date.Format("2006/01/02") {
		return dir[:max(0, len(dir)-len("2006/01/02/"))] + t.Format("2006/01/02/")
	}
	// <acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_...: keep the part up to the time.
	f := strings.Split(file, "_")
	if len(f) >= 4 {
		return dir + strings.Join(f[:3], "_") + "_" + t.Format("20060102T1504Z")
	}
	return dir
}

func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func wanted(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
