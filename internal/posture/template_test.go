package posture

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/trailwatch/trailwatch/internal/setup"
)

// TestTemplatesAuditClean deploys (on paper) the CloudFormation template
// and the Terraform configuration trailwatch setup generates: the
// snapshot is built from the resources' properties as AWS would report
// them, and the audit finds nothing but the opt-in extras.
func TestTemplatesAuditClean(t *testing.T) {
	for _, notify := range []string{setup.NotifySNS, setup.NotifyS3} {
		p := setup.Params{Account: acct, Region: "us-east-1", Bucket: bucket, Notify: notify, ExternalID: "x", ObjectLockDays: 365}
		if err := p.Normalize(); err != nil {
			t.Fatal(err)
		}
		t.Run("cloudformation/"+notify, func(t *testing.T) { auditSnapshotClean(t, fromCloudFormation(t, p.CloudFormation(), p)) })
		t.Run("terraform/"+notify, func(t *testing.T) { auditSnapshotClean(t, fromTerraform(t, p.Terraform(), p)) })
	}
}

func auditSnapshotClean(t *testing.T, a *Account) {
	t.Helper()
	allowed := []string{RuleS3DataEventsRead, RuleS3DataEventsWrite, RuleBucketMFADelete, RuleCloudWatchLogs}
	for _, f := range evaluate(a) {
		if !slices.Contains(allowed, f.ID) {
			t.Errorf("%s: %s", f.ID, f.Evidence)
		}
	}
}

// deployed is the account the templates describe, before their
// properties are filled in.
func deployed(p setup.Params) *Account {
	tr := &Trail{ARN: p.TrailARN(), Name: p.TrailName, HomeRegion: p.Region, Account: acct, S3Bucket: p.Bucket,
		Status: &TrailStatus{IsLogging: true, LatestDeliveryTime: testNow}}
	return &Account{ID: acct, Regions: []string{p.Region}, Trails: []*Trail{tr}, RegionTrails: map[string][]string{p.Region: {tr.ARN}},
		Buckets: map[string]*Bucket{p.Bucket: {Name: p.Bucket, Region: p.BucketRegion, Account: acct}},
		Keys:    map[string]*Key{}, Topics: map[string]*Topic{}, Queues: map[string]*Queue{},
		PublicAccessBlock: &PublicAccessBlock{true, true, true, true}}
}

func fromCloudFormation(t *testing.T, doc []byte, p setup.Params) *Account {
	t.Helper()
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(doc, &tmpl); err != nil {
		t.Fatal(err)
	}
	a := deployed(p)
	tr, b := a.Trails[0], a.Buckets[p.Bucket]
	prop := func(res, name string, v any) bool {
		raw, ok := tmpl.Resources[res].Properties[name]
		if ok {
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatalf("%s.%s: %v", res, name, err)
			}
		}
		return ok
	}
	var sels []BasicSelector
	prop("Trail", "EventSelectors", &sels)
	tr.Selectors = SummarizeBasic(sels)
	prop("Trail", "IsMultiRegionTrail", &tr.IsMultiRegion)
	prop("Trail", "IncludeGlobalServiceEvents", &tr.IncludeGlobalServiceEvents)
	prop("Trail", "EnableLogFileValidation", &tr.LogFileValidation)
	var keyRef map[string][]string
	if prop("Trail", "KMSKeyId", &keyRef) && keyRef["Fn::GetAtt"][0] == "TrailKey" {
		tr.KMSKeyID = keyARN
		k := &Key{ARN: keyARN, Region: p.Region, Account: acct, Manager: "CUSTOMER", State: "Enabled"}
		prop("TrailKey", "EnableKeyRotation", &k.RotationEnabled)
		k.Policy = policyProp(t, tmpl.Resources["TrailKey"].Properties["KeyPolicy"])
		a.Keys[keyARN] = k
	}
	var versioning struct{ Status string }
	prop("TrailBucket", "VersioningConfiguration", &versioning)
	b.Versioning = versioning.Status
	b.MFADelete = "Disabled"
	b.PublicAccess = &PublicAccessBlock{}
	prop("TrailBucket", "PublicAccessBlockConfiguration", b.PublicAccess)
	var logging struct{ DestinationBucketName any }
	if prop("TrailBucket", "LoggingConfiguration", &logging) && logging.DestinationBucketName != nil {
		b.Logging = &LoggingTarget{Bucket: p.AccessLogBucket}
	}
	var lc struct {
		Rules []struct {
			Status           string
			ExpirationInDays int
		}
	}
	prop("TrailBucket", "LifecycleConfiguration", &lc)
	for _, r := range lc.Rules {
		b.Lifecycle = append(b.Lifecycle, LifecycleRule{Enabled: r.Status == "Enabled", ExpirationDays: r.ExpirationInDays})
	}
	var ol struct{ ObjectLockEnabled string }
	prop("TrailBucket", "ObjectLockConfiguration", &ol)
	b.ObjectLock = ol.ObjectLockEnabled == "Enabled"
	var nc struct{ QueueConfigurations []any }
	if prop("TrailBucket", "NotificationConfiguration", &nc) && len(nc.QueueConfigurations) > 0 {
		b.NotifyQueues = []string{p.QueueARN()}
	}
	b.Policy = policyProp(t, tmpl.Resources["TrailBucketPolicy"].Properties["PolicyDocument"])
	q := &Queue{ARN: p.QueueARN(), URL: QueueURLFromARN(p.QueueARN()), Region: p.BucketRegion}
	prop("CollectorQueue", "SqsManagedSseEnabled", &q.ManagedSSE)
	q.Policy = policyProp(t, tmpl.Resources["CollectorQueuePolicy"].Properties["PolicyDocument"])
	a.Queues[q.ARN] = q
	if _, ok := tmpl.Resources["TrailTopic"]; ok {
		tr.SNSTopicARN = p.TopicARN()
		tp := &Topic{ARN: p.TopicARN(), Region: p.Region, Policy: policyProp(t, tmpl.Resources["TrailTopicPolicy"].Properties["PolicyDocument"])}
		if s := tmpl.Resources["CollectorSubscription"]; s.Type == "AWS::SNS::Subscription" {
			tp.Subscriptions = []Subscription{{Protocol: "sqs", Endpoint: q.ARN}}
		}
		a.Topics[tp.ARN] = tp
	}
	return a
}

