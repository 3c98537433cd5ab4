package setup

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Trail settings both templates use.
const (
	queueRetentionSeconds  = 1209600 // 14 days
	queueVisibilitySeconds = 300
	noncurrentDays         = 30
)

// CloudFormation returns a CloudFormation template (JSON) that creates
// the whole setup: the trail bucket (versioned, Block Public Access,
// bucket owner enforced, SSE-KMS, lifecycle, server access logging into a
// dedicated bucket), its policy, a KMS key with rotation (unless
// KMSKeyARN names one), the SNS topic or S3 notifications, the collector
// queue with its policy, the multi-Region trail with log file validation,
// and the collector role with its trust and permission policies.
func (p *Params) CloudFormation() []byte {
	res := map[string]any{}
	keyArn := any(p.KMSKeyARN)
	if p.KMSKeyARN == "" {
		keyArn = map[string]any{"Fn::GetAtt": []string{"TrailKey", "Arn"}}
		res["TrailKey"] = map[string]any{
			"Type":           "AWS::KMS::Key",
			"DependsOn":      []string{"CollectorRole"}, // the key policy names the role: it must exist
			"DeletionPolicy": "Retain",
			"Properties": map[string]any{
				"Description":       "CloudTrail log files of " + p.TrailName,
				"EnableKeyRotation": true,
				"KeyPolicy":         rawPolicy(p.KeyPolicy()),
			},
		}
	}
	bucket := map[string]any{
		"BucketName":              p.Bucket,
		"VersioningConfiguration": map[string]any{"Status": "Enabled"},
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true,
		},
		"OwnershipControls": map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
			"BucketKeyEnabled":              true,
			"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keyArn},
		}}},
		"LifecycleConfiguration": map[string]any{"Rules": []any{p.lifecycleRuleCFN()}},
		"LoggingConfiguration": map[string]any{
			"DestinationBucketName": map[string]any{"Ref": "AccessLogBucket"},
			"TargetObjectKeyFormat": map[string]any{"PartitionedPrefix": map[string]any{"PartitionDateSource": "EventTime"}},
		},
	}
	if p.ObjectLockDays > 0 {
		bucket["ObjectLockEnabled"] = true
		bucket["ObjectLockConfiguration"] = map[string]any{"ObjectLockEnabled": "Enabled",
			"Rule": map[string]any{"DefaultRetention": map[string]any{"Mode": "GOVERNANCE", "Days": p.ObjectLockDays}}}
	}
	bucketDeps := []string{"AccessLogBucketPolicy"}
	if p.Notify == NotifyS3 {
		qc := p.Notification().QueueConfigurations[0]
		bucket["NotificationConfiguration"] = map[string]any{"QueueConfigurations": []any{map[string]any{
			"Event":  qc.Events[0],
			"Queue":  map[string]any{"Fn::GetAtt": []string{"CollectorQueue", "Arn"}},
			"Filter": map[string]any{"S3Key": map[string]any{"Rules": []any{map[string]any{"Name": "prefix", "Value": qc.Filter.Key.FilterRules[0].Value}}}},
		}}}
		bucketDeps = append(bucketDeps, "CollectorQueuePolicy")
	}
	res["TrailBucket"] = map[string]any{"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "DependsOn": bucketDeps, "Properties": bucket}
	res["TrailBucketPolicy"] = map[string]any{"Type": "AWS::S3::BucketPolicy",
		"Properties": map[string]any{"Bucket": map[string]any{"Ref": "TrailBucket"}, "PolicyDocument": rawPolicy(p.BucketPolicy())}}
	res["AccessLogBucket"] = map[string]any{"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "Properties": map[string]any{
		"BucketName":              p.AccessLogBucket,
		"VersioningConfiguration": map[string]any{"Status": "Enabled"},
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true,
		},
		"OwnershipControls": map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
			"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}, // server access logs support SSE-S3 only
		}}},
		"LifecycleConfiguration": map[string]any{"Rules": []any{map[string]any{"Id": "access-log-retention", "Status": "Enabled",
			"ExpirationInDays": p.RetentionDays, "NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": noncurrentDays}}}},
	}}
	res["AccessLogBucketPolicy"] = map[string]any{"Type": "AWS::S3::BucketPolicy",
		"Properties": map[string]any{"Bucket": map[string]any{"Ref": "AccessLogBucket"}, "PolicyDocument": rawPolicy(p.AccessLogBucketPolicy())}}
	res["CollectorQueue"] = map[string]any{"Type": "AWS::SQS::Queue", "Properties": map[string]any{
		"QueueName": p.QueueName, "SqsManagedSseEnabled": true,
		"MessageRetentionPeriod": queueRetentionSeconds, "VisibilityTimeout": queueVisibilitySeconds,
	}}
	res["CollectorQueuePolicy"] = map[string]any{"Type": "AWS::SQS::QueuePolicy", "Properties": map[string]any{
		"Queues": []any{map[string]any{"Ref": "CollectorQueue"}}, "PolicyDocument": rawPolicy(p.QueuePolicy())}}
	trailDeps := []string{"TrailBucketPolicy"}
	trail := map[string]any{
		"TrailName": p.TrailName, "S3BucketName": map[string]any{"Ref": "TrailBucket"}, "IsLogging": true,
		"IsMultiRegionTrail": true, "IncludeGlobalServiceEvents": true, "EnableLogFileValidation": true,
		"KMSKeyId":       keyArn,
		"EventSelectors": []any{map[string]any{"ReadWriteType": "All", "IncludeManagementEvents": true}},
	}
	if p.Prefix != "" {
		trail["S3KeyPrefix"] = p.Prefix
	}
	if p.OrganizationID != "" {
		trail["IsOrganizationTrail"] = true
	}
	if p.Notify == NotifySNS {
		res["TrailTopic"] = map[string]any{"Type": "AWS::SNS::Topic", "Properties": map[string]any{"TopicName": p.TopicName}}
		res["TrailTopicPolicy"] = map[string]any{"Type": "AWS::SNS::TopicPolicy", "Properties": map[string]any{
			"Topics": []any{map[string]any{"Ref": "TrailTopic"}}, "PolicyDocument": rawPolicy(p.TopicPolicy())}}
		res["CollectorSubscription"] = map[string]any{"Type": "AWS::SNS::Subscription", "DependsOn": []string{"CollectorQueuePolicy"}, "Properties": map[string]any{
			"TopicArn": map[string]any{"Ref": "TrailTopic"}, "Protocol": "sqs",
			"Endpoint": map[string]any{"Fn::GetAtt": []string{"CollectorQueue", "Arn"}}}}
		trail["SnsTopicName"] = map[string]any{"Fn::GetAtt": []string{"TrailTopic", "TopicName"}}
		trailDeps = append(trailDeps, "TrailTopicPolicy")
	}
	res["Trail"] = map[string]any{"Type": "AWS::CloudTrail::Trail", "DependsOn": trailDeps, "Properties": trail}
	res["CollectorRole"] = map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
		"RoleName": p.RoleName, "AssumeRolePolicyDocument": rawPolicy(p.TrustPolicy())}}
	res["CollectorPolicy"] = map[string]any{"Type": "AWS::IAM::RolePolicy", "Properties": map[string]any{
		"RoleName": map[string]any{"Ref": "CollectorRole"}, "PolicyName": "trailwatch-collector",
		"PolicyDocument": rawPolicy(p.collectorPolicy(true))}}
	tmpl := map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "trailwatch: CloudTrail trail " + p.TrailName + ", its bucket, key and notifications, and the collector's least-privilege role",
		"Resources":                res,
		"Outputs": map[string]any{
			"QueueUrl":            map[string]any{"Value": map[string]any{"Ref": "CollectorQueue"}},
			"RoleArn":             map[string]any{"Value": map[string]any{"Fn::GetAtt": []string{"CollectorRole", "Arn"}}},
			"TrailArn":            map[string]any{"Value": map[string]any{"Fn::GetAtt": []string{"Trail", "Arn"}}},
			"TrailBucket":         map[string]any{"Value": map[string]any{"Ref": "TrailBucket"}},
			"AccessLogBucketName": map[string]any{"Value": map[string]any{"Ref": "AccessLogBucket"}},
		},
	}
	return replaceKey(Indent(tmpl), `{"Fn::GetAtt":["TrailKey","Arn"]}`)
}

