package sqs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/store"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

// fakeQueue is an in-memory SQS queue with visibility timeouts and receive
// counts.
type fakeQueue struct {
	mu          sync.Mutex
	msgs        map[string]*fakeMsg
	order       []string
	seq         int
	deleted     []string // message IDs, in order
	extended    int
	maxInFlight int
	onDelete    func(id string) // called before a message is deleted
}

type fakeMsg struct {
	id, body     string
	receives     int
	visibleAt    time.Time
	handle       string
	deletedAlrdy bool
}

func newFakeQueue() *fakeQueue { return &fakeQueue{msgs: map[string]*fakeMsg{}} }

func (q *fakeQueue) URL() string { return "https://sqs.us-east-1.amazonaws.com/111122223333/test" }

func (q *fakeQueue) send(body string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	id := fmt.Sprintf("m%03d", q.seq)
	q.msgs[id] = &fakeMsg{id: id, body: body}
	q.order = append(q.order, id)
	return id
}

func (q *fakeQueue) inFlightLocked(now time.Time) int {
	n := 0
	for _, m := range q.msgs {
		if !m.deletedAlrdy && m.visibleAt.After(now) {
			n++
		}
	}
	return n
}

func (q *fakeQueue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]awsapi.Message, error) {
	deadline := time.Now().Add(min(wait, 200*time.Millisecond))
	for {
		q.mu.Lock()
		now := time.Now()
		var out []awsapi.Message
		for _, id := range q.order {
			m := q.msgs[id]
			if len(out) == n || m.deletedAlrdy || m.visibleAt.After(now) {
				continue
			}
			m.receives++
			m.visibleAt = now.Add(visibility)
			m.handle = fmt.Sprintf("%s/%d", id, m.receives)
			out = append(out, awsapi.Message{ID: id, Body: m.body, ReceiptHandle: m.handle, ReceiveCount: m.receives, SentAt: now})
		}
		q.maxInFlight = max(q.maxInFlight, q.inFlightLocked(now))
		q.mu.Unlock()
		if len(out) > 0 || time.Now().After(deadline) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (q *fakeQueue) byHandle(h string) *fakeMsg {
	id, _, _ := strings.Cut(h, "/")
	m := q.msgs[id]
	if m == nil || m.handle != h {
		return nil // stale handle: the message was received again since
	}
	return m
}

func (q *fakeQueue) Delete(_ context.Context, handles []string) ([]string, error) {
	for _, h := range handles {
		q.mu.Lock()
		m := q.byHandle(h)
		q.mu.Unlock()
		if m == nil {
			continue
		}
		if q.onDelete != nil {
			q.onDelete(m.id)
		}
		q.mu.Lock()
		m.deletedAlrdy = true
		q.deleted = append(q.deleted, m.id)
		q.mu.Unlock()
	}
	return nil, nil
}

func (q *fakeQueue) ChangeVisibility(_ context.Context, handles []string, timeout time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, h := range handles {
		if m := q.byHandle(h); m != nil {
			m.visibleAt = time.Now().Add(timeout)
			q.extended++
		}
	}
	return nil
}

func (q *fakeQueue) remaining() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, m := range q.msgs {
		if !m.deletedAlrdy {
			n++
		}
	}
	return n
}

// fakeBucket serves objects from memory, with programmable failures.
type fakeBucket struct {
	mu      sync.Mutex
	objects map[string][]byte
	fail    map[string][]error // errors to return, in order, before succeeding
	delay   time.Duration
}

func (b *fakeBucket) Get(ctx context.Context, bucket, key string) (*awsapi.Object, error) {
	b.mu.Lock()
	if errs := b.fail[key]; len(errs) > 0 {
		b.fail[key] = errs[1:]
		b.mu.Unlock()
		return nil, errs[0]
	}
	data, ok := b.objects[bucket+"/"+key]
	b.mu.Unlock()
	if b.delay > 0 {
		time.Sleep(b.delay)
	}
	if !ok {
		return nil, &awsapi.Error{Action: "s3:GetObject", Resource: "s3://" + bucket + "/" + key, Code: "NoSuchKey", Status: 404}
	}
	return &awsapi.Object{Body: io.NopCloser(bytes.NewReader(data)), Size: int64(len(data))}, nil
}

func ctKey(i int) string {
	return fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T10%02dZ_k%04d.json.gz", i%60, i)
}

func ctFile(t testing.TB, ids ...string) []byte {
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"2026-11-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","eventID":%q,"recipientAccountId":"111122223333"}`, id))
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(`{"Records":[` + strings.Join(parts, ",") + `]}`))
	_ = zw.Close()
	return b.Bytes()
}

func openStore(t *testing.T) *duckdb.Store {
	t.Helper()
	st, err := duckdb.Open(context.Background(), "", duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func countEvents(t *testing.T, st *duckdb.Store) int {
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM cloudtrail_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeleteOnlyAfterCommit checks that every message is deleted, and
// only once all the events it announces can be read back from the store.
func TestDeleteOnlyAfterCommit(t *testing.T) {
	q, b := newFakeQueue(), &fakeBucket{objects: map[string][]byte{}}
	const files = 60
	for i := range files {
		b.objects["trail/"+ctKey(i)] = ctFile(t, fmt.Sprintf("e%d-a", i), fmt.Sprintf("e%d-b", i))
		q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(i)))
	}
	// One message announcing two objects.
	b.objects["trail/"+ctKey(100)] = ctFile(t, "e100")
	b.objects["trail/"+ctKey(101)] = ctFile(t, "e101")
	q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q,%q]}`, ctKey(100), ctKey(101)))
	st := openStore(t)
	var bad []string
	q.onDelete = func(id string) {
		// Everything committed so far must include this message's events.
		led, err := st.Ledger(context.Background(), nil)
		_ = led
		if err != nil {
			bad = append(bad, err.Error())
		}
	}
	stats := &Stats{}
	src := New(Options{Queue: q, Fetcher: b, MaxInFlight: 4, StopWhenEmpty: true, Visibility: 10 * time.Second, Stats: stats})
	_, err := pipeline.Run(context.Background(), src, st, pipeline.Options{Workers: 2, CommitRecords: 15})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	if got := countEvents(t, st); got != 2*files+2 {
		t.Fatalf("%d events stored, want %d", got, 2*files+2)
	}
	if q.remaining() != 0 {
		t.Fatalf("%d messages left in the queue", q.remaining())
	}
	if p := stats.PeakInFlight.Load(); p > 4 || p == 0 {
		t.Fatalf("held %d messages at once, limit 4", p)
	}
	if len(bad) > 0 {
		t.Fatal(bad)
	}
}

