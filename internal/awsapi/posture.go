package awsapi

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/trailwatch/trailwatch/internal/posture"
)

// Control-plane clients per region, for the posture audit and setup.
type controlClients struct {
	s   *Session
	mu  sync.Mutex
	ct  map[string]*cloudtrail.Client
	km  map[string]*kms.Client
	sn  map[string]*sns.Client
	s3c *s3control.Client
	st  *sts.Client
}

func newControlClients(s *Session) *controlClients {
	return &controlClients{s: s, ct: map[string]*cloudtrail.Client{}, km: map[string]*kms.Client{}, sn: map[string]*sns.Client{}}
}

func (c *controlClients) region(r string) string {
	if r == "" {
		return c.s.cfg.Region
	}
	return r
}

func (c *controlClients) cloudtrail(region string) *cloudtrail.Client {
	region = c.region(region)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.ct[region]; ok {
		return cl
	}
	cl := cloudtrail.NewFromConfig(c.s.cfg, func(o *cloudtrail.Options) { o.Region = region })
	c.ct[region] = cl
	return cl
}

func (c *controlClients) kms(region string) *kms.Client {
	region = c.region(region)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.km[region]; ok {
		return cl
	}
	cl := kms.NewFromConfig(c.s.cfg, func(o *kms.Options) { o.Region = region })
	c.km[region] = cl
	return cl
}

func (c *controlClients) sns(region string) *sns.Client {
	region = c.region(region)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.sn[region]; ok {
		return cl
	}
	cl := sns.NewFromConfig(c.s.cfg, func(o *sns.Options) { o.Region = region })
	c.sn[region] = cl
	return cl
}

func (c *controlClients) sts() *sts.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st == nil {
		c.st = sts.NewFromConfig(c.s.cfg)
	}
	return c.st
}

// staticEndpoint resolves every request to a fixed URL: S3-compatible
// servers and local test servers have no per-account host names.
type staticEndpoint struct{ u url.URL }

// ResolveEndpoint returns the fixed URL.
func (e staticEndpoint) ResolveEndpoint(context.Context, s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	return smithyendpoints.Endpoint{URI: e.u}, nil
}

func (c *controlClients) s3control() *s3control.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s3c == nil {
		c.s3c = s3control.NewFromConfig(c.s.cfg, func(o *s3control.Options) {
			// With an endpoint override the SDK would prefix the host with
			// the account ID, which only AWS's DNS resolves.
			if o.BaseEndpoint != nil {
				if u, err := url.Parse(*o.BaseEndpoint); err == nil {
					o.EndpointResolverV2 = staticEndpoint{*u}
				}
			}
		})
	}
	return c.s3c
}

// PostureSource reads an account's CloudTrail configuration for
// posture.Gather.
type PostureSource struct {
	s *Session
	c *controlClients
}

// Posture returns a posture.Source over the session's credentials.
func (s *Session) Posture() *PostureSource { return &PostureSource{s: s, c: newControlClients(s)} }

var _ posture.Source = (*PostureSource)(nil)

// CallerAccount returns the credentials' account (sts:GetCallerIdentity).
func (p *PostureSource) CallerAccount(ctx context.Context) (string, error) {
	out, err := p.c.sts().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", p.s.wrap(err, "sts:GetCallerIdentity", "the caller's identity")
	}
	return aws.ToString(out.Account), nil
}

// Trails lists the trails that apply to region (cloudtrail:DescribeTrails
// with shadow trails).
func (p *PostureSource) Trails(ctx context.Context, region string) ([]*posture.Trail, error) {
	out, err := p.c.cloudtrail(region).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return nil, p.s.wrap(err, "cloudtrail:DescribeTrails", "trails in "+p.c.region(region))
	}
	var ts []*posture.Trail
	for _, t := range out.TrailList {
		ts = append(ts, convertTrail(t))
	}
	return ts, nil
}

func convertTrail(t cttypes.Trail) *posture.Trail {
	arn := aws.ToString(t.TrailARN)
	return &posture.Trail{
		ARN: arn, Name: aws.ToString(t.Name), HomeRegion: aws.ToString(t.HomeRegion), Account: posture.ARNAccount(arn),
		IsMultiRegion: aws.ToBool(t.IsMultiRegionTrail), IsOrganization: aws.ToBool(t.IsOrganizationTrail),
		IncludeGlobalServiceEvents: aws.ToBool(t.IncludeGlobalServiceEvents), LogFileValidation: aws.ToBool(t.LogFileValidationEnabled),
		S3Bucket: aws.ToString(t.S3BucketName), S3KeyPrefix: aws.ToString(t.S3KeyPrefix), KMSKeyID: aws.ToString(t.KmsKeyId),
		SNSTopicARN: aws.ToString(t.SnsTopicARN), CloudWatchLogsGroupARN: aws.ToString(t.CloudWatchLogsLogGroupArn),
	}
}