func (p *Params) lifecycleRuleCFN() map[string]any {
	return map[string]any{"Id": "cloudtrail-retention", "Status": "Enabled", "Prefix": p.base() + "AWSLogs/",
		"ExpirationInDays": p.RetentionDays, "NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": noncurrentDays}}
}

// rawPolicy embeds a policy as a JSON object in a template.
func rawPolicy(pol *Policy) json.RawMessage { return json.RawMessage(pol.Compact()) }

// replaceKey replaces the key placeholder (as a JSON string) with ref, a
// JSON value, and re-indents.
func replaceKey(doc []byte, ref string) []byte {
	if !bytes.Contains(doc, []byte(keyPlaceholder)) {
		return doc
	}
	doc = bytes.ReplaceAll(doc, []byte(strconv.Quote(keyPlaceholder)), []byte(ref))
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		panic(err) // ref is a JSON value: the document stays valid
	}
	return out.Bytes()
}

// Terraform returns the same setup as CloudFormation in Terraform's JSON
// syntax (main.tf.json) for the hashicorp/aws provider (v5 or later).
// Policies are JSON strings; "$${" keeps Terraform from interpolating IAM
// policy variables.
func (p *Params) Terraform() []byte {
	r := map[string]map[string]any{}
	add := func(typ, name string, body map[string]any) {
		if r[typ] == nil {
			r[typ] = map[string]any{}
		}
		r[typ][name] = body
	}
	keyArn := p.KMSKeyARN
	if keyArn == "" {
		keyArn = "${aws_kms_key.trail.arn}"
		add("aws_kms_key", "trail", map[string]any{
			"description": "CloudTrail log files of " + p.TrailName, "enable_key_rotation": true,
			"policy": tfPolicy(p.KeyPolicy()), "depends_on": []string{"aws_iam_role.collector"},
		})
	}
	for name, b := range map[string]string{"trail": p.Bucket, "access_logs": p.AccessLogBucket} {
		bucket := map[string]any{"bucket": b}
		if name == "trail" && p.ObjectLockDays > 0 {
			bucket["object_lock_enabled"] = true
		}
		add("aws_s3_bucket", name, bucket)
		ref := "${aws_s3_bucket." + name + ".id}"
		add("aws_s3_bucket_versioning", name, map[string]any{"bucket": ref, "versioning_configuration": []any{map[string]any{"status": "Enabled"}}})
		add("aws_s3_bucket_public_access_block", name, map[string]any{"bucket": ref,
			"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true})
		add("aws_s3_bucket_ownership_controls", name, map[string]any{"bucket": ref, "rule": []any{map[string]any{"object_ownership": "BucketOwnerEnforced"}}})
		sse := map[string]any{"sse_algorithm": "AES256"}
		if name == "trail" {
			sse = map[string]any{"sse_algorithm": "aws:kms", "kms_master_key_id": keyArn}
		}
		add("aws_s3_bucket_server_side_encryption_configuration", name, map[string]any{"bucket": ref,
			"rule": []any{map[string]any{"apply_server_side_encryption_by_default": []any{sse}, "bucket_key_enabled": name == "trail"}}})
		filter := map[string]any{}
		if name == "trail" {
			filter["prefix"] = p.base() + "AWSLogs/"
		}
		add("aws_s3_bucket_lifecycle_configuration", name, map[string]any{"bucket": ref, "rule": []any{map[string]any{
			"id": name + "-retention", "status": "Enabled", "filter": []any{filter},
			"expiration":                    []any{map[string]any{"days": p.RetentionDays}},
			"noncurrent_version_expiration": []any{map[string]any{"noncurrent_days": noncurrentDays}},
		}}})
	}
	if p.ObjectLockDays > 0 {
		add("aws_s3_bucket_object_lock_configuration", "trail", map[string]any{"bucket": "${aws_s3_bucket.trail.id}",
			"rule": []any{map[string]any{"default_retention": []any{map[string]any{"mode": "GOVERNANCE", "days": p.ObjectLockDays}}}}})
	}
	add("aws_s3_bucket_logging", "trail", map[string]any{"bucket": "${aws_s3_bucket.trail.id}", "target_bucket": "${aws_s3_bucket.access_logs.id}",
		"target_prefix": "", "target_object_key_format": []any{map[string]any{"partitioned_prefix": []any{map[string]any{"partition_date_source": "EventTime"}}}},
		"depends_on": []string{"aws_s3_bucket_policy.access_logs"}})
	add("aws_s3_bucket_policy", "trail", map[string]any{"bucket": "${aws_s3_bucket.trail.id}", "policy": tfPolicy(p.BucketPolicy()),
		"depends_on": []string{"aws_s3_bucket_public_access_block.trail"}})
	add("aws_s3_bucket_policy", "access_logs", map[string]any{"bucket": "${aws_s3_bucket.access_logs.id}", "policy": tfPolicy(p.AccessLogBucketPolicy()),
		"depends_on": []string{"aws_s3_bucket_public_access_block.access_logs"}})
	add("aws_sqs_queue", "collector", map[string]any{"name": p.QueueName, "sqs_managed_sse_enabled": true,
		"message_retention_seconds": queueRetentionSeconds, "visibility_timeout_seconds": queueVisibilitySeconds})
	add("aws_sqs_queue_policy", "collector", map[string]any{"queue_url": "${aws_sqs_queue.collector.id}", "policy": tfPolicy(p.QueuePolicy())})
	trail := map[string]any{
		"name": p.TrailName, "s3_bucket_name": "${aws_s3_bucket.trail.id}", "enable_logging": true,
		"is_multi_region_trail": true, "include_global_service_events": true, "enable_log_file_validation": true,
		"kms_key_id":     keyArn,
		"event_selector": []any{map[string]any{"read_write_type": "All", "include_management_events": true}},
	}
	deps := []string{"aws_s3_bucket_policy.trail"}
	if p.Prefix != "" {
		trail["s3_key_prefix"] = p.Prefix
	}
	if p.OrganizationID != "" {
		trail["is_organization_trail"] = true
	}
	if p.Notify == NotifySNS {
		add("aws_sns_topic", "trail", map[string]any{"name": p.TopicName})
		add("aws_sns_topic_policy", "trail", map[string]any{"arn": "${aws_sns_topic.trail.arn}", "policy": tfPolicy(p.TopicPolicy())})
		add("aws_sns_topic_subscription", "collector", map[string]any{"topic_arn": "${aws_sns_topic.trail.arn}", "protocol": "sqs",
			"endpoint": "${aws_sqs_queue.collector.arn}", "depends_on": []string{"aws_sqs_queue_policy.collector"}})
		trail["sns_topic_name"] = "${aws_sns_topic.trail.name}"
		deps = append(deps, "aws_sns_topic_policy.trail")
	} else {
		qc := p.Notification().QueueConfigurations[0]
		add("aws_s3_bucket_notification", "trail", map[string]any{"bucket": "${aws_s3_bucket.trail.id}",
			"queue":      []any{map[string]any{"id": qc.ID, "queue_arn": "${aws_sqs_queue.collector.arn}", "events": qc.Events, "filter_prefix": qc.Filter.Key.FilterRules[0].Value}},
			"depends_on": []string{"aws_sqs_queue_policy.collector"}})
	}
	trail["depends_on"] = deps
	add("aws_cloudtrail", "trail", trail)
	add("aws_iam_role", "collector", map[string]any{"name": p.RoleName, "assume_role_policy": tfPolicy(p.TrustPolicy())})
	add("aws_iam_role_policy", "collector", map[string]any{"name": "trailwatch-collector", "role": "${aws_iam_role.collector.id}",
		"policy": strings.ReplaceAll(tfPolicy(p.collectorPolicy(true)), keyPlaceholder, keyArn)})
	doc := map[string]any{
		"terraform": map[string]any{"required_providers": map[string]any{"aws": map[string]any{"source": "hashicorp/aws", "version": ">= 5.0"}}},
		"resource":  r,
		"output": map[string]any{
			"queue_url":    map[string]any{"value": "${aws_sqs_queue.collector.id}"},
			"role_arn":     map[string]any{"value": "${aws_iam_role.collector.arn}"},
			"trail_arn":    map[string]any{"value": "${aws_cloudtrail.trail.arn}"},
			"trail_bucket": map[string]any{"value": "${aws_s3_bucket.trail.id}"},
		},
	}
	return Indent(doc)
}

// tfPolicy is a policy as a Terraform string: IAM policy variables
// (${aws:...}) escaped as $${...}.
func tfPolicy(pol *Policy) string { return strings.ReplaceAll(pol.Compact(), "${", "$${") }

// Document is one generated file.
type Document struct {
	Name        string // as the setup command names it, e.g. bucket-policy
	File        string // suggested file name
	Description string
	Render      func(p *Params) []byte
}

// Documents lists every document setup generates, in order.
func Documents() []Document {
	pol := func(f func(p *Params) *Policy) func(p *Params) []byte {
		return func(p *Params) []byte { return []byte(f(p).JSON()) }
	}
	return []Document{
		{"bucket-policy", "bucket-policy.json", "trail bucket policy (aws s3api put-bucket-policy --policy file://...)", pol((*Params).BucketPolicy)},
		{"topic-policy", "topic-policy.json", "SNS topic policy for CloudTrail (aws sns set-topic-attributes --attribute-name Policy)", pol((*Params).TopicPolicy)},
		{"queue-policy", "queue-policy.json", "SQS queue policy for the trail's topic (--notify sns) or bucket (--notify s3)", pol((*Params).QueuePolicy)},
		{"queue-attributes", "queue-attributes.json", "the queue policy as aws sqs set-queue-attributes --attributes file://...", func(p *Params) []byte { return Indent(QueueAttributes(p.QueuePolicy())) }},
		{"notification", "notification.json", "S3 event notification of the trail bucket (aws s3api put-bucket-notification-configuration)", func(p *Params) []byte { return Indent(p.Notification()) }},
		{"key-policy", "key-policy.json", "KMS key policy: CloudTrail encrypts for the trail, the collector decrypts through S3", pol((*Params).KeyPolicy)},
		{"trust-policy", "trust-policy.json", "collector role trust policy (with --external-id)", pol((*Params).TrustPolicy)},
		{"collector-policy", "collector-policy.json", "collector role permission policy", pol((*Params).CollectorPolicy)},
		{"audit-policy", "audit-policy.json", "read-only permission policy of a role for trailwatch audit (same trust policy as the collector)", pol((*Params).AuditPolicy)},
		{"access-log-policy", "access-log-policy.json", "policy of the bucket receiving S3 server access logs", pol((*Params).AccessLogBucketPolicy)},
		{"logging", "logging.json", "server access logging of the trail bucket (aws s3api put-bucket-logging --bucket-logging-status)", func(p *Params) []byte { return Indent(p.LoggingStatus()) }},
		{"cloudformation", "cloudformation.json", "all of the above as a CloudFormation template", (*Params).CloudFormation},
		{"terraform", "main.tf.json", "all of the above as Terraform (JSON syntax)", (*Params).Terraform},
	}
}

// DocumentByName finds a document of Documents.
func DocumentByName(name string) (Document, bool) {
	for _, d := range Documents() {
		if d.Name == name {
			return d, true
		}
	}
	return Document{}, false
}
