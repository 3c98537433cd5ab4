package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/gen"
	"github.com/trailwatch/trailwatch/internal/parse/cloudtrail"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
	"github.com/trailwatch/trailwatch/internal/testsrv"
)

// env is a pair of real servers with a session on them.
type env struct {
	s3   *testsrv.S3
	sqs  *testsrv.SQS
	sess *awsapi.Session
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s3srv, sqssrv := testsrv.StartS3(t), testsrv.StartSQS(t)
	testsrv.Env(t, s3srv, sqssrv)
	sess, err := awsapi.New(context.Background(), awsapi.Config{S3PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return &env{s3: s3srv, sqs: sqssrv, sess: sess}
}

// uploaded is an object put in a bucket.
type uploaded struct {
	Bucket, Key string
	Size        int64
	Kind        event.Kind
	// File is the local file the object was uploaded from.
	File string
}

// generate writes a small organization's logs (CloudTrail logs, digests,
// S3 access logs) under a temporary directory.
func generate(t testing.TB, hours, events int) string {
	t.Helper()
	dir := t.TempDir()
	_, err := gen.Generate(context.Background(), gen.Options{Dir: dir, Seed: 7, Hours: hours, Events: events, Accounts: 2,
		Regions: []string{"us-east-1", "eu-west-1"}, AccessLogLines: events / 10, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// upload puts every generated object into its bucket (creating the
// buckets), with the digest signatures as metadata as CloudTrail does.
func (e *env) upload(t testing.TB, root string) []uploaded {
	t.Helper()
	ctx := context.Background()
	b := e.sess.S3("")
	var out []uploaded
	buckets := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".metadata.json") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		bucket, key, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if !ok {
			return nil // not in a bucket (the generator's public keys)
		}
		if !buckets[bucket] {
			if err := b.CreateBucket(ctx, bucket); err != nil {
				return err
			}
			buckets[bucket] = true
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var meta map[string]string
		if m, err := os.ReadFile(path + ".metadata.json"); err == nil {
			if err := json.Unmarshal(m, &meta); err != nil {
				return err
			}
		}
		if err := b.Put(ctx, bucket, key, bytes.NewReader(data), meta); err != nil {
			return err
		}
		out = append(out, uploaded{Bucket: bucket, Key: key, Size: int64(len(data)), Kind: event.ClassifyKey(key).Kind, File: path})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b uploaded) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// eventKey is what makes a CloudTrail event unique in the store.
type eventKey struct{ ID, Account string }

// expectedEvents parses the CloudTrail logs among objs from root.
func expectedEvents(t *testing.T, root string, objs []uploaded) map[eventKey]bool {
	t.Helper()
	p := cloudtrail.NewParser(cloudtrail.Options{})
	want := map[eventKey]bool{}
	for _, o := range objs {
		if o.Kind != event.KindCloudTrail {
			continue
		}
		f, err := os.Open(o.File)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		var b event.Batch
		err = p.Parse(context.Background(), zr, &b, func(b *event.Batch) error {
			for _, e := range b.Events {
				acct := e.RecipientAccountID
				want[eventKey{strings.Clone(e.EventID), strings.Clone(acct)}] = true
			}
			return nil
		})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
	}
	return want
}

// storedEvents reads the (eventID, account) pairs in a database, and how
// many rows there are (to catch duplicates).
func storedEvents(t *testing.T, db string) (map[eventKey]bool, int) {
	t.Helper()
	ctx := context.Background()
	st, err := duckdb.Open(ctx, db, duckdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Query(ctx, "SELECT eventID, recipientAccountId FROM cloudtrail_events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[eventKey]bool{}
	n := 0
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.ID, &k.Account); err != nil {
			t.Fatal(err)
		}
		got[k] = true
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got, n
}

// queryInt runs a one-number query.
func queryInt(t *testing.T, db, q string) int64 { return queryOne[int64](t, db, q) }

// queryString runs a one-string query.
func queryString(t *testing.T, db, q string) string { return queryOne[string](t, db, q) }

// queryOne runs a query that returns one value (its zero value when no
// row or NULL), on a read-only open of the database.
func queryOne[T any](t *testing.T, db, q string) T {
	t.Helper()
	ctx := context.Background()
	st, err := duckdb.Open(ctx, db, duckdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var v *T
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	if v == nil {
		var zero T
		return zero
	}
	return *v
}

// compareEvents fails the test unless got equals want exactly.
func compareEvents(t *testing.T, want, got map[eventKey]bool, rows int) {
	t.Helper()
	var missing, extra []eventKey
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 || len(extra) > 0 || rows != len(want) {
		t.Fatalf("stored %d rows, %d distinct events; want %d: %d missing (e.g. %v), %d unexpected (e.g. %v)",
			rows, len(got), len(want), len(missing), first(missing), len(extra), first(extra))
	}
}

func first(ks []eventKey) []eventKey { return ks[:min(3, len(ks))] }

// Notification bodies in the shapes AWS sends.

func s3EventBody(o uploaded, t time.Time) string {
	key := strings.ReplaceAll(url.QueryEscape(o.Key), "%2F", "/") // S3 encodes like a form: space as +
	return fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":%q,`+
		`"eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AROAEXAMPLE:regionalDeliverySession"},`+
		`"requestParameters":{"sourceIPAddress":"10.0.0.1"},"responseElements":{"x-amz-request-id":"R1","x-amz-id-2":"X"},`+
		`"s3":{"s3SchemaVersion":"1.0","configurationId":"trailwatch","bucket":{"name":%q,"ownerIdentity":{"principalId":"A1"},"arn":"arn:aws:s3:::%s"},`+
		`"object":{"key":%q,"size":%d,"eTag":"0123456789abcdef","sequencer":"0055AED6DCD90281E5"}}}]}`,
		t.UTC().Format("2006-01-02T15:04:05.000Z"), o.Bucket, o.Bucket, key, o.Size)
}

func cloudTrailBody(bucket string, keys []string) string {
	b, _ := json.Marshal(map[string]any{"s3Bucket": bucket, "s3ObjectKey": keys})
	return string(b)
}

func eventBridgeBody(o uploaded, t time.Time) string {
	return fmt.Sprintf(`{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3",`+
		`"account":"111122223333","time":%q,"region":"us-east-1","resources":["arn:aws:s3:::%s"],`+
		`"detail":{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":%d,"etag":"b1946ac92492d2347c6235b4d2611184","sequencer":"617f08299329d189"},`+
		`"request-id":"N4N7GDK58NMKJ12R","requester":"cloudtrail.amazonaws.com","source-ip-address":"10.0.0.1","reason":"PutObject"}}`,
		t.UTC().Format(time.RFC3339), o.Bucket, o.Bucket, o.Key, o.Size)
}

func testEventBody(bucket string) string {
	return fmt.Sprintf(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-01T00:00:00.000Z","Bucket":%q,"RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`, bucket)
}

// gunzip is for reading a generated object in tests.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
