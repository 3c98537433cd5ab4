package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailwatch/trailwatch/internal/detect"
)

// Store persists alerts.
type Store interface {
	// UpsertAlerts inserts alerts or merges them into the stored ones with
	// the same ID: first and last seen widen, the status is kept, and the
	// count is added (add) or the larger one kept (!add, for re-runs over
	// the same events).
	UpsertAlerts(ctx context.Context, alerts []Alert, add bool) error
}

// Options configure a Manager.
type Options struct {
	Store Store // where alerts are persisted; nil keeps them in memory only
	// Replace makes Flush store full counts, keeping the larger of the
	// stored and the new one (hunts over stored history); by default the
	// counts of findings seen since the last Flush are added (ingest).
	Replace bool
	// Notify sends new alerts to the configured sinks.
	Notify     bool
	Registerer prometheus.Registerer // metrics go here; nil: not exported
	Logger     *slog.Logger
	Now        func() time.Time
}

// Manager groups findings into alerts, applies suppressions, persists
// alerts and dispatches new ones to sinks. Add is safe for concurrent use.
type Manager struct {
	cfg      Config
	opts     Options
	minLevel detect.Level
	log      *slog.Logger
	m        *metrics
	sinks    []*dispatcher

	mu        sync.Mutex
	alerts    map[string]*Alert
	dirty     map[string]bool
	persisted map[string]int64
	forgotten map[string]time.Time // alerts dropped from memory after being persisted, and when

	findings, created, suppressed atomic.Int64
	closed                        atomic.Bool
}

// NewManager builds a manager for a validated configuration, starting one
// delivery goroutine per sink when opts.Notify is set.
func NewManager(cfg Config, opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lvl, _ := detect.ParseLevel(cfg.MinLevel)
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	mgr := &Manager{cfg: cfg, opts: opts, minLevel: lvl, log: opts.Logger, m: m,
		alerts: map[string]*Alert{}, dirty: map[string]bool{}, persisted: map[string]int64{}, forgotten: map[string]time.Time{}}
	if opts.Notify {
		for _, sc := range cfg.Sinks {
			s, err := NewSink(sc)
			if err != nil {
				mgr.closeSinks()
				return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
			}
			mgr.sinks = append(mgr.sinks, newDispatcher(sc, s, m, opts.Logger))
		}
	}
	return mgr, nil
}

// Add handles one finding: it is suppressed, merged into its alert, or
// starts a new alert (which is sent to the sinks).
func (m *Manager) Add(f detect.Finding) {
	m.findings.Add(1)
	m.m.findings.Inc()
	if f.Level < m.minLevel {
		return
	}
	now := m.opts.Now()
	for i := range m.cfg.Suppressions {
		if m.cfg.Suppressions[i].matches(&f, now) {
			m.suppressed.Add(1)
			m.m.suppressed.Inc()
			return
		}
	}
	id := alertID(f.RuleID, groupKey(&f), windowStart(f.Time, m.cfg.GroupWindow))
	m.mu.Lock()
	a, ok := m.alerts[id]
	if ok {
		a.merge(&f)
		a.UpdatedAt = now
	} else {
		a = newAlert(&f, m.cfg.GroupWindow, now)
		m.alerts[id] = a
	}
	m.dirty[id] = true
	var fresh Alert
	_, known := m.forgotten[id]
	if !ok {
		fresh = clone(a)
		delete(m.forgotten, id)
	}
	m.mu.Unlock()
	if ok || known {
		// Known alert (in memory, or persisted and forgotten): the sinks
		// were told when it was created.
		return
	}
	m.created.Add(1)
	m.m.created.WithLabelValues(a.Level.String()).Inc()
	if m.closed.Load() {
		return
	}
	for _, d := range m.sinks {
		d.enqueue(fresh)
	}
}

func clone(a *Alert) Alert {
	c := *a
	c.EventIDs = append([]string(nil), a.EventIDs...)
	c.Details = make(map[string]string, len(a.Details))
	for k, v := range a.Details {
		c.Details[k] = v
	}
	return c
}