// TrailStatus calls cloudtrail:GetTrailStatus in the trail's home region.
func (p *PostureSource) TrailStatus(ctx context.Context, t *posture.Trail) (*posture.TrailStatus, error) {
	out, err := p.c.cloudtrail(t.HomeRegion).GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(t.ARN)})
	if err != nil {
		return nil, p.s.wrap(err, "cloudtrail:GetTrailStatus", t.ARN)
	}
	return &posture.TrailStatus{
		IsLogging: aws.ToBool(out.IsLogging), LatestDeliveryError: aws.ToString(out.LatestDeliveryError),
		LatestDigestDeliveryError: aws.ToString(out.LatestDigestDeliveryError), LatestNotificationError: aws.ToString(out.LatestNotificationError),
		LatestDeliveryTime: aws.ToTime(out.LatestDeliveryTime), LatestDigestDeliveryTime: aws.ToTime(out.LatestDigestDeliveryTime),
		StartLoggingTime: aws.ToTime(out.StartLoggingTime), StopLoggingTime: aws.ToTime(out.StopLoggingTime),
	}, nil
}

// EventSelectors calls cloudtrail:GetEventSelectors in the trail's home region.
func (p *PostureSource) EventSelectors(ctx context.Context, t *posture.Trail) (*posture.Selectors, error) {
	out, err := p.c.cloudtrail(t.HomeRegion).GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String(t.ARN)})
	if err != nil {
		return nil, p.s.wrap(err, "cloudtrail:GetEventSelectors", t.ARN)
	}
	if len(out.AdvancedEventSelectors) > 0 {
		var sels []posture.AdvancedSelector
		for _, a := range out.AdvancedEventSelectors {
			s := posture.AdvancedSelector{Name: aws.ToString(a.Name)}
			for _, f := range a.FieldSelectors {
				s.FieldSelectors = append(s.FieldSelectors, posture.FieldSelector{Field: aws.ToString(f.Field), Equals: f.Equals, StartsWith: f.StartsWith,
					EndsWith: f.EndsWith, NotEquals: f.NotEquals, NotStartsWith: f.NotStartsWith, NotEndsWith: f.NotEndsWith})
			}
			sels = append(sels, s)
		}
		return posture.SummarizeAdvanced(sels), nil
	}
	var sels []posture.BasicSelector
	for _, e := range out.EventSelectors {
		s := posture.BasicSelector{ReadWriteType: string(e.ReadWriteType), IncludeManagementEvents: e.IncludeManagementEvents, ExcludeManagementEventSources: e.ExcludeManagementEventSources}
		for _, d := range e.DataResources {
			s.DataResources = append(s.DataResources, posture.DataResource{Type: aws.ToString(d.Type), Values: d.Values})
		}
		sels = append(sels, s)
	}
	return posture.SummarizeBasic(sels), nil
}

// errorCode returns an AWS error's code.
func errorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// BucketLocation returns a bucket's region (s3:GetBucketLocation).
func (s *Session) BucketLocation(ctx context.Context, bucket string) (string, error) {
	out, err := s.s3Client("").GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", s.wrap(err, "s3:GetBucketLocation", "s3://"+bucket)
	}
	switch r := string(out.LocationConstraint); r {
	case "":
		return "us-east-1", nil
	case "EU":
		return "eu-west-1", nil
	default:
		return r, nil
	}
}

