package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/store"
)

// fakeStore is an in-memory store.Store that records the order of
// appends, commits and acks.
type fakeStore struct {
	mu        sync.Mutex
	events    map[string]int // eventID -> times stored
	committed []string       // eventIDs committed, in order
	pending   []string
	ledger    map[string]store.LedgerEntry
	quar      []store.Quarantined
	commits   int
	failAt    int // fail the Nth commit (1-based); 0 never
}

func newFakeStore() *fakeStore {
	return &fakeStore{events: map[string]int{}, ledger: map[string]store.LedgerEntry{}}
}

func (s *fakeStore) Begin(context.Context) (store.Appender, error) { return &fakeAppender{s: s}, nil }
func (s *fakeStore) Query(context.Context, string, ...any) (*sql.Rows, error) {
	return nil, errors.New("not supported")
}
func (s *fakeStore) Ledger(_ context.Context, keys []string) (map[string]store.LedgerEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]store.LedgerEntry{}
	for _, k := range keys {
		if e, ok := s.ledger[k]; ok {
			out[k] = e
		}
	}
	return out, nil
}
func (s *fakeStore) Checkpoint(context.Context, string) (string, error)  { return "", nil }
func (s *fakeStore) SetCheckpoint(context.Context, string, string) error { return nil }
func (s *fakeStore) Retain(context.Context, time.Time) (int64, error)    { return 0, nil }
func (s *fakeStore) Close() error                                        { return nil }

type fakeAppender struct {
	s       *fakeStore
	objects []store.ObjectStatus
	quar    []store.Quarantined
}

func (a *fakeAppender) Append(_ context.Context, b *event.Batch) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	for _, e := range b.Events {
		a.s.pending = append(a.s.pending, strings.Clone(e.EventID))
	}
	for _, r := range b.AccessLogs {
		a.s.pending = append(a.s.pending, fmt.Sprintf("%s#%d", b.Object.Key, r.Line))
	}
	return nil
}
func (a *fakeAppender) ObjectDone(_ context.Context, o store.ObjectStatus) error {
	a.objects = append(a.objects, o)
	return nil
}
func (a *fakeAppender) Quarantine(_ context.Context, q store.Quarantined) error {
	a.quar = append(a.quar, q)
	return nil
}
func (a *fakeAppender) Commit(context.Context) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.commits++
	if a.s.commits == a.s.failAt {
		return errors.New("disk full")
	}
	for _, id := range a.s.pending {
		if a.s.events[id] == 0 {
			a.s.committed = append(a.s.committed, id)
		}
		a.s.events[id]++
	}
	for _, o := range a.objects {
		a.s.ledger[store.LedgerKey(o.Object)] = store.LedgerEntry{Key: store.LedgerKey(o.Object), Size: o.Object.Size, Records: o.Records, Error: o.Error, SHA256: o.SHA256}
	}
	a.s.quar = append(a.s.quar, a.quar...)
	a.s.pending, a.objects, a.quar = nil, nil, nil
	return nil
}
func (a *fakeAppender) Rollback(context.Context) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.pending, a.objects, a.quar = nil, nil, nil
	return nil
}
func (a *fakeAppender) Close() error { return a.Rollback(context.Background()) }

// memSource yields in-memory objects and records their acks.
type memSource struct {
	objs []*Object
	next int
	mu   sync.Mutex
	acks map[string]error
	// committedAtAck holds, per object, how many events the store had
	// committed when the object was acknowledged.
	committedAtAck map[string]int
	st             *fakeStore
}

func (m *memSource) Next(ctx context.Context) (*Object, error) {
	if m.next >= len(m.objs) {
		return nil, io.EOF
	}
	o := m.objs[m.next]
	m.next++
	return o, nil
}

func newMemSource(st *fakeStore, files map[string][]byte, order []string) *memSource {
	m := &memSource{acks: map[string]error{}, committedAtAck: map[string]int{}, st: st}
	for _, name := range order {
		data := files[name]
		key := name
		m.objs = append(m.objs, &Object{
			Ref:  event.ObjectRef{Key: key, Size: int64(len(data))},
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
			Ack: func(_ context.Context, err error) error {
				m.mu.Lock()
				defer m.mu.Unlock()
				if _, dup := m.acks[key]; dup {
					return fmt.Errorf("%s acknowledged twice", key)
				}
				m.acks[key] = err
				st.mu.Lock()
				m.committedAtAck[key] = len(st.committed)
				st.mu.Unlock()
				return nil
			},
		})
	}
	return m
}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return b.Bytes()
}

