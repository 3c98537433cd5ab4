package setup

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Notification modes: how the collector's queue learns about new log
// files.
const (
	NotifySNS = "sns" // the trail publishes to an SNS topic the queue subscribes to
	NotifyS3  = "s3"  // the trail bucket sends S3 event notifications to the queue
)

// Defaults.
const (
	DefaultTopicName     = "trailwatch-cloudtrail"
	DefaultQueueName     = "trailwatch-cloudtrail"
	DefaultRoleName      = "trailwatch-collector"
	DefaultTrailName     = "trailwatch"
	DefaultRetentionDays = 365
	// NotificationID names the bucket notification setup adds.
	NotificationID = "trailwatch-cloudtrail"
)

// Params describe the trail, its bucket and the collector. Zero fields
// take defaults (see Normalize).
type Params struct {
	Partition string // aws, aws-cn, aws-us-gov; default aws
	Account   string // the account that owns the trail (the management account for an organization trail)
	Region    string // the trail's home region
	TrailName string // default "trailwatch"
	// TrailARNs are the trails that write to the bucket; default the one
	// named by Account, Region and TrailName.
	TrailARNs []string

	Bucket        string // the trail bucket
	BucketAccount string // the bucket's account; default Account
	BucketRegion  string // the bucket's region; default Region
	Prefix        string // the trail's S3 key prefix, without a trailing slash
	// OtherPrefixes are the key prefixes of other trails writing to the
	// same bucket (their writes and logs are allowed too).
	OtherPrefixes []string

	OrganizationID string // o-xxxxxxxxxx for an organization trail
	KMSKeyARN      string // an existing key; "" creates one in the templates

	Notify       string // NotifySNS (default) or NotifyS3
	TopicName    string // default trailwatch-cloudtrail
	QueueName    string // default trailwatch-cloudtrail
	QueueAccount string // the collector's account (queue and role); default BucketAccount

	RoleName           string // the collector role; default trailwatch-collector
	CollectorPrincipal string // who may assume the role; default the collector account's root
	ExternalID         string // the external ID the trust policy requires, if any

	AccessLogBucket string // dedicated bucket for S3 server access logs; default trailwatch-s3-access-logs-<account>-<region>
	AccessLogs      bool   // also collect the trail bucket's server access logs
	RetentionDays   int    // lifecycle expiration of log files; default 365
	ObjectLockDays  int    // Object Lock default retention (GOVERNANCE) in the templates; 0 = none
}

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	orgRE     = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	bucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,80}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
)

// FromTrailARN fills Account, Region and TrailName from a trail ARN.
func (p *Params) FromTrailARN(arn string) error {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "cloudtrail" || !strings.HasPrefix(parts[5], "trail/") {
		return fmt.Errorf("not a trail ARN: %q (want arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME)", arn)
	}
	p.Partition, p.Region, p.Account, p.TrailName = parts[1], parts[3], parts[4], strings.TrimPrefix(parts[5], "trail/")
	return nil
}

