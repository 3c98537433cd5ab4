package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

// memSource hands out CloudTrail log objects from memory, then blocks
// until stopped (like a queue), or ends (like a backfill).
type memSource struct {
	mu      sync.Mutex
	objs    []*pipeline.Object
	block   bool
	stopped chan struct{}
	once    sync.Once
	acked   int
}

func (s *memSource) Next(ctx context.Context) (*pipeline.Object, error) {
	s.mu.Lock()
	if len(s.objs) > 0 {
		o := s.objs[0]
		s.objs = s.objs[1:]
		s.mu.Unlock()
		return o, nil
	}
	s.mu.Unlock()
	if !s.block {
		return nil, io.EOF
	}
	select {
	case <-s.stopped:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *memSource) Stop() { s.once.Do(func() { close(s.stopped) }) }

func (s *memSource) add(key, body string) {
	o := &pipeline.Object{Ref: event.ObjectRef{Bucket: "b", Key: key, Size: int64(len(body))}}
	o.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	o.Ack = func(context.Context, error) error { s.mu.Lock(); s.acked++; s.mu.Unlock(); return nil }
	s.objs = append(s.objs, o)
}

func logFile(account string, n int) string {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"eventVersion":"1.09","eventTime":"2026-11-01T00:0%dZ","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","eventID":"%s-%d","recipientAccountId":%q,"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::%s:user/a"}}`,
			i%10, account, i, account, account)
	}
	b.WriteString(`]}`)
	return b.String()
}

func openStore(t *testing.T) *duckdb.Store {
	t.Helper()
	st, err := duckdb.Open(context.Background(), filepath.Join(t.TempDir(), "tw.duckdb"), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDaemonServesAndDrains: a running collector is healthy and ready,
// counts what it stored in its metrics, and Stop drains it: everything
// handed out is committed and acknowledged before Run returns.
func TestDaemonServesAndDrains(t *testing.T) {
	src := &memSource{block: true, stopped: make(chan struct{})}
	key := "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0000Z_a.json"
	src.add(key, logFile("111122223333", 5))
	src.add(strings.Replace(key, "_a.json", "_b.json", 1), logFile("111122223333", 7))
	c := New(Options{
		Sources:  []Source{{Name: "mem", Type: "sqs", Source: src, Check: func(context.Context) error { return nil }}},
		Store:    openStore(t),
		Listen:   "127.0.0.1:0",
		Pipeline: pipeline.Options{Workers: 2, SkipIngested: true},
		Version:  "test",
	})
	done := make(chan error, 1)
	go func() { _, err := c.Run(context.Background()); done <- err }()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Objects.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("objects not processed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	base := "http://" + c.Addr()
	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz %d %s", code, body)
	}
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`trailwatch_objects_total{kind="cloudtrail",outcome="stored",source="mem"} 2`,
		`trailwatch_records_total 12`,
		`trailwatch_build_info{version="test"} 1`,
		`trailwatch_delivery_lag_seconds{account="111122223333",kind="cloudtrail",region="us-east-1"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	c.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not drain")
	}
	if src.acked != 2 {
		t.Errorf("acked %d objects, want 2", src.acked)
	}
}

// TestFailedCheck: a source that cannot be read keeps the collector from
// starting, with the reason; /readyz says which source failed.
func TestFailedCheck(t *testing.T) {
	denied := errors.New("sqs:GetQueueAttributes denied on https://sqs/q for arn:aws:iam::1:user/x: AccessDenied")
	src := &memSource{stopped: make(chan struct{})}
	c := New(Options{
		Sources: []Source{
			{Name: "ok", Source: &memSource{stopped: make(chan struct{})}, Check: func(context.Context) error { return nil }},
			{Name: "bad", Source: src, Check: func(context.Context) error { return denied }},
		},
		Store: openStore(t),
	})
	_, err := c.Run(context.Background())
	if !errors.Is(err, denied) || !strings.Contains(err.Error(), "source bad") {
		t.Fatalf("Run = %v, want the failed check", err)
	}
	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "AccessDenied") {
		t.Errorf("/readyz %d %q", rec.Code, rec.Body.String())
	}
}

func TestFormatFailures(t *testing.T) {
	got := FormatFailures([]FailureCount{
		{Failure{"retry", "throttled"}, 3}, {Failure{"quarantined", "not_found"}, 1}, {Failure{"retry", "network"}, 1},
	})
	want := "quarantined 1 (1 not_found); retried 4 (3 throttled, 1 network)"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
