package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/detect"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/source/dir"
	"github.com/trailwatch/trailwatch/internal/store"
)

// ruleFlags select the rules a command evaluates.
type ruleFlags struct {
	dirs      []string
	noBuiltin bool
	minLevel  string
}

func (f *ruleFlags) register(fl *pflag.FlagSet, defLevel string) {
	fl.StringArrayVar(&f.dirs, "rules", nil, "also load the Sigma rules in this file or directory (repeatable)")
	fl.BoolVar(&f.noBuiltin, "no-builtin", false, "leave out the built-in rule pack")
	fl.StringVar(&f.minLevel, "min-level", defLevel, "report rules at this level and above: informational, low, medium, high, critical")
}

// level parses --min-level.
func (f *ruleFlags) level() (detect.Level, error) {
	if f.minLevel == "" {
		return detect.LevelLow, nil
	}
	l, err := detect.ParseLevel(f.minLevel)
	if err != nil {
		return 0, usageError("--min-level: %v", err)
	}
	return l, nil
}

// loadRules returns the built-in pack (unless --no-builtin) and the rules of
// --rules and extra paths. When files cannot be read or are not YAML, the
// error lists them and the rules of the other files are returned with it.
func (a *app) loadRules(f ruleFlags, extra ...string) ([]*detect.Rule, error) {
	var rules []*detect.Rule
	if !f.noBuiltin {
		b, err := detect.Builtin()
		if err != nil {
			return nil, fmt.Errorf("built-in rules: %w", err)
		}
		rules = append(rules, b...)
	}
	paths := append(append([]string(nil), f.dirs...), extra...)
	if len(paths) > 0 {
		r, err := detect.LoadPaths(paths)
		rules = append(rules, r...)
		if err != nil {
			return rules, err
		}
	}
	if len(rules) == 0 {
		return nil, usageError("no rules: give --rules DIR or leave out --no-builtin")
	}
	return rules, nil
}

// newEngine compiles rules, warning about those left out.
func (a *app) newEngine(rules []*detect.Rule, minLevel detect.Level, onFinding func(detect.Finding)) (*detect.Engine, error) {
	eng, err := detect.NewEngine(rules, detect.Options{MinLevel: minLevel, OnFinding: onFinding, Logger: a.log})
	if err != nil {
		return nil, err
	}
	if sk := eng.Skipped(); len(sk) > 0 {
		a.log.Warn("some rules have errors and are not evaluated (see trailwatch rules lint)", "rules", len(sk), "first", sk[0].Source)
	}
	return eng, nil
}

// loadAlertsConfig reads --alerts-config, or returns the defaults.
func loadAlertsConfig(path string) (alert.Config, error) {
	if path == "" {
		var c alert.Config
		c.SetDefaults()
		return c, nil
	}
	return alert.Load(path)
}

type detectFlags struct {
	rules   ruleFlags
	workers int
	alerts  bool
}

