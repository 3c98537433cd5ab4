package integrity

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/detect"
	"github.com/trailwatch/trailwatch/internal/gen"
	"github.com/trailwatch/trailwatch/internal/integrity/integritytest"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/source/dir"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

// monitorFx is a store that collected a chain, and a Monitor on it.
type monitorFx struct {
	*fx
	st     *duckdb.Store
	mu     sync.Mutex
	now    time.Time
	alerts []detect.Finding
}

func (m *monitorFx) clock() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func (m *monitorFx) set(t time.Time) {
	m.mu.Lock()
	m.now = t
	m.mu.Unlock()
}

// newMonitorFx writes a chain and opens a store whose clock is the
// chain's last digest end plus 20 minutes (when a collector would have
// stored it).
func newMonitorFx(t *testing.T, mod func(*chainOpts)) *monitorFx {
	t.Helper()
	f := &monitorFx{fx: newFx(t, mod)}
	f.now = f.c.Ends[len(f.c.Ends)-1].Add(20 * time.Minute)
	st, err := duckdb.Open(t.Context(), filepath.Join(t.TempDir(), "tw.duckdb"), duckdb.Options{Threads: 1, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	return f
}

// ingest collects paths (files or directories) with the pipeline.
func (m *monitorFx) ingest(t *testing.T, paths ...string) {
	t.Helper()
	src, err := dir.Open(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Run(t.Context(), src, m.st, pipeline.Options{Workers: 2, SkipIngested: true}); err != nil {
		t.Fatal(err)
	}
}

func (m *monitorFx) monitor(o MonitorOptions) *Monitor {
	o.DB, o.Checkpoints, o.Now = m.st.DB(), m.st, m.clock
	if o.Keys == nil && m.keys != nil {
		o.Keys = m.keys
	}
	o.Emit = func(f detect.Finding) {
		m.mu.Lock()
		m.alerts = append(m.alerts, f)
		m.mu.Unlock()
	}
	return NewMonitor(o)
}

// status reads a chain's row of integrity_status.
func (m *monitorFx) status(t *testing.T) (status string, digestsValid, logsValid, logsInvalid int64) {
	t.Helper()
	rows, err := m.st.Query(t.Context(), `SELECT status, digests_valid, logs_valid, logs_invalid FROM integrity_status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		if err := rows.Scan(&status, &digestsValid, &logsValid, &logsInvalid); err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 {
		t.Fatalf("%d status rows, want 1", n)
	}
	return
}

func sortedFindings(results []Result) []finding {
	out := findings(results)
	slices.SortFunc(out, func(a, b finding) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func sortFindings(fs []finding) []finding {
	slices.SortFunc(fs, func(a, b finding) int { return strings.Compare(a.String(), b.String()) })
	return fs
}

// TestMonitor collects tampered chains with the pipeline (which records
// each log file's SHA-256 in the ledger) and checks that the Monitor
// finds every finding from the store alone, records it in
// integrity_findings and integrity_status, and raises alerts.
func TestMonitor(t *testing.T) {
	base := func(k string) string { return filepath.Base(k) }
	tests := []struct {
		name   string
		mod    func(*chainOpts)
		tamper func(t *testing.T, f *monitorFx)
		opts   func(f *monitorFx, o *MonitorOptions)
		want   func(c *chainT) []finding
		status string
		alerts []string // rule IDs, sorted
		check  func(t *testing.T, f *monitorFx, sum *CheckSummary)
	}{
		{name: "valid", want: func(*chainT) []finding { return nil }, status: "valid",
			check: func(t *testing.T, f *monitorFx, sum *CheckSummary) {
				if _, dv, lv, _ := f.status(t); dv != 6 || lv != 12 || sum.Digests != 6 {
					t.Errorf("digests valid %d, logs valid %d, checked %d", dv, lv, sum.Digests)
				}
			}},
		{name: "log file modified", tamper: func(t *testing.T, f *monitorFx) {
			if err := integritytest.WriteGz(f.c.Path(f.c.LogFiles[2][0]), []byte(`{"Records":[]}`)); err != nil {
				t.Fatal(err)
			}
		}, want: func(c *chainT) []finding { return []finding{{LogFileModified, base(c.LogFiles[2][0])}} },
			status: "invalid", alerts: []string{"trailwatch-integrity-log-file-modified"},
			check: func(t *testing.T, f *monitorFx, _ *CheckSummary) {
				if _, _, lv, li := f.status(t); lv != 11 || li != 1 {
					t.Errorf("logs valid %d invalid %d", lv, li)
				}
			}},
		// Never collected: not provable from the store alone …
		{name: "log file not collected", tamper: func(t *testing.T, f *monitorFx) { f.remove(t, f.c.LogFiles[1][1]) },
			want: func(c *chainT) []finding { return []finding{{LogFileUnverified, base(c.LogFiles[1][1])}} }, status: "valid"},
		// … and reported deleted when the Monitor can read the bucket.
		{name: "log file deleted", tamper: func(t *testing.T, f *monitorFx) { f.remove(t, f.c.LogFiles[1][1]) },
			opts:   func(f *monitorFx, o *MonitorOptions) { o.Buckets = LocalBuckets{Root: f.root} },
			want:   func(c *chainT) []finding { return []finding{{LogFileDeleted, base(c.LogFiles[1][1])}} },
			status: "invalid", alerts: []string{"trailwatch-integrity-log-file-deleted"}},
		{name: "digest deleted", tamper: func(t *testing.T, f *monitorFx) { f.remove(t, f.c.Digests[3]) },
			want: func(c *chainT) []finding {
				return []finding{{DigestDeleted, base(c.Digests[3])}, {LogFileUnlisted, base(c.LogFiles[3][0])}, {LogFileUnlisted, base(c.LogFiles[3][1])}}
			}, status: "invalid",
			alerts: []string{"trailwatch-integrity-digest-deleted", "trailwatch-integrity-log-file-unlisted", "trailwatch-integrity-log-file-unlisted"}},
		{name: "digest modified", tamper: func(t *testing.T, f *monitorFx) {
			editDigest(t, f.fx, 3, func(m map[string]any) { m["logFiles"] = m["logFiles"].([]any)[:1] })
		}, want: func(c *chainT) []finding {
			// Its signature fails; the next digest's previousDigestHashValue
			// does not match it either.
			return []finding{{DigestModified, base(c.Digests[3])}, {DigestModified, base(c.Digests[3])}, {LogFileUnlisted, base(c.LogFiles[3][1])}, {LogFileUnverified, base(c.LogFiles[3][0])}}
		}, status: "invalid",
			alerts: []string{"trailwatch-integrity-digest-modified", "trailwatch-integrity-digest-modified", "trailwatch-integrity-log-file-unlisted"}},
		{name: "digest replaced with a valid signature", tamper: func(t *testing.T, f *monitorFx) {
			lf := f.c.LogFiles[3][0]
			forged := []byte(`{"Records":[]}`)
			if err := integritytest.WriteGz(f.c.Path(lf), forged); err != nil {
				t.Fatal(err)
			}
			data, m := readDigestJSON(t, f.fx, 3)
			m["logFiles"].([]any)[0].(map[string]any)["hashValue"] = hexSHA(forged)
			data = marshal(t, m)
			if err := integritytest.Resign(f.c, f.c.Digests[3], data, f.opts.Key, m["digestEndTime"].(string), m["previousDigestSignature"].(string)); err != nil {
				t.Fatal(err)
			}
		}, want: func(c *chainT) []finding { return []finding{{DigestModified, base(c.Digests[3])}} },
			status: "invalid", alerts: []string{"trailwatch-integrity-digest-modified"}},
		{name: "digest moved", tamper: func(t *testing.T, f *monitorFx) {
			moved := strings.Replace(f.c.Digests[3], "T042034Z", "T043034Z", 1)
			if err := os.Rename(f.c.Path(f.c.Digests[3]), f.c.Path(moved)); err != nil {
				t.Fatal(err)
			}
			os.Rename(f.c.Path(f.c.Digests[3])+SidecarSuffix, f.c.Path(moved)+SidecarSuffix)
		}, want: func(c *chainT) []finding {
			// The copy is read where it does not belong (the store keys
			// digests by the location they name).
			return []finding{{DigestMoved, base(c.Digests[3])}, {LogFileUnverified, base(c.LogFiles[3][0])}, {LogFileUnverified, base(c.LogFiles[3][1])}}
		}, status: "invalid", alerts: []string{"trailwatch-integrity-digest-moved"}},
		// Validation off, logging on: the log files of the gap are
		// listed in no digest.
		{name: "validation off", mod: func(o *chainOpts) { o.Restart = map[int]int{3: 2}; o.LogDuringGap = true },
			want: func(c *chainT) []finding {
				return []finding{{ChainGap, base(c.Digests[3])}, {NewStartingDigest, base(c.Digests[3])}, {LogFileUnlisted, base(c.Gap[3][0])}, {LogFileUnlisted, base(c.Gap[3][1])}}
			}, status: "invalid",
			alerts: []string{"trailwatch-integrity-chain-gap", "trailwatch-integrity-log-file-unlisted", "trailwatch-integrity-log-file-unlisted", "trailwatch-integrity-new-starting-digest"}},
		{name: "public key not found", opts: func(f *monitorFx, o *MonitorOptions) {
			_, other := keys(t)
			sk := &StaticKeys{}
			sk.Add("", publicKey(other, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
			o.Keys = sk
		}, want: func(c *chainT) []finding {
			var out []finding
			for i := range c.Digests {
				out = append(out, finding{PublicKeyNotFound, base(c.Digests[i])})
				for _, l := range c.LogFiles[i] {
					out = append(out, finding{LogFileUnverified, base(l)})
				}
			}
			return out
		}, status: "invalid", alerts: slices.Repeat([]string{"trailwatch-integrity-public-key-not-found"}, 6)},
		{name: "logging stopped", mod: func(o *chainOpts) {
			o.Restart = map[int]int{3: 2}
			o.Records = func(i, j int) []string {
				switch {
				case i == 2 && j == 1:
					return []string{stopStart("StopLogging", "test-trail", time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC))}
				case i == 3 && j == 0:
					return []string{stopStart("StartLogging", "test-trail", time.Date(2026, 3, 1, 5, 25, 0, 0, time.UTC))}
				}
				return nil
			}
		}, want: func(c *chainT) []finding {
			return []finding{{ChainGap, base(c.Digests[3])}, {NewStartingDigest, base(c.Digests[3])}}
		}, status: "valid", alerts: []string{"trailwatch-integrity-chain-gap", "trailwatch-integrity-new-starting-digest"},
			check: func(t *testing.T, f *monitorFx, sum *CheckSummary) {
				var names []string
				for _, r := range sum.Results {
					for _, e := range r.Events {
						names = append(names, e.Name+" "+e.Principal)
					}
				}
				if want := []string{"StopLogging arn:aws:iam::111122223333:user/mallory", "StartLogging arn:aws:iam::111122223333:user/mallory"}; !slices.Equal(names, want) {
					t.Errorf("events from the store %v, want %v", names, want)
				}
				for _, a := range f.alerts {
					if a.RuleID == "trailwatch-integrity-new-starting-digest" && a.EventName != "StartLogging" {
						t.Errorf("alert names %q, want the StartLogging call", a.EventName)
					}
				}
			}},
		{name: "no public keys", opts: func(_ *monitorFx, o *MonitorOptions) { o.Keys = noKeys{} },
			want: func(c *chainT) []finding {
				var out []finding
				for i := range c.Digests {
					out = append(out, finding{DigestUnverified, base(c.Digests[i])})
					for _, l := range c.LogFiles[i] {
						out = append(out, finding{LogFileUnverified, base(l)})
					}
				}
				return out
			}, status: "unverified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newMonitorFx(t, tc.mod)
			if tc.tamper != nil {
				tc.tamper(t, f)
			}
			f.ingest(t, f.root)
			o := MonitorOptions{}
			if tc.opts != nil {
				tc.opts(f, &o)
			}
			if _, ok := o.Keys.(noKeys); ok {
				o.Keys = nil
				f.keys = nil
			}
			m := f.monitor(o)
			f.set(f.clock().Add(15 * time.Minute)) // past Settle
			sum, err := m.Check(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sortedFindings(sum.Results), sortFindings(tc.want(f.c)); !slices.Equal(got, want) {
				t.Errorf("findings:\n got %v\nwant %v", got, want)
				for _, r := range sum.Results {
					t.Log(r.Message, " / ", r.Detail)
				}
			}
			if st, _, _, _ := f.status(t); st != tc.status {
				t.Errorf("status %q, want %q", st, tc.status)
			}
			var rules []string
			for _, a := range f.alerts {
				rules = append(rules, a.RuleID)
			}
			slices.Sort(rules)
			if !slices.Equal(rules, tc.alerts) {
				t.Errorf("alerts %v, want %v", rules, tc.alerts)
			}
			// Every finding is in the table.
			var n int64
			rows, err := f.st.Query(t.Context(), `SELECT count(*) FROM integrity_findings`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				_ = rows.Scan(&n)
			}
			rows.Close()
			if int(n) != len(dedupe(sum.Results)) {
				t.Errorf("integrity_findings has %d rows, want %d", n, len(dedupe(sum.Results)))
			}
			if tc.check != nil {
				tc.check(t, f, sum)
			}
			// A second pass finds nothing new.
			sum, err = m.Check(t.Context())
			if err != nil || sum.Digests != 0 || len(sum.Results) != 0 {
				t.Errorf("second pass: %+v, %v", sum, err)
			}
		})
	}
}

// noKeys marks a case without a public key source.
type noKeys struct{}

func (noKeys) PublicKeys(context.Context, string, time.Time, time.Time) ([]PublicKey, error) {
	return nil, nil
}

// dedupe counts results as integrity_findings keys them (kind, object).
func dedupe(results []Result) map[string]bool {
	out := map[string]bool{}
	for _, r := range results {
		out[string(r.Kind)+" "+r.Object()] = true
	}
	return out
}

// TestMonitorIncremental: digests wait for the log files they list to be
// collected, each is checked once (the checkpoint), and a missing hourly
// digest is reported after the grace period, once per hour.
func TestMonitorIncremental(t *testing.T) {
	f := newMonitorFx(t, nil)
	var digests []string
	for _, d := range f.c.Digests {
		digests = append(digests, f.c.Path(d))
	}
	f.ingest(t, digests...)
	m := f.monitor(MonitorOptions{Grace: 2 * time.Hour, Settle: 10 * time.Minute})
	sum, err := m.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Digests != 0 || sum.Waiting != 6 {
		t.Errorf("before the log files: %+v", sum)
	}
	f.set(f.clock().Add(5 * time.Minute))
	f.ingest(t, f.root)
	sum, err = m.Check(t.Context())
	if err != nil || sum.Digests != 6 || len(sum.Results) != 0 {
		t.Fatalf("after the log files: %+v, %v", sum, err)
	}
	if st, dv, lv, _ := f.status(t); st != "valid" || dv != 6 || lv != 12 {
		t.Errorf("status %s, %d digests, %d logs", st, dv, lv)
	}
	last := f.c.Ends[5]
	// An hour and the grace period after the last digest's end plus an
	// hour: the next is overdue.
	for _, step := range []struct {
		at   time.Time
		want int
	}{
		{last.Add(time.Hour + 2*time.Hour - time.Minute), 0},
		{last.Add(time.Hour + 2*time.Hour), 1},
		{last.Add(time.Hour + 2*time.Hour + 30*time.Minute), 0},
		{last.Add(2*time.Hour + 2*time.Hour), 1},
	} {
		f.set(step.at)
		sum, err := m.Check(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Overdue != step.want {
			t.Errorf("at %s: %d overdue, want %d", DisplayTime(step.at), sum.Overdue, step.want)
		}
	}
	if st, _, _, _ := f.status(t); st != "overdue" {
		t.Errorf("status %q, want overdue", st)
	}
	if len(f.alerts) != 2 || f.alerts[0].RuleID != "trailwatch-integrity-digest-overdue" || !strings.Contains(f.alerts[0].Object, "T072034Z") {
		t.Errorf("alerts %+v", f.alerts)
	}
	// The alert pipeline takes them: one alert per missing hour's window.
	mgr, err := alert.NewManager(alert.Config{}, alert.Options{Store: f.st, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range f.alerts {
		mgr.Add(a)
	}
	if got := mgr.Alerts(); len(got) == 0 || got[0].RuleID != "trailwatch-integrity-digest-overdue" || got[0].Level != detect.LevelMedium {
		t.Errorf("alert manager: %+v", got)
	}
	if err := mgr.Flush(t.Context()); err != nil {
		t.Errorf("persisting the alerts: %v", err)
	}
	// Run stops with its context.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestLedgerMigration: a database made before tw_objects had its sha256
// column gets it when opened.
func TestLedgerMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.duckdb")
	st, err := duckdb.Open(ctx, path, duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `ALTER TABLE tw_objects DROP COLUMN sha256`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = duckdb.Open(ctx, path, duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Ledger(ctx, []string{"AWSLogs/x"}); err != nil {
		t.Errorf("ledger after migration: %v", err)
	}
}

// TestMonitorDemoData collects what the demo generator writes (an
// organization trail, several regions) and checks it with the Monitor:
// every digest and log file is valid from the store alone (the pipeline's
// hashes match the digests'), and the StopLogging story shows as chain
// restarts explained by the events in the store.
func TestMonitorDemoData(t *testing.T) {
	root := t.TempDir()
	sum, err := gen.Generate(t.Context(), gen.Options{Dir: root, Hours: 4, Accounts: 1, Events: 2000, AccessLogLines: 50, Attacks: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var keys StaticKeys
	if err := keys.LoadFile(filepath.Join(root, "public-keys.json")); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC) }
	st, err := duckdb.Open(t.Context(), filepath.Join(t.TempDir(), "tw.duckdb"), duckdb.Options{Threads: 1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, err := dir.Open([]string{root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.Run(t.Context(), src, st, pipeline.Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	var alerts []detect.Finding
	m := NewMonitor(MonitorOptions{DB: st.DB(), Checkpoints: st, Keys: &keys, Now: clock, Emit: func(f detect.Finding) { alerts = append(alerts, f) }})
	res, err := m.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Digests != sum.DigestFiles {
		t.Errorf("checked %d digests, generated %d", res.Digests, sum.DigestFiles)
	}
	starts := 0
	for _, r := range res.Results {
		switch r.Kind {
		case ChainGap:
		case NewStartingDigest:
			starts++
			var names []string
			for _, e := range r.Events {
				names = append(names, e.Name)
			}
			if !slices.Contains(names, "StopLogging") || !slices.Contains(names, "StartLogging") {
				t.Errorf("%s: events %v", r.Key, names)
			}
		default:
			t.Errorf("unexpected finding: %s (%s)", r.Message, r.Detail)
		}
	}
	if starts == 0 || len(alerts) != 2*starts {
		t.Errorf("%d restarts, %d alerts", starts, len(alerts))
	}
	rows, err := st.Query(t.Context(), `SELECT sum(digests_valid), sum(logs_valid), sum(logs_invalid + digests_invalid + digests_unverified + logs_unverified) FROM integrity_status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var dv, lv, bad int64
	for rows.Next() {
		if err := rows.Scan(&dv, &lv, &bad); err != nil {
			t.Fatal(err)
		}
	}
	if int(dv) != sum.DigestFiles || int(lv) != sum.LogFiles || bad != 0 {
		t.Errorf("status: %d digests valid, %d logs valid, %d other; generated %d digests, %d log files", dv, lv, bad, sum.DigestFiles, sum.LogFiles)
	}
}

// BenchmarkMonitorMonth checks a month of one region's digests (720, and
// their 2,880 log files) from the store, as the Monitor does after a
// backfill (it reads no log file):
//
//	go test -tags duckdb_arrow -run XXX -bench MonitorMonth -cpu 2 -benchtime 3x ./internal/integrity
func BenchmarkMonitorMonth(b *testing.B) {
	key, _ := keys(b)
	root := b.TempDir()
	c, err := integritytest.Write(integritytest.Options{Root: root, Key: key, Hours: 720, FilesPerHour: 4, EventsPerFile: 20,
		Start: time.Date(2026, 3, 1, 0, 20, 34, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	clock := func() time.Time { return c.Ends[len(c.Ends)-1].Add(30 * time.Minute) }
	st, err := duckdb.Open(b.Context(), filepath.Join(b.TempDir(), "tw.duckdb"), duckdb.Options{Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	src, err := dir.Open([]string{root}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pipeline.Run(b.Context(), src, st, pipeline.Options{Workers: 2}); err != nil {
		b.Fatal(err)
	}
	var sk StaticKeys
	sk.Add("", publicKey(key, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
	m := NewMonitor(MonitorOptions{DB: st.DB(), Checkpoints: st, Keys: &sk, Now: clock})
	for b.Loop() {
		if err := st.SetCheckpoint(b.Context(), "integrity/monitor", ""); err != nil {
			b.Fatal(err)
		}
		sum, err := m.Check(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if sum.Digests != 720 || len(sum.Results) != 0 {
			b.Fatalf("%d digests, %d findings", sum.Digests, len(sum.Results))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/month")
}