// Bucket reads a bucket's security settings, one call per aspect.
func (p *PostureSource) Bucket(ctx context.Context, name string) (*posture.Bucket, []posture.AspectError) {
	b := &posture.Bucket{Name: name}
	var errs []posture.AspectError
	region, err := p.s.BucketLocation(ctx, name)
	if err != nil {
		// another account's bucket, or none: nothing else will work
		b.Unread = append(b.Unread, posture.BucketAspects()...)
		return b, []posture.AspectError{{Aspect: "location", Err: err}}
	}
	b.Region = region
	c := p.s.s3Client(region)
	bk := aws.String(name)
	res := "s3://" + name
	// fail records an aspect's error unless its code means "not configured".
	fail := func(aspect, action string, err error, absent ...string) bool {
		if err == nil {
			return false
		}
		werr := p.s.wrap(err, action, res)
		code := errorCode(werr)
		for _, a := range absent {
			if code == a {
				return true
			}
		}
		b.Unread = append(b.Unread, aspect)
		errs = append(errs, posture.AspectError{Aspect: aspect, Err: werr})
		return true
	}
	if out, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: bk}); !fail("policy", "s3:GetBucketPolicy", err, "NoSuchBucketPolicy") {
		b.Policy = aws.ToString(out.Policy)
	}
	if out, err := c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: bk}); !fail("policy-status", "s3:GetBucketPolicyStatus", err, "NoSuchBucketPolicy") {
		if out.PolicyStatus != nil {
			b.PolicyPublic = aws.Bool(aws.ToBool(out.PolicyStatus.IsPublic))
		}
	}
	if out, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: bk}); !fail("acl", "s3:GetBucketAcl", err) {
		if out.Owner != nil {
			b.OwnerID = aws.ToString(out.Owner.ID)
		}
		for _, g := range out.Grants {
			gr := posture.Grant{Permission: string(g.Permission)}
			if g.Grantee != nil {
				gr.Type, gr.ID, gr.URI = string(g.Grantee.Type), aws.ToString(g.Grantee.ID), aws.ToString(g.Grantee.URI)
			}
			b.Grants = append(b.Grants, gr)
		}
	}
	if out, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: bk}); !fail("ownership", "s3:GetBucketOwnershipControls", err, "OwnershipControlsNotFoundError") {
		if out.OwnershipControls != nil && len(out.OwnershipControls.Rules) > 0 {
			b.ObjectOwnership = string(out.OwnershipControls.Rules[0].ObjectOwnership)
		}
	}
	if out, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: bk}); !fail("public-access-block", "s3:GetBucketPublicAccessBlock", err, "NoSuchPublicAccessBlockConfiguration") {
		b.PublicAccess = convertPAB(out.PublicAccessBlockConfiguration)
	}
	if out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bk}); !fail("versioning", "s3:GetBucketVersioning", err) {
		b.Versioning, b.MFADelete = string(out.Status), string(out.MFADelete)
	}
	if out, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: bk}); !fail("object-lock", "s3:GetBucketObjectLockConfiguration", err, "ObjectLockConfigurationNotFoundError") {
		if cfg := out.ObjectLockConfiguration; cfg != nil {
			b.ObjectLock = cfg.ObjectLockEnabled == s3types.ObjectLockEnabledEnabled
			if cfg.Rule != nil && cfg.Rule.DefaultRetention != nil {
				b.ObjectLockMode = string(cfg.Rule.DefaultRetention.Mode)
				b.ObjectLockDays = int(aws.ToInt32(cfg.Rule.DefaultRetention.Days)) + 365*int(aws.ToInt32(cfg.Rule.DefaultRetention.Years))
			}
		}
	}
	if lt, err := p.BucketLogging(ctx, name, region); err != nil {
		b.Unread = append(b.Unread, "logging")
		errs = append(errs, posture.AspectError{Aspect: "logging", Err: err})
	} else {
		b.Logging = lt
	}
	if out, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: bk}); !fail("lifecycle", "s3:GetLifecycleConfiguration", err, "NoSuchLifecycleConfiguration") {
		for _, r := range out.Rules {
			lr := posture.LifecycleRule{ID: aws.ToString(r.ID), Enabled: r.Status == s3types.ExpirationStatusEnabled}
			if r.Filter != nil {
				lr.Prefix = aws.ToString(r.Filter.Prefix)
			}
			if r.Expiration != nil {
				lr.ExpirationDays = int(aws.ToInt32(r.Expiration.Days))
				if lr.ExpirationDays == 0 && r.Expiration.Date != nil {
					lr.ExpirationDays = 1
				}
			}
			if r.NoncurrentVersionExpiration != nil {
				lr.NoncurrentExpirationDays = int(aws.ToInt32(r.NoncurrentVersionExpiration.NoncurrentDays))
			}
			for _, t := range r.Transitions {
				if d := int(aws.ToInt32(t.Days)); d > 0 && (lr.TransitionDays == 0 || d < lr.TransitionDays) {
					lr.TransitionDays = d
				}
			}
			b.Lifecycle = append(b.Lifecycle, lr)
		}
	}
	if out, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bk}); !fail("encryption", "s3:GetEncryptionConfiguration", err, "ServerSideEncryptionConfigurationNotFoundError") {
		if out.ServerSideEncryptionConfiguration != nil && len(out.ServerSideEncryptionConfiguration.Rules) > 0 {
			if d := out.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault; d != nil {
				b.EncryptionAlgo, b.EncryptionKey = string(d.SSEAlgorithm), aws.ToString(d.KMSMasterKeyID)
			}
		}
	}
	if out, err := c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: bk}); !fail("notifications", "s3:GetBucketNotification", err) {
		for _, q := range out.QueueConfigurations {
			b.NotifyQueues = append(b.NotifyQueues, aws.ToString(q.QueueArn))
		}
		for _, t := range out.TopicConfigurations {
			b.NotifyTopics = append(b.NotifyTopics, aws.ToString(t.TopicArn))
		}
		b.NotifyEventBridge = out.EventBridgeConfiguration != nil
	}
	return b, errs
}