func (a *app) detectCommand() *cobra.Command {
	var f detectFlags
	cmd := &cobra.Command{
		Use:   "detect FILE|DIR...",
		Short: "Run the detection rules over local log files, without a database, and print findings as JSON lines",
		Long: `Detect reads CloudTrail and S3 server access log files (as ingest does: gzip or
not, every CloudTrail shape, recursively, - for stdin), evaluates the built-in
Sigma rules and those of --rules, and prints one JSON object per finding, in
event time order: ruleId, ruleName, title, severity, eventID, eventTime,
principal, sourceIP, account, region, eventName and, for correlations, the
count and a sample of eventIDs. Nothing is stored. With --alerts, findings are
grouped into alerts (same rule and principal within an hour) first.`,
		Example: `  trailwatch detect ~/incident/AWSLogs
  trailwatch detect --rules ./my-rules --no-builtin --min-level informational events.json.gz
  trailwatch detect --alerts ./AWSLogs | jq -r '[.severity, .title, .principal] | @tsv'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDetect(cmd.Context(), args, f)
		},
	}
	f.rules.register(cmd.Flags(), "low")
	cmd.Flags().IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "parallel parsers")
	cmd.Flags().BoolVar(&f.alerts, "alerts", false, "print alerts (findings grouped by rule and principal) instead of findings")
	return cmd
}

func (a *app) runDetect(ctx context.Context, paths []string, f detectFlags) error {
	lvl, err := f.rules.level()
	if err != nil {
		return err
	}
	rules, err := a.loadRules(f.rules)
	if err != nil {
		return err
	}
	src, err := dir.Open(paths, a.stdin)
	if err != nil {
		if src == nil || (src.Len() == 0 && !containsDash(paths)) {
			return err
		}
		a.log.Warn("some paths could not be read", "err", err)
	}
	var mu sync.Mutex
	var findings []detect.Finding
	mgr, err := alert.NewManager(alert.Config{MinLevel: lvl.String()}, alert.Options{Logger: a.log})
	if err != nil {
		return err
	}
	eng, err := a.newEngine(rules, lvl, func(fd detect.Finding) {
		if f.alerts {
			mgr.Add(fd)
			return
		}
		mu.Lock()
		findings = append(findings, fd)
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	start := time.Now()
	sum, err := pipeline.Run(ctx, src, discardStore{}, pipeline.Options{Workers: f.workers, Logger: a.log, Observe: eng.Observe})
	if err != nil && !(errors.Is(err, context.Canceled) && sum.Objects > 0) {
		return err
	}
	eng.Flush()
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	n := 0
	if f.alerts {
		for _, al := range mgr.Alerts() {
			if err := enc.Encode(al); err != nil {
				return err
			}
			n++
		}
	} else {
		sort.SliceStable(findings, func(i, j int) bool {
			if !findings[i].Time.Equal(findings[j].Time) {
				return findings[i].Time.Before(findings[j].Time)
			}
			return findings[i].Title < findings[j].Title
		})
		for _, fd := range findings {
			if err := enc.Encode(fd); err != nil {
				return err
			}
		}
		n = len(findings)
	}
	st := eng.Stats()
	what := "findings"
	if f.alerts {
		what = "alerts"
	}
	fmt.Fprintf(a.stderr, "detect: %d objects, %d records, %d rules (%d correlations): %d %s in %s\n",
		sum.Objects, sum.Records, st.Rules, st.Correlations, n, what, time.Since(start).Round(time.Millisecond))
	if sum.Quarantined > 0 {
		for _, p := range sum.Problems {
			fmt.Fprintf(a.stderr, "  %s: %s\n", p.Object, p.Reason)
		}
		return &ExitError{Code: ExitQuarantined, Err: fmt.Errorf("%d object(s) could not be read in full", sum.Quarantined)}
	}
	return err
}

func containsDash(paths []string) bool {
	for _, p := range paths {
		if p == "-" {
			return true
		}
	}
	return false
}

// discardStore is a store.Store that keeps nothing, so that detect can use
// the pipeline's readers and parsers without a database.
type discardStore struct{}

var _ store.Store = discardStore{}

func (discardStore) Query(context.Context, string, ...any) (*sql.Rows, error) {
	return nil, errors.New("detect keeps no database")
}
func (discardStore) Begin(context.Context) (store.Appender, error) { return discardAppender{}, nil }
func (discardStore) Ledger(context.Context, []string) (map[string]store.LedgerEntry, error) {
	return map[string]store.LedgerEntry{}, nil
}
func (discardStore) Checkpoint(context.Context, string) (string, error)  { return "", nil }
func (discardStore) SetCheckpoint(context.Context, string, string) error { return nil }
func (discardStore) Retain(context.Context, time.Time) (int64, error)    { return 0, nil }
func (discardStore) Close() error                                        { return nil }

type discardAppender struct{}

func (discardAppender) Append(context.Context, *event.Batch) error           { return nil }
func (discardAppender) ObjectDone(context.Context, store.ObjectStatus) error { return nil }
func (discardAppender) Quarantine(context.Context, store.Quarantined) error  { return nil }
func (discardAppender) Commit(context.Context) error                         { return nil }
func (discardAppender) Rollback(context.Context) error                       { return nil }
func (discardAppender) Close() error                                         { return nil }

// detection is detection wired into a run: the engine, whose findings go
// to the alert manager, which persists alerts and notifies sinks.
type detection struct {
	eng   *detect.Engine
	mgr   *alert.Manager
	stop  func()
	start time.Time
}

// detectionOptions say how a run uses detection.
type detectionOptions struct {
	rules        ruleFlags
	alertsConfig string
	store        alert.Store // nil: alerts are not persisted
	replace      bool        // hunts: keep the larger count instead of adding
	notify       bool        // send new alerts to the configured sinks
	// registerer receives the alerting metrics (findings, alerts,
	// deliveries by sink and result, retries); nil: not exported.
	registerer prometheus.Registerer
	// flushEvery is how often alerts are persisted; default 15s.
	flushEvery time.Duration
}

// startDetection loads the rules and the alerts configuration and starts
// the alert manager. Until finish, every flushEvery (15 seconds) closed
// correlation windows are expired and alerts are persisted.
func (a *app) startDetection(ctx context.Context, o detectionOptions) (*detection, error) {
	lvl, err := o.rules.level()
	if err != nil {
		return nil, err
	}
	cfg, err := loadAlertsConfig(o.alertsConfig)
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	rules, err := a.loadRules(o.rules)
	if err != nil {
		return nil, err
	}
	mgr, err := alert.NewManager(cfg, alert.Options{Store: o.store, Replace: o.replace, Notify: o.notify, Registerer: o.registerer, Logger: a.log})
	if err != nil {
		return nil, err
	}
	eng, err := a.newEngine(rules, lvl, mgr.Add)
	if err != nil {
		_ = mgr.Close(ctx)
		return nil, err
	}
	if o.registerer != nil {
		if err := registerEngineMetrics(o.registerer, eng); err != nil {
			_ = mgr.Close(ctx)
			return nil, err
		}
	}
	d := &detection{eng: eng, mgr: mgr, start: time.Now()}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		every := o.flushEvery
		if every <= 0 {
			every = 15 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				eng.Expire()
				if err := mgr.Flush(ctx); err != nil {
					a.log.Warn("persist alerts", "err", err)
				}
			}
		}
	}()
	var once sync.Once
	d.stop = func() {
		once.Do(func() { close(done) })
		<-stopped
	}
	return d, nil
}

// registerEngineMetrics exports the engine's counters, read at scrape time.
func registerEngineMetrics(reg prometheus.Registerer, eng *detect.Engine) error {
	stat := func(f func(detect.Stats) float64) func() float64 {
		return func() float64 { return f(eng.Stats()) }
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "trailwatch_detect_records_total",
			Help: "Records the detection rules were evaluated on."}, stat(func(s detect.Stats) float64 { return float64(s.Records) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "trailwatch_detect_rule_evaluations_total",
			Help: "Rule evaluations (candidate rules tried on a record)."}, stat(func(s detect.Stats) float64 { return float64(s.Evaluations) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trailwatch_detect_rules",
			Help: "Detection and correlation rules evaluated."}, stat(func(s detect.Stats) float64 { return float64(s.Rules + s.Correlations) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trailwatch_detect_rules_skipped",
			Help: "Rules left out because of errors (trailwatch rules lint)."}, stat(func(s detect.Stats) float64 { return float64(s.Skipped) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trailwatch_detect_correlation_groups",
			Help: "Correlation and first-seen groups held in memory."}, stat(func(s detect.Stats) float64 { return float64(s.Groups) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trailwatch_detect_correlation_entries",
			Help: "Timestamps and values held by correlation and first-seen groups."}, stat(func(s detect.Stats) float64 { return float64(s.Entries) })),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register detection metrics: %w", err)
		}
	}
	return nil
}

// finish decides the open correlation windows, persists the alerts and
// waits up to 30 seconds for the sinks.
func (d *detection) finish(ctx context.Context) error {
	d.stop()
	d.eng.Flush()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return d.mgr.Close(cctx)
}

// printSummary prints one line about what detection did.
func (d *detection) printSummary(w io.Writer) {
	es, ms := d.eng.Stats(), d.mgr.Stats()
	fmt.Fprintf(w, "detection: %d rules (%d correlations) on %d records: %d findings, %d alerts", es.Rules, es.Correlations, es.Records, ms.Findings, ms.Alerts)
	if ms.Suppressed > 0 {
		fmt.Fprintf(w, ", %d findings suppressed", ms.Suppressed)
	}
	if es.Skipped > 0 {
		fmt.Fprintf(w, "; %d rules with errors left out (trailwatch rules lint)", es.Skipped)
	}
	fmt.Fprintln(w)
}
