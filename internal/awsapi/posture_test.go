package awsapi_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/posture"
	"github.com/trailwatch/trailwatch/internal/posture/posturetest"
	"github.com/trailwatch/trailwatch/internal/setup"
)

var auditNow = posturetest.Now()

// gather audits one recorded account through the real SDK clients.
func gather(t *testing.T, srv *posturetest.Server, account string, all bool, queues ...string) *posture.Account {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", account)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	sess, err := awsapi.New(ctx, awsapi.Config{Region: "us-east-1", EndpointURL: srv.URL, S3PathStyle: true, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	a, err := posture.Gather(ctx, sess.Posture(), posture.GatherOptions{Regions: []string{"us-east-1", "eu-west-1"}, AllBuckets: all, QueueURLs: queues})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuditCleanAccount(t *testing.T) {
	srv := posturetest.Start(t)
	srv.RequireAllServed()
	a := gather(t, srv, "clean", false)
	if len(a.Errors) > 0 {
		t.Fatalf("errors: %+v", a.Errors)
	}
	// every control-plane API the audit uses went through the real SDK client
	for _, c := range []string{"sts:GetCallerIdentity", "cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
		"s3:location", "s3:policy", "s3:policyStatus", "s3:acl", "s3:ownershipControls", "s3:publicAccessBlock", "s3:versioning", "s3:object-lock",
		"s3:logging", "s3:lifecycle", "s3:encryption", "s3:notification", "s3:s3control:publicAccessBlock",
		"kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:GetKeyPolicy", "sqs:GetQueueUrl", "sqs:GetQueueAttributes",
		"sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"} {
		if !slices.Contains(srv.Calls(), c) {
			t.Errorf("%s was not called; calls: %v", c, srv.Calls())
		}
	}
	// what the SDK read
	tr := a.Trails[0]
	if a.ID != "111122223333" || len(a.Trails) != 1 || !tr.IsMultiRegion || !tr.LogFileValidation || tr.Status == nil || !tr.Status.IsLogging ||
		!tr.Status.LatestDeliveryTime.Equal(auditNow.Add(-10*time.Minute)) || !tr.Selectors.S3DataRead || !tr.Selectors.ManagementWrite {
		t.Errorf("trail %+v status %+v selectors %+v", tr, tr.Status, tr.Selectors)
	}
	b := a.Buckets["trail-logs-111122223333"]
	if b.Region != "us-east-1" || b.Versioning != "Enabled" || b.MFADelete != "Enabled" || !b.ObjectLock || b.ObjectLockDays != 365 ||
		b.Logging == nil || !b.PublicAccess.All() || *b.PolicyPublic || len(b.Lifecycle) != 1 || b.EncryptionAlgo != "aws:kms" || b.ObjectOwnership != "BucketOwnerEnforced" {
		t.Errorf("bucket %+v", b)
	}
	k := a.Keys[tr.KMSKeyID]
	if k.Manager != "CUSTOMER" || k.State != "Enabled" || !k.RotationEnabled || !strings.Contains(k.Policy, "kms:ViaService") {
		t.Errorf("key %+v", k)
	}
	if q := a.Queues["arn:aws:sqs:us-east-1:111122223333:trailwatch-cloudtrail"]; q == nil || !q.ManagedSSE || !strings.Contains(q.Policy, "aws:SourceArn") {
		t.Errorf("queue %+v", q)
	}
	if !a.PublicAccessBlock.All() {
		t.Errorf("account public access block %+v", a.PublicAccessBlock)
	}
	if fs := posture.Evaluate(&posture.Snapshot{Accounts: []*posture.Account{a}}, posture.Options{Now: auditNow}); len(fs) != 0 {
		for _, f := range fs {
			t.Errorf("clean account: %s %s: %s", f.ID, f.Resource, f.Evidence)
		}
	}
	checkAuditActions(t, srv)
}