func convertPAB(c *s3types.PublicAccessBlockConfiguration) *posture.PublicAccessBlock {
	if c == nil {
		return nil
	}
	return &posture.PublicAccessBlock{BlockPublicAcls: aws.ToBool(c.BlockPublicAcls), IgnorePublicAcls: aws.ToBool(c.IgnorePublicAcls),
		BlockPublicPolicy: aws.ToBool(c.BlockPublicPolicy), RestrictPublicBuckets: aws.ToBool(c.RestrictPublicBuckets)}
}

// BucketLogging reads a bucket's server access logging (s3:GetBucketLogging).
func (p *PostureSource) BucketLogging(ctx context.Context, name, region string) (*posture.LoggingTarget, error) {
	out, err := p.s.s3Client(region).GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(name)})
	if err != nil {
		return nil, p.s.wrap(err, "s3:GetBucketLogging", "s3://"+name)
	}
	if out.LoggingEnabled == nil || aws.ToString(out.LoggingEnabled.TargetBucket) == "" {
		return nil, nil
	}
	return &posture.LoggingTarget{Bucket: aws.ToString(out.LoggingEnabled.TargetBucket), Prefix: aws.ToString(out.LoggingEnabled.TargetPrefix)}, nil
}

// ListBuckets lists the account's buckets with their regions (s3:ListAllMyBuckets).
func (p *PostureSource) ListBuckets(ctx context.Context) ([]posture.BucketRef, error) {
	var out []posture.BucketRef
	pg := s3.NewListBucketsPaginator(p.s.s3Client(""), &s3.ListBucketsInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, p.s.wrap(err, "s3:ListAllMyBuckets", "the account's buckets")
		}
		for _, b := range page.Buckets {
			ref := posture.BucketRef{Name: aws.ToString(b.Name), Region: aws.ToString(b.BucketRegion)}
			if ref.Region == "" {
				r, err := p.s.BucketLocation(ctx, ref.Name)
				if err != nil {
					return nil, err
				}
				ref.Region = r
			}
			out = append(out, ref)
		}
	}
	return out, nil
}

// AccountPublicAccessBlock reads the account's S3 Block Public Access
// (s3:GetAccountPublicAccessBlock); nil when none is configured.
func (p *PostureSource) AccountPublicAccessBlock(ctx context.Context, account string) (*posture.PublicAccessBlock, error) {
	out, err := p.c.s3control().GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: aws.String(account)})
	if err != nil {
		werr := p.s.wrap(err, "s3:GetAccountPublicAccessBlock", "account "+account)
		if errorCode(werr) == "NoSuchPublicAccessBlockConfiguration" {
			return nil, nil
		}
		return nil, werr
	}
	c := out.PublicAccessBlockConfiguration
	if c == nil {
		return nil, nil
	}
	return &posture.PublicAccessBlock{BlockPublicAcls: aws.ToBool(c.BlockPublicAcls), IgnorePublicAcls: aws.ToBool(c.IgnorePublicAcls),
		BlockPublicPolicy: aws.ToBool(c.BlockPublicPolicy), RestrictPublicBuckets: aws.ToBool(c.RestrictPublicBuckets)}, nil
}

// Key reads a KMS key (kms:DescribeKey, kms:GetKeyRotationStatus, kms:GetKeyPolicy).
func (p *PostureSource) Key(ctx context.Context, arn string) (*posture.Key, []posture.AspectError) {
	region := posture.ARNRegion(arn)
	k := &posture.Key{ARN: arn, Region: region, Account: posture.ARNAccount(arn)}
	c := p.c.kms(region)
	var errs []posture.AspectError
	if out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)}); err != nil {
		k.Unread = append(k.Unread, "describe")
		errs = append(errs, posture.AspectError{Aspect: "describe", Err: p.s.wrap(err, "kms:DescribeKey", arn)})
	} else if m := out.KeyMetadata; m != nil {
		k.Manager, k.State, k.Spec, k.Origin = string(m.KeyManager), string(m.KeyState), string(m.KeySpec), string(m.Origin)
	}
	if out, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(arn)}); err != nil {
		k.Unread = append(k.Unread, "rotation")
		errs = append(errs, posture.AspectError{Aspect: "rotation", Err: p.s.wrap(err, "kms:GetKeyRotationStatus", arn)})
	} else {
		k.RotationEnabled = out.KeyRotationEnabled
	}
	if out, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(arn), PolicyName: aws.String("default")}); err != nil {
		k.Unread = append(k.Unread, "policy")
		errs = append(errs, posture.AspectError{Aspect: "policy", Err: p.s.wrap(err, "kms:GetKeyPolicy", arn)})
	} else {
		k.Policy = aws.ToString(out.Policy)
	}
	return k, errs
}