func policyProp(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 {
		t.Fatal("no policy document in the template")
	}
	return string(raw)
}

func fromTerraform(t *testing.T, doc []byte, p setup.Params) *Account {
	t.Helper()
	var tf struct {
		Resource map[string]map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(doc, &tf); err != nil {
		t.Fatal(err)
	}
	get := func(typ, name, attr string, v any) bool {
		raw, ok := tf.Resource[typ][name][attr]
		if ok {
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatalf("%s.%s.%s: %v", typ, name, attr, err)
			}
		}
		return ok
	}
	policy := func(typ, name, attr string) string {
		var s string
		if !get(typ, name, attr, &s) {
			t.Fatalf("no %s.%s.%s", typ, name, attr)
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("%s.%s.%s is not JSON: %s", typ, name, attr, s)
		}
		return s
	}
	a := deployed(p)
	tr, b := a.Trails[0], a.Buckets[p.Bucket]
	var sels []struct {
		ReadWriteType           string `json:"read_write_type"`
		IncludeManagementEvents bool   `json:"include_management_events"`
	}
	get("aws_cloudtrail", "trail", "event_selector", &sels)
	var basic []BasicSelector
	for _, s := range sels {
		basic = append(basic, BasicSelector{ReadWriteType: s.ReadWriteType, IncludeManagementEvents: &s.IncludeManagementEvents})
	}
	tr.Selectors = SummarizeBasic(basic)
	get("aws_cloudtrail", "trail", "is_multi_region_trail", &tr.IsMultiRegion)
	get("aws_cloudtrail", "trail", "include_global_service_events", &tr.IncludeGlobalServiceEvents)
	get("aws_cloudtrail", "trail", "enable_log_file_validation", &tr.LogFileValidation)
	var kmsKey string
	if get("aws_cloudtrail", "trail", "kms_key_id", &kmsKey) && kmsKey == "${aws_kms_key.trail.arn}" {
		tr.KMSKeyID = keyARN
		k := &Key{ARN: keyARN, Region: p.Region, Account: acct, Manager: "CUSTOMER", State: "Enabled", Policy: policy("aws_kms_key", "trail", "policy")}
		get("aws_kms_key", "trail", "enable_key_rotation", &k.RotationEnabled)
		a.Keys[keyARN] = k
	}
	var vc []struct{ Status string }
	get("aws_s3_bucket_versioning", "trail", "versioning_configuration", &vc)
	if len(vc) == 1 {
		b.Versioning = vc[0].Status
	}
	b.MFADelete = "Disabled"
	var pab struct {
		A bool `json:"block_public_acls"`
		I bool `json:"ignore_public_acls"`
		P bool `json:"block_public_policy"`
		R bool `json:"restrict_public_buckets"`
	}
	raw, _ := json.Marshal(tf.Resource["aws_s3_bucket_public_access_block"]["trail"])
	_ = json.Unmarshal(raw, &pab)
	b.PublicAccess = &PublicAccessBlock{pab.A, pab.I, pab.P, pab.R}
	var target string
	if get("aws_s3_bucket_logging", "trail", "target_bucket", &target) && target != "" {
		b.Logging = &LoggingTarget{Bucket: p.AccessLogBucket}
	}
	var rules []struct {
		Status     string
		Expiration []struct{ Days int }
	}
	get("aws_s3_bucket_lifecycle_configuration", "trail", "rule", &rules)
	for _, r := range rules {
		if len(r.Expiration) > 0 {
			b.Lifecycle = append(b.Lifecycle, LifecycleRule{Enabled: r.Status == "Enabled", ExpirationDays: r.Expiration[0].Days})
		}
	}
	_, b.ObjectLock = tf.Resource["aws_s3_bucket_object_lock_configuration"]["trail"]
	b.Policy = policy("aws_s3_bucket_policy", "trail", "policy")
	if _, ok := tf.Resource["aws_s3_bucket_notification"]["trail"]; ok {
		b.NotifyQueues = []string{p.QueueARN()}
	}
	q := &Queue{ARN: p.QueueARN(), URL: QueueURLFromARN(p.QueueARN()), Region: p.BucketRegion, Policy: policy("aws_sqs_queue_policy", "collector", "policy")}
	get("aws_sqs_queue", "collector", "sqs_managed_sse_enabled", &q.ManagedSSE)
	a.Queues[q.ARN] = q
	if _, ok := tf.Resource["aws_sns_topic"]["trail"]; ok {
		tr.SNSTopicARN = p.TopicARN()
		tp := &Topic{ARN: p.TopicARN(), Region: p.Region, Policy: policy("aws_sns_topic_policy", "trail", "policy")}
		if _, ok := tf.Resource["aws_sns_topic_subscription"]["collector"]; ok {
			tp.Subscriptions = []Subscription{{Protocol: "sqs", Endpoint: q.ARN}}
		}
		a.Topics[tp.ARN] = tp
	}
	return a
}
