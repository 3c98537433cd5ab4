package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/posture"
	"github.com/trailwatch/trailwatch/internal/setup"
	"github.com/trailwatch/trailwatch/internal/testsrv"
)

func TestSetupCommand(t *testing.T) {
	base := []string{"--account", "111122223333", "--region", "us-east-1", "--bucket", "trail-logs-111122223333"}
	for _, d := range setup.Documents() {
		out := mustRun(t, ExitOK, append([]string{"setup", d.Name}, base...)...)
		if !json.Valid([]byte(out)) {
			t.Errorf("%s: not JSON:\n%s", d.Name, out)
		}
	}
	// the flags reach the documents
	out := mustRun(t, ExitOK, "setup", "trust-policy", "--account", "111122223333", "--region", "us-east-1", "--bucket", "b-logs", "--external-id", "tw-42")
	if !strings.Contains(out, `"sts:ExternalId": "tw-42"`) {
		t.Errorf("trust policy:\n%s", out)
	}
	out = mustRun(t, ExitOK, "setup", "bucket-policy", "--trail-arn", "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org", "--bucket", "org-logs",
		"--organization-id", "o-a1b2c3d4e5", "--prefix", "central")
	for _, want := range []string{`"aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org"`, `"aws:PrincipalOrgID": "o-a1b2c3d4e5"`, "org-logs/central/AWSLogs/o-a1b2c3d4e5/${aws:PrincipalAccount}/*"} {
		if !strings.Contains(out, want) {
			t.Errorf("organization bucket policy lacks %s:\n%s", want, out)
		}
	}
	out = mustRun(t, ExitOK, "setup", "queue-attributes", "--queue-arn", "arn:aws:sqs:us-east-1:111122223333:q", "--topic-arn", "arn:aws:sns:us-east-1:111122223333:t", "--bucket", "b-logs")
	var attrs map[string]string
	if err := json.Unmarshal([]byte(out), &attrs); err != nil || !strings.Contains(attrs["Policy"], "arn:aws:sns:us-east-1:111122223333:t") || !strings.Contains(attrs["Policy"], "arn:aws:sqs:us-east-1:111122223333:q") {
		t.Errorf("queue attributes %v %v", attrs, err)
	}

	dir := filepath.Join(t.TempDir(), "setup")
	mustRun(t, ExitOK, append([]string{"setup", "all", "--out", dir}, base...)...)
	files, _ := os.ReadDir(dir)
	if len(files) != len(setup.Documents()) {
		t.Errorf("%d files written", len(files))
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"setup", "bucket-policy"}, "account"},
		{[]string{"setup", "bucket-policy", "--account", "1", "--region", "us-east-1", "--bucket", "b-logs"}, `account "1"`},
		{[]string{"setup", "bucket-policy", "--trail-arn", "arn:aws:s3:::x", "--bucket", "b-logs"}, "--trail-arn"},
		{[]string{"setup", "queue-policy", "--queue-arn", "nope", "--bucket", "b-logs"}, "--queue-arn"},
		{append([]string{"setup", "key-policy", "--notify", "email"}, base...), "notify"},
		{append([]string{"setup", "all"}, base...), "--out is required"},
		{[]string{"setup", "apply"}, "--bucket or --trail-arn is required"},
	} {
		code, _, errs := run(t, "", tc.args...)
		if code != ExitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q (want %q)", tc.args, code, errs, tc.want)
		}
	}
}

// TestSetupApplyCommand runs setup apply against fauxqs: a dry run prints
// the calls without making them, the real run makes them, and the third
// run has nothing to change.
func TestSetupApplyCommand(t *testing.T) {
	srv := testsrv.StartSQS(t)
	testsrv.Env(t, nil, srv)
	ctx := context.Background()
	sess, err := awsapi.New(ctx, awsapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.SNS("").CreateTopic(ctx, setup.DefaultTopicName); err != nil {
		t.Fatal(err)
	}
	args := []string{"setup", "apply", "--bucket", "trail-logs", "--bucket-region", testsrv.Region, "--notifications"}
	dry := mustRun(t, ExitOK, append(args, "--dry-run")...)
	for _, want := range []string{"# dry run", "read   sqs:GetQueueUrl", "would  sqs:CreateQueue", "Policy=", "would  sns:Subscribe", "# 2 change(s) would be made"} {
		if !strings.Contains(dry, want) {
			t.Errorf("dry run lacks %q:\n%s", want, dry)
		}
	}
	if out := mustRun(t, ExitOK, args...); !strings.Contains(out, "call   sqs:CreateQueue") || !strings.Contains(out, "# 2 change(s) made") {
		t.Errorf("apply:\n%s", out)
	}
	if out := mustRun(t, ExitOK, args...); !strings.Contains(out, "# nothing to change") {
		t.Errorf("second apply:\n%s", out)
	}
}

func TestFillFromTrail(t *testing.T) {
	tr := &posture.Trail{ARN: "arn:aws:cloudtrail:us-east-1:111122223333:trail/main", S3Bucket: "logs-b", S3KeyPrefix: "p",
		SNSTopicARN: "arn:aws:sns:us-east-1:111122223333:ct", KMSKeyID: "arn:aws:kms:us-east-1:111122223333:key/k"}
	f := setupFlags{p: setup.Params{Notify: setup.NotifySNS}, trailARNs: []string{tr.ARN}}
	if err := fillFromTrail(&f, tr); err != nil {
		t.Fatal(err)
	}
	p, err := f.params()
	if err != nil {
		t.Fatal(err)
	}
	if p.Bucket != "logs-b" || p.Prefix != "p" || p.TopicARN() != tr.SNSTopicARN || p.KMSKeyARN != tr.KMSKeyID {
		t.Errorf("params %+v", p)
	}
	f = setupFlags{p: setup.Params{Notify: setup.NotifySNS, Bucket: "other"}}
	if err := fillFromTrail(&f, tr); err == nil || !strings.Contains(err.Error(), "writes to logs-b") {
		t.Errorf("bucket mismatch: %v", err)
	}
	tr.SNSTopicARN = ""
	f = setupFlags{p: setup.Params{Notify: setup.NotifySNS}}
	if err := fillFromTrail(&f, tr); err == nil || !strings.Contains(err.Error(), "--notify s3") {
		t.Errorf("no topic: %v", err)
	}
}