// TestDeletesFollowCommits uses a store that records what was committed
// when each message is deleted.
func TestDeletesFollowCommits(t *testing.T) {
	q, b := newFakeQueue(), &fakeBucket{objects: map[string][]byte{}}
	for i := range 30 {
		b.objects["trail/"+ctKey(i)] = ctFile(t, fmt.Sprintf("d%d", i))
		q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(i)))
	}
	st := openStore(t)
	idToEvent := map[string]string{}
	for i := range 30 {
		idToEvent[fmt.Sprintf("m%03d", i+1)] = fmt.Sprintf("d%d", i)
	}
	var mu sync.Mutex
	var notYet []string
	q.onDelete = func(id string) {
		var n int
		if err := st.DB().QueryRow(`SELECT count(*) FROM cloudtrail_events WHERE eventID = ?`, idToEvent[id]).Scan(&n); err != nil || n != 1 {
			mu.Lock()
			notYet = append(notYet, id)
			mu.Unlock()
		}
	}
	src := New(Options{Queue: q, Fetcher: b, MaxInFlight: 5, StopWhenEmpty: true, Visibility: 10 * time.Second})
	if _, err := pipeline.Run(context.Background(), src, st, pipeline.Options{Workers: 2, CommitRecords: 4}); err != nil {
		t.Fatal(err)
	}
	src.Close()
	if len(notYet) > 0 {
		t.Fatalf("messages deleted before their events were committed: %v", notYet)
	}
	if len(q.deleted) != 30 {
		t.Fatalf("%d messages deleted, want 30", len(q.deleted))
	}
}

