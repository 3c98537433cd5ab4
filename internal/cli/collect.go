package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/collector"
	"github.com/trailwatch/trailwatch/internal/config"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/integrity"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/source/dir"
	"github.com/trailwatch/trailwatch/internal/source/poll"
	"github.com/trailwatch/trailwatch/internal/source/sqs"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

// awsFlags are the AWS settings the collect and backfill commands share.
type awsFlags struct {
	profile, region, roleARN, externalID, sessionName, endpointURL string
	pathStyle                                                      bool
}

func (f *awsFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "", "AWS shared config profile (default: the standard credential chain)")
	fl.StringVar(&f.region, "aws-region", "", "AWS region of the queue or bucket (default: from the queue URL, the environment or the profile)")
	fl.StringVar(&f.roleARN, "role-arn", "", "IAM role to assume (e.g. in the log archive account)")
	fl.StringVar(&f.externalID, "external-id", "", "external ID the role's trust policy requires")
	fl.StringVar(&f.sessionName, "session-name", "", `role session name (default "trailwatch")`)
	fl.StringVar(&f.endpointURL, "endpoint-url", "", "endpoint for S3- and SQS-compatible servers (AWS_ENDPOINT_URL_S3/_SQS also work)")
	fl.BoolVar(&f.pathStyle, "s3-path-style", false, "path-style S3 addressing (most S3-compatible servers need it)")
}

func (f *awsFlags) aws() config.AWS {
	return config.AWS{Profile: f.profile, Region: f.region, RoleARN: f.roleARN, ExternalID: f.externalID,
		SessionName: f.sessionName, EndpointURL: f.endpointURL, S3PathStyle: f.pathStyle}
}

// runFlags are what every collecting command shares.
type runFlags struct {
	workers      int
	listen       string
	progress     string
	kinds        string
	noDetect     bool
	noIntegrity  bool
	rules        ruleFlags
	alertsConfig string
}

func (a *app) collectCommand() *cobra.Command {
	var f runFlags
	var af awsFlags
	var queue string
	var drain bool
	var visibility, retryBackoff time.Duration
	var maxInFlight, maxReceives int
	cmd := &cobra.Command{
		Use:   "collect --queue-url URL",
		Short: "Collect the log objects an SQS queue announces (S3, SNS, CloudTrail or EventBridge notifications)",
		Long: `Collect receives notifications from an SQS queue, fetches the CloudTrail
logs, digests, Insights and S3 server access logs they announce, stores them
and deletes each message only after every object it names is committed.

Every notification shape is accepted: S3 event notifications (direct or
through SNS, raw or not), CloudTrail's own {"s3Bucket", "s3ObjectKey"}
through SNS, EventBridge "Object Created", and s3:TestEvent (acknowledged).
A message received --max-receives times without success is quarantined with
the reason. The first interrupt (Ctrl-C, SIGTERM) finishes the objects in
progress and stops; a second stops at once (nothing is lost either way).

For several queues and buckets, metrics and health checks, use
"trailwatch run --config".`,
		Example: `  trailwatch collect --queue-url https://sqs.us-east-1.amazonaws.com/111122223333/cloudtrail \
      --role-arn arn:aws:iam::111122223333:role/trailwatch-collector --external-id "$EXTERNAL_ID"
  trailwatch collect --queue-url "$QUEUE" --drain        # stop once the queue is empty`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if queue == "" {
				return usageError("--queue-url is required")
			}
			cfg := config.Default()
			cfg.AWS = af.aws()
			cfg.Sources = []config.Source{{Name: "sqs", Type: config.TypeSQS, QueueURL: queue,
				Visibility: config.Duration(visibility), MaxInFlight: maxInFlight, MaxReceives: maxReceives,
				RetryBackoff: config.Duration(retryBackoff)}}
			return a.collect(cmd, cfg, f, collectMode{drain: drain})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&queue, "queue-url", "", "SQS queue URL")
	fl.BoolVar(&drain, "drain", false, "stop once the queue is empty and everything received is stored (messages invisible elsewhere are awaited up to --visibility)")
	fl.DurationVar(&visibility, "visibility", 2*time.Minute, "visibility timeout of received messages (extended while they are processed)")
	fl.IntVar(&maxInFlight, "max-in-flight", 1000, "messages held at once: received and not yet committed and deleted")
	fl.IntVar(&maxReceives, "max-receives", 5, "receives after which a message is quarantined as poison")
	fl.DurationVar(&retryBackoff, "retry-backoff", 15*time.Second, "wait before a failed message is received again, times its receive count")
	f.register(cmd, "")
	af.register(cmd)
	return cmd
}

