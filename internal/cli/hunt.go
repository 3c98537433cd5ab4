package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/parse/cloudtrail"
	"github.com/trailwatch/trailwatch/internal/parse/s3access"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

type huntFlags struct {
	rules        ruleFlags
	since, until string
	alertsConfig string
	notify       bool
	dryRun       bool
}

func (a *app) huntCommand() *cobra.Command {
	var f huntFlags
	cmd := &cobra.Command{
		Use:   "hunt",
		Short: "Run the detection rules over stored history and record the alerts",
		Long: `Hunt reads the stored CloudTrail events, Insights events and S3 server access
log records of a time range in event time order (the raw records, parsed
again), evaluates the built-in rules and those of --rules (new rules over old
data), and records the alerts in the alerts table. Running it again over the
same range updates the same alerts instead of duplicating them. Alerts are
sent to the sinks of --alerts-config only with --notify.`,
		Example: `  trailwatch hunt --since 30d
  trailwatch hunt --since 2026-11-01 --until 2026-11-02 --rules ./new-rules --no-builtin
  trailwatch hunt --since 7d --dry-run --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runHunt(cmd.Context(), f)
		},
	}
	f.rules.register(cmd.Flags(), "low")
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "30d", "from this time or age (e.g. 30d, 12h, 2026-11-01)")
	fl.StringVar(&f.until, "until", "", "up to this time or age (default: now)")
	fl.StringVar(&f.alertsConfig, "alerts-config", "", "alert grouping, suppressions and sinks (YAML; see docs/detect.md)")
	fl.BoolVar(&f.notify, "notify", false, "send the alerts to the sinks of --alerts-config")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the alerts without recording them")
	return cmd
}

func (a *app) runHunt(ctx context.Context, f huntFlags) error {
	now := time.Now()
	since, err := parseWhen(f.since, now)
	if err != nil {
		return usageError("--since: %v", err)
	}
	until := now.Add(time.Hour)
	if f.until != "" {
		if until, err = parseWhen(f.until, now); err != nil {
			return usageError("--until: %v", err)
		}
	}
	st, err := a.openStore(ctx, f.dryRun)
	if err != nil {
		return err
	}
	defer st.Close()
	var as alert.Store
	if !f.dryRun {
		as = st
	}
	det, err := a.startDetection(ctx, detectionOptions{rules: f.rules, alertsConfig: f.alertsConfig, store: as, replace: true, notify: f.notify})
	if err != nil {
		return err
	}
	records, herr := a.huntRecords(ctx, st, det, since, until)
	ferr := det.finish(ctx)
	if herr != nil {
		return herr
	}
	if ferr != nil {
		return ferr
	}
	alerts := det.mgr.Alerts()
	if err := a.printAlerts(a.stdout, alerts); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "hunt: %d records from %s to %s in %s; ", records, since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339),
		time.Since(det.start).Round(time.Millisecond))
	det.printSummary(a.stderr)
	if f.dryRun && len(alerts) > 0 {
		fmt.Fprintln(a.stderr, "(dry run: nothing recorded)")
	}
	return nil
}

// huntRecords streams the stored records of [since, until) in event time
// order through the engine, parsing their raw form again.
func (a *app) huntRecords(ctx context.Context, st *duckdb.Store, det *detection, since, until time.Time) (int64, error) {
	rows, err := st.Query(ctx, `SELECT k, raw FROM (
			SELECT 0 AS k, eventTime AS t, raw FROM cloudtrail_events WHERE eventTime >= ? AND eventTime < ?
			UNION ALL SELECT 0, eventTime, raw FROM cloudtrail_insights WHERE eventTime >= ? AND eventTime < ?
			UNION ALL SELECT 1, requesttime, raw FROM s3_access_logs WHERE requesttime >= ? AND requesttime < ?)
		ORDER BY t`, since.UTC(), until.UTC(), since.UTC(), until.UTC(), since.UTC(), until.UTC())
	if err != nil {
		return 0, fmt.Errorf("hunt: %w", err)
	}
	defer rows.Close()
	const chunk = 4096
	p := cloudtrail.NewParser(cloudtrail.Options{})
	var ct strings.Builder
	var ctN int
	var batch event.Batch
	obj := event.ObjectRef{Key: "hunt"}
	var n int64
	flushCT := func() error {
		if ctN == 0 {
			return nil
		}
		batch.Reset()
		err := p.Parse(ctx, strings.NewReader(ct.String()), &batch, func(b *event.Batch) error {
			b.Object = obj
			det.eng.Observe(ctx, b)
			return nil
		})
		ct.Reset()
		ctN = 0
		if err != nil {
			a.log.Warn("hunt: some stored events could not be parsed again", "err", err)
		}
		return ctx.Err()
	}
	flushAL := func() {
		if len(batch.AccessLogs) > 0 {
			batch.Object = obj
			det.eng.Observe(ctx, &batch)
		}
		batch.Reset()
	}
	var rec event.AccessLog
	for rows.Next() {
		var k int
		var raw string
		if err := rows.Scan(&k, &raw); err != nil {
			return n, fmt.Errorf("hunt: %w", err)
		}
		n++
		if k == 0 {
			if len(batch.AccessLogs) > 0 {
				flushAL()
			}
			ct.WriteString(raw)
			ct.WriteByte('\n')
			if ctN++; ctN >= chunk {
				if err := flushCT(); err != nil {
					return n, err
				}
			}
			continue
		}
		if err := flushCT(); err != nil {
			return n, err
		}
		rec = event.AccessLog{}
		if err := s3access.ParseLine([]byte(raw), &rec); err != nil {
			a.log.Debug("hunt: stored access log line could not be parsed again", "err", err)
			continue
		}
		batch.AccessLogs = append(batch.AccessLogs, rec)
		if len(batch.AccessLogs) >= chunk {
			flushAL()
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("hunt: %w", err)
	}
	if err := flushCT(); err != nil {
		return n, err
	}
	flushAL()
	return n, nil
}