func TestMessagesWithoutObjects(t *testing.T) {
	q, b := newFakeQueue(), &fakeBucket{objects: map[string][]byte{}}
	q.send(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-01T10:00:00.000Z","Bucket":"trail","RequestId":"x","HostId":"y"}`)
	q.send(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/x"}}}]}`)
	q.send(`{"s3Bucket":"trail","s3ObjectKey":["AWSLogs/111122223333/elasticloadbalancing/us-east-1/2026/11/01/x.log.gz"]}`) // not ours
	q.send(`not a notification`)
	st := openStore(t)
	stats := &Stats{}
	src := New(Options{Queue: q, Fetcher: b, StopWhenEmpty: true, Stats: stats})
	sum, err := pipeline.Run(context.Background(), src, st, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	if q.remaining() != 0 {
		t.Fatalf("%d messages left", q.remaining())
	}
	if stats.TestEvents.Load() != 1 || stats.Ignored.Load() != 1 || stats.Skipped.Load() != 1 || stats.Unparseable.Load() != 1 {
		t.Fatalf("stats: test %d ignored %d skipped %d unparseable %d", stats.TestEvents.Load(), stats.Ignored.Load(), stats.Skipped.Load(), stats.Unparseable.Load())
	}
	if sum.Quarantined != 1 {
		t.Fatalf("%d quarantined, want the unparseable message", sum.Quarantined)
	}
	var reason string
	if err := st.DB().QueryRow(`SELECT reason FROM quarantine`).Scan(&reason); err != nil || !strings.Contains(reason, "not a notification") {
		t.Fatalf("quarantine reason %q %v", reason, err)
	}
}

func TestRetryThenSucceed(t *testing.T) {
	q, b := newFakeQueue(), &fakeBucket{objects: map[string][]byte{}, fail: map[string][]error{}}
	b.objects["trail/"+ctKey(1)] = ctFile(t, "r1")
	b.fail[ctKey(1)] = []error{&awsapi.Error{Action: "s3:GetObject", Code: "SlowDown", Status: 503}}
	b.objects["trail/"+ctKey(2)] = ctFile(t, "r2")
	b.fail[ctKey(2)] = []error{&awsapi.Error{Action: "s3:GetObject", Code: "AccessDenied", Status: 403}}
	q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(1)))
	q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(2)))
	st := openStore(t)
	stats := &Stats{}
	src := New(Options{Queue: q, Fetcher: b, StopWhenEmpty: true, Stats: stats, Visibility: 10 * time.Second})
	// The first pass fails both; the retry backoff would hide them for
	// ~15 s, so make them visible again at once for the test.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for stats.Retried.Load() < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		q.mu.Lock()
		for _, m := range q.msgs {
			m.visibleAt = time.Time{}
		}
		q.mu.Unlock()
	}()
	src2 := &retryAware{Source: src, stats: stats}
	if _, err := pipeline.Run(context.Background(), src2, st, pipeline.Options{CommitEvery: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	<-done
	src.Close()
	if got := countEvents(t, st); got != 2 {
		t.Fatalf("%d events stored, want 2", got)
	}
	if q.remaining() != 0 {
		t.Fatalf("%d messages left", q.remaining())
	}
}

// retryAware keeps StopWhenEmpty from ending the run while retries are pending.
type retryAware struct {
	*Source
	stats *Stats
}

func (r *retryAware) Next(ctx context.Context) (*pipeline.Object, error) {
	for {
		o, err := r.Source.Next(ctx)
		if errors.Is(err, io.EOF) && r.stats.Retried.Load() < 2 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if errors.Is(err, io.EOF) && r.Source.InFlight() == 0 {
			// One more round to pick up the messages made visible again.
			if o, err2 := r.Source.Next(ctx); err2 == nil {
				return o, nil
			}
		}
		return o, err
	}
}

func TestPoisonAndMissingObjects(t *testing.T) {
	q, b := newFakeQueue(), &fakeBucket{objects: map[string][]byte{}}
	id := q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(1)))
	q.msgs[id].receives = 5                                                  // received 5 times already: the next is the 6th
	q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(2))) // deleted before it could be fetched
	st := openStore(t)
	stats := &Stats{}
	src := New(Options{Queue: q, Fetcher: b, StopWhenEmpty: true, Stats: stats, MaxReceives: 5})
	sum, err := pipeline.Run(context.Background(), src, st, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	if stats.Poison.Load() != 1 || sum.Quarantined != 2 || q.remaining() != 0 {
		t.Fatalf("poison %d quarantined %d remaining %d", stats.Poison.Load(), sum.Quarantined, q.remaining())
	}
	// The poison message's object is quarantined under its own key: the
	// ledger knows it is missing, and a backfill reads it again.
	var object string
	if err := st.DB().QueryRow(`SELECT object FROM quarantine WHERE reason LIKE '%poison%'`).Scan(&object); err != nil || !strings.HasSuffix(object, ctKey(1)) {
		t.Errorf("poison quarantined as %q (%v), want the announced object", object, err)
	}
	rows, err := st.DB().Query(`SELECT reason FROM quarantine ORDER BY reason`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var reasons []string
	for rows.Next() {
		var r string
		_ = rows.Scan(&r)
		reasons = append(reasons, r)
	}
	all := strings.Join(reasons, "\n")
	if !strings.Contains(all, "poison message m001: received 6 times") || !strings.Contains(all, "NoSuchKey") {
		t.Fatalf("reasons:\n%s", all)
	}
}

func TestHeartbeatKeepsMessagesInvisible(t *testing.T) {
	q, b := newFakeQueue(), &fakeBucket{objects: map[string][]byte{}, delay: 2500 * time.Millisecond}
	b.objects["trail/"+ctKey(1)] = ctFile(t, "h1")
	q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(1)))
	st := openStore(t)
	src := New(Options{Queue: q, Fetcher: b, StopWhenEmpty: true, Visibility: 2 * time.Second})
	if _, err := pipeline.Run(context.Background(), src, st, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	src.Close()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.extended == 0 {
		t.Fatal("the heartbeat never extended the visibility of the slow message")
	}
	if m := q.msgs["m001"]; m.receives != 1 {
		t.Fatalf("the message was received %d times: it became visible while being processed", m.receives)
	}
}