func (f *runFlags) register(cmd *cobra.Command, listen string) {
	fl := cmd.Flags()
	fl.IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "parallel parsers")
	fl.StringVar(&f.listen, "listen", listen, "serve /healthz, /readyz and /metrics on this address (e.g. 127.0.0.1:9732)")
	fl.StringVar(&f.progress, "progress", "auto", "progress line: auto (on a terminal), always, never")
	fl.StringVar(&f.kinds, "kinds", "", "collect only these kinds: cloudtrail, digest, insight, s3access (comma-separated)")
	fl.BoolVar(&f.noDetect, "no-detect", false, "do not run the detection rules")
	fl.BoolVar(&f.noIntegrity, "no-integrity", false, "do not validate the collected digest files")
	fl.StringVar(&f.alertsConfig, "alerts-config", "", "alert grouping, suppressions and sinks (YAML; see docs/detect.md)")
	f.rules.register(fl, "low")
}

// detectConfig applies the detection flags given on the command line over
// the configuration.
func (f *runFlags) detectConfig(cmd *cobra.Command, d *config.Detect) {
	fl := cmd.Flags()
	if fl.Changed("no-detect") {
		d.Disabled = f.noDetect
	}
	if fl.Changed("rules") {
		d.Rules = f.rules.dirs
	}
	if fl.Changed("no-builtin") {
		d.NoBuiltin = f.rules.noBuiltin
	}
	if fl.Changed("min-level") || d.MinLevel == "" {
		d.MinLevel = f.rules.minLevel
	}
	if fl.Changed("alerts-config") {
		d.Alerts = f.alertsConfig
	}
}

