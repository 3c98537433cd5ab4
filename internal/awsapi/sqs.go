package awsapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Message is a received SQS message.
type Message struct {
	ID            string
	Body          string
	ReceiptHandle string
	ReceiveCount  int       // ApproximateReceiveCount
	SentAt        time.Time // SentTimestamp
}

// Queue is one SQS queue.
type Queue struct {
	s   *Session
	url string
	c   *sqs.Client
}

// Queue returns a client for the queue at url (its region comes from the
// URL, else from the session).
func (s *Session) Queue(url string) *Queue {
	return &Queue{s: s, url: url, c: s.sqsClient(QueueRegion(url))}
}

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// Receive long-polls for up to n messages (1..10), making them invisible
// to other consumers for visibility.
func (q *Queue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]Message, error) {
	n = min(max(n, 1), 10)
	out, err := q.c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(q.url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(wait / time.Second),
		VisibilityTimeout:           int32(visibility / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp},
	})
	if err != nil {
		return nil, q.s.wrap(err, "sqs:ReceiveMessage", q.url)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg := Message{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), ReceiptHandle: aws.ToString(m.ReceiptHandle)}
		msg.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			msg.SentAt = time.UnixMilli(ms).UTC()
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// Delete deletes messages by receipt handle, ten per request. It returns
// the handles that could not be deleted, with the first error.
func (q *Queue) Delete(ctx context.Context, handles []string) ([]string, error) {
	var failed []string
	var first error
	for len(handles) > 0 {
		n := min(len(handles), 10)
		entries := make([]types.DeleteMessageBatchRequestEntry, n)
		for i, h := range handles[:n] {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)}
		}
		out, err := q.c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			failed = append(failed, handles[:n]...)
			if first == nil {
				first = q.s.wrap(err, "sqs:DeleteMessage", q.url)
			}
		} else {
			for _, f := range out.Failed {
				i, _ := strconv.Atoi(aws.ToString(f.Id))
				failed = append(failed, handles[i])
				if first == nil {
					first = fmt.Errorf("sqs:DeleteMessage failed on %s: %s: %s", q.url, aws.ToString(f.Code), aws.ToString(f.Message))
				}
			}
		}
		handles = handles[n:]
	}
	return failed, first
}

// ChangeVisibility sets the visibility timeout of messages, ten per
// request (a heartbeat extends it; 0 makes a message visible again). A
// failed request does not stop the others; the failures are returned
// together, with the entries SQS refused.
func (q *Queue) ChangeVisibility(ctx context.Context, handles []string, timeout time.Duration) error {
	var errs []error
	for len(handles) > 0 {
		n := min(len(handles), 10)
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, n)
		for i, h := range handles[:n] {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h), VisibilityTimeout: int32(timeout / time.Second)}
		}
		out, err := q.c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		switch {
		case err != nil:
			errs = append(errs, q.s.wrap(err, "sqs:ChangeMessageVisibility", q.url))
			if ctx.Err() != nil {
				return errors.Join(errs...)
			}
		case len(out.Failed) > 0:
			f := out.Failed[0]
			errs = append(errs, fmt.Errorf("sqs:ChangeMessageVisibility on %s: %d of %d messages refused: %s: %s",
				q.url, len(out.Failed), n, aws.ToString(f.Code), aws.ToString(f.Message)))
		}
		handles = handles[n:]
	}
	return errors.Join(errs...)
}

// QueueStats are a queue's approximate counters.
type QueueStats struct {
	Visible, InFlight, Delayed int64
}

// Stats reads the queue's approximate message counts.
func (q *Queue) Stats(ctx context.Context) (QueueStats, error) {
	out, err := q.c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url), AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}})
	if err != nil {
		return QueueStats{}, q.s.wrap(err, "sqs:GetQueueAttributes", q.url)
	}
	n := func(k types.QueueAttributeName) int64 {
		v, _ := strconv.ParseInt(out.Attributes[string(k)], 10, 64)
		return v
	}
	return QueueStats{
		Visible:  n(types.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
	}, nil
}

// Send sends a message (tests and setup).
func (q *Queue) Send(ctx context.Context, body string) error {
	_, err := q.c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(body)})
	return q.s.wrap(err, "sqs:SendMessage", q.url)
}

// CreateQueue creates a queue and returns its URL (tests and setup).
func (s *Session) CreateQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	out, err := s.sqsClient("").CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", s.wrap(err, "sqs:CreateQueue", name)
	}
	return aws.ToString(out.QueueUrl), nil
}
