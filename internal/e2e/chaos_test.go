package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// buildBinary builds the trailwatch command, so that tests can kill it.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trailwatch")
	cmd := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", bin, "github.com/trailwatch/trailwatch/cmd/trailwatch")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCollectorSurvivesKill9 kills the collector with SIGKILL at random
// instants — receiving, fetching, parsing, committing, deleting — while it
// drains a queue announcing hundreds of objects, restarting it each time.
// Once the queue is drained, the store holds every uploaded (eventID,
// account) exactly once: the transport is at least once, the store
// exactly once.
func TestCollectorSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it 25 times")
	}
	e := newEnv(t)
	ctx := context.Background()
	bin := buildBinary(t)
	root := generate(t, 6, 9000)
	objs := e.upload(t, root)

	qURL, err := e.sess.CreateQueue(ctx, "chaos", nil)
	if err != nil {
		t.Fatal(err)
	}
	q := e.sess.Queue(qURL)
	// One message per object, and some messages announcing several (a
	// message is deleted only once all its objects are stored).
	now := time.Now()
	var accessLines int64
	for i := 0; i < len(objs); i++ {
		if objs[i].Kind == event.KindAccessLog {
			accessLines += countLines(t, objs[i].File)
		}
		if i%7 == 0 && i+1 < len(objs) {
			if objs[i+1].Kind == event.KindAccessLog {
				accessLines += countLines(t, objs[i+1].File)
			}
			must(t, q.Send(ctx, multiRecordBody(now, objs[i], objs[i+1])))
			i++
			continue
		}
		must(t, q.Send(ctx, s3EventBody(objs[i], now)))
	}
	t.Logf("%d objects announced", len(objs))

	db := filepath.Join(t.TempDir(), "tw.duckdb")
	args := []string{"collect", "--queue-url", qURL, "--drain", "--s3-path-style", "--db", db, "--progress", "never",
		"--visibility", "10s", "--max-receives", "1000", "--workers", "2", "--log-level", "error"}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	kills := 0
	for kills < 25 {
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			// It finished before the kill: everything visible was collected.
			if err != nil {
				t.Fatalf("collect failed: %v\n%s", err, out.String())
			}
			t.Logf("run finished before its kill: %s", strings.TrimSpace(lastLine(out.String())))
			if empty(t, e, qURL) {
				t.Fatalf("queue drained after %d kills: too few objects for the test to mean anything", kills)
			}
			continue
		case <-time.After(time.Duration(300+rng.IntN(1700)) * time.Millisecond):
			_ = cmd.Process.Kill() // SIGKILL: no defer, no drain, no commit
			<-done
			kills++
		}
	}
	// Restart until the queue is empty (messages held by killed runs come
	// back when their visibility timeout expires).
	deadline := time.Now().Add(3 * time.Minute)
	for !empty(t, e, qURL) {
		if time.Now().After(deadline) {
			t.Fatal("the queue was not drained within 3 minutes")
		}
		cmd := exec.Command(bin, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("collect after %d kills: %v\n%s", kills, err, out)
		}
		time.Sleep(time.Second)
	}
	t.Logf("%d kills", kills)

	want := expectedEvents(t, root, objs)
	got, rows := storedEvents(t, db)
	compareEvents(t, want, got, rows)
	if n := queryInt(t, db, "SELECT count(*) FROM quarantine"); n != 0 {
		t.Errorf("%d objects quarantined", n)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM s3_access_logs"); n != accessLines {
		t.Errorf("access log lines stored = %d, want %d", n, accessLines)
	}
}

// empty reports whether the queue has no message left, visible or not.
func empty(t *testing.T, e *env, qURL string) bool {
	t.Helper()
	st, err := e.sess.Queue(qURL).Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Visible+st.InFlight+st.Delayed == 0
}

// multiRecordBody is one S3 event notification announcing several objects.
func multiRecordBody(t time.Time, objs ...uploaded) string {
	recs := make([]string, len(objs))
	for i, o := range objs {
		b := s3EventBody(o, t)
		b = strings.TrimPrefix(b, `{"Records":[`)
		recs[i] = strings.TrimSuffix(b, `]}`)
	}
	return fmt.Sprintf(`{"Records":[%s]}`, strings.Join(recs, ","))
}

func countLines(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