func (a *app) backfillCommand() *cobra.Command {
	var f runFlags
	var af awsFlags
	var since, until string
	var accounts, regions []string
	cmd := &cobra.Command{
		Use:   "backfill s3://BUCKET[/PREFIX]",
		Short: "Collect the CloudTrail logs (or S3 access logs) already in a bucket, resuming where it stopped",
		Long: `Backfill walks the CloudTrail layout of a bucket,
  [PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail[-Digest|-Insight]/REGION/YYYY/MM/DD/,
day by day from --since to --until, for the accounts and regions asked, and
stores what it finds. With --kinds s3access it walks S3 server access logs
instead, in both the simple ([PREFIX]YYYY-MM-DD-...) and the date-partitioned
([PREFIX]ACCOUNT/REGION/BUCKET/YYYY/MM/DD/) layouts.

Progress is kept in the database: run the same command again after an
interruption and it resumes; objects already stored are skipped.`,
		Example: `  trailwatch backfill s3://org-cloudtrail-111122223333 --since 2026-01-01
  trailwatch backfill s3://trail-bucket/team-a/ --account 111122223333 --region us-east-1 --since 30d
  trailwatch backfill s3://access-log-bucket/logs/ --kinds s3access --since 2026-11-01`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bucket, prefix, err := parseS3URL(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			src := config.Source{Name: "backfill", Type: config.TypeS3, Bucket: bucket, Prefix: prefix, Accounts: splitLists(accounts), Regions: splitLists(regions)}
			now := time.Now()
			if src.Since.Time, err = config.ParseDate(since, now); err != nil {
				return usageError("--since: %v", err)
			}
			if src.Until.Time, err = config.ParseDate(until, now); err != nil {
				return usageError("--until: %v", err)
			}
			cfg := config.Default()
			cfg.AWS = af.aws()
			cfg.Sources = []config.Source{src}
			return a.collect(cmd, cfg, f, collectMode{backfill: true})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "first day: 2026-01-31, an RFC 3339 time, or an age such as 30d (default: the beginning)")
	fl.StringVar(&until, "until", "", "last day, inclusive (default: today)")
	fl.StringSliceVar(&accounts, "account", nil, "only these accounts (repeat or comma-separate)")
	fl.StringSliceVar(&regions, "region", nil, "only these regions (repeat or comma-separate)")
	f.register(cmd, "")
	af.register(cmd)
	return cmd
}

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	var path string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the collector daemon: every configured queue, bucket and directory, with health checks and metrics",
		Long: `Run starts every source in the configuration file (SQS queues, buckets polled
from checkpoints, local directories) into one store, and serves /healthz,
/readyz and Prometheus /metrics (default 127.0.0.1:9732).

The configuration is checked before anything starts, and every problem is
listed. Settings come from flags, then TRAILWATCH_* environment variables,
then the file, then defaults. The first SIGTERM or Ctrl-C finishes the
objects in progress and exits 0; a second stops at once.

See docs/trailwatch.example.yaml for every setting.`,
		Example: `  trailwatch run --config /etc/trailwatch/trailwatch.yaml
  TRAILWATCH_EXTERNAL_ID=... trailwatch run --config trailwatch.yaml --listen 0.0.0.0:9732`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError("--config is required (see docs/trailwatch.example.yaml)")
			}
			cfg, err := config.Load(path, os.Getenv)
			if err != nil {
				return usageError("%v", err)
			}
			fl := cmd.Flags()
			if fl.Changed("db") {
				cfg.Store.Path = a.dbPath
			}
			if fl.Changed("memory-limit") {
				cfg.Store.MemoryLimit = a.memoryLimit
			}
			if fl.Changed("threads") {
				cfg.Store.Threads = a.threads
			}
			if fl.Changed("workers") {
				cfg.Workers = f.workers
			}
			if fl.Changed("listen") {
				cfg.HTTP.Listen = f.listen
			}
			if fl.Changed("log-level") {
				cfg.Log.Level = a.logLevel
			}
			if err := cfg.Validate(); err != nil {
				return usageError("config %s is not valid:\n%v", path, err)
			}
			a.log = newLogger(a.stderr, cfg.Log)
			if cfg.HTTP.Listen == "off" {
				cfg.HTTP.Listen = ""
			}
			f.listen = cfg.HTTP.Listen
			if f.progress == "auto" {
				f.progress = "never"
			}
			return a.collect(cmd, cfg, f, collectMode{daemon: true})
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "configuration file (YAML)")
	f.register(cmd, config.DefaultListen)
	return cmd
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

type collectMode struct {
	drain    bool // SQS: stop when the queue is empty
	backfill bool // show the listing's progress and an ETA
	daemon   bool // keep going when a source fails; drained stops exit 0
}

