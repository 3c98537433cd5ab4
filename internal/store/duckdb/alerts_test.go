package duckdb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/detect"
)

func testAlerts(t0 time.Time) []alert.Alert {
	return []alert.Alert{
		{ID: "aaaaaaaa00000001", RuleID: "r1", RuleName: "tw_r1", Title: "Rule one", Level: detect.LevelHigh, Status: alert.StatusOpen,
			FirstSeen: t0, LastSeen: t0.Add(time.Minute), Count: 2, Principal: "arn:aws:iam::1:user/a", SourceIP: "203.0.113.1",
			Account: "111122223333", Region: "us-east-1", Log: "cloudtrail", EventIDs: []string{"e1", "e2"}, Tags: []string{"attack.t1098"},
			Details: map[string]string{"eventName": "CreateAccessKey"}},
		{ID: "bbbbbbbb00000002", RuleID: "r2", Title: "Rule two", Level: detect.LevelLow, FirstSeen: t0.Add(time.Hour),
			LastSeen: t0.Add(time.Hour), Count: 1},
	}
}

func TestAlertsUpsertListStatus(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "tw.duckdb"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if err := st.UpsertAlerts(ctx, testAlerts(t0), true); err != nil {
		t.Fatal(err)
	}
	got, err := st.ListAlerts(ctx, AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "bbbbbbbb00000002" || got[1].Count != 2 || got[1].Details["eventName"] != "CreateAccessKey" ||
		len(got[1].EventIDs) != 2 || got[1].Tags[0] != "attack.t1098" || got[1].Level != detect.LevelHigh || got[1].Status != alert.StatusOpen ||
		!got[1].FirstSeen.Equal(t0) || got[1].Principal != "arn:aws:iam::1:user/a" {
		t.Fatalf("listed %+v", got)
	}

	// Merge: counts add (ingest), times widen, the event sample stays bounded.
	more := testAlerts(t0)[:1]
	more[0].Count, more[0].FirstSeen, more[0].LastSeen = 3, t0.Add(-time.Minute), t0.Add(10*time.Minute)
	more[0].EventIDs = []string{"e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10", "e11", "e12"}
	if err := st.UpsertAlerts(ctx, more, true); err != nil {
		t.Fatal(err)
	}
	// Acknowledge by prefix; the status survives later merges.
	changed, err := st.SetAlertStatus(ctx, []string{"AAAAAAAA"}, alert.StatusAcknowledged, "looking into it")
	if err != nil || len(changed) != 1 || changed[0] != "aaaaaaaa00000001" {
		t.Fatalf("ack: %v %v", changed, err)
	}
	if err := st.UpsertAlerts(ctx, testAlerts(t0)[:1], false); err != nil { // a hunt: keep the larger count
		t.Fatal(err)
	}
	got, err = st.ListAlerts(ctx, AlertFilter{Statuses: []alert.Status{alert.StatusAcknowledged}})
	if err != nil || len(got) != 1 {
		t.Fatalf("list acknowledged: %v %v", got, err)
	}
	a := got[0]
	if a.Count != 5 || !a.FirstSeen.Equal(t0.Add(-time.Minute)) || !a.LastSeen.Equal(t0.Add(10*time.Minute)) || len(a.EventIDs) != 10 ||
		a.Note != "looking into it" || a.Status != alert.StatusAcknowledged {
		t.Errorf("merged %+v", a)
	}

	// Filters.
	for _, c := range []struct {
		f    AlertFilter
		want int
	}{
		{AlertFilter{MinLevel: detect.LevelMedium}, 1},
		{AlertFilter{Rule: "tw_r1"}, 1},
		{AlertFilter{Rule: "r2"}, 1},
		{AlertFilter{Since: t0.Add(30 * time.Minute)}, 1},
		{AlertFilter{Statuses: []alert.Status{alert.StatusClosed}}, 0},
		{AlertFilter{Limit: 1}, 1},
	} {
		got, err := st.ListAlerts(ctx, c.f)
		if err != nil || len(got) != c.want {
			t.Errorf("filter %+v: %d alerts (%v), want %d", c.f, len(got), err, c.want)
		}
	}

	// Errors: unknown, ambiguous and too short IDs change nothing.
	if _, err := st.SetAlertStatus(ctx, []string{"ffffffff"}, alert.StatusClosed, ""); !errors.Is(err, ErrAlertNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := st.SetAlertStatus(ctx, []string{"abc"}, alert.StatusClosed, ""); err == nil {
		t.Error("a 3-character prefix was accepted")
	}
	if _, err := st.SetAlertStatus(ctx, []string{"bbbbbbbb00000002", "ffffffff"}, alert.StatusClosed, ""); err == nil {
		t.Error("a batch with an unknown id succeeded")
	}
	if got, _ := st.ListAlerts(ctx, AlertFilter{Statuses: []alert.Status{alert.StatusClosed}}); len(got) != 0 {
		t.Error("a failed batch changed statuses")
	}

	// The table is queryable with read-only SQL.
	rows, err := st.Query(ctx, "SELECT count(*) FROM alerts WHERE status = 'acknowledged'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	if !rows.Next() || rows.Scan(&n) != nil || n != 1 {
		t.Errorf("query: %d", n)
	}
}

// TestAlertsDuringIngest writes alerts while an ingest transaction is open,
// as detection does.
func TestAlertsDuringIngest(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	app, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- st.UpsertAlerts(ctx, testAlerts(time.Now()), true) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("UpsertAlerts waited for the ingest transaction")
	}
	if err := app.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := st.ListAlerts(ctx, AlertFilter{})
	if err != nil || len(got) != 2 {
		t.Errorf("%d alerts, %v", len(got), err)
	}
}

// TestAlertsUpsertMany stores thousands of alerts in one call, then merges
// them again, within the default memory limit (a hunt or a noisy rule set
// makes that many).
func TestAlertsUpsertMany(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "tw.duckdb"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	const n = 5000
	alerts := make([]alert.Alert, n)
	for i := range alerts {
		a := testAlerts(t0)[0]
		a.ID = fmt.Sprintf("%016x", i)
		a.Principal = fmt.Sprintf("arn:aws:iam::111122223333:user/u%d 'o\"neil' é", i)
		a.Details = map[string]string{"k": "line\nbreak \\ ' \""}
		a.EventIDs = []string{fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "e2", "e3"}
		alerts[i] = a
	}
	for range 2 {
		start := time.Now()
		if err := st.UpsertAlerts(ctx, alerts, true); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d alerts stored in %s", n, time.Since(start))
	}
	got, err := st.ListAlerts(ctx, AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || got[0].Count != 4 || !strings.HasSuffix(got[0].Principal, ` 'o"neil' é`) ||
		got[0].Details["k"] != "line\nbreak \\ ' \"" || len(got[0].EventIDs) != 3 {
		t.Fatalf("%d alerts, first %+v", len(got), got[0])
	}
}