// Normalize fills defaults and checks the parameters.
func (p *Params) Normalize() error {
	if len(p.TrailARNs) > 0 && (p.Account == "" || p.Region == "") {
		if err := p.FromTrailARN(p.TrailARNs[0]); err != nil {
			return err
		}
	}
	if p.Partition == "" {
		switch {
		case strings.HasPrefix(p.Region, "cn-"):
			p.Partition = "aws-cn"
		case strings.HasPrefix(p.Region, "us-gov-"):
			p.Partition = "aws-us-gov"
		default:
			p.Partition = "aws"
		}
	}
	if p.TrailName == "" {
		p.TrailName = DefaultTrailName
	}
	p.Prefix = strings.Trim(p.Prefix, "/")
	if p.BucketAccount == "" {
		p.BucketAccount = p.Account
	}
	if p.BucketRegion == "" {
		p.BucketRegion = p.Region
	}
	if p.QueueAccount == "" {
		p.QueueAccount = p.BucketAccount
	}
	if p.Notify == "" {
		p.Notify = NotifySNS
	}
	if p.TopicName == "" {
		p.TopicName = DefaultTopicName
	}
	if p.QueueName == "" {
		p.QueueName = DefaultQueueName
	}
	if p.RoleName == "" {
		p.RoleName = DefaultRoleName
	}
	if p.RetentionDays == 0 {
		p.RetentionDays = DefaultRetentionDays
	}
	if p.AccessLogBucket == "" && p.BucketAccount != "" && p.BucketRegion != "" {
		p.AccessLogBucket = AccessLogBucketName(p.BucketAccount, p.BucketRegion)
	}
	if p.CollectorPrincipal == "" && p.QueueAccount != "" {
		p.CollectorPrincipal = "arn:" + p.Partition + ":iam::" + p.QueueAccount + ":root"
	}
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(accountRE.MatchString(p.Account), "account %q: want 12 digits (--account or --trail-arn)", p.Account)
	check(regionRE.MatchString(p.Region), "region %q: want e.g. us-east-1 (--region or --trail-arn)", p.Region)
	check(bucketRE.MatchString(p.Bucket), "bucket %q: want a valid S3 bucket name (--bucket)", p.Bucket)
	// derived values are checked only when set apart from what they derive from
	check(p.BucketAccount == p.Account || accountRE.MatchString(p.BucketAccount), "bucket account %q: want 12 digits (--bucket-account)", p.BucketAccount)
	check(p.QueueAccount == p.BucketAccount || accountRE.MatchString(p.QueueAccount), "queue account %q: want 12 digits (--queue-account)", p.QueueAccount)
	check(p.BucketRegion == p.Region || regionRE.MatchString(p.BucketRegion), "bucket region %q: want e.g. us-east-1 (--bucket-region)", p.BucketRegion)
	check(p.OrganizationID == "" || orgRE.MatchString(p.OrganizationID), "organization ID %q: want o-xxxxxxxxxx", p.OrganizationID)
	check(p.Notify == NotifySNS || p.Notify == NotifyS3, "notify %q: want sns or s3", p.Notify)
	check(nameRE.MatchString(p.TrailName), "trail name %q: letters, digits, . _ -", p.TrailName)
	check(nameRE.MatchString(p.TopicName), "topic name %q: letters, digits, . _ -", p.TopicName)
	check(nameRE.MatchString(p.QueueName), "queue name %q: letters, digits, . _ -", p.QueueName)
	check(nameRE.MatchString(p.RoleName), "role name %q: letters, digits, . _ -", p.RoleName)
	check(p.AccessLogBucket == "" || bucketRE.MatchString(p.AccessLogBucket), "access log bucket %q: want a valid S3 bucket name (--access-log-bucket)", p.AccessLogBucket)
	check(p.AccessLogBucket == "" || p.AccessLogBucket != p.Bucket, "the access log bucket must not be the trail bucket")
	check(p.KMSKeyARN == "" || strings.HasPrefix(p.KMSKeyARN, "arn:") && strings.Contains(p.KMSKeyARN, ":key/"), "KMS key %q: want a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)", p.KMSKeyARN)
	check(p.RetentionDays > 0, "retention days must be positive")
	check(p.ObjectLockDays >= 0, "object lock days must not be negative")
	check(p.CollectorPrincipal == "" && !accountRE.MatchString(p.QueueAccount) || strings.HasPrefix(p.CollectorPrincipal, "arn:"), "collector principal %q: want an IAM ARN (--collector-principal)", p.CollectorPrincipal)
	for _, t := range p.TrailARNs {
		var q Params
		if err := q.FromTrailARN(t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// AccessLogBucketName is the default name of the bucket that receives an
// account's S3 server access logs in a region.
func AccessLogBucketName(account, region string) string {
	return "trailwatch-s3-access-logs-" + account + "-" + region
}

// TrailARN returns the (first) trail's ARN.
func (p *Params) TrailARN() string { return p.trailARNs()[0] }

func (p *Params) trailARNs() Values {
	if len(p.TrailARNs) > 0 {
		return sortedUnique(p.TrailARNs)
	}
	return Values{"arn:" + p.Partition + ":cloudtrail:" + p.Region + ":" + p.Account + ":trail/" + p.TrailName}
}

// TopicARN returns the trail topic's ARN (in the trail's home region and account).
func (p *Params) TopicARN() string {
	return "arn:" + p.Partition + ":sns:" + p.Region + ":" + p.Account + ":" + p.TopicName
}

// QueueARN returns the collector queue's ARN (in the bucket's region).
func (p *Params) QueueARN() string {
	return "arn:" + p.Partition + ":sqs:" + p.BucketRegion + ":" + p.QueueAccount + ":" + p.QueueName
}

// RoleARN returns the collector role's ARN.
func (p *Params) RoleARN() string {
	return "arn:" + p.Partition + ":iam::" + p.QueueAccount + ":role/" + p.RoleName
}

// BucketARN returns the trail bucket's ARN.
func (p *Params) BucketARN() string { return "arn:" + p.Partition + ":s3:::" + p.Bucket }

// base is the key prefix before AWSLogs/.
func (p *Params) base() string {
	if p.Prefix == "" {
		return ""
	}
	return p.Prefix + "/"
}

// bases are the key prefixes before AWSLogs/ of every trail writing to
// the bucket: Prefix, then OtherPrefixes.
func (p *Params) bases() []string {
	out := []string{p.base()}
	for _, o := range p.OtherPrefixes {
		if o = strings.Trim(o, "/"); o != "" {
			o += "/"
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// LogPrefixes are the key prefixes CloudTrail writes under: AWSLogs/<account>/
// and, for an organization trail, AWSLogs/<org-id>/ (under each trail's
// prefix).
func (p *Params) LogPrefixes() []string {
	var out []string
	for _, b := range p.bases() {
		out = append(out, b+"AWSLogs/"+p.Account+"/")
		if p.OrganizationID != "" {
			out = append(out, b+"AWSLogs/"+p.OrganizationID+"/")
		}
	}
	return out
}

func (p *Params) keyAccount() string {
	if p.KMSKeyARN != "" {
		if parts := strings.SplitN(p.KMSKeyARN, ":", 6); len(parts) == 6 {
			return parts[4]
		}
	}
	return p.BucketAccount
}

// keyRef is the KMS key ARN, or a placeholder the templates replace with
// a reference to the key they create.
func (p *Params) keyRef() string {
	if p.KMSKeyARN != "" {
		return p.KMSKeyARN
	}
	return keyPlaceholder
}

const keyPlaceholder = "@@TRAILWATCH_KEY_ARN@@"

func tlsDeny(resources ...string) Statement {
	return Statement{
		Sid: "DenyInsecureTransport", Effect: "Deny", Principal: &Principal{Any: true},
		Action: Values{"s3:*"}, Resource: resources,
		Condition: Conditions{}.add("Bool", "aws:SecureTransport", "false"),
	}
}

// BucketPolicy is the trail bucket's policy: CloudTrail may check the ACL
// and write its files (only for these trails, only with
// bucket-owner-full-control), every request must use TLS, and — for an
// organization trail — member accounts may read their own logs only.
// A collector in another account may read the log prefixes.
func (p *Params) BucketPolicy() *Policy {
	trails := p.trailARNs()
	var writes Values
	for _, pre := range p.LogPrefixes() {
		writes = append(writes, p.BucketARN()+"/"+pre+"*")
	}
	pol := &Policy{Version: PolicyVersion, Statement: []Statement{
		{
			Sid: "AWSCloudTrailAclCheck", Effect: "Allow", Principal: &Principal{Service: Values{"cloudtrail.amazonaws.com"}},
			Action: Values{"s3:GetBucketAcl"}, Resource: Values{p.BucketARN()},
			Condition: Conditions{}.add("StringEquals", "aws:SourceArn", trails...),
		},
		{
			Sid: "AWSCloudTrailWrite", Effect: "Allow", Principal: &Principal{Service: Values{"cloudtrail.amazonaws.com"}},
			Action: Values{"s3:PutObject"}, Resource: writes,
			Condition: Conditions{}.add("StringEquals", "aws:SourceArn", trails...).add("StringEquals", "s3:x-amz-acl", "bucket-owner-full-control"),
		},
	}}
	if p.OrganizationID != "" {
		own := p.base() + "AWSLogs/" + p.OrganizationID + "/${aws:PrincipalAccount}/"
		pol.Statement = append(pol.Statement,
			Statement{
				Sid: "MemberAccountsReadOwnLogs", Effect: "Allow", Principal: &Principal{Any: true},
				Action: Values{"s3:GetObject"}, Resource: Values{p.BucketARN() + "/" + own + "*"},
				Condition: Conditions{}.add("StringEquals", "aws:PrincipalOrgID", p.OrganizationID),
			},
			Statement{
				Sid: "MemberAccountsListOwnLogs", Effect: "Allow", Principal: &Principal{Any: true},
				Action: Values{"s3:ListBucket"}, Resource: Values{p.BucketARN()},
				Condition: Conditions{}.add("StringEquals", "aws:PrincipalOrgID", p.OrganizationID).add("StringLike", "s3:prefix", own+"*"),
			})
	}
	if p.QueueAccount != p.BucketAccount {
		read := p.collectorRead()
		pol.Statement = append(pol.Statement,
			Statement{Sid: "CollectorReadLogs", Effect: "Allow", Principal: &Principal{AWS: Values{p.RoleARN()}}, Action: Values{"s3:GetObject"}, Resource: read.objects},
			Statement{Sid: "CollectorListLogs", Effect: "Allow", Principal: &Principal{AWS: Values{p.RoleARN()}}, Action: Values{"s3:ListBucket"}, Resource: Values{p.BucketARN()},
				Condition: Conditions{}.add("StringLike", "s3:prefix", read.prefixes...)})
	}
	pol.Statement = append(pol.Statement, tlsDeny(p.BucketARN(), p.BucketARN()+"/*"))
	return pol
}

type readScope struct {
	objects  Values // object ARNs (with *)
	prefixes Values // s3:prefix values for ListBucket
}

// collectorRead is what the collector reads from the trail bucket: the
// objects under the log prefixes, and listings of AWSLogs/ and below.
func (p *Params) collectorRead() readScope {
	var r readScope
	for _, b := range p.bases() {
		r.prefixes = append(r.prefixes, b+"AWSLogs/")
	}
	for _, pre := range p.LogPrefixes() {
		r.objects = append(r.objects, p.BucketARN()+"/"+pre+"*")
		r.prefixes = append(r.prefixes, pre+"*")
	}
	return r
}

// AccessLogBucketPolicy lets S3 server access logging of the trail bucket
// write into the access log bucket (partitioned keys start with the
// account), and requires TLS.
func (p *Params) AccessLogBucketPolicy() *Policy {
	logARN := "arn:" + p.Partition + ":s3:::" + p.AccessLogBucket
	return &Policy{Version: PolicyVersion, Statement: []Statement{
		{
			Sid: "S3ServerAccessLogsPolicy", Effect: "Allow", Principal: &Principal{Service: Values{"logging.s3.amazonaws.com"}},
			Action: Values{"s3:PutObject"}, Resource: Values{logARN + "/" + p.BucketAccount + "/*"},
			Condition: Conditions{}.add("ArnLike", "aws:SourceArn", p.BucketARN()).add("StringEquals", "aws:SourceAccount", p.BucketAccount),
		},
		tlsDeny(logARN, logARN+"/*"),
	}}
}

// TopicPolicy lets CloudTrail publish to the topic for these trails only.
func (p *Params) TopicPolicy() *Policy {
	return &Policy{Version: PolicyVersion, Statement: []Statement{{
		Sid: "AWSCloudTrailSNSPolicy", Effect: "Allow", Principal: &Principal{Service: Values{"cloudtrail.amazonaws.com"}},
		Action: Values{"SNS:Publish"}, Resource: Values{p.TopicARN()},
		Condition: Conditions{}.add("StringEquals", "aws:SourceArn", p.trailARNs()...),
	}}}
}

// QueuePolicy lets the trail topic (NotifySNS) or the trail bucket
// (NotifyS3) send to the collector's queue, and nothing else.
func (p *Params) QueuePolicy() *Policy {
	st := Statement{Effect: "Allow", Action: Values{"sqs:SendMessage"}, Resource: Values{p.QueueARN()}}
	if p.Notify == NotifyS3 {
		st.Sid, st.Principal = "AllowTrailBucketNotifications", &Principal{Service: Values{"s3.amazonaws.com"}}
		st.Condition = Conditions{}.add("ArnEquals", "aws:SourceArn", p.BucketARN()).add("StringEquals", "aws:SourceAccount", p.BucketAccount)
	} else {
		st.Sid, st.Principal = "AllowTrailTopic", &Principal{Service: Values{"sns.amazonaws.com"}}
		st.Condition = Conditions{}.add("ArnEquals", "aws:SourceArn", p.TopicARN())
	}
	return &Policy{Version: PolicyVersion, Statement: []Statement{st}}
}

// QueueAttributes wraps a policy as the attributes of aws sqs
// set-queue-attributes --attributes file://....
func QueueAttributes(pol *Policy) map[string]string {
	return map[string]string{"Policy": pol.Compact()}
}

// KeyPolicy is the KMS key policy: the key's account administers it
// through IAM (as in AWS's default key policy, without which the key
// cannot be managed), CloudTrail may encrypt for these trails (encryption
// context and source ARN), and the collector may decrypt through S3 only.
func (p *Params) KeyPolicy() *Policy {
	trails := p.trailARNs()
	root := "arn:" + p.Partition + ":iam::" + p.keyAccount() + ":root"
	pol := &Policy{Version: PolicyVersion, Statement: []Statement{
		{Sid: "EnableIAMPolicies", Effect: "Allow", Principal: &Principal{AWS: Values{root}}, Action: Values{"kms:*"}, Resource: Values{"*"}},
		{
			Sid: "AllowCloudTrailEncryptLogs", Effect: "Allow", Principal: &Principal{Service: Values{"cloudtrail.amazonaws.com"}},
			Action: Values{"kms:GenerateDataKey*"}, Resource: Values{"*"},
			Condition: Conditions{}.add("StringEquals", "aws:SourceArn", trails...).add("StringEquals", "kms:EncryptionContext:aws:cloudtrail:arn", trails...),
		},
		{
			Sid: "AllowCloudTrailDescribeKey", Effect: "Allow", Principal: &Principal{Service: Values{"cloudtrail.amazonaws.com"}},
			Action: Values{"kms:DescribeKey"}, Resource: Values{"*"},
			Condition: Conditions{}.add("StringEquals", "aws:SourceArn", trails...),
		},
		{
			Sid: "AllowCollectorDecryptViaS3", Effect: "Allow", Principal: &Principal{AWS: Values{p.RoleARN()}},
			Action: Values{"kms:Decrypt"}, Resource: Values{"*"},
			Condition: Conditions{}.add("StringEquals", "kms:ViaService", p.s3Service()).
				add("StringEquals", "kms:EncryptionContext:aws:cloudtrail:arn", trails...),
		},
	}}
	return pol
}

// s3Service is S3's name in the bucket's region, for kms:ViaService.
func (p *Params) s3Service() string {
	if p.Partition == "aws-cn" {
		return "s3." + p.BucketRegion + ".amazonaws.com.cn"
	}
	return "s3." + p.BucketRegion + ".amazonaws.com"
}

// TrustPolicy lets the collector principal assume the role, with the
// external ID when one is set. (Trust policies have no Resource.)
func (p *Params) TrustPolicy() *Policy {
	st := Statement{Sid: "TrustCollector", Effect: "Allow", Principal: &Principal{AWS: Values{p.CollectorPrincipal}}, Action: Values{"sts:AssumeRole"}}
	if p.ExternalID != "" {
		st.Condition = Conditions{}.add("StringEquals", "sts:ExternalId", p.ExternalID)
	}
	return &Policy{Version: PolicyVersion, Statement: []Statement{st}}
}

// CollectorPolicy is the collector role's permission policy: consume the
// one queue, read and list the log prefixes, and — when the key is known
// (KMSKeyARN) — decrypt through S3 only.
func (p *Params) CollectorPolicy() *Policy { return p.collectorPolicy(p.KMSKeyARN != "") }

func (p *Params) collectorPolicy(withKey bool) *Policy {
	read := p.collectorRead()
	pol := &Policy{Version: PolicyVersion, Statement: []Statement{
		{Sid: "ConsumeNotifications", Effect: "Allow", Action: Values{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}, Resource: Values{p.QueueARN()}},
		{Sid: "ReadLogFiles", Effect: "Allow", Action: Values{"s3:GetObject"}, Resource: read.objects},
		{Sid: "ListLogFiles", Effect: "Allow", Action: Values{"s3:ListBucket"}, Resource: Values{p.BucketARN()}, Condition: Conditions{}.add("StringLike", "s3:prefix", read.prefixes...)},
		// The collector validates each digest's signature with CloudTrail's
		// public keys; ListPublicKeys has no resource-level permissions.
		{Sid: "ValidateDigests", Effect: "Allow", Action: Values{"cloudtrail:ListPublicKeys"}, Resource: Values{"*"}},
	}}
	if withKey {
		pol.Statement = append(pol.Statement, Statement{Sid: "DecryptLogFiles", Effect: "Allow", Action: Values{"kms:Decrypt"}, Resource: Values{p.keyRef()},
			Condition: Conditions{}.add("StringEquals", "kms:ViaService", p.s3Service())})
	}
	if p.AccessLogs {
		logARN := "arn:" + p.Partition + ":s3:::" + p.AccessLogBucket
		pol.Statement = append(pol.Statement,
			Statement{Sid: "ReadAccessLogs", Effect: "Allow", Action: Values{"s3:GetObject"}, Resource: Values{logARN + "/" + p.BucketAccount + "/*"}},
			Statement{Sid: "ListAccessLogs", Effect: "Allow", Action: Values{"s3:ListBucket"}, Resource: Values{logARN},
				Condition: Conditions{}.add("StringLike", "s3:prefix", "", p.BucketAccount+"/*")})
	}
	return pol
}

// AuditActions returns the read-only calls trailwatch audit makes.
func AuditActions() []string {
	return []string{
		"cloudtrail:DescribeTrails", "cloudtrail:GetEventSelectors", "cloudtrail:GetTrailStatus",
		"kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
		"s3:GetAccountPublicAccessBlock", "s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetBucketLogging", "s3:GetBucketNotification",
		"s3:GetBucketObjectLockConfiguration", "s3:GetBucketOwnershipControls", "s3:GetBucketPolicy", "s3:GetBucketPolicyStatus",
		"s3:GetBucketPublicAccessBlock", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration",
		"s3:ListAllMyBuckets",
		"sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic",
		"sqs:GetQueueAttributes", "sqs:GetQueueUrl",
	}
}

// AuditPolicy is the permission policy of the role trailwatch audit
// assumes: read-only configuration calls. Resource is "*" because an
// audit must see every trail, bucket, key, topic and queue of the account.
func (p *Params) AuditPolicy() *Policy {
	return &Policy{Version: PolicyVersion, Statement: []Statement{{Sid: "ReadCloudTrailPosture", Effect: "Allow", Action: Values(AuditActions()), Resource: Values{"*"}}}}
}

// NotificationConfiguration is the trail bucket's S3 event notification
// (aws s3api put-bucket-notification-configuration): new objects under
// the log prefix go to the queue.
type NotificationConfiguration struct {
	QueueConfigurations []QueueConfiguration `json:"QueueConfigurations"`
}

// QueueConfiguration is one S3 → SQS notification.
type QueueConfiguration struct {
	ID       string             `json:"Id"`
	QueueArn string             `json:"QueueArn"`
	Events   []string           `json:"Events"`
	Filter   NotificationFilter `json:"Filter"`
}

// NotificationFilter filters notifications by key.
type NotificationFilter struct {
	Key struct {
		FilterRules []FilterRule `json:"FilterRules"`
	} `json:"Key"`
}

// FilterRule is a prefix or suffix rule.
type FilterRule struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Notification returns the bucket notification configuration.
func (p *Params) Notification() NotificationConfiguration {
	qc := QueueConfiguration{ID: NotificationID, QueueArn: p.QueueARN(), Events: []string{"s3:ObjectCreated:*"}}
	qc.Filter.Key.FilterRules = []FilterRule{{Name: "prefix", Value: p.base() + "AWSLogs/"}}
	return NotificationConfiguration{QueueConfigurations: []QueueConfiguration{qc}}
}

// LoggingStatus is the trail bucket's server access logging
// (aws s3api put-bucket-logging --bucket-logging-status): date-partitioned
// keys under <account>/<region>/<bucket>/, as trailwatch reads them.
func (p *Params) LoggingStatus() map[string]any {
	return map[string]any{"LoggingEnabled": map[string]any{
		"TargetBucket":          p.AccessLogBucket,
		"TargetPrefix":          "",
		"TargetObjectKeyFormat": map[string]any{"PartitionedPrefix": map[string]any{"PartitionDateSource": "EventTime"}},
	}}
}
