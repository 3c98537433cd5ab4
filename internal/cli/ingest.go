package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/source/dir"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

type ingestFlags struct {
	workers      int
	retain       string
	reingest     bool
	progress     string
	noDetect     bool
	rules        ruleFlags
	alertsConfig string
}

func (a *app) ingestCommand() *cobra.Command {
	var f ingestFlags
	cmd := &cobra.Command{
		Use:   "ingest PATH...",
		Short: "Ingest CloudTrail and S3 server access log files (files, directories, - for stdin)",
		Long: `Ingest reads CloudTrail log files (.json or .json.gz, detected by content:
{"Records":[...]}, JSON arrays, JSON lines, lookup-events output), CloudTrail
digest and Insights files, and S3 server access logs, from files and
directories (recursively) or standard input (-), and stores every field.

Re-ingesting the same files adds nothing. Objects that cannot be read are
recorded in the quarantine table with the reason, and the exit code is 3.`,
		Example: `  trailwatch ingest ./AWSLogs
  trailwatch ingest --retain 90d s3-download/
  zcat events.json.gz | trailwatch ingest -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runIngest(cmd.Context(), args, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "parallel parsers")
	fl.StringVar(&f.retain, "retain", "", "after ingesting, delete records older than this (e.g. 90d, 12h)")
	fl.BoolVar(&f.reingest, "reingest", false, "read objects again even if the ledger has them (duplicates are still dropped)")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar: auto (on a terminal), always, never")
	fl.BoolVar(&f.noDetect, "no-detect", false, "do not run the detection rules")
	fl.StringVar(&f.alertsConfig, "alerts-config", "", "alert grouping, suppressions and sinks (YAML; see the README)")
	f.rules.register(fl, "low")
	return cmd
}

func (a *app) runIngest(ctx context.Context, paths []string, f ingestFlags) error {
	var cutoff time.Time
	if f.retain != "" {
		d, err := parseAge(f.retain)
		if err != nil {
			return usageError("--retain: %v", err)
		}
		cutoff = time.Now().Add(-d)
	}
	src, err := dir.Open(paths, a.stdin)
	if err != nil {
		if src == nil || src.Len() == 0 {
			return err
		}
		a.log.Warn("some paths could not be read", "err", err)
	}
	st, err := a.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := a.ingest(ctx, src, st, f)
	if err != nil {
		return err
	}
	if !cutoff.IsZero() {
		n, err := st.Retain(ctx, cutoff)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "retention: deleted %d records older than %s\n", n, cutoff.UTC().Format(time.RFC3339))
	}
	if sum.Quarantined > 0 {
		return &ExitError{Code: ExitQuarantined, Err: fmt.Errorf("%d object(s) quarantined; see the list above or SELECT * FROM quarantine", sum.Quarantined)}
	}
	return nil
}

// ingest runs the pipeline over src with a progress bar and prints the
// summary.
func (a *app) ingest(ctx context.Context, src *dir.Source, st *duckdb.Store, f ingestFlags) (pipeline.Summary, error) {
	stats := &pipeline.Stats{}
	opts := pipeline.Options{Workers: f.workers, SkipIngested: !f.reingest, Logger: a.log, Stats: stats}
	var det *detection
	if !f.noDetect {
		var err error
		if det, err = a.startDetection(ctx, detectionOptions{rules: f.rules, alertsConfig: f.alertsConfig, store: st, notify: true}); err != nil {
			return pipeline.Summary{}, err
		}
		opts.Observe = det.eng.Observe
	}
	stop := a.startProgress(src.Len(), stats, f.progress)
	sum, err := pipeline.Run(ctx, src, st, opts)
	stop()
	if det != nil {
		if derr := det.finish(ctx); derr != nil && err == nil {
			err = derr
		}
	}
	if err != nil && !(errors.Is(err, context.Canceled) && sum.Objects > 0) {
		return sum, err
	}
	a.printIngestSummary(sum)
	if det != nil {
		det.printSummary(a.stderr)
	}
	return sum, err
}

// startProgress shows a progress bar on stderr when it is a terminal (or
// when asked); it returns a function that removes it.
func (a *app) startProgress(total int, s *pipeline.Stats, mode string) func() {
	show := mode == "always"
	if mode == "auto" {
		if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			show = true
		}
	}
	if !show || total == 0 {
		return func() {}
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("files"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				_ = bar.Clear()
				return
			case <-t.C:
				recs := s.Records.Load()
				rate := float64(recs) / time.Since(start).Seconds()
				bar.Describe(fmt.Sprintf("%s records, %s/s, %d quarantined", human(float64(recs)), human(rate), s.Quarantined.Load()))
				_ = bar.Set(int(s.Objects.Load()))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (a *app) printIngestSummary(s pipeline.Summary) {
	secs := s.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.Records) / secs
	}
	w := a.stderr
	fmt.Fprintf(w, "ingested %d objects (%s) in %s: %d records read, %d stored, %d duplicates dropped, %s records/s\n",
		s.Objects-s.Skipped, humanBytes(s.Bytes), s.Elapsed.Round(time.Millisecond), s.Records, s.Stored, s.Duplicates, human(rate))
	if s.Skipped > 0 {
		fmt.Fprintf(w, "skipped %d objects already ingested (use --reingest to read them again)\n", s.Skipped)
	}
	if s.BadRecords > 0 {
		fmt.Fprintf(w, "%d bad records skipped\n", s.BadRecords)
	}
	if s.Retried > 0 {
		fmt.Fprintf(w, "%d objects failed temporarily and were not ingested\n", s.Retried)
	}
	if s.Quarantined > 0 {
		fmt.Fprintf(w, "%d objects quarantined:\n", s.Quarantined)
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  %s: %s\n", p.Object, p.Reason)
		}
		if int64(len(s.Problems)) < s.Quarantined {
			fmt.Fprintf(w, "  ... (SELECT * FROM quarantine for all)\n")
		}
	}
}

// human formats a count with k/M/G suffixes.
func human(x float64) string {
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.2fG", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// parseAge parses a duration with day and week units: 90d, 2w, 36h, 15m.
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	mult := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		mult = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		mult = 7 * 24 * time.Hour
	}
	if mult > 0 {
		var n float64
		if _, err := fmt.Sscanf(s[:len(s)-1], "%g", &n); err != nil || n < 0 {
			return 0, fmt.Errorf("invalid age %q (use e.g. 90d, 2w, 36h)", s)
		}
		return time.Duration(n * float64(mult)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid age %q (use e.g. 90d, 2w, 36h)", s)
	}
	return d, nil
}
