package e2e

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/cli"
	"github.com/trailwatch/trailwatch/internal/event"
)

// runCLI runs the trailwatch command line in this process.
// tlog streams a command's output to the test log as it runs (with -v),
// so a hang shows what the command was doing.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	var w io.Writer = &out
	if testing.Verbose() {
		w = io.MultiWriter(&out, tlog{t})
	}
	code := cli.Main(context.Background(), args, strings.NewReader(""), w, w)
	return code, out.String()
}

// TestCollectEveryNotificationShape delivers a small organization's logs
// the ways AWS announces them — S3 event notifications straight to SQS and
// through an SNS topic (raw and enveloped), CloudTrail's own notification
// through SNS, EventBridge, and s3:TestEvent — and collects the queue.
// Every event is stored once, every message deleted, nothing quarantined.
func TestCollectEveryNotificationShape(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := generate(t, 2, 6000)
	objs := e.upload(t, root)

	// An object whose key needs URL decoding (space and plus), a copy of a
	// real log: its events are duplicates, which the store drops.
	var ct []uploaded
	for _, o := range objs {
		if o.Kind == event.KindCloudTrail {
			ct = append(ct, o)
		}
	}
	odd := ct[0]
	odd.Key = strings.Replace(odd.Key, ".json.gz", " copy+1.json.gz", 1)
	data, err := os.ReadFile(ct[0].File)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sess.S3("").Put(ctx, odd.Bucket, odd.Key, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	objs = append(objs, odd)

	qURL, err := e.sess.CreateQueue(ctx, "cloudtrail-events", nil)
	if err != nil {
		t.Fatal(err)
	}
	q := e.sess.Queue(qURL)
	qARN, err := q.ARN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sns := e.sess.SNS("")
	topic, err := sns.CreateTopic(ctx, "cloudtrail-topic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sns.SubscribeQueue(ctx, topic, qARN, false); err != nil {
		t.Fatal(err)
	}
	rawTopic, err := sns.CreateTopic(ctx, "s3-events-raw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sns.SubscribeQueue(ctx, rawTopic, qARN, true); err != nil {
		t.Fatal(err)
	}

	// Deal the objects out over the shapes.
	now := time.Now()
	shapes := map[string]int{}
	// CloudTrail notifies its own log files, a few keys of one bucket per
	// message.
	ctBatch := map[string][]string{}
	for i, o := range objs {
		shape := i % 5
		if shape == 4 && o.Kind != event.KindCloudTrail {
			shape = 0
		}
		switch shape {
		case 0:
			must(t, q.Send(ctx, s3EventBody(o, now)))
			shapes["s3"]++
		case 1:
			must(t, sns.Publish(ctx, topic, s3EventBody(o, now)))
			shapes["sns-s3"]++
		case 2:
			must(t, sns.Publish(ctx, rawTopic, s3EventBody(o, now)))
			shapes["sns-raw-s3"]++
		case 3:
			must(t, q.Send(ctx, eventBridgeBody(o, now)))
			shapes["eventbridge"]++
		case 4:
			ctBatch[o.Bucket] = append(ctBatch[o.Bucket], o.Key)
			if len(ctBatch[o.Bucket]) == 3 {
				must(t, sns.Publish(ctx, topic, cloudTrailBody(o.Bucket, ctBatch[o.Bucket])))
				delete(ctBatch, o.Bucket)
				shapes["cloudtrail-sns"]++
			}
		}
	}
	for bucket, keys := range ctBatch {
		must(t, sns.Publish(ctx, topic, cloudTrailBody(bucket, keys)))
		shapes["cloudtrail-sns"]++
	}
	must(t, q.Send(ctx, testEventBody(objs[0].Bucket)))
	t.Logf("%d objects announced: %v", len(objs), shapes)
	messages := int64(1) // the test event
	for _, n := range shapes {
		messages += int64(n)
	}
	waitQueued(t, q, messages)

	db := filepath.Join(t.TempDir(), "tw.duckdb")
	code, out := runCLI(t, "collect", "--queue-url", qURL, "--drain", "--s3-path-style", "--db", db, "--progress", "never", "--workers", "2")
	if code != 0 {
		t.Fatalf("collect exit %d:\n%s", code, out)
	}

	want := expectedEvents(t, root, objs)
	got, rows := storedEvents(t, db)
	if len(got) != len(want) {
		for _, o := range objs {
			if queryInt(t, db, "SELECT count(*) FROM tw_objects WHERE uri = 's3://"+o.Bucket+"/"+strings.ReplaceAll(o.Key, "'", "''")+"'") == 0 {
				t.Logf("not collected: %s %s", o.Bucket, o.Key)
			}
		}
		st, err := q.Stats(ctx)
		t.Logf("queue after the drain: %+v %v", st, err)
	}
	compareEvents(t, want, got, rows)
	if n := queryInt(t, db, "SELECT count(*) FROM quarantine"); n != 0 {
		t.Errorf("%d objects quarantined", n)
	}
	var accessLogs, digests int64
	for _, o := range objs {
		switch o.Kind {
		case event.KindAccessLog:
			accessLogs++
		case event.KindDigest:
			digests++
		}
	}
	if n := queryInt(t, db, "SELECT count(DISTINCT source_object) FROM s3_access_logs"); n != accessLogs {
		t.Errorf("access log objects stored = %d, want %d", n, accessLogs)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM cloudtrail_digests WHERE signature <> ''"); n != digests {
		t.Errorf("signed digests stored = %d, want %d", n, digests)
	}
	st, err := q.Stats(ctx)
	if err != nil || st.Visible+st.InFlight+st.Delayed != 0 {
		t.Errorf("queue not empty after the drain: %+v %v", st, err)
	}
	// Collecting again finds nothing new.
	code, out = runCLI(t, "collect", "--queue-url", qURL, "--drain", "--s3-path-style", "--db", db, "--progress", "never")
	if code != 0 {
		t.Fatalf("second collect exit %d:\n%s", code, out)
	}
	got, rows = storedEvents(t, db)
	compareEvents(t, want, got, rows)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGenUploadNotifyCollect is the README's local walk-through: gen
// delivers into buckets and announces on a queue it creates, collect
// drains it, and everything generated is stored.
func TestGenUploadNotifyCollect(t *testing.T) {
	newEnv(t)
	dir := t.TempDir()
	code, out := runCLI(t, "gen", "--dir", filepath.Join(dir, "logs"), "--hours", "1", "--events", "3000", "--accounts", "1",
		"--upload", "--notify", "walkthrough", "--s3-path-style")
	if code != 0 {
		t.Fatalf("gen exit %d:\n%s", code, out)
	}
	queue := lastLine(out)
	if !strings.HasPrefix(queue, "http") {
		t.Fatalf("gen did not print the queue URL:\n%s", out)
	}
	db := filepath.Join(dir, "tw.duckdb")
	if code, out := runCLI(t, "collect", "--queue-url", queue, "--drain", "--s3-path-style", "--db", db, "--progress", "never"); code != 0 {
		t.Fatalf("collect exit %d:\n%s", code, out)
	}
	var objs []uploaded
	err := filepath.WalkDir(filepath.Join(dir, "logs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json.gz") && event.ClassifyKey(filepath.ToSlash(path)).Kind == event.KindCloudTrail {
			objs = append(objs, uploaded{Kind: event.KindCloudTrail, File: path})
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := expectedEvents(t, "", objs)
	got, rows := storedEvents(t, db)
	compareEvents(t, want, got, rows)
}

// waitQueued waits until the queue holds n messages: SNS delivers what it
// fans out asynchronously.
func waitQueued(t *testing.T, q *awsapi.Queue, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := q.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Visible >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages queued after 30 s", st.Visible, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