// collect runs the configured sources into the store.
func (a *app) collect(cmd *cobra.Command, cfg *config.Config, f runFlags, mode collectMode) error {
	ctx := cmd.Context()
	if !mode.daemon {
		if cmd.Flags().Changed("db") || os.Getenv("TRAILWATCH_DB") != "" {
			cfg.Store.Path = a.dbPath
		}
		cfg.Store.MemoryLimit, cfg.Store.Threads = a.memoryLimit, a.threads
		cfg.Workers = f.workers
		if f.kinds != "" {
			for i := range cfg.Sources {
				cfg.Sources[i].Kinds = splitList(f.kinds)
			}
		}
		if err := cfg.Validate(); err != nil {
			return usageError("%v", err)
		}
	}
	st, err := duckdb.Open(ctx, cfg.Store.Path, duckdb.Options{Threads: cfg.Store.Threads, MemoryLimit: cfg.Store.MemoryLimit, Logger: a.log})
	if err != nil {
		return err
	}
	defer st.Close()
	sources, err := a.buildSources(ctx, cfg, st, mode)
	if err != nil {
		return err
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	popts := pipeline.Options{Workers: workers, SkipIngested: true}
	f.detectConfig(cmd, &cfg.Detect)
	var det *detection
	if !cfg.Detect.Disabled {
		det, err = a.startDetection(ctx, detectionOptions{
			rules:        ruleFlags{dirs: cfg.Detect.Rules, noBuiltin: cfg.Detect.NoBuiltin, minLevel: cfg.Detect.MinLevel},
			alertsConfig: cfg.Detect.Alerts, store: st, notify: true, registerer: reg,
		})
		if err != nil {
			return err
		}
		popts.Observe = det.eng.Observe
	}
	routes := map[string]http.Handler{}
	var mon *integrity.Monitor
	if f.noIntegrity {
		cfg.Integrity.Disabled = true
	}
	if !cfg.Integrity.Disabled {
		if mon, err = a.integrityMonitor(ctx, cfg, st, det); err != nil {
			return err
		}
		routes["GET /api/integrity/status"] = queryHandler(st, integrityStatusSQL, 0)
		routes["GET /api/integrity/findings"] = queryHandler(st, integrityFindingsSQL, 1000)
	}
	c := collector.New(collector.Options{
		Sources:   sources,
		Store:     st,
		Registry:  reg,
		Pipeline:  popts,
		Listen:    f.listen,
		Routes:    routes,
		Retention: time.Duration(cfg.Store.Retention),
		KeepGoing: mode.daemon,
		Logger:    a.log,
		Version:   Version,
	})
	stop := c.Stop
	a.drain.Store(&stop)
	defer a.drain.Store(nil)
	if mode.daemon {
		a.log.Info("trailwatch collector starting", "version", Version, "sources", len(sources), "store", cfg.Store.Path, "workers", workers)
	}
	done := a.startCollectProgress(c, sources, f.progress, mode)
	monDone := make(chan struct{})
	monCtx, stopMon := context.WithCancel(ctx)
	if mon != nil {
		go func() { defer close(monDone); _ = mon.Run(monCtx) }()
	} else {
		close(monDone)
	}
	sum, err := c.Run(ctx)
	done()
	stopMon()
	<-monDone
	if mon != nil && ctx.Err() == nil {
		// A last pass over what this run stored.
		if s, merr := mon.Check(ctx); merr != nil {
			a.log.Warn("validate digests", "err", merr)
		} else if s.Digests > 0 || len(s.Results) > 0 {
			fmt.Fprintf(a.stderr, "integrity: %d digests checked, %d findings (trailwatch verify --status)\n", s.Digests, len(s.Results))
		}
	}
	if det != nil {
		if derr := det.finish(ctx); derr != nil {
			a.log.Error("finish detection", "err", derr)
		}
		defer det.printSummary(a.stderr)
	}
	if err != nil && !(errors.Is(err, context.Canceled) && sum.Objects > 0) {
		if sum.Objects > 0 {
			a.printIngestSummary(sum)
		}
		return err
	}
	// Objects handed back to the queue are counted with their reasons
	// below; most were stored on a later attempt.
	sum.Retried = 0
	a.printIngestSummary(sum)
	if fs := c.Failures(); len(fs) > 0 {
		fmt.Fprintf(a.stderr, "object failures: %s\n", collector.FormatFailures(fs))
	}
	if err != nil {
		return err
	}
	if sum.Quarantined > 0 && !mode.daemon {
		return &ExitError{Code: ExitQuarantined, Err: fmt.Errorf("%d object(s) quarantined; see the list above or SELECT * FROM quarantine", sum.Quarantined)}
	}
	return nil
}

// newSession opens an AWS session with the given settings.
func (a *app) newSession(ctx context.Context, c config.AWS) (*awsapi.Session, error) {
	return awsapi.New(ctx, awsapi.Config{Profile: c.Profile, Region: c.Region, RoleARN: c.RoleARN, ExternalID: c.ExternalID,
		SessionName: c.SessionName, Duration: time.Duration(c.SessionDuration), EndpointURL: c.EndpointURL, S3PathStyle: c.S3PathStyle, Logger: a.log})
}

// integrityMonitor validates the digests the collector stores: public keys
// from the configured file or CloudTrail, log files missing from the ledger
// read from their bucket, findings to the alert pipeline.
func (a *app) integrityMonitor(ctx context.Context, cfg *config.Config, st *duckdb.Store, det *detection) (*integrity.Monitor, error) {
	o := integrity.MonitorOptions{DB: st.DB(), Checkpoints: st, Grace: time.Duration(cfg.Integrity.Grace),
		Interval: time.Duration(cfg.Integrity.Interval), Log: a.log.With("component", "integrity")}
	if det != nil {
		o.Emit = det.mgr.Add
	}
	var sess *awsapi.Session
	for _, sc := range cfg.Sources {
		if sc.Type == config.TypeSQS || sc.Type == config.TypeS3 {
			var err error
			if sess, err = a.newSession(ctx, sc.Credentials(cfg.AWS)); err != nil {
				return nil, err
			}
			break
		}
	}
	switch {
	case cfg.Integrity.PublicKeys != "":
		keys := &integrity.StaticKeys{}
		for _, spec := range splitList(cfg.Integrity.PublicKeys) {
			if err := keys.LoadFile(spec); err != nil {
				return nil, usageError("integrity public_keys: %v", err)
			}
		}
		o.Keys = keys
	case sess != nil:
		o.Keys = integrity.CloudTrailKeys{Session: sess}
	}
	if sess != nil {
		o.Buckets = integrity.S3Buckets{S3: sess.S3("")}
	}
	return integrity.NewMonitor(o), nil
}

// buildSources turns the configured sources into running ones, one AWS
// session per distinct set of credentials.
func (a *app) buildSources(ctx context.Context, cfg *config.Config, st *duckdb.Store, mode collectMode) ([]collector.Source, error) {
	sessions := map[config.AWS]*awsapi.Session{}
	session := func(c config.AWS) (*awsapi.Session, error) {
		if s, ok := sessions[c]; ok {
			return s, nil
		}
		s, err := a.newSession(ctx, c)
		if err != nil {
			return nil, err
		}
		sessions[c] = s
		return s, nil
	}
	var out []collector.Source
	var errs []error
	for _, sc := range cfg.Sources {
		kinds := make([]event.Kind, 0, len(sc.Kinds))
		for _, k := range sc.Kinds {
			kinds = append(kinds, event.ParseKind(k))
		}
		log := a.log.With("source", sc.Name)
		cred := sc.Credentials(cfg.AWS)
		switch sc.Type {
		case config.TypeSQS:
			if cred.Region == "" {
				cred.Region = awsapi.QueueRegion(sc.QueueURL)
			}
			sess, err := session(cred)
			if err != nil {
				errs = append(errs, fmt.Errorf("source %s: %w", sc.Name, err))
				continue
			}
			q := sess.Queue(sc.QueueURL)
			stats := &sqs.Stats{}
			s := sqs.New(sqs.Options{Queue: q, Fetcher: sess.S3(""), Kinds: kinds, Visibility: time.Duration(sc.Visibility),
				MaxInFlight: sc.MaxInFlight, MaxReceives: sc.MaxReceives, RetryBackoff: time.Duration(sc.RetryBackoff), StopWhenEmpty: mode.drain, Logger: log, Stats: stats})
			out = append(out, collector.Source{Name: sc.Name, Type: sc.Type, Source: s, SQS: stats, Queue: q, Close: s.Close,
				Check: func(ctx context.Context) error { _, err := q.Stats(ctx); return err }})
		case config.TypeS3:
			sess, err := session(cred)
			if err != nil {
				errs = append(errs, fmt.Errorf("source %s: %w", sc.Name, err))
				continue
			}
			b := sess.S3("")
			stats := &poll.Stats{}
			since := "all"
			if !sc.Since.IsZero() {
				since = sc.Since.String()
			}
			s := poll.New(poll.Options{Bucket: sc.Bucket, Prefix: sc.Prefix, Kinds: kinds, Accounts: sc.Accounts, Regions: sc.Regions,
				Since: sc.Since.Time, Until: sc.Until.Time, Interval: time.Duration(sc.Interval), Rewind: time.Duration(sc.Rewind),
				Checkpoints: st, Name: fmt.Sprintf("s3/%s/%s@%s", sc.Bucket, sc.Prefix, since), S3: b, Logger: log, Stats: stats})
			bucket, prefix := sc.Bucket, sc.Prefix
			out = append(out, collector.Source{Name: sc.Name, Type: sc.Type, Source: s, Poll: stats, Close: s.Close,
				Check: func(ctx context.Context) error { _, err := b.Prefixes(ctx, bucket, prefix); return err }})
		case config.TypeDir:
			s, err := dir.Open(sc.Paths, a.stdin)
			if err != nil && (s == nil || s.Len() == 0) {
				errs = append(errs, fmt.Errorf("source %s: %w", sc.Name, err))
				continue
			}
			if err != nil {
				log.Warn("some paths could not be read", "err", err)
			}
			out = append(out, collector.Source{Name: sc.Name, Type: sc.Type, Source: s})
		}
	}
	return out, errors.Join(errs...)
}

// startCollectProgress prints a progress line on stderr; it returns a
// function that removes it.
func (a *app) startCollectProgress(c *collector.Collector, sources []collector.Source, mode string, cm collectMode) func() {
	show := mode == "always"
	if mode == "auto" {
		if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			show = true
		}
	}
	if !show {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	s := c.Stats()
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		width := 0
		for {
			select {
			case <-done:
				fmt.Fprintf(a.stderr, "\r%s\r", strings.Repeat(" ", width))
				return
			case <-t.C:
			}
			el := time.Since(start).Seconds()
			recs, bytes, objs := s.Records.Load(), s.Bytes.Load(), s.Objects.Load()
			line := fmt.Sprintf("%s objects, %s, %s records (%s/s, %s/s), %d quarantined",
				human(float64(objs)), humanBytes(bytes), human(float64(recs)), human(float64(recs)/el), humanBytes(int64(float64(bytes)/el)), s.Quarantined.Load())
			if cm.backfill {
				var listed, listedBytes int64
				complete := true
				for _, src := range sources {
					if src.Poll != nil {
						listed += src.Poll.Listed.Load()
						listedBytes += src.Poll.ListedBytes.Load()
						complete = complete && src.Poll.Done.Load()
					}
				}
				eta := "listing…"
				if complete && bytes > 0 {
					rest := float64(listedBytes-bytes) / (float64(bytes) / el)
					eta = "ETA " + (time.Duration(max(rest, 0)) * time.Second).Round(time.Second).String()
				}
				line = fmt.Sprintf("%s of %s listed objects, %s records (%s/s, %s/s), %d quarantined, %s",
					human(float64(objs)), human(float64(listed)), human(float64(recs)), human(float64(recs)/el), humanBytes(int64(float64(bytes)/el)), s.Quarantined.Load(), eta)
			}
			for _, src := range sources {
				if src.SQS != nil {
					line += fmt.Sprintf(", %d messages (%d in flight)", src.SQS.Received.Load(), src.SQS.Received.Load()-src.SQS.Deleted.Load()-src.SQS.Retried.Load())
				}
			}
			fmt.Fprintf(a.stderr, "\r%s", line)
			width = max(width, len(line))
		}
	}()
	return func() { close(done); <-finished }
}

// parseS3URL splits s3://bucket/prefix; the prefix ends with / unless empty.
func parseS3URL(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3://bucket[/prefix] URL", s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", s)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix, nil
}