// Flush persists the alerts changed since the last Flush.
func (m *Manager) Flush(ctx context.Context) error {
	if m.opts.Store == nil {
		return nil
	}
	m.mu.Lock()
	batch := make([]Alert, 0, len(m.dirty))
	counts := make(map[string]int64, len(m.dirty))
	for id := range m.dirty {
		a := clone(m.alerts[id])
		counts[id] = a.Count
		if !m.opts.Replace {
			a.Count -= m.persisted[id]
		}
		batch = append(batch, a)
	}
	m.dirty = map[string]bool{}
	if len(batch) == 0 {
		m.forget()
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()
	Sort(batch)
	if err := m.opts.Store.UpsertAlerts(ctx, batch, !m.opts.Replace); err != nil {
		m.mu.Lock()
		for _, a := range batch {
			m.dirty[a.ID] = true // try again at the next Flush
		}
		m.mu.Unlock()
		return fmt.Errorf("store alerts: %w", err)
	}
	m.mu.Lock()
	for id, n := range counts {
		m.persisted[id] = n
	}
	m.forget()
	m.mu.Unlock()
	return nil
}

// forgetAfter is how long (wall clock) an alert stays in memory after its
// last finding, and forgottenFor how long a forgotten alert's ID is kept so
// that a late finding does not notify the sinks again.
func (m *Manager) forgetAfter() time.Duration { return max(2*m.cfg.GroupWindow, time.Hour) }

const forgottenFor = 24 * time.Hour

// forget drops from memory the persisted alerts (ingest mode only) that
// had no finding for forgetAfter, so that a collector running for weeks
// holds only recent alerts; a later finding of a forgotten alert adds to
// the stored one. m.mu is held.
func (m *Manager) forget() {
	if m.opts.Store == nil || m.opts.Replace {
		return // detect and hunt keep every alert of the run to print them
	}
	now := m.opts.Now()
	for id, a := range m.alerts {
		if !m.dirty[id] && now.Sub(a.UpdatedAt) > m.forgetAfter() {
			delete(m.alerts, id)
			delete(m.persisted, id)
			m.forgotten[id] = now
		}
	}
	for id, at := range m.forgotten {
		if now.Sub(at) > forgottenFor {
			delete(m.forgotten, id)
		}
	}
}

// Close persists what is left and waits (until ctx is done) for the sinks
// to deliver what they hold. Closing again only persists.
func (m *Manager) Close(ctx context.Context) error {
	if !m.closed.CompareAndSwap(false, true) {
		return m.Flush(ctx)
	}
	err := m.Flush(ctx)
	var errs []error
	for _, d := range m.sinks {
		errs = append(errs, d.close(ctx))
	}
	return errors.Join(append([]error{err}, errs...)...)
}

func (m *Manager) closeSinks() {
	for _, d := range m.sinks {
		_ = d.sink.Close()
	}
}

// Alerts returns the alerts of this run held in memory, sorted. When
// alerts are persisted by ingest (a Store and not Replace), alerts without
// findings for twice the group window (at least an hour) are dropped from
// memory after they are stored, and are no longer listed here.
func (m *Manager) Alerts() []Alert {
	m.mu.Lock()
	out := make([]Alert, 0, len(m.alerts))
	for _, a := range m.alerts {
		out = append(out, clone(a))
	}
	m.mu.Unlock()
	Sort(out)
	return out
}

// Stats counts what the manager did.
type Stats struct {
	Findings   int64 // findings received
	Alerts     int64 // alerts created
	Suppressed int64 // findings dropped by suppressions
	Held       int   // alerts held in memory
}

// Stats returns the manager's counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	held := len(m.alerts)
	m.mu.Unlock()
	return Stats{Findings: m.findings.Load(), Alerts: m.created.Load(), Suppressed: m.suppressed.Load(), Held: held}
}

