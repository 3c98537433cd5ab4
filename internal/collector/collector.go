// Package collector runs log sources into the store for as long as they
// deliver (a backfill) or until stopped (the daemon): it merges the
// sources into one pipeline, checks each before starting, keeps Prometheus
// metrics and answers the health, readiness and metrics endpoints.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/source/poll"
	"github.com/trailwatch/trailwatch/internal/source/sqs"
	"github.com/trailwatch/trailwatch/internal/store"
)

// QueueStatter reads a queue's approximate depth (awsapi.Queue).
type QueueStatter interface {
	Stats(ctx context.Context) (awsapi.QueueStats, error)
}

// Source is one configured source.
type Source struct {
	Name   string
	Type   string // sqs, s3 or dir: a metric label
	Source pipeline.Source
	// Check verifies the source can be read (the queue or bucket exists
	// and the credentials may read it) before collection starts.
	Check func(ctx context.Context) error
	SQS   *sqs.Stats   // counters of an SQS source, for metrics
	Poll  *poll.Stats  // counters of a polling source, for metrics
	Queue QueueStatter // the queue's depth, for metrics; may be nil
	// Close releases the source after the pipeline ended (e.g. makes
	// unfinished SQS messages visible again).
	Close func() error
}

// Options configure a Collector.
type Options struct {
	Sources  []Source
	Store    store.Store
	Pipeline pipeline.Options // Stats and Done are set by the collector
	// Listen is the HTTP address for /healthz, /readyz and /metrics;
	// empty serves nothing.
	Listen string
	// Retention deletes records older than this, hourly; 0 keeps all.
	Retention time.Duration
	// KeepGoing lets the other sources go on when one fails (the daemon);
	// otherwise the first failure ends the run.
	KeepGoing bool
	// QueueStatsEvery is how often the queues' depth is read; default 30s.
	QueueStatsEvery time.Duration
	Logger          *slog.Logger
	Registry        *prometheus.Registry // default: a new one with Go and process metrics
	Version         string
	// Routes are served beside /healthz, /readyz and /metrics, by
	// pattern (e.g. "GET /api/integrity/status").
	Routes map[string]http.Handler
}

// Collector runs the sources.
type Collector struct {
	o       Options
	stats   pipeline.Stats
	merged  *pipeline.Merged
	reg     *prometheus.Registry
	m       *metrics
	started time.Time

	mu       sync.Mutex
	state    map[string]*sourceState
	running  atomic.Bool
	checked  atomic.Bool
	failed   atomic.Pointer[error]
	addr     string
	stopOnce sync.Once
	stopped  chan struct{}
}

type sourceState struct {
	err   error
	depth awsapi.QueueStats
	depOK bool
}