// checkAuditActions: trailwatch setup audit-policy allows every call the
// audit made.
func checkAuditActions(t *testing.T, srv *posturetest.Server) {
	t.Helper()
	s3 := map[string]string{"location": "GetBucketLocation", "policy": "GetBucketPolicy", "policyStatus": "GetBucketPolicyStatus", "acl": "GetBucketAcl",
		"ownershipControls": "GetBucketOwnershipControls", "publicAccessBlock": "GetBucketPublicAccessBlock", "versioning": "GetBucketVersioning",
		"object-lock": "GetBucketObjectLockConfiguration", "logging": "GetBucketLogging", "lifecycle": "GetLifecycleConfiguration",
		"encryption": "GetEncryptionConfiguration", "notification": "GetBucketNotification", "s3control:publicAccessBlock": "GetAccountPublicAccessBlock",
		"ListBuckets": "ListAllMyBuckets"}
	for _, c := range srv.Calls() {
		if c == "sts:GetCallerIdentity" { // needs no permission
			continue
		}
		svc, op, _ := strings.Cut(c, ":")
		action := c
		if svc == "s3" {
			action = "s3:" + s3[op]
		}
		if !slices.Contains(setup.AuditActions(), action) {
			t.Errorf("call %s: %s is not in setup.AuditActions()", c, action)
		}
	}
}

func TestAuditMisconfiguredAccount(t *testing.T) {
	srv := posturetest.Start(t)
	srv.RequireAllServed()
	a := gather(t, srv, "misconfigured", true, "https://sqs.us-east-1.amazonaws.com/444455556666/legacy-queue")
	if len(a.Errors) > 0 {
		t.Fatalf("errors: %+v", a.Errors)
	}
	checkAuditActions(t, srv)
	fs := posture.Evaluate(&posture.Snapshot{Accounts: []*posture.Account{a}}, posture.Options{Now: auditNow})
	// every finding the recorded account has, with its control
	want := map[string]string{
		posture.RuleNoTrailInRegion:        "CloudTrail.3",
		posture.RuleNoMultiRegionTrail:     "CloudTrail.1",
		posture.RuleTrailNotLogging:        "",
		posture.RuleGlobalServiceEvents:    "",
		posture.RuleDeliveryError:          "",
		posture.RuleDigestDeliveryError:    "",
		posture.RuleNotificationError:      "",
		posture.RuleDeliveryStale:          "",
		posture.RuleLogFileValidation:      "CloudTrail.4",
		posture.RuleTrailEncryption:        "CloudTrail.2",
		posture.RuleCloudWatchLogs:         "CloudTrail.5",
		posture.RuleS3DataEventsWrite:      "S3.22",
		posture.RuleS3DataEventsRead:       "S3.23",
		posture.RuleNoCollectorQueue:       "",
		posture.RuleKeyRotation:            "KMS.4",
		posture.RuleKeyRegion:              "",
		posture.RuleKeyPublic:              "KMS.5",
		posture.RuleKeyState:               "",
		posture.RuleKeyCloudTrailCondition: "",
		posture.RuleBucketPublic:           "CloudTrail.6",
		posture.RuleBucketBPA:              "S3.8",
		posture.RuleAccountBPA:             "S3.1",
		posture.RuleBucketVersioning:       "S3.14",
		posture.RuleBucketMFADelete:        "S3.20",
		posture.RuleBucketObjectLock:       "S3.15",
		posture.RuleTrailBucketLogging:     "CloudTrail.7",
		posture.RuleBucketLifecycle:        "S3.13",
		posture.RuleBucketPolicySource:     "",
		posture.RuleBucketPolicyACL:        "",
		posture.RuleBucketPolicyBroad:      "",
		posture.RuleBucketSSL:              "S3.5",
		posture.RuleBucketLogging:          "S3.9",
		posture.RuleQueuePublic:            "SQS.3",
		posture.RuleQueueSource:            "",
		posture.RuleQueueEncryption:        "SQS.1",
		posture.RuleTopicPublic:            "",
		posture.RuleTopicSource:            "",
	}
	got := map[string]bool{}
	for _, f := range fs {
		got[f.ID] = true
		c, ok := want[f.ID]
		switch {
		case !ok:
			t.Errorf("unexpected finding %s: %s", f.ID, f.Evidence)
		case f.Control != c:
			t.Errorf("%s: control %q, want %q", f.ID, f.Control, c)
		}
		if f.Account != "444455556666" || f.Evidence == "" || !strings.Contains(f.Remediation, "aws ") && !strings.Contains(f.Remediation, "trailwatch ") {
			t.Errorf("%s: incomplete %+v", f.ID, f)
		}
	}
	for id := range want {
		if !got[id] {
			t.Errorf("missing finding %s", id)
		}
	}
	// every rule of the catalog but the organization ones and the AWS
	// managed key is demonstrated by this account
	for _, r := range posture.Rules() {
		if _, ok := want[r.ID]; !ok && !slices.Contains([]string{posture.RuleNoOrganizationTrail, posture.RuleOrganizationCoverage, posture.RuleKeyCustomerManaged}, r.ID) {
			t.Errorf("rule %s is not in the misconfigured account", r.ID)
		}
	}
}

