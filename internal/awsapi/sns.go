package awsapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Topics manages SNS topics in the session's region (tests, setup).
type Topics struct {
	s *Session
	c *sns.Client
}

// SNS returns an SNS client in region ("" = the session's region).
func (s *Session) SNS(region string) *Topics {
	return &Topics{s: s, c: sns.NewFromConfig(s.cfg, func(o *sns.Options) {
		if region != "" {
			o.Region = region
		}
	})}
}

// CreateTopic creates (or finds) a topic and returns its ARN.
func (t *Topics) CreateTopic(ctx context.Context, name string) (string, error) {
	out, err := t.c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return "", t.s.wrap(err, "sns:CreateTopic", name)
	}
	return aws.ToString(out.TopicArn), nil
}

// SubscribeQueue subscribes an SQS queue to a topic; raw delivers the
// message body without the SNS envelope.
func (t *Topics) SubscribeQueue(ctx context.Context, topicARN, queueARN string, raw bool) (string, error) {
	in := &sns.SubscribeInput{TopicArn: aws.String(topicARN), Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN), ReturnSubscriptionArn: true}
	if raw {
		in.Attributes = map[string]string{"RawMessageDelivery": "true"}
	}
	out, err := t.c.Subscribe(ctx, in)
	if err != nil {
		return "", t.s.wrap(err, "sns:Subscribe", topicARN)
	}
	return aws.ToString(out.SubscriptionArn), nil
}

// Publish publishes a message to a topic.
func (t *Topics) Publish(ctx context.Context, topicARN, message string) error {
	_, err := t.c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topicARN), Message: aws.String(message)})
	return t.s.wrap(err, "sns:Publish", topicARN)
}

// ARN returns the queue's ARN.
func (q *Queue) ARN(ctx context.Context) (string, error) {
	out, err := q.c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", q.s.wrap(err, "sqs:GetQueueAttributes", q.url)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}
