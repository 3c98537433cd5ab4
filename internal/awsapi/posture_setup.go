package awsapi

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/trailwatch/trailwatch/internal/posture"
	"github.com/trailwatch/trailwatch/internal/setup"
)

// SetupAPI carries out `trailwatch setup apply` in one region (the trail
// bucket's); SNS topics are reached in their own region.
type SetupAPI struct {
	s      *Session
	c      *controlClients
	region string
}

// Setup returns the setup.API of the session in region ("" = the
// session's region).
func (s *Session) Setup(region string) *SetupAPI {
	if region == "" {
		region = s.cfg.Region
	}
	return &SetupAPI{s: s, c: newControlClients(s), region: region}
}

var _ setup.API = (*SetupAPI)(nil)

// QueueURL returns the URL of the named queue, or "" when there is none
// (sqs:GetQueueUrl).
func (a *SetupAPI) QueueURL(ctx context.Context, name string) (string, error) {
	out, err := a.s.sqsClient(a.region).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		werr := a.s.wrap(err, "sqs:GetQueueUrl", name)
		if IsNotFound(werr) {
			return "", nil
		}
		return "", werr
	}
	return aws.ToString(out.QueueUrl), nil
}

// CreateQueue creates a queue with attributes (sqs:CreateQueue).
func (a *SetupAPI) CreateQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	out, err := a.s.sqsClient(a.region).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", a.s.wrap(err, "sqs:CreateQueue", name)
	}
	return aws.ToString(out.QueueUrl), nil
}

// QueueAttributes reads every attribute of a queue (sqs:GetQueueAttributes).
func (a *SetupAPI) QueueAttributes(ctx context.Context, url string) (map[string]string, error) {
	out, err := a.s.sqsClient(a.region).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		return nil, a.s.wrap(err, "sqs:GetQueueAttributes", url)
	}
	return out.Attributes, nil
}

// SetQueueAttributes sets queue attributes (sqs:SetQueueAttributes).
func (a *SetupAPI) SetQueueAttributes(ctx context.Context, url string, attrs map[string]string) error {
	_, err := a.s.sqsClient(a.region).SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: attrs})
	return a.s.wrap(err, "sqs:SetQueueAttributes", url)
}

// TopicSubscriptions lists a topic's subscriptions (sns:ListSubscriptionsByTopic).
func (a *SetupAPI) TopicSubscriptions(ctx context.Context, topicARN string) ([]setup.Subscription, error) {
	subs, err := topicSubscriptions(ctx, a.s, a.c.sns(posture.ARNRegion(topicARN)), topicARN)
	if err != nil {
		return nil, err
	}
	out := make([]setup.Subscription, 0, len(subs))
	for _, s := range subs {
		out = append(out, setup.Subscription{ARN: s.ARN, Protocol: s.Protocol, Endpoint: s.Endpoint})
	}
	return out, nil
}

// Subscribe subscribes a queue to a topic (sns:Subscribe).
func (a *SetupAPI) Subscribe(ctx context.Context, topicARN, queueARN string) (string, error) {
	out, err := a.c.sns(posture.ARNRegion(topicARN)).Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topicARN), Protocol: aws.String("sqs"),
		Endpoint: aws.String(queueARN), ReturnSubscriptionArn: true})
	if err != nil {
		return "", a.s.wrap(err, "sns:Subscribe", topicARN)
	}
	return aws.ToString(out.SubscriptionArn), nil
}