func records(ids ...string) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"2026-11-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","eventID":%q,"recipientAccountId":"111122223333"}`, id))
	}
	return `{"Records":[` + strings.Join(parts, ",") + `]}`
}

const accessLine = `79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-west-1`

// badInputs are objects that must be quarantined, with what their reason
// must mention, and how many good records each still yields.
var badInputs = []struct {
	name, content, reason string
	good                  int
}{
	{"corrupt.json.gz", "", "gzip", 0}, // content made in the test: a cut gzip stream
	{"truncated.json", records("t1", "t2")[:len(records("t1", "t2"))-30], "truncated", 1},
	{"not-cloudtrail.json", `{"hello":"world"}`, "not a CloudTrail", 0},
	{"empty.json", "", "empty", 0},
	{"binary.bin", "\x00\x01\x02\x03\xff\xfe binary", "unrecognized", 0},
	{"bad-record.json", `{"Records":[` + strings.TrimSuffix(strings.TrimPrefix(records("b1"), `{"Records":[`), "]}") + `,{"eventName": broken},` + strings.TrimSuffix(strings.TrimPrefix(records("b2"), `{"Records":[`), "]}") + `]}`, "record 1", 2},
	{"2026-11-01-10-00-00-0123456789ABCDEF", accessLine + "\nshort line here\n" + accessLine + "\n", "line 2", 2},
}

func TestBadInputQuarantinedGoodKept(t *testing.T) {
	files := map[string][]byte{"good.json.gz": gz(t, records("g1", "g2", "g3"))}
	order := []string{"good.json.gz"}
	for _, b := range badInputs {
		files[b.name] = []byte(b.content)
		if b.name == "corrupt.json.gz" {
			files[b.name] = append(gz(t, records("c1", "c2"))[:40:40], "garbage"...)
		}
		order = append(order, b.name)
	}
	st := newFakeStore()
	src := newMemSource(st, files, order)
	sum, err := Run(context.Background(), src, st, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Quarantined != int64(len(badInputs)) {
		t.Errorf("quarantined %d objects, want %d: %+v", sum.Quarantined, len(badInputs), sum.Problems)
	}
	wantGood := 3
	for _, b := range badInputs {
		wantGood += b.good
	}
	if len(st.committed) != wantGood {
		t.Errorf("committed %d records, want %d: %v", len(st.committed), wantGood, st.committed)
	}
	reasons := map[string]string{}
	for _, q := range st.quar {
		reasons[q.Object] = q.Reason
	}
	for _, b := range badInputs {
		r, ok := reasons[b.name]
		if !ok {
			t.Errorf("%s: not quarantined", b.name)
			continue
		}
		if !strings.Contains(strings.ToLower(r), strings.ToLower(b.reason)) {
			t.Errorf("%s: reason %q does not mention %q", b.name, r, b.reason)
		}
		if src.acks[b.name] == nil {
			t.Errorf("%s: acknowledged without its error", b.name)
		}
		if e := st.ledger[b.name]; e.Error == "" {
			t.Errorf("%s: ledger has no error", b.name)
		}
	}
	if err, ok := src.acks["good.json.gz"]; !ok || err != nil {
		t.Errorf("good object: ack %v, %v", ok, err)
	}
}

func TestAckAfterCommit(t *testing.T) {
	files := map[string][]byte{}
	var order []string
	total := 0
	for i := range 40 {
		name := fmt.Sprintf("f%02d.json.gz", i)
		var ids []string
		for j := range 50 {
			ids = append(ids, fmt.Sprintf("e%02d-%02d", i, j))
		}
		total += len(ids)
		files[name] = gz(t, records(ids...))
		order = append(order, name)
	}
	st := newFakeStore()
	src := newMemSource(st, files, order)
	// Commit often so acks interleave with commits.
	if _, err := Run(context.Background(), src, st, Options{Workers: 4, CommitRecords: 120}); err != nil {
		t.Fatal(err)
	}
	if len(st.committed) != total {
		t.Fatalf("committed %d, want %d", len(st.committed), total)
	}
	committedPos := map[string]int{}
	for i, id := range st.committed {
		committedPos[id] = i + 1
	}
	for i, name := range order {
		if err := src.acks[name]; err != nil {
			t.Fatalf("%s acked with %v", name, err)
		}
		// Every event of the object was committed before its ack.
		for j := range 50 {
			id := fmt.Sprintf("e%02d-%02d", i, j)
			if committedPos[id] == 0 || committedPos[id] > src.committedAtAck[name] {
				t.Fatalf("%s acknowledged before its event %s was committed", name, id)
			}
		}
	}
	if st.commits < 5 {
		t.Errorf("only %d commits; the test needs acks interleaved with commits", st.commits)
	}
}

func TestCommitFailureAcksNothingUncommitted(t *testing.T) {
	files := map[string][]byte{"a.json.gz": gz(t, records("a1")), "b.json.gz": gz(t, records("b1"))}
	st := newFakeStore()
	st.failAt = 1
	src := newMemSource(st, files, []string{"a.json.gz", "b.json.gz"})
	_, err := Run(context.Background(), src, st, Options{Workers: 1})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the commit failure", err)
	}
	if len(src.acks) != 0 {
		t.Fatalf("objects acknowledged although nothing was committed: %v", src.acks)
	}
}

func TestRetryableErrorIsNotQuarantined(t *testing.T) {
	st := newFakeStore()
	src := &memSource{acks: map[string]error{}, committedAtAck: map[string]int{}, st: st}
	src.objs = append(src.objs, &Object{
		Ref:  event.ObjectRef{Bucket: "b", Key: "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/x.json.gz"},
		Open: func(context.Context) (io.ReadCloser, error) { return nil, &RetryableError{Err: errors.New("SlowDown")} },
		Ack: func(_ context.Context, err error) error {
			src.acks["x"] = err
			return nil
		},
	})
	sum, err := Run(context.Background(), src, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Quarantined != 0 || sum.Retried != 1 || len(st.quar) != 0 || len(st.ledger) != 0 {
		t.Fatalf("summary %+v, quarantine %v, ledger %v", sum, st.quar, st.ledger)
	}
	if !IsRetryable(src.acks["x"]) {
		t.Fatalf("ack error %v is not retryable", src.acks["x"])
	}
}

func TestSkipIngested(t *testing.T) {
	files := map[string][]byte{"a.json.gz": gz(t, records("a1")), "b.json.gz": gz(t, records("b1"))}
	st := newFakeStore()
	if _, err := Run(context.Background(), newMemSource(st, files, []string{"a.json.gz"}), st, Options{SkipIngested: true}); err != nil {
		t.Fatal(err)
	}
	src := newMemSource(st, files, []string{"a.json.gz", "b.json.gz"})
	sum, err := Run(context.Background(), src, st, Options{SkipIngested: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 1 || len(src.acks) != 2 {
		t.Fatalf("skipped %d, acks %v", sum.Skipped, src.acks)
	}
	if st.events["a1"] != 1 || st.events["b1"] != 1 {
		t.Fatalf("events stored: %v", st.events)
	}
}

func TestCancelRollsBack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := newFakeStore()
	block := make(chan struct{})
	src := &memSource{acks: map[string]error{}, committedAtAck: map[string]int{}, st: st}
	src.objs = append(src.objs, &Object{
		Ref: event.ObjectRef{Key: "slow.json"},
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader(`{"Records":[`+strings.TrimSuffix(strings.TrimPrefix(records("s1"), `{"Records":[`), "]}")+","), blockingReader{block})), nil
		},
		Ack: func(_ context.Context, err error) error { src.acks["slow"] = err; return nil },
	})
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
		close(block)
	}()
	_, err := Run(ctx, src, st, Options{CommitEvery: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(st.committed) != 0 || len(src.acks) != 0 {
		t.Fatalf("committed %v, acks %v after cancel", st.committed, src.acks)
	}
}

type blockingReader struct{ c chan struct{} }

func (b blockingReader) Read([]byte) (int, error) {
	<-b.c
	return 0, errors.New("closed")
}

func TestObserveSeesEveryRecord(t *testing.T) {
	files := map[string][]byte{"a.json.gz": gz(t, records("a1", "a2")), "b.json": []byte(records("b1"))}
	st := newFakeStore()
	var mu sync.Mutex
	seen := map[string]bool{}
	_, err := Run(context.Background(), newMemSource(st, files, []string{"a.json.gz", "b.json"}), st, Options{
		Workers: 2,
		Observe: func(_ context.Context, b *event.Batch) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range b.Events {
				seen[strings.Clone(e.EventID)] = true
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Fatalf("observed %v", seen)
	}
}

// TestLogFileHashInLedger: a CloudTrail log file's SHA-256 over its
// uncompressed bytes (every gzip member, or the bytes as stored when not
// gzip'd) goes to the ledger, for digest validation; other objects get
// none.
func TestLogFileHashInLedger(t *testing.T) {
	const dir = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/"
	one, two := records("h1", "h2"), records("h3")
	multi := append(gz(t, one[:20]), gz(t, one[20:])...)
	files := map[string][]byte{
		dir + "111122223333_CloudTrail_us-east-1_20261101T1000Z_aaaaaaaaaaaaaaaa.json.gz": gz(t, one),
		dir + "111122223333_CloudTrail_us-east-1_20261101T1005Z_bbbbbbbbbbbbbbbb.json.gz": multi,
		dir + "111122223333_CloudTrail_us-east-1_20261101T1010Z_cccccccccccccccc.json":    []byte(two),
		"2026-11-01-10-00-00-0123456789ABCDEF":                                            []byte(accessLine + "\n"),
	}
	var order []string
	for k := range files {
		order = append(order, k)
	}
	st := newFakeStore()
	if _, err := Run(t.Context(), newMemSource(st, files, order), st, Options{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		dir + "111122223333_CloudTrail_us-east-1_20261101T1000Z_aaaaaaaaaaaaaaaa.json.gz": hexSHA256(one),
		dir + "111122223333_CloudTrail_us-east-1_20261101T1005Z_bbbbbbbbbbbbbbbb.json.gz": hexSHA256(one),
		dir + "111122223333_CloudTrail_us-east-1_20261101T1010Z_cccccccccccccccc.json":    hexSHA256(two),
		"2026-11-01-10-00-00-0123456789ABCDEF":                                            "",
	}
	for k, w := range want {
		e, ok := st.ledger[store.LedgerKey(event.ObjectRef{Key: k})]
		if !ok || e.SHA256 != w {
			t.Errorf("%s: ledger %+v, want sha256 %q", k, e, w)
		}
	}
}

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// BenchmarkLogFileHash measures what hashing CloudTrail log files at
// ingest costs: the same gzip'd log files, named as CloudTrail log files
// (hashed) and not (not hashed), through the pipeline into an in-memory
// store (so the parse and the hash are all there is):
//
//	go test -tags duckdb_arrow -run XXX -bench LogFileHash -cpu 2 ./internal/pipeline/
func BenchmarkLogFileHash(b *testing.B) {
	const files, perFile = 32, 1000
	var ev strings.Builder
	for i := range perFile {
		if i > 0 {
			ev.WriteByte(',')
		}
		fmt.Fprintf(&ev, `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE%04d","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"},"attributes":{"creationDate":"2026-11-01T09:00:00Z","mfaAuthenticated":"true"}}},"eventTime":"2026-11-01T10:%02d:%02dZ","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.%d","userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64","requestParameters":{"instancesSet":{},"filterSet":{"items":[{"name":"tag:env","valueSet":{"items":[{"value":"prod"}]}}]}},"responseElements":null,"requestID":"%08x-1111-2222-3333-444455556666","eventID":"%08x-aaaa-bbbb-cccc-ddddeeeeffff","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.us-east-1.amazonaws.com"}}`,
			i, i%60, i%60, i%250, i, i)
	}
	data := gz(b, `{"Records":[`+ev.String()+`]}`)
	for _, named := range []string{"hashed", "not-hashed"} {
		b.Run(named, func(b *testing.B) {
			fs := map[string][]byte{}
			var order []string
			for i := range files {
				k := fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T10%02dZ_%016d.json.gz", i%60, i)
				if named == "not-hashed" {
					k = fmt.Sprintf("other/%d.json.gz", i)
				}
				fs[k] = data
				order = append(order, k)
			}
			b.SetBytes(int64(files * len(data)))
			cpu0 := cpuTime()
			for b.Loop() {
				st := newFakeStore()
				if _, err := Run(b.Context(), newMemSource(st, fs, order), st, Options{Workers: 2}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*files*perFile), "ns/event")
			// CPU time is what a shared machine measures best.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*files*perFile), "cpu-ns/event")
		})
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleSource hands out its objects, then waits like an idle queue.
type idleSource struct{ m *memSource }

func (s *idleSource) Next(ctx context.Context) (*Object, error) {
	o, err := s.m.Next(ctx)
	if err != io.EOF {
		return o, err
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestWriterFailureStopsTheFeed: when a commit fails, Run returns the
// error instead of waiting on a source that has nothing more to give.
func TestWriterFailureStopsTheFeed(t *testing.T) {
	files := map[string][]byte{"a.json.gz": gz(t, records("a1"))}
	st := newFakeStore()
	st.failAt = 1
	src := &idleSource{newMemSource(st, files, []string{"a.json.gz"})}
	done := make(chan error, 1)
	go func() { _, err := Run(context.Background(), src, st, Options{Workers: 1}); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run succeeded although the commit failed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the commit failed")
	}
}
