package alert

import (
	"context"
	"errors"
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
