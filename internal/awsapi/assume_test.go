package awsapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
)

// fakeSTS answers AssumeRole (query protocol) when the external ID
// matches, with credentials that expire soon, and records each call.
type fakeSTS struct {
	mu       sync.Mutex
	calls    []map[string]string
	external string
	lifetime time.Duration
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	call := map[string]string{}
	for k := range r.PostForm {
		call[k] = r.PostForm.Get(k)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	n := len(f.calls)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if call["Action"] != "AssumeRole" || call["ExternalId"] != f.external {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
		return
	}
	exp := time.Now().Add(f.lifetime).UTC().Format(time.RFC3339)
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAASSUMED%d</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token%d</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>%s/%s</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>
<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`, n, n, exp, call["RoleArn"], call["RoleSessionName"])
}

// recordingS3 answers ListObjectsV2 with an empty listing and records the
// access key each request was signed with.
type recordingS3 struct {
	mu   sync.Mutex
	keys []string
}

func (s *recordingS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	_, cred, _ := strings.Cut(auth, "Credential=")
	key, _, _ := strings.Cut(cred, "/")
	s.mu.Lock()
	s.keys = append(s.keys, key+" "+r.Header.Get("X-Amz-Security-Token"))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`)
}

// TestAssumeRoleWithExternalID: a source's role is assumed with its
// external ID, session name and duration; requests are signed with the
// role's credentials, which are refreshed before they expire; a wrong
// external ID fails with an error naming the role.
func TestAssumeRoleWithExternalID(t *testing.T) {
	sts := &fakeSTS{external: "ext-123", lifetime: 2 * time.Second}
	stsSrv := httptest.NewServer(sts)
	defer stsSrv.Close()
	s3 := &recordingS3{}
	s3Srv := httptest.NewServer(s3)
	defer s3Srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIABASE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "base-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_ENDPOINT_URL_STS", stsSrv.URL)
	t.Setenv("AWS_ENDPOINT_URL_S3", s3Srv.URL)
	ctx := context.Background()
	role := "arn:aws:iam::111122223333:role/trailwatch-collector"

	sess, err := awsapi.New(ctx, awsapi.Config{RoleARN: role, ExternalID: "ext-123", SessionName: "tw-test", Duration: 15 * time.Minute, S3PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	list := func() error {
		return sess.S3("").List(ctx, "b", "AWSLogs/", "", func(awsapi.ObjectInfo) error { return nil })
	}
	if err := list(); err != nil {
		t.Fatal(err)
	}
	// The SDK refreshes credentials within its expiry window; wait past
	// the 2 s lifetime.
	time.Sleep(2500 * time.Millisecond)
	if err := list(); err != nil {
		t.Fatal(err)
	}
	sts.mu.Lock()
	calls := append([]map[string]string(nil), sts.calls...)
	sts.mu.Unlock()
	if len(calls) < 2 {
		t.Fatalf("AssumeRole called %d times, want a refresh: %v", len(calls), calls)
	}
	c := calls[0]
	if c["RoleArn"] != role || c["RoleSessionName"] != "tw-test" || c["DurationSeconds"] != "900" || c["ExternalId"] != "ext-123" {
		t.Errorf("AssumeRole call %v", c)
	}
	if len(s3.keys) != 2 || s3.keys[0] != "ASIAASSUMED1 token1" || s3.keys[1] == s3.keys[0] {
		t.Errorf("S3 requests signed with %v, want the assumed role's credentials, refreshed", s3.keys)
	}

	bad, err := awsapi.New(ctx, awsapi.Config{RoleARN: role, ExternalID: "wrong", S3PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	err = bad.S3("").List(ctx, "b", "AWSLogs/", "", func(awsapi.ObjectInfo) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), "sts:AssumeRole denied on "+role+" for the default credentials") {
		t.Errorf("wrong external ID: %v", err)
	}
	t.Logf("wrong external ID: %v", err)
}
