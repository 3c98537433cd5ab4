package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/cli"
	"github.com/trailwatch/trailwatch/internal/event"
)

// TestRunDaemon runs `trailwatch run --config` with a queue and a polled
// bucket, as in production: it becomes ready, collects both, exposes the
// metrics an operator alerts on, and drains on SIGTERM with exit code 0.
func TestRunDaemon(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := generate(t, 1, 3000)
	objs := e.upload(t, root)

	// The queue announces the access logs (one bucket); the trail's bucket
	// is polled, walking the CloudTrail layout.
	qURL, err := e.sess.CreateQueue(ctx, "daemon", nil)
	if err != nil {
		t.Fatal(err)
	}
	q := e.sess.Queue(qURL)
	polled := ""
	for _, o := range objs {
		if o.Kind != event.KindAccessLog {
			polled = o.Bucket
		}
	}
	for _, o := range objs {
		switch {
		case o.Bucket == polled && o.Kind == event.KindAccessLog:
			t.Fatal("the generated logs keep access logs in the trail's bucket")
		case o.Bucket != polled:
			must(t, q.Send(ctx, s3EventBody(o, time.Now())))
		}
	}
	addr := freeAddr(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`store:
  path: %s
workers: 2
http:
  listen: %s
log:
  level: warn
aws:
  s3_path_style: true
integrity:
  public_keys: %s
  interval: 1s
sources:
  - name: queue
    type: sqs
    queue_url: %s
    visibility: 30s
  - name: poll
    type: s3
    bucket: %s
    interval: 10s
`, filepath.Join(dir, "tw.duckdb"), addr, filepath.Join(root, "public-keys.json"), qURL, polled)
	path := filepath.Join(dir, "trailwatch.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	sigs := make(chan os.Signal, 1)
	var out bytes.Buffer
	var w io.Writer = &out
	if testing.Verbose() {
		w = io.MultiWriter(&out, tlog{t})
	}
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Run(ctx, []string{"run", "--config", path}, strings.NewReader(""), w, w, sigs)
	}()

	base := "http://" + addr
	waitFor(t, exited, &out, "ready", func() bool { return status(base+"/readyz") == http.StatusOK }, nil)
	if s := status(base + "/healthz"); s != http.StatusOK {
		t.Errorf("/healthz = %d", s)
	}
	// Every object is stored, through one source or the other.
	waitFor(t, exited, &out, "every object stored", func() bool {
		m := scrape(t, base)
		return m.sum("trailwatch_objects_total", `outcome="stored"`) >= float64(len(objs))
	}, func() string { return strings.Join(scrape(t, base), "\n") })
	m := scrape(t, base)
	for _, name := range []string{
		"trailwatch_up", "trailwatch_ready", "trailwatch_build_info", "trailwatch_records_total",
		"trailwatch_bytes_total", "trailwatch_commits_total", "trailwatch_quarantined_objects_total",
		"trailwatch_sqs_messages_received_total", "trailwatch_sqs_messages_deleted_total",
		"trailwatch_sqs_queue_messages", "trailwatch_poll_objects_listed_total",
		"trailwatch_delivery_lag_seconds", "trailwatch_newest_object_timestamp_seconds",
		"trailwatch_detect_rules", "trailwatch_detect_findings_total",
	} {
		if !m.has(name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if got := m.sum("trailwatch_objects_total", `source="queue"`); got == 0 {
		t.Error("nothing counted for the queue source")
	}
	if got := m.sum("trailwatch_objects_total", `source="poll"`); got == 0 {
		t.Error("nothing counted for the polling source")
	}
	// The rules ran on what was collected.
	if got := m.sum("trailwatch_detect_records_total", ""); got < float64(len(expectedEvents(t, root, objs))) {
		t.Errorf("detection saw %v records", got)
	}
	if got := m.sum("trailwatch_delivery_lag_seconds", `kind="cloudtrail"`); got <= 0 {
		t.Errorf("delivery lag = %v", got)
	}

	// Integrity status, as the API serves it: one JSON line per chain.
	waitFor(t, exited, &out, "integrity status served", func() bool {
		resp, err := http.Get(base + "/api/integrity/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Count(string(b), `"digests_valid":`) > 0 && !strings.Contains(string(b), `"digests_invalid":1`)
	}, nil)

	sigs <- syscall.SIGTERM
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM:\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30s after SIGTERM:\n%s", out.String())
	}
	want := expectedEvents(t, root, objs)
	got, rows := storedEvents(t, filepath.Join(dir, "tw.duckdb"))
	compareEvents(t, want, got, rows)
	var accessLogs int64
	for _, o := range objs {
		if o.Kind == event.KindAccessLog {
			accessLogs++
		}
	}
	if n := queryInt(t, filepath.Join(dir, "tw.duckdb"), "SELECT count(DISTINCT source_object) FROM s3_access_logs"); n != accessLogs {
		t.Errorf("access log objects = %d, want %d", n, accessLogs)
	}
	// Every collected digest was validated: signatures, chain links and
	// the log files' hashes taken at ingest (the chains are overdue: the
	// logs are weeks old).
	var digests int64
	for _, o := range objs {
		if o.Kind == event.KindDigest {
			digests++
		}
	}
	db := filepath.Join(dir, "tw.duckdb")
	if n := queryInt(t, db, "SELECT sum(digests_valid) FROM integrity_status"); n != digests {
		t.Errorf("digests valid = %d, want %d", n, digests)
	}
	if n := queryInt(t, db, "SELECT sum(digests_invalid + logs_invalid + digests_unverified + logs_unverified) FROM integrity_status"); n != 0 {
		t.Errorf("%d digests or log files invalid or unverified: %s", n, queryString(t, db, "SELECT string_agg(kind || ' ' || object || ': ' || message, '; ') FROM integrity_findings"))
	}
	if n := queryInt(t, db, "SELECT sum(logs_valid) FROM integrity_status"); n == 0 {
		t.Error("no log file validated against its digest")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond for up to a minute, failing early if the daemon exits.
func waitFor(t *testing.T, exited <-chan int, out *bytes.Buffer, what string, cond func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		select {
		case code := <-exited:
			t.Fatalf("the daemon exited (%d) before %s:\n%s", code, what, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			if explain != nil {
				t.Log(explain())
			}
			t.Fatalf("not %s after a minute:\n%s", what, out.String())
		}
	}
}

// metricLines is a Prometheus text exposition.
type metricLines []string

func scrape(t *testing.T, base string) metricLines {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m metricLines
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			m = append(m, l)
		}
	}
	return m
}

func (m metricLines) has(name string) bool {
	for _, l := range m {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			return true
		}
	}
	return false
}

// sum adds the samples of a metric whose labels contain label.
func (m metricLines) sum(name, label string) float64 {
	var s float64
	for _, l := range m {
		if !(strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ")) || !strings.Contains(l, label) {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			s += v
		}
	}
	return s
}