// Topic reads an SNS topic (sns:GetTopicAttributes, sns:ListSubscriptionsByTopic).
func (p *PostureSource) Topic(ctx context.Context, arn string) (*posture.Topic, []posture.AspectError) {
	region := posture.ARNRegion(arn)
	t := &posture.Topic{ARN: arn, Region: region}
	c := p.c.sns(region)
	var errs []posture.AspectError
	if out, err := c.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn)}); err != nil {
		t.Unread = append(t.Unread, "attributes")
		errs = append(errs, posture.AspectError{Aspect: "attributes", Err: p.s.wrap(err, "sns:GetTopicAttributes", arn)})
	} else {
		t.Policy, t.KMSKey = out.Attributes["Policy"], out.Attributes["KmsMasterKeyId"]
	}
	subs, err := topicSubscriptions(ctx, p.s, c, arn)
	if err != nil {
		t.Unread = append(t.Unread, "subscriptions")
		errs = append(errs, posture.AspectError{Aspect: "subscriptions", Err: err})
	}
	for _, s := range subs {
		t.Subscriptions = append(t.Subscriptions, posture.Subscription{ARN: s.ARN, Protocol: s.Protocol, Endpoint: s.Endpoint})
	}
	return t, errs
}

type subscription struct{ ARN, Protocol, Endpoint string }

func topicSubscriptions(ctx context.Context, s *Session, c *sns.Client, arn string) ([]subscription, error) {
	var out []subscription
	pg := sns.NewListSubscriptionsByTopicPaginator(c, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(arn)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return out, s.wrap(err, "sns:ListSubscriptionsByTopic", arn)
		}
		for _, sub := range page.Subscriptions {
			out = append(out, subscription{ARN: aws.ToString(sub.SubscriptionArn), Protocol: aws.ToString(sub.Protocol), Endpoint: aws.ToString(sub.Endpoint)})
		}
	}
	return out, nil
}

// Queue reads an SQS queue's attributes (sqs:GetQueueUrl for an ARN,
// sqs:GetQueueAttributes).
func (p *PostureSource) Queue(ctx context.Context, urlOrARN string) (*posture.Queue, []posture.AspectError) {
	q := &posture.Queue{}
	if strings.HasPrefix(urlOrARN, "arn:") {
		q.ARN, q.Region = urlOrARN, posture.ARNRegion(urlOrARN)
		out, err := p.s.sqsClient(q.Region).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(posture.ARNResource(urlOrARN)),
			QueueOwnerAWSAccountId: aws.String(posture.ARNAccount(urlOrARN))})
		if err != nil {
			q.Unread = append(q.Unread, "attributes")
			return q, []posture.AspectError{{Aspect: "attributes", Err: p.s.wrap(err, "sqs:GetQueueUrl", urlOrARN)}}
		}
		q.URL = aws.ToString(out.QueueUrl)
	} else {
		q.URL, q.Region = urlOrARN, QueueRegion(urlOrARN)
		if q.Region == "" {
			q.Region = p.s.cfg.Region
		}
	}
	out, err := p.s.sqsClient(q.Region).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		q.Unread = append(q.Unread, "attributes")
		return q, []posture.AspectError{{Aspect: "attributes", Err: p.s.wrap(err, "sqs:GetQueueAttributes", q.URL)}}
	}
	if arn := out.Attributes["QueueArn"]; arn != "" {
		q.ARN = arn
		q.Region = posture.ARNRegion(arn)
	}
	q.Policy = out.Attributes["Policy"]
	sse, ok := out.Attributes["SqsManagedSseEnabled"]
	q.ManagedSSE = sse == "true"
	if !ok && out.Attributes["KmsMasterKeyId"] == "" {
		q.Unread = append(q.Unread, "encryption") // not implemented by this (SQS-compatible) server
	}
	q.KMSKey = out.Attributes["KmsMasterKeyId"]
	return q, nil
}
