package awsapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/testsrv"
)

func TestAgainstRealServers(t *testing.T) {
	s3srv, sqssrv := testsrv.StartS3(t), testsrv.StartSQS(t)
	testsrv.Env(t, s3srv, sqssrv)
	ctx := context.Background()
	sess, err := awsapi.New(ctx, awsapi.Config{S3PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	b := sess.S3("")
	if err := b.CreateBucket(ctx, "trail-bucket"); err != nil {
		t.Fatal(err)
	}
	key := "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/d.json.gz"
	if err := b.Put(ctx, "trail-bucket", key, strings.NewReader("hello"), map[string]string{"signature": "abc", "signature-algorithm": "SHA256withRSA"}); err != nil {
		t.Fatal(err)
	}
	o, err := b.Get(ctx, "trail-bucket", key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(o.Body)
	o.Body.Close()
	if string(body) != "hello" || o.Size != 5 || o.Metadata["signature"] != "abc" || o.Metadata["signature-algorithm"] != "SHA256withRSA" {
		t.Fatalf("object %q %+v", body, o)
	}
	var keys []string
	if err := b.List(ctx, "trail-bucket", "AWSLogs/", "", func(oi awsapi.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil || len(keys) != 1 {
		t.Fatalf("list: %v %v", keys, err)
	}
	prefixes, err := b.Prefixes(ctx, "trail-bucket", "AWSLogs/")
	if err != nil || len(prefixes) != 1 || prefixes[0] != "AWSLogs/111122223333/" {
		t.Fatalf("prefixes %v %v", prefixes, err)
	}
	_, err = b.Get(ctx, "trail-bucket", "no/such/key")
	if !awsapi.IsNotFound(err) || awsapi.IsRetryable(err) || !strings.Contains(err.Error(), "s3:GetObject") || !strings.Contains(err.Error(), "s3://trail-bucket/no/such/key") {
		t.Fatalf("missing key: %v", err)
	}

	url, err := sess.CreateQueue(ctx, "trail-events", nil)
	if err != nil {
		t.Fatal(err)
	}
	q := sess.Queue(url)
	if err := q.Send(ctx, `{"s3Bucket":"trail-bucket","s3ObjectKey":["`+key+`"]}`); err != nil {
		t.Fatal(err)
	}
	msgs, err := q.Receive(ctx, 10, time.Second, 30*time.Second)
	if err != nil || len(msgs) != 1 || msgs[0].ReceiveCount != 1 || msgs[0].SentAt.IsZero() {
		t.Fatalf("receive %+v %v", msgs, err)
	}
	if err := q.ChangeVisibility(ctx, []string{msgs[0].ReceiptHandle}, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if failed, err := q.Delete(ctx, []string{msgs[0].ReceiptHandle}); err != nil || len(failed) != 0 {
		t.Fatalf("delete %v %v", failed, err)
	}
	st, err := q.Stats(ctx)
	if err != nil || st.Visible != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
	var ae *awsapi.Error
	_, err = sess.Queue(strings.Replace(url, "trail-events", "nope", 1)).Receive(ctx, 1, 0, time.Second)
	if !errors.As(err, &ae) {
		t.Fatalf("missing queue: %v", err)
	}
	t.Logf("missing queue error: %v", err)
}

func TestQueueRegion(t *testing.T) {
	for url, want := range map[string]string{
		"https://sqs.eu-west-1.amazonaws.com/111122223333/q": "eu-west-1",
		"https://sqs.us-gov-west-1.amazonaws.com/1/q":        "us-gov-west-1",
		"https://eu-central-1.queue.amazonaws.com/1/q":       "eu-central-1",
		"https://sqs.cn-north-1.amazonaws.com.cn/1/q":        "cn-north-1",
		"http://sqs.us-east-1.localhost:4566/000000000000/q": "us-east-1",
		"http://127.0.0.1:4566/000000000000/q":               "",
	} {
		if got := awsapi.QueueRegion(url); got != want {
			t.Errorf("QueueRegion(%s) = %q, want %q", url, got, want)
		}
	}
}

// TestBucketInAnotherRegion: S3 answers a request signed for the wrong
// region with 301 and x-amz-bucket-region; the client follows it once and
// remembers the bucket's region.
func TestBucketInAnotherRegion(t *testing.T) {
	var mu sync.Mutex
	var regions []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization") // Credential=AKID/20260101/<region>/s3/aws4_request
		region := strings.Split(strings.SplitN(auth, "Credential=", 2)[1], "/")[2]
		mu.Lock()
		regions = append(regions, region)
		mu.Unlock()
		if region != "eu-west-1" {
			w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
			w.WriteHeader(http.StatusMovedPermanently)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message></Error>`)
			return
		}
		fmt.Fprint(w, "content")
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	ctx := context.Background()
	sess, err := awsapi.New(ctx, awsapi.Config{Region: "us-east-1", EndpointURL: srv.URL, S3PathStyle: true, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		o, err := sess.S3("").Get(ctx, "trail", "k")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(o.Body)
		o.Body.Close()
		if string(b) != "content" {
			t.Fatalf("body %q", b)
		}
	}
	if want := []string{"us-east-1", "eu-west-1", "eu-west-1"}; !slices.Equal(regions, want) {
		t.Errorf("regions asked = %v, want %v", regions, want)
	}
}
