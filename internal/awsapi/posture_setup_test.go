package awsapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/posture"
	"github.com/trailwatch/trailwatch/internal/setup"
	"github.com/trailwatch/trailwatch/internal/testsrv"
)

// TestSetupApplyQueue runs setup apply's queue part against fauxqs (a real
// SQS and SNS implementation): the queue is created with its policy and
// encryption and subscribed to the trail's topic; a second run changes
// nothing; the audit then reads the queue and the topic and finds them
// clean.
func TestSetupApplyQueue(t *testing.T) {
	srv := testsrv.StartSQS(t)
	testsrv.Env(t, nil, srv)
	ctx := context.Background()
	sess, err := awsapi.New(ctx, awsapi.Config{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	account, err := sess.Posture().CallerAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	topicARN, err := sess.SNS("").CreateTopic(ctx, setup.DefaultTopicName)
	if err != nil {
		t.Fatal(err)
	}
	p := setup.Params{Account: account, Region: testsrv.Region, Bucket: "trail-logs"}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	if p.TopicARN() != topicARN {
		t.Fatalf("topic %s, the server made %s", p.TopicARN(), topicARN)
	}
	api := sess.Setup("")

	// a dry run reads only
	steps, err := setup.Apply(ctx, api, p, setup.ApplyOptions{Notifications: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if url, err := api.QueueURL(ctx, p.QueueName); err != nil || url != "" {
		t.Fatalf("dry run created the queue: %q %v", url, err)
	}
	if got := calls(steps, true); strings.Join(got, " ") != "sqs:CreateQueue sns:Subscribe" {
		t.Errorf("dry run plans %v", got)
	}

	steps, err = setup.Apply(ctx, api, p, setup.ApplyOptions{Notifications: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := calls(steps, true); strings.Join(got, " ") != "sqs:CreateQueue sns:Subscribe" {
		t.Errorf("first run made %v", got)
	}
	steps, err = setup.Apply(ctx, api, p, setup.ApplyOptions{Notifications: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := calls(steps, true); len(got) != 0 {
		t.Errorf("second run changed %v", got)
	}

	url, err := api.QueueURL(ctx, p.QueueName)
	if err != nil || url == "" {
		t.Fatalf("queue %q %v", url, err)
	}
	attrs, err := api.QueueAttributes(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if attrs["QueueArn"] != p.QueueARN() || !setup.SamePolicy(attrs["Policy"], p.QueuePolicy().Compact()) || sseOff(attrs) {
		t.Errorf("queue attributes %v", attrs)
	}

	// a policy changed by hand is put back
	if err := api.SetQueueAttributes(ctx, url, map[string]string{"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"` + p.QueueARN() + `"}]}`}); err != nil {
		t.Fatal(err)
	}
	steps, err = setup.Apply(ctx, api, p, setup.ApplyOptions{Notifications: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := calls(steps, true); strings.Join(got, " ") != "sqs:SetQueueAttributes" {
		t.Errorf("repair made %v", got)
	}

	// the audit reads the topic and the queue apply made: clean
	src := sess.Posture()
	tp, errs := src.Topic(ctx, topicARN)
	if len(errs) > 0 {
		t.Fatal(errs[0].Err)
	}
	if len(tp.Subscriptions) != 1 || tp.Subscriptions[0].Protocol != "sqs" || tp.Subscriptions[0].Endpoint != p.QueueARN() {
		t.Errorf("subscriptions %+v", tp.Subscriptions)
	}
	q, errs := src.Queue(ctx, p.QueueARN())
	if len(errs) > 0 {
		t.Fatal(errs[0].Err)
	}
	a := &posture.Account{ID: account, Queues: map[string]*posture.Queue{q.ARN: q}, Topics: map[string]*posture.Topic{topicARN: tp},
		PublicAccessBlock: &posture.PublicAccessBlock{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}}
	if fs := posture.Evaluate(&posture.Snapshot{Accounts: []*posture.Account{a}}, posture.Options{}); len(fs) != 0 {
		for _, f := range fs {
			t.Errorf("queue made by apply: %s %s", f.ID, f.Evidence)
		}
	}
}

// sseOff: fauxqs does not report SqsManagedSseEnabled; SQS does.
func sseOff(attrs map[string]string) bool {
	v, ok := attrs["SqsManagedSseEnabled"]
	return ok && v != "true"
}

func calls(steps []setup.Step, writes bool) []string {
	var out []string
	for _, s := range steps {
		if s.Write == writes {
			out = append(out, s.Call)
		}
	}
	return out
}

// TestPostureBucketOnS3Server reads a bucket's settings from a real
// S3-compatible server (VersityGW): versioning and the bucket policy
// trailwatch setup generates, set through the SDK, read back by the
// audit; what the server does not implement is reported as unread, not
// as a finding.
func TestPostureBucketOnS3Server(t *testing.T) {
	t.Setenv("VGW_VERSIONING_DIR", t.TempDir()) // VersityGW implements versioning with a directory for old versions
	srv := testsrv.StartS3(t)
	testsrv.Env(t, srv, nil)
	ctx := context.Background()
	sess, err := awsapi.New(ctx, awsapi.Config{S3PathStyle: true, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "trail-logs"
	if err := sess.S3("").CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	p := setup.Params{Account: "111122223333", Region: testsrv.Region, Bucket: bucket}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	api := sess.Setup("")
	// VersityGW accepts only its own users as principals: a policy it takes
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` + testsrv.AccessKey + `"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::` + bucket + `/*"]}]}`
	if err := api.PutBucketPolicy(ctx, bucket, policy); err != nil {
		t.Fatal(err)
	}
	b, _ := sess.Posture().Bucket(ctx, bucket)
	a := &posture.Account{ID: "111122223333", Regions: []string{testsrv.Region}, Buckets: map[string]*posture.Bucket{bucket: b},
		Trails:       []*posture.Trail{{ARN: p.TrailARN(), Name: p.TrailName, HomeRegion: testsrv.Region, Account: "111122223333", S3Bucket: bucket, IsMultiRegion: true, IncludeGlobalServiceEvents: true, LogFileValidation: true}},
		RegionTrails: map[string][]string{testsrv.Region: {p.TrailARN()}}}
	audit := func() map[string]bool {
		got := map[string]bool{}
		for _, f := range posture.Evaluate(&posture.Snapshot{Accounts: []*posture.Account{a}}, posture.Options{}) {
			got[f.ID] = true
		}
		return got
	}
	if !setup.SamePolicy(b.Policy, policy) {
		t.Errorf("policy read back:\n%s", b.Policy)
	}
	got := audit()
	if !got[posture.RuleBucketSSL] || b.Versioning != "" || !got[posture.RuleBucketVersioning] {
		t.Errorf("before: versioning %q, findings %v", b.Versioning, got)
	}

	// the access log bucket apply creates
	if err := api.CreateBucket(ctx, p.AccessLogBucket, testsrv.Region); err != nil {
		t.Fatal(err)
	}
	if ok, err := api.BucketExists(ctx, p.AccessLogBucket); err != nil || !ok {
		t.Errorf("exists %v %v", ok, err)
	}
	if ok, err := api.BucketExists(ctx, "no-such-bucket-here"); err != nil || ok {
		t.Errorf("missing bucket exists %v %v", ok, err)
	}

	if err := api.EnableVersioning(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	b, errs := sess.Posture().Bucket(ctx, bucket)
	for _, e := range errs {
		t.Logf("not supported by the server: %s: %v", e.Aspect, e.Err)
	}
	if b.Region != testsrv.Region || b.Versioning != "Enabled" {
		t.Errorf("bucket %+v", b)
	}
	for _, asp := range []string{"location", "policy", "acl", "versioning", "object-lock"} {
		if slices.Contains(b.Unread, asp) {
			t.Errorf("%s not read from the server", asp)
		}
	}
	a.Buckets[bucket] = b
	got = audit()
	if got[posture.RuleBucketVersioning] || !got[posture.RuleBucketSSL] || !got[posture.RuleBucketObjectLock] || !got[posture.RuleBucketMFADelete] {
		t.Errorf("after: findings %v", got)
	}
	// what the server does not implement is not reported as off
	for _, asp := range []struct{ aspect, rule string }{{"logging", posture.RuleTrailBucketLogging}, {"lifecycle", posture.RuleBucketLifecycle}, {"public-access-block", posture.RuleBucketBPA}} {
		if slices.Contains(b.Unread, asp.aspect) && got[asp.rule] {
			t.Errorf("%s could not be read, yet %s is reported", asp.aspect, asp.rule)
		}
	}
}

// s3Config is an S3 endpoint that keeps each bucket configuration it is
// sent (PUT /bucket?sub) and returns it (GET /bucket?sub) — as S3 does for
// logging, notifications, public access blocks and policies, whose GET
// response has the shape of the PUT body — so setup apply's S3 calls
// make a round trip through the SDK's serializers and deserializers.
type s3Config struct {
	mu      sync.Mutex
	buckets map[string]bool
	conf    map[string][]byte // bucket?sub → body
}

func (s *s3Config) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bucket := strings.Trim(r.URL.Path, "/")
	sub := ""
	for k := range r.URL.Query() {
		if k != "x-id" {
			sub = k
		}
	}
	key := bucket + "?" + sub
	switch {
	case r.Method == http.MethodHead:
		if !s.buckets[bucket] {
			w.WriteHeader(http.StatusNotFound)
		}
	case r.Method == http.MethodPut && sub == "":
		s.buckets[bucket] = true
	case r.Method == http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		s.conf[key] = body
	case r.Method == http.MethodGet && s.conf[key] != nil:
		if sub == "policy" {
			w.Header().Set("Content-Type", "application/json")
		}
		_, _ = w.Write(s.conf[key])
	case sub == "policy" || sub == "publicAccessBlock":
		code := map[string]string{"policy": "NoSuchBucketPolicy", "publicAccessBlock": "NoSuchPublicAccessBlockConfiguration"}[sub]
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>none</Message></Error>`, code)
	case sub == "logging":
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`)
	case sub == "notification":
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

// TestSetupApplyS3RoundTrip runs setup apply with bucket notifications and
// access logs through the SDK (S3 above, SQS in fauxqs): the second run
// reads back what the first wrote and changes nothing.
func TestSetupApplyS3RoundTrip(t *testing.T) {
	sqsSrv := testsrv.StartSQS(t)
	s3 := &s3Config{buckets: map[string]bool{"trail-logs": true}, conf: map[string][]byte{}}
	s3Srv := httptest.NewServer(s3)
	t.Cleanup(s3Srv.Close)
	testsrv.Env(t, nil, sqsSrv)
	t.Setenv("AWS_ENDPOINT_URL_S3", s3Srv.URL)
	ctx := context.Background()
	sess, err := awsapi.New(ctx, awsapi.Config{S3PathStyle: true, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	account, err := sess.Posture().CallerAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := setup.Params{Account: account, Region: testsrv.Region, Bucket: "trail-logs", Notify: setup.NotifyS3, Prefix: "org"}
	api := sess.Setup("")
	for run, want := range []string{"sqs:CreateQueue s3:PutBucketNotificationConfiguration s3:CreateBucket s3:PutPublicAccessBlock s3:PutBucketPolicy s3:PutBucketLogging", ""} {
		steps, err := setup.Apply(ctx, api, p, setup.ApplyOptions{Notifications: true, AccessLogs: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(calls(steps, true), " "); got != want {
			t.Errorf("run %d made %q, want %q", run+1, got, want)
		}
	}
	lb := setup.AccessLogBucketName(account, testsrv.Region)
	if l, err := api.BucketLogging(ctx, "trail-logs"); err != nil || l == nil || l.Bucket != lb || !l.Partitioned {
		t.Errorf("logging %+v %v", l, err)
	}
	n, err := api.BucketNotifications(ctx, "trail-logs")
	if err != nil || len(n.Queues) != 1 || n.Queues[0].Filter[0].Value != "org/AWSLogs/" || !strings.HasSuffix(n.Queues[0].ARN, ":"+setup.DefaultQueueName) {
		t.Errorf("notifications %+v %v", n, err)
	}
	if ok, err := api.PublicAccessBlocked(ctx, lb); err != nil || !ok {
		t.Errorf("access log bucket public access block %v %v", ok, err)
	}
}
