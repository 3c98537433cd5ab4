package posture

import (
	"slices"
	"strings"
	"time"
)

// Snapshot is what the audit read from AWS: the configuration of one or
// more accounts. Checks are pure functions over it.
type Snapshot struct {
	Accounts []*Account
	// Organization is set when the audit covered several accounts of one
	// organization (e.g. through --accounts), so coverage can be judged.
	Organization bool
}

// Account is one AWS account's configuration in the audited regions.
type Account struct {
	ID      string
	Regions []string // the audited regions, in order

	// Trails holds every trail that applies to an audited region, once
	// (DescribeTrails with shadow trails), by ARN.
	Trails []*Trail
	// RegionTrails lists, per audited region, the ARNs of the trails
	// that apply to it.
	RegionTrails map[string][]string

	Buckets map[string]*Bucket // trail buckets and, with AllBuckets, every bucket of the account
	Keys    map[string]*Key    // KMS keys of the trails, by ARN
	Topics  map[string]*Topic  // SNS topics of the trails, by ARN
	Queues  map[string]*Queue  // collector queues, by ARN

	// PublicAccessBlock is the account's S3 Block Public Access; nil when
	// none is configured. Unread when it could not be read.
	PublicAccessBlock *PublicAccessBlock
	// AllBuckets says Buckets holds every bucket of the account (for the
	// server access logging check), not only the trail buckets.
	AllBuckets bool

	// Unread names what could not be read ("public-access-block",
	// "list-buckets", "trails:<region>"): checks on it are skipped, and
	// the errors are reported separately.
	Unread []string
	// Errors are the failed calls, for the report.
	Errors []GatherError
}

// GatherError is an AWS call that failed while reading the configuration.
type GatherError struct {
	Account  string `json:"account"`
	Region   string `json:"region,omitempty"`
	Resource string `json:"resource"`
	Aspect   string `json:"aspect"`
	Err      string `json:"error"`
}

func (a *Account) unread(aspect string) bool { return slices.Contains(a.Unread, aspect) }

// Trail is a CloudTrail trail with its status and event selectors.
type Trail struct {
	ARN                        string
	Name                       string
	HomeRegion                 string
	Account                    string // the account that owns the trail (from the ARN)
	IsMultiRegion              bool
	IsOrganization             bool
	IncludeGlobalServiceEvents bool
	LogFileValidation          bool
	S3Bucket                   string
	S3KeyPrefix                string
	KMSKeyID                   string // key ARN, "" when SSE-S3
	SNSTopicARN                string
	CloudWatchLogsGroupARN     string

	Status    *TrailStatus // nil when it could not be read
	Selectors *Selectors   // nil when they could not be read
}

// Shadow reports whether the trail belongs to another account (an
// organization trail seen from a member account).
func (t *Trail) Shadow(account string) bool { return t.Account != "" && t.Account != account }

// TrailStatus is GetTrailStatus.
type TrailStatus struct {
	IsLogging                 bool
	LatestDeliveryError       string
	LatestDigestDeliveryError string
	LatestNotificationError   string
	LatestDeliveryTime        time.Time
	LatestDigestDeliveryTime  time.Time
	StartLoggingTime          time.Time
	StopLoggingTime           time.Time
}

// Selectors is what a trail records, from its basic or advanced event
// selectors.
type Selectors struct {
	Advanced bool
	// Management events recorded: read and/or write API calls.
	ManagementRead, ManagementWrite bool
	// ExcludedSources are management event sources left out
	// (kms.amazonaws.com, rdsdata.amazonaws.com).
	ExcludedSources []string
	// S3 object-level (data) events recorded, for some or all buckets.
	S3DataRead, S3DataWrite bool
	// S3DataScope describes which buckets: "all buckets" or a list.
	S3DataScope string

	// Raw are the selectors as the API returned them, reshaped for the
	// AWS CLI (--event-selectors or --advanced-event-selectors JSON), so
	// a remediation can keep them while adding what is missing.
	Raw string
}

// Bucket is an S3 bucket's security configuration.
type Bucket struct {
	Name    string
	Region  string
	Account string // the audited account that read it

	Policy            string // the bucket policy JSON; "" for none
	PolicyPublic      *bool  // GetBucketPolicyStatus; nil when unknown
	OwnerID           string
	Grants            []Grant
	ObjectOwnership   string // BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter; "" unknown or none
	PublicAccess      *PublicAccessBlock
	Versioning        string // Enabled, Suspended, "" never enabled
	MFADelete         string // Enabled, Disabled, ""
	ObjectLock        bool
	ObjectLockMode    string // GOVERNANCE or COMPLIANCE default retention, if any
	ObjectLockDays    int
	Logging           *LoggingTarget // nil: server access logging off
	Lifecycle         []LifecycleRule
	EncryptionAlgo    string // AES256, aws:kms, aws:kms:dsse
	EncryptionKey     string
	NotifyQueues      []string // queue ARNs notified of new objects
	NotifyTopics      []string
	NotifyEventBridge bool

	// Unread names the aspects that could not be read: "policy",
	// "policy-status", "acl", "ownership", "public-access-block",
	// "versioning", "object-lock", "logging", "lifecycle", "encryption",
	// "notifications", "location". A bucket that could not be read at
	// all (another account's) has them all.
	Unread []string
}

