package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// fault is what the S3 proxy does to the GETs of one object.
type fault struct {
	name     string
	failures int           // the first this many GETs fail (0: all do, for denied)
	status   int           // with this status and S3 error code
	code     string        //
	delay    time.Duration // every GET waits this long
	reset    bool          // the failing GETs are cut off mid-body
}

// faultyS3 is a reverse proxy in front of the S3 server that injects
// faults into object GETs, as S3 and networks produce them.
type faultyS3 struct {
	mu     sync.Mutex
	faults map[string]fault // by "bucket/key"
	gets   map[string]int
	proxy  *httputil.ReverseProxy
}

func (f *faultyS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	f.mu.Lock()
	ft, ok := f.faults[path]
	if r.Method == http.MethodGet && ok {
		f.gets[path]++
	}
	n := f.gets[path]
	f.mu.Unlock()
	if r.Method != http.MethodGet || !ok {
		f.proxy.ServeHTTP(w, r)
		return
	}
	time.Sleep(ft.delay)
	failing := ft.status != 0 && (ft.failures == 0 || n <= ft.failures)
	switch {
	case ft.reset && n <= ft.failures:
		f.proxy.ServeHTTP(&cutWriter{ResponseWriter: w, left: 600}, r)
	case failing:
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(ft.status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message><RequestId>T%d</RequestId></Error>`, ft.code, n)
	default:
		f.proxy.ServeHTTP(w, r)
	}
}

// cutWriter fails after a number of body bytes: the reverse proxy then
// aborts the connection mid-body, as a network reset does.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		n, _ := c.ResponseWriter.Write(p[:c.left])
		c.left = 0
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		return n, errors.New("injected connection reset")
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}

// TestCollectThroughS3Faults collects while S3 throttles, fails with 5xx,
// answers slowly, cuts connections mid-object, denies access, and misses
// objects deleted before they were fetched: every event of every readable
// object is stored exactly once, and each failure is reported with its
// reason.
func TestCollectThroughS3Faults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := generate(t, 1, 3000)
	objs := e.upload(t, root)

	target, err := url.Parse(e.s3.URL)
	if err != nil {
		t.Fatal(err)
	}
	faults := []fault{
		{name: "throttled", failures: 5, status: http.StatusServiceUnavailable, code: "SlowDown"},
		{name: "throttled", failures: 5, status: http.StatusServiceUnavailable, code: "SlowDown"},
		{name: "server error", failures: 5, status: http.StatusInternalServerError, code: "InternalError"},
		{name: "server error", failures: 5, status: http.StatusInternalServerError, code: "InternalError"},
		{name: "slow", delay: 1500 * time.Millisecond},
		{name: "reset", failures: 2, reset: true},
		{name: "denied", status: http.StatusForbidden, code: "AccessDenied"},
		{name: "deleted"},
	}
	proxy := &faultyS3{faults: map[string]fault{}, gets: map[string]int{}, proxy: httputil.NewSingleHostReverseProxy(target)}
	var readable, lost []uploaded
	fi := 0
	for _, o := range objs {
		if o.Kind != event.KindCloudTrail || fi == len(faults) {
			readable = append(readable, o)
			continue
		}
		ft := faults[fi]
		fi++
		switch ft.name {
		case "deleted":
			if err := e.sess.S3("").Delete(ctx, o.Bucket, o.Key); err != nil {
				t.Fatal(err)
			}
			lost = append(lost, o)
			continue
		case "denied":
			lost = append(lost, o)
		default:
			readable = append(readable, o)
		}
		proxy.faults[o.Bucket+"/"+o.Key] = ft
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)

	qURL, err := e.sess.CreateQueue(ctx, "faults", nil)
	if err != nil {
		t.Fatal(err)
	}
	q := e.sess.Queue(qURL)
	now := time.Now()
	for _, o := range objs {
		must(t, q.Send(ctx, s3EventBody(o, now)))
	}

	db := t.TempDir() + "/tw.duckdb"
	code, out := runCLI(t, "collect", "--queue-url", qURL, "--drain", "--s3-path-style", "--db", db, "--progress", "never",
		"--max-receives", "4", "--retry-backoff", "1s", "--visibility", "20s", "--log-level", "info")
	if code != 3 {
		t.Fatalf("collect exit %d, want 3 (quarantined):\n%s", code, out)
	}

	want := expectedEvents(t, root, readable)
	got, rows := storedEvents(t, db)
	compareEvents(t, want, got, rows)
	for _, o := range readable {
		key := o.Bucket + "/" + o.Key
		if ft, ok := proxy.faults[key]; ok && ft.failures > 0 && proxy.gets[key] <= ft.failures {
			t.Errorf("%s (%s) fetched %d times: its faults were never hit", o.Key, ft.name, proxy.gets[key])
		}
	}
	// Each failure is reported with its reason: in the quarantine table
	// (the denied object's message as poison once retried, the deleted
	// object as not found) and in the summary.
	reasons := quarantineReasons(t, db)
	if len(reasons) != len(lost) {
		t.Errorf("quarantined %d, want %d: %v", len(reasons), len(lost), reasons)
	}
	all := strings.Join(reasons, "\n")
	for _, wantText := range []string{
		"s3:GetObject denied on s3://" + lost[0].Bucket + "/" + lost[0].Key,
		"received 5 times without being processed",
		"NoSuchKey",
	} {
		if !strings.Contains(all, wantText) {
			t.Errorf("quarantine reasons lack %q:\n%s", wantText, all)
		}
	}
	// Lost objects are quarantined under their own keys, so the ledger
	// knows them and a backfill reads them again once readable.
	for _, o := range lost {
		if n := queryInt(t, db, "SELECT count(*) FROM quarantine WHERE object = 's3://"+o.Bucket+"/"+o.Key+"'"); n != 1 {
			t.Errorf("%s quarantined %d times under its key", o.Key, n)
		}
	}
	for _, wantText := range []string{"throttled", "server_error", "network", "access_denied", "not_found", "poison"} {
		if !strings.Contains(lastLines(out, "object failures:"), wantText) {
			t.Errorf("the summary does not report %s failures:\n%s", wantText, out)
		}
	}
}

// quarantineReasons lists the quarantine table's reasons.
func quarantineReasons(t *testing.T, db string) []string {
	t.Helper()
	n := queryInt(t, db, "SELECT count(*) FROM quarantine")
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, queryString(t, db, "SELECT object || ': ' || reason FROM quarantine ORDER BY object LIMIT 1 OFFSET "+strconv.FormatInt(i, 10)))
	}
	return out
}

// lastLines returns the line that starts with prefix, or "".
func lastLines(out, prefix string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