// TestAuditOrganization audits both recorded accounts as one
// organization: no organization trail covers them.
func TestAuditOrganization(t *testing.T) {
	srv := posturetest.Start(t)
	srv.RequireAllServed()
	clean := gather(t, srv, "clean", false)
	bad := gather(t, srv, "misconfigured", true, "https://sqs.us-east-1.amazonaws.com/444455556666/legacy-queue")
	fs := posture.Evaluate(&posture.Snapshot{Accounts: []*posture.Account{clean, bad}, Organization: true}, posture.Options{Now: auditNow})
	if !slices.ContainsFunc(fs, func(f posture.Finding) bool { return f.ID == posture.RuleNoOrganizationTrail }) {
		t.Error("no organization trail finding")
	}
}

// TestAuditDenied: a denied call is reported with the permission it
// needs, and the checks depending on it are skipped.
func TestAuditDenied(t *testing.T) {
	srv := posturetest.Start(t)
	srv.RequireAllServed()
	a := gather(t, srv, "denied", false)
	var msgs []string
	for _, e := range a.Errors {
		msgs = append(msgs, e.Err)
	}
	all := strings.Join(msgs, "\n")
	for _, w := range []string{"cloudtrail:DescribeTrails denied", "AccessDeniedException", "s3:GetAccountPublicAccessBlock denied"} {
		if !strings.Contains(all, w) {
			t.Errorf("errors lack %q:\n%s", w, all)
		}
	}
	if fs := posture.Evaluate(&posture.Snapshot{Accounts: []*posture.Account{a}}, posture.Options{Now: auditNow}); len(fs) != 0 {
		t.Errorf("findings from nothing read: %+v", fs)
	}
}

// TestTrailSettings: setup apply --trail-arn reads the trail's bucket,
// topic and key through DescribeTrails.
func TestTrailSettings(t *testing.T) {
	srv := posturetest.Start(t)
	gather(t, srv, "clean", false) // sets the credentials
	sess, err := awsapi.New(context.Background(), awsapi.Config{Region: "us-east-1", EndpointURL: srv.URL, S3PathStyle: true, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:cloudtrail:us-east-1:111122223333:trail/trailwatch"
	tr, err := sess.TrailSettings(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	if tr.S3Bucket != "trail-logs-111122223333" || tr.SNSTopicARN != "arn:aws:sns:us-east-1:111122223333:trailwatch-cloudtrail" || !strings.HasPrefix(tr.KMSKeyID, "arn:aws:kms:") {
		t.Errorf("trail %+v", tr)
	}
	if _, err := sess.TrailSettings(context.Background(), arn+"-gone"); err == nil || !strings.Contains(err.Error(), "does not list") {
		t.Errorf("missing trail: %v", err)
	}
}