// BucketAspects returns the parts of a bucket's configuration read one by one.
func BucketAspects() []string {
	return []string{"location", "policy", "policy-status", "acl", "ownership", "public-access-block", "versioning",
		"object-lock", "logging", "lifecycle", "encryption", "notifications"}
}

func (b *Bucket) unread(aspect string) bool { return slices.Contains(b.Unread, aspect) }

// Grant is an ACL grant.
type Grant struct {
	Type       string // CanonicalUser, Group, AmazonCustomerByEmail
	ID         string
	URI        string // for groups
	Permission string // READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL
}

// Group URIs of ACL grants.
const (
	AllUsersURI           = "http://acs.amazonaws.com/groups/global/AllUsers"
	AuthenticatedUsersURI = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
	LogDeliveryURI        = "http://acs.amazonaws.com/groups/s3/LogDelivery"
)

// PublicAccessBlock is S3 Block Public Access, for a bucket or an account.
type PublicAccessBlock struct {
	BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets bool
}

// All reports whether all four settings are on.
func (p *PublicAccessBlock) All() bool {
	return p != nil && p.BlockPublicAcls && p.IgnorePublicAcls && p.BlockPublicPolicy && p.RestrictPublicBuckets
}

// Off lists the settings that are off.
func (p *PublicAccessBlock) Off() []string {
	if p == nil {
		return []string{"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"}
	}
	var out []string
	for _, s := range []struct {
		name string
		on   bool
	}{{"BlockPublicAcls", p.BlockPublicAcls}, {"IgnorePublicAcls", p.IgnorePublicAcls}, {"BlockPublicPolicy", p.BlockPublicPolicy}, {"RestrictPublicBuckets", p.RestrictPublicBuckets}} {
		if !s.on {
			out = append(out, s.name)
		}
	}
	return out
}

// LoggingTarget is where a bucket's server access logs go.
type LoggingTarget struct {
	Bucket, Prefix string
}

// LifecycleRule is the part of a lifecycle rule the audit looks at.
type LifecycleRule struct {
	ID             string
	Enabled        bool
	Prefix         string
	ExpirationDays int
	// NoncurrentExpirationDays expires old versions (versioned buckets).
	NoncurrentExpirationDays int
	TransitionDays           int
}

// Key is a KMS key.
type Key struct {
	ARN             string
	Region          string
	Account         string
	Manager         string // CUSTOMER or AWS
	State           string // Enabled, Disabled, PendingDeletion, ...
	Spec            string // SYMMETRIC_DEFAULT, ...
	Origin          string // AWS_KMS, EXTERNAL, ...
	RotationEnabled bool
	Policy          string
	// Unread: "describe", "rotation", "policy".
	Unread []string
}

func (k *Key) unread(aspect string) bool { return slices.Contains(k.Unread, aspect) }

// Topic is an SNS topic.
type Topic struct {
	ARN           string
	Region        string
	Policy        string
	KMSKey        string
	Subscriptions []Subscription
	// Unread: "attributes", "subscriptions".
	Unread []string
}

func (t *Topic) unread(aspect string) bool { return slices.Contains(t.Unread, aspect) }

// Subscription is an SNS subscription.
type Subscription struct {
	ARN, Protocol, Endpoint string
}

// Queue is an SQS queue.
type Queue struct {
	ARN        string
	URL        string
	Region     string
	Policy     string
	ManagedSSE bool
	KMSKey     string
	// Unread: "attributes", "encryption" (the server does not report it).
	Unread []string
}

func (q *Queue) unread(aspect string) bool { return slices.Contains(q.Unread, aspect) }

// ARN helpers.

// ARNRegion returns the region field of an ARN ("" if none).
func ARNRegion(arn string) string { return arnField(arn, 3) }

// ARNAccount returns the account field of an ARN.
func ARNAccount(arn string) string { return arnField(arn, 4) }

// ARNPartition returns the partition field of an ARN (default "aws").
func ARNPartition(arn string) string {
	if p := arnField(arn, 1); p != "" {
		return p
	}
	return "aws"
}

// ARNResource returns the resource part of an ARN (after the 5th colon).
func ARNResource(arn string) string { return arnField(arn, 5) }

func arnField(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[i]
}

// QueueURLFromARN builds the standard queue URL for an ARN (used when
// only the ARN is known).
func QueueURLFromARN(arn string) string {
	region, account, name := ARNRegion(arn), ARNAccount(arn), ARNResource(arn)
	if region == "" || account == "" || name == "" {
		return ""
	}
	host := "sqs." + region + ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		host += ".cn"
	}
	return "https://" + host + "/" + account + "/" + name
}