// New returns a Collector; Run starts it.
func New(o Options) *Collector {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.QueueStatsEvery <= 0 {
		o.QueueStatsEvery = 30 * time.Second
	}
	c := &Collector{o: o, state: map[string]*sourceState{}, stopped: make(chan struct{})}
	for _, s := range o.Sources {
		c.state[s.Name] = &sourceState{}
	}
	c.reg = o.Registry
	if c.reg == nil {
		c.reg = prometheus.NewRegistry()
		c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	c.m = newMetrics(c)
	c.reg.MustRegister(c.m)
	return c
}

// Stats returns the pipeline's live counters.
func (c *Collector) Stats() *pipeline.Stats { return &c.stats }

// Addr returns the HTTP address served, once Run has started it.
func (c *Collector) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// Stop drains: the sources stop handing out objects, the ones in progress
// are committed and acknowledged, then Run returns.
func (c *Collector) Stop() {
	c.stopOnce.Do(func() {
		close(c.stopped)
		c.mu.Lock()
		m := c.merged
		c.mu.Unlock()
		if m != nil {
			m.Stop()
		}
	})
}

// Check verifies every source concurrently and returns every failure.
func (c *Collector) Check(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.o.Sources))
	for i, s := range c.o.Sources {
		if s.Check == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Check(ctx); err != nil {
				errs[i] = fmt.Errorf("source %s: %w", s.Name, err)
				c.setSourceErr(s.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Collector) setSourceErr(name string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state[name]; st != nil {
		st.err = err
	}
}

// Run checks the sources, serves HTTP, and runs the pipeline until the
// sources are exhausted, Stop drains it, or ctx ends.
func (c *Collector) Run(ctx context.Context) (pipeline.Summary, error) {
	c.started = time.Now()
	var srv *http.Server
	if c.o.Listen != "" {
		ln, err := net.Listen("tcp", c.o.Listen)
		if err != nil {
			return pipeline.Summary{}, fmt.Errorf("listen on %s: %w", c.o.Listen, err)
		}
		c.mu.Lock()
		c.addr = ln.Addr().String()
		c.mu.Unlock()
		srv = &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				c.o.Logger.Error("HTTP server", "err", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		c.o.Logger.Info("serving health and metrics", "addr", "http://"+c.addr+"/metrics")
	}
	if err := c.Check(ctx); err != nil {
		return pipeline.Summary{}, err
	}
	c.checked.Store(true)

	named := make([]pipeline.Named, len(c.o.Sources))
	for i, s := range c.o.Sources {
		named[i] = pipeline.Named{Name: s.Name, Source: s.Source}
	}
	c.mu.Lock()
	c.merged = pipeline.Merge(named...)
	c.mu.Unlock()
	if c.o.KeepGoing {
		c.merged.OnError = func(name string, err error) {
			c.o.Logger.Error("source failed; the others go on", "source", name, "err", err)
			c.setSourceErr(name, err)
		}
	}
	select {
	case <-c.stopped:
		c.merged.Stop()
	default:
	}

	bg, cancelBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.watchQueues(bg) }()
	go func() { defer wg.Done(); c.retain(bg) }()

	opts := c.o.Pipeline
	opts.Stats = &c.stats
	opts.Logger = c.o.Logger
	prev := opts.Done
	opts.Done = func(o *pipeline.Object, r pipeline.Result) {
		c.m.observe(o, r)
		if prev != nil {
			prev(o, r)
		}
	}
	c.running.Store(true)
	sum, err := pipeline.Run(ctx, c.merged, c.o.Store, opts)
	c.running.Store(false)
	cancelBG()
	wg.Wait()
	for _, s := range c.o.Sources {
		if s.Close != nil {
			if cerr := s.Close(); cerr != nil {
				c.o.Logger.Warn("close source", "source", s.Name, "err", cerr)
			}
		}
	}
	if err == nil && c.o.KeepGoing {
		// Every source ended; say why the failed ones did, unless asked to
		// stop (a drain on SIGTERM is a clean exit; the failures were
		// logged when they happened).
		select {
		case <-c.stopped:
		default:
			err = c.merged.Err()
		}
	}
	if err != nil {
		c.failed.Store(&err)
	}
	return sum, err
}

// watchQueues reads the queues' depth for the metrics.
func (c *Collector) watchQueues(ctx context.Context) {
	var qs []Source
	for _, s := range c.o.Sources {
		if s.Queue != nil {
			qs = append(qs, s)
		}
	}
	if len(qs) == 0 {
		return
	}
	t := time.NewTicker(c.o.QueueStatsEvery)
	defer t.Stop()
	for {
		for _, s := range qs {
			st, err := s.Queue.Stats(ctx)
			if ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.state[s.Name].depth, c.state[s.Name].depOK = st, err == nil
			c.mu.Unlock()
			if err != nil {
				c.o.Logger.Debug("read queue depth", "source", s.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// retain applies the retention period hourly.
func (c *Collector) retain(ctx context.Context) {
	if c.o.Retention <= 0 {
		return
	}
	for {
		cutoff := time.Now().Add(-c.o.Retention)
		n, err := c.o.Store.Retain(ctx, cutoff)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.o.Logger.Warn("retention", "err", err)
		} else if n > 0 {
			c.o.Logger.Info("retention: deleted old records", "records", n, "before", cutoff.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// Handler serves /healthz, /readyz and /metrics.
func (c *Collector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if p := c.failed.Load(); p != nil {
			http.Error(w, "failed: "+(*p).Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	for pattern, h := range c.o.Routes {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ready, lines := c.readiness()
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{}))
	return mux
}

// readiness is ready when the sources passed their checks, none has
// failed since, and the pipeline runs.
func (c *Collector) readiness() (bool, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ready := c.checked.Load() && c.running.Load()
	var lines []string
	for _, s := range c.o.Sources {
		st := c.state[s.Name]
		switch {
		case st.err != nil:
			ready = false
			lines = append(lines, fmt.Sprintf("source %s: %v", s.Name, st.err))
		case !c.checked.Load():
			lines = append(lines, fmt.Sprintf("source %s: checking", s.Name))
		default:
			lines = append(lines, fmt.Sprintf("source %s: ok", s.Name))
		}
	}
	switch {
	case ready:
		lines = append([]string{"ready"}, lines...)
	case c.checked.Load() && !c.running.Load():
		lines = append([]string{"not ready: the pipeline is not running"}, lines...)
	default:
		lines = append([]string{"not ready"}, lines...)
	}
	return ready, lines
}

// keyInfo is what the metrics need of an object key.
func keyInfo(o *pipeline.Object) event.KeyInfo { return event.ClassifyKey(o.Ref.Key) }