// BucketNotifications reads a bucket's event notifications
// (s3:GetBucketNotification).
func (a *SetupAPI) BucketNotifications(ctx context.Context, bucket string) (*setup.Notifications, error) {
	out, err := a.s.s3Client(a.region).GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, a.s.wrap(err, "s3:GetBucketNotification", "s3://"+bucket)
	}
	n := &setup.Notifications{EventBridge: out.EventBridgeConfiguration != nil}
	target := func(id, arn *string, events []s3types.Event, f *s3types.NotificationConfigurationFilter) setup.NotificationTarget {
		t := setup.NotificationTarget{ID: aws.ToString(id), ARN: aws.ToString(arn)}
		for _, e := range events {
			t.Events = append(t.Events, string(e))
		}
		if f != nil && f.Key != nil {
			for _, r := range f.Key.FilterRules {
				t.Filter = append(t.Filter, setup.FilterRule{Name: string(r.Name), Value: aws.ToString(r.Value)})
			}
		}
		return t
	}
	for _, q := range out.QueueConfigurations {
		n.Queues = append(n.Queues, target(q.Id, q.QueueArn, q.Events, q.Filter))
	}
	for _, t := range out.TopicConfigurations {
		n.Topics = append(n.Topics, target(t.Id, t.TopicArn, t.Events, t.Filter))
	}
	for _, l := range out.LambdaFunctionConfigurations {
		n.Lambdas = append(n.Lambdas, target(l.Id, l.LambdaFunctionArn, l.Events, l.Filter))
	}
	return n, nil
}

// PutBucketNotifications writes a bucket's whole notification
// configuration (s3:PutBucketNotification), keeping what n holds.
func (a *SetupAPI) PutBucketNotifications(ctx context.Context, bucket string, n *setup.Notifications) error {
	cfg := &s3types.NotificationConfiguration{}
	if n.EventBridge {
		cfg.EventBridgeConfiguration = &s3types.EventBridgeConfiguration{}
	}
	filter := func(rules []setup.FilterRule) *s3types.NotificationConfigurationFilter {
		if len(rules) == 0 {
			return nil
		}
		f := &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{}}
		for _, r := range rules {
			f.Key.FilterRules = append(f.Key.FilterRules, s3types.FilterRule{Name: s3types.FilterRuleName(r.Name), Value: aws.String(r.Value)})
		}
		return f
	}
	events := func(es []string) []s3types.Event {
		out := make([]s3types.Event, 0, len(es))
		for _, e := range es {
			out = append(out, s3types.Event(e))
		}
		return out
	}
	for _, q := range n.Queues {
		cfg.QueueConfigurations = append(cfg.QueueConfigurations, s3types.QueueConfiguration{Id: aws.String(q.ID), QueueArn: aws.String(q.ARN), Events: events(q.Events), Filter: filter(q.Filter)})
	}
	for _, t := range n.Topics {
		cfg.TopicConfigurations = append(cfg.TopicConfigurations, s3types.TopicConfiguration{Id: aws.String(t.ID), TopicArn: aws.String(t.ARN), Events: events(t.Events), Filter: filter(t.Filter)})
	}
	for _, l := range n.Lambdas {
		cfg.LambdaFunctionConfigurations = append(cfg.LambdaFunctionConfigurations, s3types.LambdaFunctionConfiguration{Id: aws.String(l.ID), LambdaFunctionArn: aws.String(l.ARN), Events: events(l.Events), Filter: filter(l.Filter)})
	}
	_, err := a.s.s3Client(a.region).PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket), NotificationConfiguration: cfg})
	return a.s.wrap(err, "s3:PutBucketNotification", "s3://"+bucket)
}

// BucketExists reports whether the bucket exists (s3:ListBucket through HeadBucket).
func (a *SetupAPI) BucketExists(ctx context.Context, bucket string) (bool, error) {
	_, err := a.s.s3Client(a.region).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err != nil {
		werr := a.s.wrap(err, "s3:ListBucket", "s3://"+bucket)
		if IsNotFound(werr) {
			return false, nil
		}
		return false, werr
	}
	return true, nil
}

// CreateBucket creates a bucket in region (s3:CreateBucket).
func (a *SetupAPI) CreateBucket(ctx context.Context, bucket, region string) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	_, err := a.s.s3Client(region).CreateBucket(ctx, in)
	return a.s.wrap(err, "s3:CreateBucket", "s3://"+bucket)
}

// BucketPolicy reads a bucket's policy, "" when none (s3:GetBucketPolicy).
func (a *SetupAPI) BucketPolicy(ctx context.Context, bucket string) (string, error) {
	out, err := a.s.s3Client(a.region).GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if err != nil {
		werr := a.s.wrap(err, "s3:GetBucketPolicy", "s3://"+bucket)
		if errorCode(werr) == "NoSuchBucketPolicy" {
			return "", nil
		}
		return "", werr
	}
	return aws.ToString(out.Policy), nil
}

