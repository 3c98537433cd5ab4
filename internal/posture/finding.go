// Package posture audits how securely CloudTrail and the resources around
// it are set up: trails and their status, event selectors, the trail
// bucket (public access, versioning, logging, lifecycle, policy), the KMS
// key, the SNS topic and the collector's SQS queue.
//
// Gather reads an account's configuration through a Source (implemented
// by internal/awsapi) into a Snapshot; Evaluate runs the checks, pure
// functions over the snapshot, and returns Findings, each with its AWS
// Security Hub control, CIS AWS Foundations Benchmark requirement,
// evidence and an exact AWS CLI remediation. The Write* functions render
// findings as a table, JSON, SARIF 2.1.0 or a self-contained HTML page.
package posture

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity ranks findings.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the lower-case name: info, low, medium, high or critical.
func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText writes the lower-case name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name (any case).
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// ParseSeverity parses info, low, medium, high or critical (any case).
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want info, low, medium, high or critical)", name)
}

// Rule describes one check.
type Rule struct {
	ID       string   `json:"id"`
	Control  string   `json:"control,omitempty"` // AWS Security Hub control, e.g. CloudTrail.1
	CIS      string   `json:"cis,omitempty"`     // CIS AWS Foundations Benchmark requirement, e.g. "v3.0.0 3.1"
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Why      string   `json:"why"`
}

// HelpURL is the AWS documentation of the rule's control, or of the
// practice it checks.
func (r *Rule) HelpURL() string {
	if r.Control == "" {
		return "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html"
	}
	svc, n, _ := strings.Cut(r.Control, ".")
	page := strings.ToLower(svc) + "-controls"
	return "https://docs.aws.amazon.com/securityhub/latest/userguide/" + page + ".html#" + strings.ToLower(svc) + "-" + n
}

// Finding is one problem found.
type Finding struct {
	ID          string   `json:"id"` // the rule
	Control     string   `json:"control,omitempty"`
	CIS         string   `json:"cis,omitempty"`
	Severity    Severity `json:"severity"`
	Account     string   `json:"account"`
	Region      string   `json:"region,omitempty"`
	Resource    string   `json:"resource"`
	Title       string   `json:"title"`
	Evidence    string   `json:"evidence"`
	Remediation string   `json:"remediation"`
}

// Controls returns the control and CIS requirement as one label, e.g.
// "CloudTrail.1 · CIS 3.1".
func (f *Finding) Controls() string {
	var parts []string
	if f.Control != "" {
		parts = append(parts, f.Control)
	}
	if f.CIS != "" {
		parts = append(parts, "CIS "+f.CIS)
	}
	if len(parts) == 0 {
		return "trailwatch"
	}
	return strings.Join(parts, " · ")
}

// SortFindings orders findings by severity (highest first), account,
// region, resource and rule.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.ID, b.ID))
	})
}

// Rule IDs.
const (
	RuleNoTrailInRegion        = "cloudtrail.no-trail-in-region"
	RuleNoMultiRegionTrail     = "cloudtrail.no-multi-region-trail"
	RuleTrailNotLogging        = "cloudtrail.not-logging"
	RuleGlobalServiceEvents    = "cloudtrail.global-service-events"
	RuleDeliveryError          = "cloudtrail.delivery-error"
	RuleDigestDeliveryError    = "cloudtrail.digest-delivery-error"
	RuleNotificationError      = "cloudtrail.notification-error"
	RuleDeliveryStale          = "cloudtrail.delivery-stale"
	RuleLogFileValidation      = "cloudtrail.log-file-validation"
	RuleTrailEncryption        = "cloudtrail.encryption"
	RuleCloudWatchLogs         = "cloudtrail.cloudwatch-logs"
	RuleNoOrganizationTrail    = "cloudtrail.no-organization-trail"
	RuleOrganizationCoverage   = "cloudtrail.organization-coverage"
	RuleS3DataEventsWrite      = "cloudtrail.s3-data-events-write"
	RuleS3DataEventsRead       = "cloudtrail.s3-data-events-read"
	RuleNoCollectorQueue       = "cloudtrail.no-collector-notifications"
	RuleKeyRotation            = "kms.rotation"
	RuleKeyRegion              = "kms.region-mismatch"
	RuleKeyPublic              = "kms.policy-public"
	RuleKeyState               = "kms.key-not-enabled"
	RuleKeyCustomerManaged     = "kms.not-customer-managed"
	RuleKeyCloudTrailCondition = "kms.cloudtrail-unscoped"
	RuleBucketPublic           = "s3.trail-bucket-public"
	RuleBucketBPA              = "s3.bucket-public-access-block"
	RuleAccountBPA             = "s3.account-public-access-block"
	RuleBucketVersioning       = "s3.trail-bucket-versioning"
	RuleBucketMFADelete        = "s3.trail-bucket-mfa-delete"
	RuleBucketObjectLock       = "s3.trail-bucket-object-lock"
	RuleTrailBucketLogging     = "s3.trail-bucket-access-logging"
	RuleBucketLifecycle        = "s3.trail-bucket-lifecycle"
	RuleBucketPolicySource     = "s3.trail-bucket-policy-source"
	RuleBucketPolicyACL        = "s3.trail-bucket-policy-acl"
	RuleBucketPolicyBroad      = "s3.trail-bucket-policy-broad"
	RuleBucketSSL              = "s3.trail-bucket-ssl"
	RuleBucketLogging          = "s3.bucket-access-logging"
	RuleQueuePublic            = "sqs.policy-public"
	RuleQueueSource            = "sqs.policy-source-arn"
	RuleQueueEncryption        = "sqs.encryption"
	RuleTopicPublic            = "sns.policy-public"
	RuleTopicSource            = "sns.policy-source-arn"
)

