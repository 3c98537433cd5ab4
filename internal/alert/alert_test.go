package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/trailwatch/trailwatch/internal/detect"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func finding(rule, principal string, at time.Time) detect.Finding {
	return detect.Finding{RuleID: rule, RuleName: "tw_" + rule, Title: "Rule " + rule, Level: detect.LevelHigh, Kind: "match",
		Time: at, EventID: "ev-" + at.Format("150405"), Principal: principal, SourceIP: "203.0.113.7", Account: "111122223333",
		Region: "us-east-1", EventName: "StopLogging"}
}

// memStore is an in-memory Store with the merge semantics of the database.
type memStore struct {
	mu     sync.Mutex
	alerts map[string]Alert
	fail   bool
}

func (s *memStore) UpsertAlerts(_ context.Context, alerts []Alert, add bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk full")
	}
	if s.alerts == nil {
		s.alerts = map[string]Alert{}
	}
	for _, a := range alerts {
		old, ok := s.alerts[a.ID]
		if ok {
			if add {
				a.Count += old.Count
			} else {
				a.Count = max(a.Count, old.Count)
			}
			a.Status = old.Status
		}
		s.alerts[a.ID] = a
	}
	return nil
}

func TestGrouping(t *testing.T) {
	cases := []struct {
		name     string
		findings []detect.Finding
		want     []int64 // counts of the alerts, by first seen
	}{
		{"same rule and principal in one window", []detect.Finding{
			finding("a", "p1", t0), finding("a", "p1", t0.Add(10*time.Minute)), finding("a", "p1", t0.Add(50*time.Minute))}, []int64{3}},
		{"a new window", []detect.Finding{finding("a", "p1", t0), finding("a", "p1", t0.Add(70*time.Minute))}, []int64{1, 1}},
		{"another principal", []detect.Finding{finding("a", "p1", t0), finding("a", "p2", t0)}, []int64{1, 1}},
		{"another rule", []detect.Finding{finding("a", "p1", t0), finding("b", "p1", t0)}, []int64{1, 1}},
		{"out of order", []detect.Finding{finding("a", "p1", t0.Add(30*time.Minute)), finding("a", "p1", t0.Add(5*time.Minute))}, []int64{2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewManager(Config{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.findings {
				m.Add(f)
			}
			got := m.Alerts()
			if len(got) != len(c.want) {
				t.Fatalf("%d alerts, want %d: %+v", len(got), len(c.want), got)
			}
			for i, a := range got {
				if a.Count != c.want[i] {
					t.Errorf("alert %d: count %d, want %d", i, a.Count, c.want[i])
				}
				if a.Status != StatusOpen || a.LastSeen.Before(a.FirstSeen) {
					t.Errorf("alert %d: %+v", i, a)
				}
			}
		})
	}
}

func TestGroupingFirstLastSeenAndSample(t *testing.T) {
	m, _ := NewManager(Config{}, Options{})
	for i := range 15 {
		m.Add(finding("a", "p1", t0.Add(time.Duration(i)*time.Minute)))
	}
	a := m.Alerts()[0]
	if !a.FirstSeen.Equal(t0) || !a.LastSeen.Equal(t0.Add(14*time.Minute)) || a.Count != 15 || len(a.EventIDs) != maxEventIDs {
		t.Errorf("alert %+v", a)
	}
	// The same findings always make the same alert.
	m2, _ := NewManager(Config{}, Options{})
	m2.Add(finding("a", "p1", t0.Add(3*time.Minute)))
	if m2.Alerts()[0].ID != a.ID {
		t.Error("alert IDs are not stable")
	}
}

func TestCorrelationCounts(t *testing.T) {
	m, _ := NewManager(Config{}, Options{})
	f := finding("burst", "p1", t0)
	f.Kind, f.Count, f.FirstTime = "correlation", 25, t0.Add(-4*time.Minute)
	f.EventIDs = []string{"e1", "e2"}
	m.Add(f)
	a := m.Alerts()[0]
	if a.Count != 25 || !a.FirstSeen.Equal(t0.Add(-4*time.Minute)) || len(a.EventIDs) != 2 {
		t.Errorf("alert %+v", a)
	}
}

func TestSuppressions(t *testing.T) {
	cfg := func(s ...Suppression) Config { return Config{Suppressions: s} }
	cases := []struct {
		name string
		cfg  Config
		f    detect.Finding
		drop bool
	}{
		{"by rule name", cfg(Suppression{Rule: "tw_a", Reason: "x"}), finding("a", "p", t0), true},
		{"by rule title wildcard", cfg(Suppression{Rule: "rule *", Reason: "x"}), finding("a", "p", t0), true},
		{"by principal wildcard", cfg(Suppression{Principal: "arn:aws:iam::*:role/terraform", Reason: "x"}),
			finding("a", "arn:aws:iam::111122223333:role/terraform", t0), true},
		{"principal mismatch", cfg(Suppression{Principal: "arn:aws:iam::*:role/terraform", Reason: "x"}), finding("a", "p", t0), false},
		{"by CIDR", cfg(Suppression{SourceIP: []string{"203.0.113.0/24"}, Reason: "x"}), finding("a", "p", t0), true},
		{"CIDR mismatch", cfg(Suppression{SourceIP: []string{"10.0.0.0/8", "192.0.2.1"}, Reason: "x"}), finding("a", "p", t0), false},
		{"every field must match", cfg(Suppression{Rule: "tw_a", Account: "999999999999", Reason: "x"}), finding("a", "p", t0), false},
		{"expired", cfg(Suppression{Rule: "tw_a", Until: t0.Add(-time.Hour), Reason: "x"}), finding("a", "p", t0), false},
		{"below min_level", Config{MinLevel: "critical"}, finding("a", "p", t0), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewManager(c.cfg, Options{Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			m.Add(c.f)
			if dropped := len(m.Alerts()) == 0; dropped != c.drop {
				t.Errorf("dropped %v, want %v", dropped, c.drop)
			}
		})
	}
}

func TestFlushPersistsDeltas(t *testing.T) {
	st := &memStore{}
	m, _ := NewManager(Config{}, Options{Store: st})
	ctx := context.Background()
	m.Add(finding("a", "p", t0))
	m.Add(finding("a", "p", t0.Add(time.Minute)))
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m.Add(finding("a", "p", t0.Add(2*time.Minute)))
	st.fail = true
	if err := m.Flush(ctx); err == nil {
		t.Fatal("a failing store did not fail Flush")
	}
	st.fail = false
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range st.alerts {
		if a.Count != 3 {
			t.Errorf("stored count %d, want 3", a.Count)
		}
	}
	// A hunt over the same events replaces instead of adding.
	h, _ := NewManager(Config{}, Options{Store: st, Replace: true})
	for i := range 3 {
		h.Add(finding("a", "p", t0.Add(time.Duration(i)*time.Minute)))
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(st.alerts) != 1 {
		t.Fatalf("%d stored alerts", len(st.alerts))
	}
	for _, a := range st.alerts {
		if a.Count != 3 {
			t.Errorf("count after hunt %d, want 3", a.Count)
		}
	}
}

func TestConcurrentAdd(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, _ := NewManager(Config{}, Options{Registerer: reg, Store: &memStore{}})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				m.Add(finding("a", "p"+string(rune('0'+w%2)), t0.Add(time.Duration(i)*time.Second)))
				if i%50 == 0 {
					_ = m.Flush(context.Background())
				}
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, a := range m.Alerts() {
		total += a.Count
	}
	if total != 1600 || len(m.Alerts()) != 2 {
		t.Errorf("%d alerts holding %d findings", len(m.Alerts()), total)
	}
	if got := counterValue(t, m.m.findings); got != 1600 {
		t.Errorf("findings metric %v", got)
	}
	if got := counterValue(t, m.m.created.WithLabelValues("high")); got != 2 {
		t.Errorf("created metric %v", got)
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]Status{"open": StatusOpen, "ACK": StatusAcknowledged, "acknowledged": StatusAcknowledged, "closed": StatusClosed} {
		if got, err := ParseStatus(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := ParseStatus("snoozed"); err == nil || !strings.Contains(err.Error(), "snoozed") {
		t.Errorf("err %v", err)
	}
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestForgetPersistedAlerts checks that a long-running ingest holds only
// recent alerts: persisted alerts without findings for two group windows
// leave memory, a late finding adds to the stored alert without notifying
// the sinks again, and hunts keep every alert.
func TestForgetPersistedAlerts(t *testing.T) {
	var mu sync.Mutex
	clock := t0
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	st := &memStore{}
	sink := &countingSink{}
	m, err := NewManager(Config{}, Options{Store: st, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	m.sinks = append(m.sinks, newDispatcher(SinkConfig{Name: "count", QueueSize: 100, Timeout: time.Second}, sink, m.m, m.log))
	ctx := context.Background()
	for i := range 50 {
		m.Add(finding("r", fmt.Sprint("p", i), t0))
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h := m.Stats().Held; h != 50 {
		t.Fatalf("held %d, want 50", h)
	}
	advance(90 * time.Minute)
	m.Add(finding("r", "p0", t0.Add(time.Minute))) // p0 stays recent
	advance(90 * time.Minute)
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h := m.Stats().Held; h != 1 {
		t.Fatalf("held %d after three hours, want 1", h)
	}
	m.Add(finding("r", "p1", t0.Add(2*time.Minute))) // late finding of a forgotten alert
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sink.count(); n != 50 {
		t.Errorf("sinks notified %d times, want 50 (once per alert)", n)
	}
	for _, a := range st.alerts {
		want := int64(1)
		if a.Principal == "p0" || a.Principal == "p1" {
			want = 2
		}
		if a.Count != want {
			t.Errorf("%s: stored count %d, want %d", a.Principal, a.Count, want)
		}
	}
	if len(st.alerts) != 50 {
		t.Errorf("%d stored alerts, want 50", len(st.alerts))
	}

	// A hunt keeps every alert to print them.
	h, _ := NewManager(Config{}, Options{Store: &memStore{}, Replace: true, Now: now})
	h.Add(finding("r", "p", t0))
	advance(10 * time.Hour)
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.Alerts()) != 1 {
		t.Error("a hunt forgot an alert")
	}
}

// countingSink counts the alerts sent to it.
type countingSink struct {
	mu sync.Mutex
	n  int
}

func (s *countingSink) Send(context.Context, Alert) error {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return nil
}

func (s *countingSink) Close() error { return nil }

func (s *countingSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// BenchmarkAdd measures grouping one finding into an existing alert (the
// common case: a noisy rule).
func BenchmarkAdd(b *testing.B) {
	m, _ := NewManager(Config{}, Options{Store: &memStore{}})
	f := finding("r", "arn:aws:iam::111122223333:user/a", t0)
	b.ReportAllocs()
	for i := range b.N {
		f.Time = t0.Add(time.Duration(i%3600) * time.Second)
		m.Add(f)
	}
}
