package posture

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/setup"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const (
	acct      = "111122223333"
	trailARN  = "arn:aws:cloudtrail:us-east-1:111122223333:trail/trailwatch"
	bucket    = "trail-logs-111122223333"
	keyARN    = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	topicARN  = "arn:aws:sns:us-east-1:111122223333:trailwatch-cloudtrail"
	queueARN  = "arn:aws:sqs:us-east-1:111122223333:trailwatch-cloudtrail"
	logBucket = "trailwatch-s3-access-logs-111122223333-us-east-1"
)

// generated returns the setup parameters of the clean account.
func generated(t *testing.T, notify string) setup.Params {
	t.Helper()
	p := setup.Params{Account: acct, Region: "us-east-1", Bucket: bucket, KMSKeyARN: keyARN, Notify: notify, ExternalID: "x"}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	return p
}

// cleanAccount is a well-configured account whose policies are exactly
// what trailwatch setup generates, with the settings its templates make.
func cleanAccount(t *testing.T) *Account {
	t.Helper()
	p := generated(t, setup.NotifySNS)
	yes := true
	sel := SummarizeBasic([]BasicSelector{{ReadWriteType: "All", IncludeManagementEvents: &yes, DataResources: []DataResource{{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3"}}}}})
	tr := &Trail{ARN: trailARN, Name: "trailwatch", HomeRegion: "us-east-1", Account: acct, IsMultiRegion: true, IncludeGlobalServiceEvents: true,
		LogFileValidation: true, S3Bucket: bucket, KMSKeyID: keyARN, SNSTopicARN: topicARN,
		CloudWatchLogsGroupARN: "arn:aws:logs:us-east-1:111122223333:log-group:cloudtrail:*",
		Status:                 &TrailStatus{IsLogging: true, LatestDeliveryTime: testNow.Add(-10 * time.Minute), StartLoggingTime: testNow.Add(-90 * 24 * time.Hour)},
		Selectors:              sel}
	pab := &PublicAccessBlock{true, true, true, true}
	no := false
	return &Account{
		ID: acct, Regions: []string{"us-east-1", "eu-west-1"}, Trails: []*Trail{tr},
		RegionTrails: map[string][]string{"us-east-1": {trailARN}, "eu-west-1": {trailARN}},
		Buckets: map[string]*Bucket{bucket: {Name: bucket, Region: "us-east-1", Account: acct, Policy: p.BucketPolicy().JSON(), PolicyPublic: &no,
			OwnerID: "abc", Grants: []Grant{{Type: "CanonicalUser", ID: "abc", Permission: "FULL_CONTROL"}}, ObjectOwnership: "BucketOwnerEnforced",
			PublicAccess: pab, Versioning: "Enabled", MFADelete: "Enabled", ObjectLock: true, ObjectLockMode: "GOVERNANCE", ObjectLockDays: 365,
			Logging:        &LoggingTarget{Bucket: logBucket},
			Lifecycle:      []LifecycleRule{{ID: "cloudtrail-retention", Enabled: true, Prefix: "AWSLogs/", ExpirationDays: 365, NoncurrentExpirationDays: 30}},
			EncryptionAlgo: "aws:kms", EncryptionKey: keyARN}},
		Keys: map[string]*Key{keyARN: {ARN: keyARN, Region: "us-east-1", Account: acct, Manager: "CUSTOMER", State: "Enabled", Spec: "SYMMETRIC_DEFAULT",
			Origin: "AWS_KMS", RotationEnabled: true, Policy: p.KeyPolicy().JSON()}},
		Topics: map[string]*Topic{topicARN: {ARN: topicARN, Region: "us-east-1", Policy: p.TopicPolicy().JSON(),
			Subscriptions: []Subscription{{ARN: topicARN + ":1", Protocol: "sqs", Endpoint: queueARN}}}},
		Queues:            map[string]*Queue{queueARN: {ARN: queueARN, URL: QueueURLFromARN(queueARN), Region: "us-east-1", Policy: p.QueuePolicy().JSON(), ManagedSSE: true}},
		PublicAccessBlock: pab,
	}
}

func evaluate(a ...*Account) []Finding {
	return Evaluate(&Snapshot{Accounts: a, Organization: len(a) > 1}, Options{Now: testNow})
}

func TestCleanAccount(t *testing.T) {
	if fs := evaluate(cleanAccount(t)); len(fs) != 0 {
		for _, f := range fs {
			t.Errorf("finding %s %s: %s", f.ID, f.Resource, f.Evidence)
		}
	}
}

// TestGeneratedSetupAuditsClean: what trailwatch setup generates (both
// notification modes, the templates' settings) raises no finding above
// info; the info ones are the opt-in extras the templates leave out
// (data events cost per event, MFA delete needs the root user, CloudWatch
// Logs is optional).
func TestGeneratedSetupAuditsClean(t *testing.T) {
	for _, notify := range []string{setup.NotifySNS, setup.NotifyS3} {
		t.Run(notify, func(t *testing.T) {
			p := generated(t, notify)
			a := cleanAccount(t)
			tr := a.Trails[0]
			yes := true
			tr.Selectors = SummarizeBasic([]BasicSelector{{ReadWriteType: "All", IncludeManagementEvents: &yes}}) // as the templates set them
			tr.CloudWatchLogsGroupARN = ""
			b := a.Buckets[bucket]
			b.MFADelete = ""
			b.Policy, a.Keys[keyARN].Policy, a.Queues[queueARN].Policy = p.BucketPolicy().JSON(), p.KeyPolicy().JSON(), p.QueuePolicy().JSON()
			if notify == setup.NotifyS3 {
				tr.SNSTopicARN = ""
				a.Topics = map[string]*Topic{}
				b.NotifyQueues = []string{p.QueueARN()}
			} else {
				a.Topics[topicARN].Policy = p.TopicPolicy().JSON()
			}
			allowed := []string{RuleS3DataEventsRead, RuleS3DataEventsWrite, RuleBucketMFADelete, RuleCloudWatchLogs}
			fs := evaluate(a)
			for _, f := range fs {
				if f.Severity > Info || !slices.Contains(allowed, f.ID) {
					t.Errorf("generated setup: %s (%s) %s", f.ID, f.Severity, f.Evidence)
				}
			}
			if len(fs) != len(allowed) {
				t.Errorf("%d findings, want the %d opt-in ones", len(fs), len(allowed))
			}
		})
	}
}

// TestOrganizationSetupAuditsClean: the organization bucket policy (member
// prefixes through aws:PrincipalOrgID) is not public, and not broad.
func TestOrganizationSetupAuditsClean(t *testing.T) {
	p := setup.Params{Account: acct, Region: "us-east-1", Bucket: bucket, KMSKeyARN: keyARN, OrganizationID: "o-a1b2c3d4e5", QueueAccount: "777788889999"}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	a := cleanAccount(t)
	a.Trails[0].IsOrganization = true
	a.Buckets[bucket].Policy = p.BucketPolicy().JSON()
	a.Keys[keyARN].Policy = p.KeyPolicy().JSON()
	if fs := evaluate(a); len(fs) != 0 {
		for _, f := range fs {
			t.Errorf("finding %s: %s", f.ID, f.Evidence)
		}
	}
}

func TestMisconfigurations(t *testing.T) {
	pub := true
	for _, tc := range []struct {
		name    string
		mutate  func(a *Account)
		rule    string
		control string
		fix     string // in the remediation
	}{
		{"no trail at all", func(a *Account) { a.Trails, a.RegionTrails = nil, map[string][]string{} }, RuleNoMultiRegionTrail, "CloudTrail.1", "aws cloudtrail create-trail"},
		{"no trail in a region", func(a *Account) { a.Trails[0].IsMultiRegion = false; a.RegionTrails["eu-west-1"] = nil }, RuleNoTrailInRegion, "CloudTrail.3", "aws cloudtrail create-trail --region eu-west-1"},
		{"single-region trail", func(a *Account) { a.Trails[0].IsMultiRegion = false }, RuleNoMultiRegionTrail, "CloudTrail.1", "--is-multi-region-trail"},
		{"write-only management events", func(a *Account) {
			yes := true
			a.Trails[0].Selectors = SummarizeBasic([]BasicSelector{{ReadWriteType: "WriteOnly", IncludeManagementEvents: &yes}})
		}, RuleNoMultiRegionTrail, "CloudTrail.1", "put-event-selectors"},
		{"kms events excluded", func(a *Account) {
			a.Trails[0].Selectors = SummarizeAdvanced([]AdvancedSelector{{FieldSelectors: []FieldSelector{{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "eventSource", NotEquals: []string{"kms.amazonaws.com"}}}}})
		}, RuleNoMultiRegionTrail, "CloudTrail.1", "--advanced-event-selectors"},
		{"not logging", func(a *Account) { a.Trails[0].Status.IsLogging = false }, RuleTrailNotLogging, "", "aws cloudtrail start-logging --region us-east-1 --name " + trailARN},
		{"stopped trail leaves region uncovered", func(a *Account) { a.Trails[0].Status.IsLogging = false }, RuleNoTrailInRegion, "CloudTrail.3", "start-logging"},
		{"no global service events", func(a *Account) { a.Trails[0].IncludeGlobalServiceEvents = false }, RuleGlobalServiceEvents, "", "--include-global-service-events"},
		{"delivery error", func(a *Account) { a.Trails[0].Status.LatestDeliveryError = "AccessDenied" }, RuleDeliveryError, "", "aws s3api put-bucket-policy --bucket " + bucket},
		{"kms delivery error", func(a *Account) { a.Trails[0].Status.LatestDeliveryError = "InsufficientEncryptionPolicy: KMS" }, RuleDeliveryError, "", "aws kms put-key-policy"},
		{"digest error", func(a *Account) { a.Trails[0].Status.LatestDigestDeliveryError = "AccessDenied" }, RuleDigestDeliveryError, "", "put-bucket-policy"},
		{"notification error", func(a *Account) { a.Trails[0].Status.LatestNotificationError = "AuthorizationError" }, RuleNotificationError, "", "aws sns set-topic-attributes"},
		{"stale delivery", func(a *Account) { a.Trails[0].Status.LatestDeliveryTime = testNow.Add(-50 * time.Hour) }, RuleDeliveryStale, "", "aws cloudtrail get-trail-status"},
		{"log file validation off", func(a *Account) { a.Trails[0].LogFileValidation = false }, RuleLogFileValidation, "CloudTrail.4", "--enable-log-file-validation"},
		{"SSE-S3 only", func(a *Account) { a.Trails[0].KMSKeyID = "" }, RuleTrailEncryption, "CloudTrail.2", "aws kms create-key"},
		{"no CloudWatch Logs", func(a *Account) { a.Trails[0].CloudWatchLogsGroupARN = "" }, RuleCloudWatchLogs, "CloudTrail.5", "--cloud-watch-logs-log-group-arn"},
		{"no S3 write data events", func(a *Account) {
			yes := true
			a.Trails[0].Selectors = SummarizeBasic([]BasicSelector{{ReadWriteType: "All", IncludeManagementEvents: &yes}})
		}, RuleS3DataEventsWrite, "S3.22", "put-event-selectors"},
		{"no S3 read data events", func(a *Account) {
			yes := true
			a.Trails[0].Selectors = SummarizeBasic([]BasicSelector{{ReadWriteType: "All", IncludeManagementEvents: &yes}})
		}, RuleS3DataEventsRead, "S3.23", "AWS::S3::Object"},
		{"nothing notifies a queue", func(a *Account) { a.Topics[topicARN].Subscriptions = nil }, RuleNoCollectorQueue, "", "aws sns subscribe"},
		{"no topic, no bucket notification", func(a *Account) { a.Trails[0].SNSTopicARN = ""; a.Topics = nil }, RuleNoCollectorQueue, "", "put-bucket-notification-configuration"},
		{"key rotation off", func(a *Account) { a.Keys[keyARN].RotationEnabled = false }, RuleKeyRotation, "KMS.4", "aws kms enable-key-rotation"},
		{"key in another region", func(a *Account) { a.Buckets[bucket].Region = "eu-west-1" }, RuleKeyRegion, "", "aws kms create-key --region eu-west-1"},
		{"key open to everyone", func(a *Account) {
			a.Keys[keyARN].Policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}`
		}, RuleKeyPublic, "KMS.5", "aws kms put-key-policy"},
		{"key disabled", func(a *Account) { a.Keys[keyARN].State = "Disabled" }, RuleKeyState, "", "aws kms enable-key"},
		{"key pending deletion", func(a *Account) { a.Keys[keyARN].State = "PendingDeletion" }, RuleKeyState, "", "aws kms cancel-key-deletion"},
		{"AWS managed key", func(a *Account) { a.Keys[keyARN].Manager = "AWS" }, RuleKeyCustomerManaged, "", "aws kms create-key"},
		{"key policy unscoped for CloudTrail", func(a *Account) {
			a.Keys[keyARN].Policy = `{"Statement":{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"kms:GenerateDataKey*","Resource":"*"}}`
		}, RuleKeyCloudTrailCondition, "", "kms:EncryptionContext:aws:cloudtrail:arn"},
		{"bucket policy public", func(a *Account) {
			a.Buckets[bucket].PolicyPublic = &pub
			a.Buckets[bucket].PublicAccess.RestrictPublicBuckets = false
			a.PublicAccessBlock.RestrictPublicBuckets = false
		}, RuleBucketPublic, "CloudTrail.6", "aws s3api put-public-access-block --bucket " + bucket},
		{"public ACL", func(a *Account) {
			b := a.Buckets[bucket]
			b.Grants = append(b.Grants, Grant{Type: "Group", URI: AllUsersURI, Permission: "READ"})
			b.PublicAccess.IgnorePublicAcls = false
			a.PublicAccessBlock.IgnorePublicAcls = false
		}, RuleBucketPublic, "CloudTrail.6", "aws s3api put-bucket-acl --bucket " + bucket + " --acl private"},
		{"bucket BPA off", func(a *Account) { a.Buckets[bucket].PublicAccess = nil }, RuleBucketBPA, "S3.8", "put-public-access-block --bucket"},
		{"account BPA off", func(a *Account) { a.PublicAccessBlock = nil }, RuleAccountBPA, "S3.1", "aws s3control put-public-access-block --account-id " + acct},
		{"versioning off", func(a *Account) { a.Buckets[bucket].Versioning = "Suspended" }, RuleBucketVersioning, "S3.14", "Status=Enabled"},
		{"MFA delete off", func(a *Account) { a.Buckets[bucket].MFADelete = "Disabled" }, RuleBucketMFADelete, "S3.20", "MFADelete=Enabled"},
		{"no Object Lock", func(a *Account) { a.Buckets[bucket].ObjectLock = false }, RuleBucketObjectLock, "S3.15", "put-object-lock-configuration"},
		{"access logging off", func(a *Account) { a.Buckets[bucket].Logging = nil }, RuleTrailBucketLogging, "CloudTrail.7", "aws s3api put-bucket-logging --bucket " + bucket},
		{"no lifecycle", func(a *Account) { a.Buckets[bucket].Lifecycle = nil }, RuleBucketLifecycle, "S3.13", "put-bucket-lifecycle-configuration"},
		{"disabled lifecycle", func(a *Account) { a.Buckets[bucket].Lifecycle[0].Enabled = false }, RuleBucketLifecycle, "S3.13", "Expiration"},
		{"bucket policy without source", func(a *Account) {
			a.Buckets[bucket].Policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::` + bucket + `/AWSLogs/111122223333/*","Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::` + bucket + `/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
		}, RuleBucketPolicySource, "", `"aws:SourceArn":"` + trailARN},
		{"bucket policy without ACL condition", func(a *Account) {
			a.Buckets[bucket].Policy = `{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}]}`
		}, RuleBucketPolicyACL, "", "bucket-owner-full-control"},
		{"bucket policy grants writes", func(a *Account) {
			a.Buckets[bucket].Policy = `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"s3:*","Resource":"arn:aws:s3:::` + bucket + `/*"}]}`
		}, RuleBucketPolicyBroad, "", "put-bucket-policy"},
		{"no TLS requirement", func(a *Account) { a.Buckets[bucket].Policy = "" }, RuleBucketSSL, "S3.5", "aws:SecureTransport"},
		{"queue public", func(a *Account) {
			a.Queues[queueARN].Policy = `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"` + queueARN + `"}]}`
		}, RuleQueuePublic, "SQS.3", "aws sqs set-queue-attributes --region us-east-1 --queue-url https://sqs.us-east-1.amazonaws.com/111122223333/trailwatch-cloudtrail"},
		{"queue policy without source", func(a *Account) {
			a.Queues[queueARN].Policy = `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + queueARN + `"}]}`
		}, RuleQueueSource, "", topicARN},
		{"queue unencrypted", func(a *Account) { a.Queues[queueARN].ManagedSSE = false }, RuleQueueEncryption, "SQS.1", "SqsManagedSseEnabled=true"},
		{"topic public", func(a *Account) {
			a.Topics[topicARN].Policy = `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["SNS:Subscribe","SNS:Publish"],"Resource":"` + topicARN + `"}]}`
		}, RuleTopicPublic, "", "aws sns set-topic-attributes"},
		{"topic without source", func(a *Account) {
			a.Topics[topicARN].Policy = `{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"SNS:Publish","Resource":"` + topicARN + `"}]}`
		}, RuleTopicSource, "", trailARN},
		{"bucket without access logging", func(a *Account) {
			a.AllBuckets = true
			a.Buckets["other-bucket"] = &Bucket{Name: "other-bucket", Region: "us-east-1", Account: acct}
		}, RuleBucketLogging, "S3.9", "aws s3api put-bucket-logging --bucket other-bucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := cleanAccount(t)
			tc.mutate(a)
			fs := evaluate(a)
			i := slices.IndexFunc(fs, func(f Finding) bool { return f.ID == tc.rule })
			if i < 0 {
				t.Fatalf("no %s finding; got %v", tc.rule, ids(fs))
			}
			f := fs[i]
			if f.Control != tc.control {
				t.Errorf("control %q, want %q", f.Control, tc.control)
			}
			if f.Evidence == "" || f.Account != acct || f.Resource == "" || f.Title == "" {
				t.Errorf("incomplete finding %+v", f)
			}
			if !strings.Contains(f.Remediation, tc.fix) {
				t.Errorf("remediation lacks %q:\n%s", tc.fix, f.Remediation)
			}
			checkCommands(t, f.Remediation)
		})
	}
}

// checkCommands: every remediation line is a comment, an AWS CLI or
// trailwatch command, or a shell assignment from one, and every JSON
// argument in single quotes parses.
func checkCommands(t *testing.T, rem string) {
	t.Helper()
	for _, line := range strings.Split(rem, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "aws ") && !strings.HasPrefix(line, "trailwatch ") && !strings.HasPrefix(line, "KEY_ARN=$(aws ") {
			t.Errorf("not a command: %s", line)
		}
		parts := strings.Split(line, "'")
		for i := 1; i < len(parts); i += 2 {
			arg := parts[i]
			if strings.HasPrefix(arg, "{") || strings.HasPrefix(arg, "[") {
				if !jsonValid(arg) {
					t.Errorf("invalid JSON argument %s", arg)
				}
			}
		}
	}
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

// TestEveryRuleHasATest: the table above covers the whole catalog, except
// the organization rules (tested below).
func TestEveryRuleHasATest(t *testing.T) {
	for _, r := range Rules() {
		if r.Title == "" || r.Why == "" {
			t.Errorf("%s: no title or explanation", r.ID)
		}
		if r.Control != "" && !strings.Contains(r.Control, ".") {
			t.Errorf("%s: control %q", r.ID, r.Control)
		}
	}
	// every Security Hub CloudTrail control from 1 to 7 is checked
	for n := 1; n <= 7; n++ {
		c := "CloudTrail." + string(rune('0'+n))
		if !slices.ContainsFunc(Rules(), func(r Rule) bool { return r.Control == c }) {
			t.Errorf("no rule for %s", c)
		}
	}
}

func TestOrganization(t *testing.T) {
	member := func(id string) *Account {
		a := cleanAccount(t)
		a.ID = id
		return a
	}
	// two accounts, each with its own trail: no organization trail
	fs := evaluate(cleanAccount(t), member("444455556666"))
	if !slices.Contains(ids(fs), RuleNoOrganizationTrail) {
		t.Errorf("no %s: %v", RuleNoOrganizationTrail, ids(fs))
	}
	// an organization trail seen in one account only
	mgmt := cleanAccount(t)
	mgmt.Trails[0].IsOrganization = true
	other := member("444455556666")
	other.Trails = nil
	other.RegionTrails = map[string][]string{}
	fs = evaluate(mgmt, other)
	i := slices.IndexFunc(fs, func(f Finding) bool { return f.ID == RuleOrganizationCoverage })
	if i < 0 || fs[i].Account != "444455556666" || !strings.Contains(fs[i].Remediation, "--is-organization-trail") {
		t.Errorf("coverage: %v", fs)
	}
	// the organization trail covers both accounts: judged once
	other.Trails = []*Trail{mgmt.Trails[0]}
	other.RegionTrails = map[string][]string{"us-east-1": {trailARN}, "eu-west-1": {trailARN}}
	if fs := evaluate(mgmt, other); len(fs) != 0 {
		t.Errorf("organization covered: %v", ids(fs))
	}
}

func TestUnreadAspectsAreSkipped(t *testing.T) {
	a := cleanAccount(t)
	b := a.Buckets[bucket]
	b.Unread = BucketAspects()
	b.PublicAccess, b.Logging, b.Versioning, b.Policy = nil, nil, "", ""
	a.Unread = []string{"public-access-block"}
	a.PublicAccessBlock = nil
	a.Keys[keyARN].Unread = []string{"describe", "rotation", "policy"}
	a.Keys[keyARN].RotationEnabled = false
	if fs := evaluate(a); len(fs) != 0 {
		t.Errorf("findings on what could not be read: %v", ids(fs))
	}
}

func jsonValid(s string) bool { return json.Valid([]byte(s)) }

// TestSharedBucketFixes: the fixes for one of two trails sharing a bucket
// (with different prefixes) and a key keep the other trail working.
func TestSharedBucketFixes(t *testing.T) {
	a := cleanAccount(t)
	other := *a.Trails[0]
	other.ARN, other.Name, other.S3KeyPrefix, other.IsMultiRegion = "arn:aws:cloudtrail:us-east-1:111122223333:trail/second", "second", "team/", false
	st := *other.Status
	st.LatestDeliveryError = "AccessDenied"
	other.Status = &st
	a.Trails = append(a.Trails, &other)
	a.Buckets[bucket].Policy = ""
	fs := evaluate(a)
	for _, id := range []string{RuleDeliveryError, RuleBucketSSL} {
		i := slices.IndexFunc(fs, func(f Finding) bool { return f.ID == id })
		if i < 0 {
			t.Fatalf("no %s in %v", id, ids(fs))
		}
		rem := fs[i].Remediation
		for _, want := range []string{trailARN, other.ARN, "arn:aws:s3:::" + bucket + "/AWSLogs/111122223333/*", "arn:aws:s3:::" + bucket + "/team/AWSLogs/111122223333/*"} {
			if !strings.Contains(rem, want) {
				t.Errorf("%s fix lacks %s:\n%s", id, want, rem)
			}
		}
	}
	st.LatestDeliveryError = "InsufficientEncryptionPolicyException"
	fs = evaluate(a)
	i := slices.IndexFunc(fs, func(f Finding) bool { return f.ID == RuleDeliveryError })
	if i < 0 || !strings.Contains(fs[i].Remediation, "aws kms put-key-policy --region us-east-1 --key-id "+keyARN) || !strings.Contains(fs[i].Remediation, trailARN) {
		t.Errorf("encryption delivery error fix: %v", fs)
	}
}

// TestOrganizationIDInFixes: an organization trail's bucket policy fix
// keeps the organization ID the current policy names.
func TestOrganizationIDInFixes(t *testing.T) {
	p := setup.Params{Account: acct, Region: "us-east-1", Bucket: bucket, KMSKeyARN: keyARN, OrganizationID: "o-a1b2c3d4e5"}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	a := cleanAccount(t)
	a.Trails[0].IsOrganization = true
	pol := p.BucketPolicy()
	pol.Statement = pol.Statement[:len(pol.Statement)-1] // drop the TLS deny: a policy fix is proposed
	a.Buckets[bucket].Policy = pol.JSON()
	fs := evaluate(a)
	i := slices.IndexFunc(fs, func(f Finding) bool { return f.ID == RuleBucketSSL })
	if i < 0 || !strings.Contains(fs[i].Remediation, `"aws:PrincipalOrgID":"o-a1b2c3d4e5"`) || strings.Contains(fs[i].Remediation, orgIDPlaceholder) {
		t.Errorf("fix: %v", fs)
	}
	a.Buckets[bucket].Policy = ""
	fs = evaluate(a)
	i = slices.IndexFunc(fs, func(f Finding) bool { return f.ID == RuleBucketSSL })
	if i < 0 || !strings.Contains(fs[i].Remediation, "in place of "+orgIDPlaceholder) {
		t.Errorf("fix without an organization ID: %v", fs)
	}
}