// PutBucketPolicy sets a bucket's policy (s3:PutBucketPolicy).
func (a *SetupAPI) PutBucketPolicy(ctx context.Context, bucket, policy string) error {
	_, err := a.s.s3Client(a.region).PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)})
	return a.s.wrap(err, "s3:PutBucketPolicy", "s3://"+bucket)
}

// PublicAccessBlocked reports whether all four Block Public Access
// settings of the bucket are on (s3:GetBucketPublicAccessBlock).
func (a *SetupAPI) PublicAccessBlocked(ctx context.Context, bucket string) (bool, error) {
	out, err := a.s.s3Client(a.region).GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
	if err != nil {
		werr := a.s.wrap(err, "s3:GetBucketPublicAccessBlock", "s3://"+bucket)
		if errorCode(werr) == "NoSuchPublicAccessBlockConfiguration" {
			return false, nil
		}
		return false, werr
	}
	return convertPAB(out.PublicAccessBlockConfiguration).All(), nil
}

// PutPublicAccessBlock turns on all four Block Public Access settings of
// the bucket (s3:PutBucketPublicAccessBlock).
func (a *SetupAPI) PutPublicAccessBlock(ctx context.Context, bucket string) error {
	_, err := a.s.s3Client(a.region).PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
			BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
	return a.s.wrap(err, "s3:PutBucketPublicAccessBlock", "s3://"+bucket)
}

// BucketLogging reads a bucket's server access logging, nil when off
// (s3:GetBucketLogging).
func (a *SetupAPI) BucketLogging(ctx context.Context, bucket string) (*setup.Logging, error) {
	out, err := a.s.s3Client(a.region).GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, a.s.wrap(err, "s3:GetBucketLogging", "s3://"+bucket)
	}
	le := out.LoggingEnabled
	if le == nil || aws.ToString(le.TargetBucket) == "" {
		return nil, nil
	}
	l := &setup.Logging{Bucket: aws.ToString(le.TargetBucket), Prefix: aws.ToString(le.TargetPrefix)}
	if f := le.TargetObjectKeyFormat; f != nil && f.PartitionedPrefix != nil {
		l.Partitioned = true
	}
	return l, nil
}

// PutBucketLogging enables server access logging of a bucket
// (s3:PutBucketLogging).
func (a *SetupAPI) PutBucketLogging(ctx context.Context, bucket string, l setup.Logging) error {
	le := &s3types.LoggingEnabled{TargetBucket: aws.String(l.Bucket), TargetPrefix: aws.String(l.Prefix)}
	if l.Partitioned {
		le.TargetObjectKeyFormat = &s3types.TargetObjectKeyFormat{PartitionedPrefix: &s3types.PartitionedPrefix{PartitionDateSource: s3types.PartitionDateSourceEventTime}}
	}
	_, err := a.s.s3Client(a.region).PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String(bucket), BucketLoggingStatus: &s3types.BucketLoggingStatus{LoggingEnabled: le}})
	return a.s.wrap(err, "s3:PutBucketLogging", "s3://"+bucket)
}

// EnableVersioning turns on a bucket's versioning (s3:PutBucketVersioning).
func (a *SetupAPI) EnableVersioning(ctx context.Context, bucket string) error {
	_, err := a.s.s3Client(a.region).PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	return a.s.wrap(err, "s3:PutBucketVersioning", "s3://"+bucket)
}

// TrailSettings describes one trail by ARN (cloudtrail:DescribeTrails in
// its home region), for setup apply to find its bucket, prefix, topic and key.
func (s *Session) TrailSettings(ctx context.Context, arn string) (*posture.Trail, error) {
	c := newControlClients(s)
	out, err := c.cloudtrail(posture.ARNRegion(arn)).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{TrailNameList: []string{arn}})
	if err != nil {
		return nil, s.wrap(err, "cloudtrail:DescribeTrails", arn)
	}
	for _, t := range out.TrailList {
		if aws.ToString(t.TrailARN) == arn {
			return convertTrail(t), nil
		}
	}
	return nil, fmt.Errorf("cloudtrail:DescribeTrails in %s does not list %s: check the trail ARN", c.region(posture.ARNRegion(arn)), arn)
}