// Rules is the catalog of checks, in report order.
var rules = []Rule{
	{RuleNoTrailInRegion, "CloudTrail.3", "", High, "No trail is logging in this region",
		"Without a trail, API activity in the region is kept only 90 days in Event history and never reaches a bucket or the collector."},
	{RuleNoMultiRegionTrail, "CloudTrail.1", "v3.0.0 3.1", High, "No multi-Region trail logs read and write management events",
		"A multi-Region trail with all management events is the baseline record of who did what in the account, in every region, including regions nobody uses."},
	{RuleTrailNotLogging, "", "v3.0.0 3.1", High, "Trail is not logging",
		"A stopped trail delivers nothing: activity since StopLogging is not recorded (StopLogging is a classic first step of an attacker)."},
	{RuleGlobalServiceEvents, "", "v3.0.0 3.1", Medium, "No trail records global service events",
		"IAM, STS and CloudFront calls are global; without IncludeGlobalServiceEvents no trail records them."},
	{RuleDeliveryError, "", "", High, "Trail cannot deliver log files",
		"GetTrailStatus reports a delivery error: log files are not reaching the bucket (usually the bucket policy or the KMS key policy)."},
	{RuleDigestDeliveryError, "", "", Medium, "Trail cannot deliver digest files",
		"Digest files prove the logs were not changed; a digest delivery error breaks the integrity chain that `trailwatch verify` checks."},
	{RuleNotificationError, "", "", Medium, "Trail cannot publish SNS notifications",
		"The collector learns about new log files from the trail's SNS topic; a notification error means it misses them."},
	{RuleDeliveryStale, "", "", Medium, "Trail has not delivered a log file for over 24 hours",
		"An active account produces management events every few minutes; no delivery for a day means logging is broken somewhere."},
	{RuleLogFileValidation, "CloudTrail.4", "v3.0.0 3.2", Low, "Log file validation is off",
		"Without digest files nobody can prove that a log file was not modified or deleted after delivery."},
	{RuleTrailEncryption, "CloudTrail.2", "v3.0.0 3.5", Medium, "Trail logs are not encrypted with a KMS key",
		"SSE-KMS with a customer managed key adds an independent permission (kms:Decrypt) and an audit trail of every read of the logs."},
	{RuleCloudWatchLogs, "CloudTrail.5", "v1.4.0 3.4", Info, "Trail does not send events to CloudWatch Logs",
		"CloudWatch Logs lets CloudWatch metric filters and alarms (CIS section 4) react to events within minutes; trailwatch detect does the same from the collected logs."},
	{RuleNoOrganizationTrail, "", "", Low, "No organization trail covers the audited accounts",
		"An organization trail logs every member account, including new ones, to one bucket that member accounts cannot change."},
	{RuleOrganizationCoverage, "", "", Medium, "Account is not covered by the organization trail",
		"Other audited accounts are logged by an organization trail, but this one is not: it is outside the organization or the trail."},
	{RuleS3DataEventsWrite, "S3.22", "v3.0.0 3.8", Info, "S3 object-level write events are not recorded",
		"Data events record PutObject/DeleteObject on buckets; they cost extra, so record them for the buckets that matter."},
	{RuleS3DataEventsRead, "S3.23", "v3.0.0 3.9", Info, "S3 object-level read events are not recorded",
		"Data events record GetObject on buckets: who read which object. They cost extra, so record them for the buckets that matter."},
	{RuleNoCollectorQueue, "", "", Low, "No notifications reach a queue for the collector",
		"Without an SNS topic on the trail or S3 event notifications to SQS, a collector must poll the bucket, later and at a higher cost."},
	{RuleKeyRotation, "KMS.4", "v3.0.0 3.6", Medium, "KMS key rotation is off",
		"Automatic rotation limits how much data one key version protects; CloudTrail keeps working across rotations."},
	{RuleKeyRegion, "", "", High, "KMS key and trail bucket are in different regions",
		"CloudTrail requires the KMS key to be in the same region as the bucket; delivery fails otherwise."},
	{RuleKeyPublic, "KMS.5", "", Critical, "KMS key policy allows anyone to use the key",
		"A key policy statement with Principal \"*\" and no condition lets any AWS account decrypt the logs it protects."},
	{RuleKeyState, "", "", High, "KMS key is not enabled",
		"A disabled key or one pending deletion stops delivery, and makes every log encrypted with it unreadable once deleted."},
	{RuleKeyCustomerManaged, "", "v3.0.0 3.5", Medium, "Trail key is not a customer managed key",
		"Only a customer managed key has a key policy you control."},
	{RuleKeyCloudTrailCondition, "", "", Low, "Key policy lets CloudTrail use the key for any trail",
		"Without aws:SourceArn or the kms:EncryptionContext:aws:cloudtrail:arn condition, any trail (of any account) can have CloudTrail encrypt with this key."},
	{RuleBucketPublic, "CloudTrail.6", "v1.4.0 3.3", Critical, "Trail bucket is publicly accessible",
		"Anyone could read (or write) the account's complete API history."},
	{RuleBucketBPA, "S3.8", "v3.0.0 2.1.4", High, "Bucket Block Public Access is not fully on",
		"Block Public Access overrides any policy or ACL that would make the bucket public, now or by a later mistake."},
	{RuleAccountBPA, "S3.1", "v3.0.0 2.1.4", Medium, "Account Block Public Access is not fully on",
		"Account-level Block Public Access protects every bucket, including ones created later."},
	{RuleBucketVersioning, "S3.14", "", Low, "Trail bucket versioning is off",
		"With versioning, a deleted or overwritten log file can be recovered."},
	{RuleBucketMFADelete, "S3.20", "v3.0.0 2.1.2", Info, "Trail bucket MFA delete is off",
		"MFA delete requires the root user's MFA to delete object versions or suspend versioning."},
	{RuleBucketObjectLock, "S3.15", "", Info, "Trail bucket has no Object Lock",
		"Object Lock (WORM) keeps log files from being deleted or overwritten, even by an administrator in COMPLIANCE mode."},
	{RuleTrailBucketLogging, "CloudTrail.7", "v3.0.0 3.4", Low, "Trail bucket server access logging is off",
		"Server access logs show who read or deleted log files: CloudTrail does not record data events on its own bucket by default."},
	{RuleBucketLifecycle, "S3.13", "", Low, "Trail bucket has no lifecycle retention",
		"A lifecycle rule keeps logs as long as required and no longer (cost, and data you must protect)."},
	{RuleBucketPolicySource, "", "", Medium, "Bucket policy lets CloudTrail write for any trail",
		"Without aws:SourceArn or aws:SourceAccount, CloudTrail acting for another account can write into this bucket (confused deputy)."},
	{RuleBucketPolicyACL, "", "", Low, "Bucket policy does not require bucket-owner-full-control",
		"CloudTrail writes with the bucket-owner-full-control ACL; requiring it keeps the bucket owner in control of every log file."},
	{RuleBucketPolicyBroad, "", "", Medium, "Bucket policy grants more than CloudTrail needs",
		"Only CloudTrail should write to the trail bucket; other principals should at most read."},
	{RuleBucketSSL, "S3.5", "v3.0.0 2.1.1", Medium, "Bucket policy does not require TLS",
		"A Deny on aws:SecureTransport=false keeps the logs from ever travelling unencrypted."},
	{RuleBucketLogging, "S3.9", "", Medium, "Bucket server access logging is off",
		"Server access logs record every request to the bucket; trailwatch ingests them next to CloudTrail."},
	{RuleQueuePublic, "SQS.3", "", Critical, "Queue policy allows anyone to use the queue",
		"Anyone could send fake notifications to the collector, or receive and delete the real ones."},
	{RuleQueueSource, "", "", Medium, "Queue policy lets any bucket or topic send",
		"Without aws:SourceArn, any bucket or topic (of any account) can send messages to the collector's queue."},
	{RuleQueueEncryption, "SQS.1", "", Medium, "Queue is not encrypted at rest",
		"Notifications name the log files; server-side encryption keeps them encrypted at rest."},
	{RuleTopicPublic, "", "", Critical, "Topic policy allows anyone to publish or subscribe",
		"Anyone could subscribe to the trail's notifications or publish fake ones."},
	{RuleTopicSource, "", "", Low, "Topic policy lets CloudTrail publish for any trail",
		"Without aws:SourceArn, CloudTrail acting for another account's trail can publish to this topic."},
}

// Rules returns the catalog of checks.
func Rules() []Rule { return slices.Clone(rules) }

// RuleByID returns a rule of the catalog.
func RuleByID(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