// metrics are the Prometheus counters of alerting.
type metrics struct {
	findings   prometheus.Counter
	created    *prometheus.CounterVec
	suppressed prometheus.Counter
	deliveries *prometheus.CounterVec
	retries    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		findings: prometheus.NewCounter(prometheus.CounterOpts{Name: "trailwatch_detect_findings_total",
			Help: "Rule matches handed to alerting."}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trailwatch_alerts_created_total",
			Help: "Alerts created, by severity."}, []string{"severity"}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{Name: "trailwatch_alerts_suppressed_total",
			Help: "Findings dropped by a suppression."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trailwatch_alert_deliveries_total",
			Help: "Alert deliveries by sink and result (sent, failed after all retries, dropped because the queue was full)."},
			[]string{"sink", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trailwatch_alert_delivery_retries_total",
			Help: "Delivery attempts that failed and were retried, by sink."}, []string{"sink"}),
	}
	for _, c := range []prometheus.Collector{m.findings, m.created, m.suppressed, m.deliveries, m.retries} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register alert metrics: %w", err)
		}
	}
	return m, nil
}

// dispatcher delivers alerts to one sink from a bounded queue, retrying
// with exponential backoff.
type dispatcher struct {
	cfg    SinkConfig
	sink   Sink
	min    detect.Level
	queue  chan Alert
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	m      *metrics
	log    *slog.Logger

	mu     sync.RWMutex // guards closed against enqueue
	closed bool
}

func newDispatcher(cfg SinkConfig, s Sink, m *metrics, log *slog.Logger) *dispatcher {
	lvl, _ := detect.ParseLevel(cfg.MinLevel)
	ctx, cancel := context.WithCancel(context.Background())
	d := &dispatcher{cfg: cfg, sink: s, min: lvl, queue: make(chan Alert, cfg.QueueSize), done: make(chan struct{}),
		ctx: ctx, cancel: cancel, m: m, log: log}
	for _, r := range []string{"sent", "failed", "dropped"} {
		m.deliveries.WithLabelValues(cfg.Name, r)
	}
	m.retries.WithLabelValues(cfg.Name)
	go d.run()
	return d
}

func (d *dispatcher) enqueue(a Alert) {
	if a.Level < d.min {
		return
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return
	}
	select {
	case d.queue <- a:
	default:
		d.m.deliveries.WithLabelValues(d.cfg.Name, "dropped").Inc()
		d.log.Warn("alert dropped: the sink's queue is full", "sink", d.cfg.Name, "alert", a.ID)
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	for a := range d.queue {
		d.deliver(a)
	}
}

// deliver sends one alert, retrying failures with exponential backoff and
// jitter; permanent failures (4xx) are not retried.
func (d *dispatcher) deliver(a Alert) {
	wait := d.cfg.Backoff
	retries := 0
	if d.cfg.Retries != nil {
		retries = *d.cfg.Retries
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
		err := d.sink.Send(ctx, a)
		cancel()
		if err == nil {
			d.m.deliveries.WithLabelValues(d.cfg.Name, "sent").Inc()
			return
		}
		var se *statusError
		permanent := errors.As(err, &se) && se.permanent()
		if attempt >= retries || permanent || d.ctx.Err() != nil {
			d.m.deliveries.WithLabelValues(d.cfg.Name, "failed").Inc()
			d.log.Error("alert delivery failed", "sink", d.cfg.Name, "alert", a.ID, "attempts", attempt+1, "err", err)
			return
		}
		d.m.retries.WithLabelValues(d.cfg.Name).Inc()
		d.log.Warn("alert delivery failed; retrying", "sink", d.cfg.Name, "alert", a.ID, "attempt", attempt+1, "in", wait, "err", err)
		jitter := time.Duration(rand.Int64N(int64(wait)/5 + 1))
		t := time.NewTimer(wait + jitter)
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
		}
		wait = min(wait*2, d.cfg.MaxBackoff)
	}
}

// close stops accepting alerts, waits for the queue to drain (or ctx to
// end, which abandons the rest) and closes the sink.
func (d *dispatcher) close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()
	select {
	case <-d.done:
	case <-ctx.Done():
		d.cancel()
		<-d.done
	}
	d.cancel()
	return d.sink.Close()
}
