package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/detect"
	"github.com/trailwatch/trailwatch/internal/gen"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

type alertsListFlags struct {
	status   string
	since    string
	rule     string
	minLevel string
	limit    int
}

func (a *app) alertsCommand() *cobra.Command {
	var f alertsListFlags
	cmd := &cobra.Command{
		Use:   "alerts [list|ack|close|reopen]",
		Short: "List alerts raised by detection, and acknowledge or close them",
		Long: `Alerts are findings of one rule about one principal within an hour, grouped
with a count and first and last seen times. ingest raises them (unless
--no-detect), hunt raises them over stored history; they are kept in the
alerts table with a status: open, acknowledged or closed.

  trailwatch alerts                      open and acknowledged alerts, newest first
  trailwatch alerts list --status all --since 7d
  trailwatch alerts ack 4f2a9c0d --note "expected: pentest"
  trailwatch alerts close 4f2a9c0d 9b1e7f3a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runAlertsList(cmd.Context(), f)
		},
	}
	f.register(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List alerts (default: open and acknowledged)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runAlertsList(cmd.Context(), f)
		},
	}
	f.register(list)
	cmd.AddCommand(list,
		a.alertsStatusCommand("ack", "Acknowledge alerts (someone is looking at them)", alert.StatusAcknowledged),
		a.alertsStatusCommand("close", "Close alerts", alert.StatusClosed),
		a.alertsStatusCommand("reopen", "Open closed or acknowledged alerts again", alert.StatusOpen))
	return cmd
}

func (f *alertsListFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.status, "status", "active", "open, acknowledged, closed, active (open and acknowledged) or all; comma lists work")
	fl.StringVar(&f.since, "since", "", "last seen at or after this time or age (e.g. 24h, 7d, 2026-11-01)")
	fl.StringVar(&f.rule, "rule", "", "only this rule (id or name)")
	fl.StringVar(&f.minLevel, "min-level", "informational", "only alerts at this level and above")
	fl.IntVar(&f.limit, "limit", 200, "at most this many alerts (0: all)")
}

func (f *alertsListFlags) filter(now time.Time) (duckdb.AlertFilter, error) {
	var af duckdb.AlertFilter
	all := false
	for _, s := range splitList(f.status) {
		switch strings.ToLower(s) {
		case "all":
			all = true
		case "active":
			af.Statuses = append(af.Statuses, alert.StatusOpen, alert.StatusAcknowledged)
		default:
			st, err := alert.ParseStatus(s)
			if err != nil {
				return af, usageError("--status: %v", err)
			}
			af.Statuses = append(af.Statuses, st)
		}
	}
	if all {
		af.Statuses = nil
	}
	lvl, err := detect.ParseLevel(f.minLevel)
	if err != nil {
		return af, usageError("--min-level: %v", err)
	}
	af.MinLevel = lvl
	if f.since != "" {
		t, err := parseWhen(f.since, now)
		if err != nil {
			return af, usageError("--since: %v", err)
		}
		af.Since = t
	}
	af.Rule, af.Limit = f.rule, f.limit
	return af, nil
}

func (a *app) runAlertsList(ctx context.Context, f alertsListFlags) error {
	af, err := f.filter(time.Now())
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	alerts, err := st.ListAlerts(ctx, af)
	if err != nil {
		return err
	}
	return a.printAlerts(a.stdout, alerts)
}

// printAlerts renders alerts in the --format.
func (a *app) printAlerts(w io.Writer, alerts []alert.Alert) error {
	switch a.format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, al := range alerts {
			if err := enc.Encode(al); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		rows := make([][]string, 0, len(alerts))
		for _, al := range alerts {
			rows = append(rows, []string{al.ID, al.Level.String(), string(al.Status), al.RuleName, al.Title, al.Principal, al.SourceIP,
				al.Account, al.Region, strconv.FormatInt(al.Count, 10), al.FirstSeen.UTC().Format(time.RFC3339), al.LastSeen.UTC().Format(time.RFC3339),
				strings.Join(al.EventIDs, " ")})
		}
		return writeCSV(w, []string{"id", "severity", "status", "rule", "title", "principal", "source_ip", "account", "region", "count",
			"first_seen", "last_seen", "event_ids"}, rows)
	}
	if len(alerts) == 0 {
		_, err := fmt.Fprintln(w, "no alerts")
		return err
	}
	rows := make([][]string, 0, len(alerts))
	for _, al := range alerts {
		rows = append(rows, alertRow(al))
	}
	return writeTable(w, []string{"ID", "SEVERITY", "STATUS", "TITLE", "PRINCIPAL", "SOURCE IP", "COUNT", "FIRST SEEN", "LAST SEEN"}, rows)
}

func alertRow(al alert.Alert) []string {
	return []string{al.ID[:8], al.Level.String(), string(al.Status), cut(al.Title, 60), cut(al.Principal, 70), al.SourceIP,
		strconv.FormatInt(al.Count, 10), al.FirstSeen.UTC().Format("2006-01-02 15:04:05"), al.LastSeen.UTC().Format("15:04:05")}
}

func writeCSV(w io.Writer, cols []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func (a *app) alertsStatusCommand(use, short string, status alert.Status) *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   use + " ID...",
		Short: short,
		Long:  short + ". IDs may be shortened to a unique prefix of at least 6 characters.",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			ctx := cmd.Context()
			st, err := a.openStore(ctx, false)
			if err != nil {
				return err
			}
			defer st.Close()
			changed, err := st.SetAlertStatus(ctx, ids, status, note)
			if errors.Is(err, duckdb.ErrAlertNotFound) {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			if err != nil {
				return err
			}
			for _, id := range changed {
				fmt.Fprintf(a.stdout, "%s %s\n", id, status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why (kept with the alert)")
	return cmd
}

// printStoryAlerts lists, under each attack story of the demo, the alerts
// it raised (each alert under the story it fits best), then counts the
// others.
func (a *app) printStoryAlerts(ctx context.Context, stories []gen.Story) {
	if len(stories) == 0 || a.format != "table" {
		return
	}
	st, err := a.openStore(ctx, true)
	if err != nil {
		a.log.Warn("list alerts", "err", err)
		return
	}
	defer st.Close()
	alerts, err := st.ListAlerts(ctx, duckdb.AlertFilter{})
	if err != nil {
		a.log.Warn("list alerts", "err", err)
		return
	}
	alert.Sort(alerts)
	per := make([][]alert.Alert, len(stories))
	other := 0
	for _, al := range alerts {
		if i := bestStory(stories, al); i >= 0 {
			per[i] = append(per[i], al)
		} else {
			other++
		}
	}
	fmt.Fprintf(a.stdout, "\nAlerts raised by the attack stories (%d alerts in all):\n", len(alerts))
	for i, s := range stories {
		fmt.Fprintf(a.stdout, "\n%d. %s\n", i+1, s.Title)
		if len(per[i]) == 0 {
			fmt.Fprintln(a.stdout, "   (none)")
		}
		for _, al := range per[i] {
			fmt.Fprintf(a.stdout, "   %-8s  %-62s  %5d  %s\n", strings.ToUpper(al.Level.String()), cut(al.Title, 62), al.Count, al.ID[:8])
		}
	}
	self := a.selfCommand()
	db := ""
	if a.dbPath != "trailwatch.duckdb" {
		db = " --db " + a.dbPath
	}
	fmt.Fprintf(a.stdout, "\n%d other alerts (mostly the CIS monitoring controls on everyday changes): %s%s alerts\n", other, self, db)
}

// bestStory returns the index of the story an alert belongs to, or -1:
// among the stories it matches (by principal or address, in time), the one
// whose actor it names and whose time span holds it.
func bestStory(stories []gen.Story, al alert.Alert) int {
	f := detect.Finding{Time: al.LastSeen, FirstTime: al.FirstSeen, Principal: al.Principal, SourceIP: al.SourceIP}
	best, bestScore := -1, 0
	var bestDist time.Duration
	for i, s := range stories {
		if !detect.StoryMatch(s.Actor, s.SourceIP, s.Start, s.End, f) || (al.SourceIP != "" && s.SourceIP != "" && al.SourceIP != s.SourceIP) {
			continue // the same principal acting from its usual place is not the story
		}
		score := 1
		inside := !al.FirstSeen.Before(s.Start.Add(-time.Minute)) && !al.FirstSeen.After(s.End.Add(time.Minute))
		if inside {
			score += 2
		}
		if al.Principal == s.Actor {
			score += 2
		} else if al.SourceIP == s.SourceIP {
			score++
		}
		dist := al.FirstSeen.Sub(s.Start.Add(s.End.Sub(s.Start) / 2)).Abs()
		if score > bestScore || (score == bestScore && dist < bestDist) {
			best, bestScore, bestDist = i, score, dist
		}
	}
	return best
}
