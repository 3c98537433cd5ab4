package integrity

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/integrity/integritytest"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/source/poll"
	"github.com/trailwatch/trailwatch/internal/testsrv"
)

// s3Env is a real S3-compatible server (VersityGW) and a CloudTrail
// stand-in speaking AWS JSON 1.1, both on 127.0.0.1, with a session that
// reaches them through the SDK.
type s3Env struct {
	sess *awsapi.Session
	ct   *integritytest.CloudTrail
}

func newS3Env(t testing.TB, keys ...*rsa.PrivateKey) *s3Env {
	t.Helper()
	srv := testsrv.StartS3(t)
	testsrv.Env(t, srv, nil)
	ct := &integritytest.CloudTrail{Keys: keys, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	hs := httptest.NewServer(ct)
	t.Cleanup(hs.Close)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", hs.URL)
	sess, err := awsapi.New(context.Background(), awsapi.Config{S3PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return &s3Env{sess: sess, ct: ct}
}

// upload puts every object of root (one directory per bucket) into the
// server, with the sidecars' metadata as x-amz-meta-*.
func (e *s3Env) upload(t testing.TB, root string) {
	t.Helper()
	ctx := context.Background()
	b := e.sess.S3("")
	names, err := integritytest.Buckets(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := b.CreateBucket(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	err = integritytest.Objects(root, 16, func(bucket, key string, data []byte, meta map[string]string) error {
		return b.Put(ctx, bucket, key, bytes.NewReader(data), meta)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFindingsS3 produces every finding of TestFindings on a real S3
// server, with the digests' signatures in the objects' metadata and the
// public keys from the CloudTrail stand-in through ListPublicKeys.
func TestFindingsS3(t *testing.T) {
	key, _ := keys(t)
	e := newS3Env(t, key)
	for i, tc := range findingCases() {
		if tc.local {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			bucket := fmt.Sprintf("trail-bucket-%02d", i)
			f := newFx(t, func(o *chainOpts) {
				o.Bucket = bucket
				if tc.mod != nil {
					tc.mod(o)
				}
			})
			v, req := f.verifier(), f.request()
			if tc.tamper != nil {
				tc.tamper(t, f, &req, v)
			}
			e.upload(t, f.root)
			buckets := S3Buckets{S3: e.sess.S3("")}
			v.Buckets, v.Events = buckets, BucketTrailEvents{Buckets: buckets}
			v.Workers, v.Fetchers = 16, 16
			if sk, ok := v.Keys.(*StaticKeys); ok && sk == f.keys {
				v.Keys = CloudTrailKeys{Session: e.sess}
			}
			results, sum := runVerify(t, v, req)
			checkFindings(t, tc, f, results, sum)
		})
	}
	// The keys were fetched in the digests' region, through every page.
	calls := e.ct.Calls()
	if !slices.Contains(calls, "ListPublicKeys us-east-1") {
		t.Errorf("CloudTrail calls %v", calls)
	}
}

// TestS3Failures: a bucket without digests, a missing bucket and a denied
// ListPublicKeys are reported, not mistaken for valid logs.
func TestS3Failures(t *testing.T) {
	key, other := keys(t)
	e := newS3Env(t, other, key) // two pages: the right key on the second
	f := newFx(t, func(o *chainOpts) { o.Bucket = "failures"; o.Hours = 2 })
	e.upload(t, f.root)
	buckets := S3Buckets{S3: e.sess.S3("")}
	v := &Verifier{Buckets: buckets, Keys: CloudTrailKeys{Session: e.sess}}
	req := f.request()
	results, sum := runVerify(t, v, req)
	if got := findings(results); len(got) != 0 || sum.Digests.Valid != 2 || !sum.OK() {
		t.Errorf("paged keys: findings %v, digests %+v", got, sum.Digests)
	}
	if n := strings.Count(strings.Join(e.ct.Calls(), "\n"), "ListPublicKeys"); n < 2 {
		t.Errorf("ListPublicKeys called %d times, want every page", n)
	}

	req.Bucket = "no-such-bucket"
	if _, err := v.Verify(t.Context(), req, func(*Result) error { return nil }); err == nil || !strings.Contains(err.Error(), "s3:ListBucket") {
		t.Errorf("missing bucket: %v", err)
	}

	e.ct.FailListPK.Store(true)
	v.Keys = CloudTrailKeys{Session: e.sess}
	req.Bucket = f.c.Bucket
	_, err := v.Verify(t.Context(), req, func(*Result) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "cloudtrail:ListPublicKeys denied") {
		t.Errorf("denied ListPublicKeys: %v", err)
	}
}

// TestMonitorFromS3 collects a chain from a real S3 server by polling (the
// digests' signatures come from the objects' metadata), and the Monitor
// validates it from the store, with public keys from ListPublicKeys and
// the bucket for a log file it never collected.
func TestMonitorFromS3(t *testing.T) {
	key, _ := keys(t)
	e := newS3Env(t, key)
	f := newMonitorFx(t, func(o *chainOpts) { o.Bucket = "polled" })
	if err := integritytest.WriteGz(f.c.Path(f.c.LogFiles[4][1]), []byte(`{"Records":[]}`)); err != nil {
		t.Fatal(err)
	}
	e.upload(t, f.root)
	// Collected by polling, except one log file (its notification lost).
	src := poll.New(poll.Options{Bucket: "polled", S3: e.sess.S3("")})
	skip := f.c.LogFiles[2][0]
	filtered := sourceFunc(func(ctx context.Context) (*pipeline.Object, error) {
		for {
			o, err := src.Next(ctx)
			if err != nil || o.Ref.Key != skip {
				return o, err
			}
		}
	})
	if _, err := pipeline.Run(t.Context(), filtered, f.st, pipeline.Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	if led, err := f.st.Ledger(t.Context(), []string{skip}); err != nil || len(led) != 0 {
		t.Fatalf("the skipped log file is in the ledger: %v %v", led, err)
	}
	if led, err := f.st.Ledger(t.Context(), []string{f.c.LogFiles[2][1]}); err != nil || led[f.c.LogFiles[2][1]].SHA256 == "" {
		t.Fatalf("a collected log file has no hash in the ledger: %v %v", led, err)
	}
	buckets := S3Buckets{S3: e.sess.S3("")}
	m := f.monitor(MonitorOptions{Keys: CloudTrailKeys{Session: e.sess}, Buckets: buckets})
	f.set(f.clock().Add(15 * time.Minute))
	sum, err := m.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedFindings(sum.Results), []finding{{LogFileModified, path.Base(f.c.LogFiles[4][1])}}; !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
		for _, r := range sum.Results {
			t.Log(r.Message, r.Detail)
		}
	}
	// Signatures from the S3 metadata: every digest proven; the log file
	// never collected was read from the bucket and proven too.
	if st, dv, lv, li := f.status(t); st != "invalid" || dv != 6 || lv != 11 || li != 1 {
		t.Errorf("status %s: %d digests valid, logs %d valid %d invalid", st, dv, lv, li)
	}
}

// sourceFunc adapts a function to pipeline.Source.
type sourceFunc func(ctx context.Context) (*pipeline.Object, error)

func (f sourceFunc) Next(ctx context.Context) (*pipeline.Object, error) { return f(ctx) }