func TestStopDrains(t *testing.T) {
	q, b := newFakeQueue(), &fakeBucket{objects: map[string][]byte{}}
	for i := range 20 {
		b.objects["trail/"+ctKey(i)] = ctFile(t, fmt.Sprintf("s%d", i))
		q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(i)))
	}
	st := openStore(t)
	src := New(Options{Queue: q, Fetcher: b, MaxInFlight: 3})
	stopped := make(chan struct{})
	go func() {
		time.Sleep(150 * time.Millisecond)
		src.Stop()
		close(stopped)
	}()
	if _, err := pipeline.Run(context.Background(), src, st, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	<-stopped
	src.Close()
	// Every message that was received was either fully processed and
	// deleted, or left for another consumer; nothing is half done.
	if got, deleted := countEvents(t, st), len(q.deleted); got != deleted {
		t.Fatalf("%d events stored but %d messages deleted", got, deleted)
	}
}

var _ store.Store = (*duckdb.Store)(nil)

// depthQueue is a fakeQueue that reports its depth, as awsapi.Queue does.
type depthQueue struct{ *fakeQueue }

func (q depthQueue) Stats(context.Context) (awsapi.QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	var st awsapi.QueueStats
	for _, m := range q.msgs {
		switch {
		case m.deletedAlrdy:
		case m.visibleAt.After(now):
			st.InFlight++
		default:
			st.Visible++
		}
	}
	return st, nil
}

// TestDrainWaitsForInvisibleMessages: a message whose receive response
// was lost (the server made it invisible, the collector never saw it)
// comes back after its visibility timeout, and a drain waits for it
// instead of stopping with the queue not empty.
func TestDrainWaitsForInvisibleMessages(t *testing.T) {
	q, b := depthQueue{newFakeQueue()}, &fakeBucket{objects: map[string][]byte{}}
	for i := range 2 {
		b.objects["trail/"+ctKey(i)] = ctFile(t, fmt.Sprintf("v%d", i))
		q.send(fmt.Sprintf(`{"s3Bucket":"trail","s3ObjectKey":[%q]}`, ctKey(i)))
	}
	if lost, err := q.Receive(context.Background(), 1, 0, 700*time.Millisecond); err != nil || len(lost) != 1 {
		t.Fatalf("receive %v %v", lost, err)
	}
	st := openStore(t)
	src := New(Options{Queue: q, Fetcher: b, StopWhenEmpty: true, Wait: 100 * time.Millisecond, Visibility: time.Second})
	if _, err := pipeline.Run(context.Background(), src, st, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	src.Close()
	if n := q.remaining(); n != 0 || countEvents(t, st) != 2 {
		t.Fatalf("%d messages left, %d events stored", n, countEvents(t, st))
	}
}
