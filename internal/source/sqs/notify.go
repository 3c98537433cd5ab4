// Package sqs reads S3, SNS, CloudTrail and EventBridge notifications from an
// Amazon SQS queue and yields the log objects they announce.
package sqs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Announced is one object a notification announces.
type Announced struct {
	Bucket    string
	Key       string // decoded
	Size      int64  // 0 when the notification does not say
	ETag      string
	VersionID string
	Time      time.Time // when the object was written, when the notification says
	Event     string    // e.g. ObjectCreated:Put, Object Created, cloudtrail
}

// Notification is what one SQS message body says.
type Notification struct {
	Objects []Announced
	Test    bool   // s3:TestEvent: acknowledge and do nothing
	Ignored string // a recognised message that announces no new object (e.g. ObjectRemoved), and why
}

// ParseNotification decodes an SQS message body in any of the shapes that
// announce log objects:
//
//   - S3 event notifications {"Records":[{"eventSource":"aws:s3", "s3":{...}}]}
//     (keys URL-encoded, + for space),
//   - the same wrapped in an SNS envelope (SNS to SQS without raw delivery),
//   - CloudTrail's own notification {"s3Bucket":..., "s3ObjectKey":[...]}
//     (raw or in an SNS envelope),
//   - EventBridge "Object Created" events (source aws.s3),
//   - s3:TestEvent, sent when a notification configuration is created.
//
// Only object-created events announce objects; other S3 events (removed,
// restored, lifecycle transitions) are recognised and ignored.
func ParseNotification(body []byte) (Notification, error) {
	return parseNotification(body, 0)
}

func parseNotification(body []byte, depth int) (Notification, error) {
	body = bytes.TrimSpace(body)
	if depth > 3 {
		return Notification{}, fmt.Errorf("notification nested more than %d levels", depth)
	}
	var probe struct {
		// S3 event notification
		Records []json.RawMessage `json:"Records"`
		// SNS envelope
		Type     string `json:"Type"`
		Message  string `json:"Message"`
		TopicArn string `json:"TopicArn"`
		// CloudTrail's notification
		S3Bucket    string   `json:"s3Bucket"`
		S3ObjectKey []string `json:"s3ObjectKey"`
		// EventBridge
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Time       string          `json:"time"`
		Detail     json.RawMessage `json:"detail"`
		// s3:TestEvent
		Event   string `json:"Event"`
		Service string `json:"Service"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return Notification{}, fmt.Errorf("not a notification (not a JSON object): %w", err)
	}
	switch {
	case probe.Event == "s3:TestEvent":
		return Notification{Test: true}, nil
	case probe.Type == "Notification" && probe.Message != "":
		return parseNotification([]byte(probe.Message), depth+1)
	case probe.Type == "SubscriptionConfirmation" || probe.Type == "UnsubscribeConfirmation":
		return Notification{Ignored: "SNS " + probe.Type}, nil
	case probe.S3Bucket != "" && len(probe.S3ObjectKey) > 0:
		n := Notification{}
		for _, k := range probe.S3ObjectKey {
			n.Objects = append(n.Objects, Announced{Bucket: probe.S3Bucket, Key: k, Event: "cloudtrail"})
		}
		return n, nil
	case probe.Records != nil:
		return parseS3Records(probe.Records)
	case probe.Source == "aws.s3" && len(probe.Detail) > 0:
		return parseEventBridge(probe.DetailType, probe.Time, probe.Detail)
	}
	return Notification{}, fmt.Errorf("not a notification this collector understands (no Records, s3Bucket/s3ObjectKey, SNS envelope, EventBridge aws.s3 event or s3:TestEvent)")
}

func parseS3Records(records []json.RawMessage) (Notification, error) {
	var n Notification
	var ignored []string
	for i, raw := range records {
		var r struct {
			EventSource string `json:"eventSource"`
			EventName   string `json:"eventName"`
			EventTime   string `json:"eventTime"`
			S3          struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
				Object struct {
					Key       string `json:"key"`
					Size      int64  `json:"size"`
					ETag      string `json:"eTag"`
					VersionID string `json:"versionId"`
				} `json:"object"`
			} `json:"s3"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return Notification{}, fmt.Errorf("S3 event record %d: %w", i, err)
		}
		if r.EventSource != "" && r.EventSource != "aws:s3" {
			return Notification{}, fmt.Errorf("record %d comes from %q, not aws:s3", i, r.EventSource)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			ignored = append(ignored, r.EventName)
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return Notification{}, fmt.Errorf("record %d: key %q is not URL-encoded: %w", i, r.S3.Object.Key, err)
		}
		if r.S3.Bucket.Name == "" || key == "" {
			return Notification{}, fmt.Errorf("record %d names no bucket or key", i)
		}
		a := Announced{Bucket: r.S3.Bucket.Name, Key: key, Size: r.S3.Object.Size, ETag: r.S3.Object.ETag,
			VersionID: r.S3.Object.VersionID, Event: r.EventName}
		a.Time, _ = time.Parse(time.RFC3339Nano, r.EventTime)
		n.Objects = append(n.Objects, a)
	}
	if len(n.Objects) == 0 && len(ignored) > 0 {
		n.Ignored = "S3 events " + strings.Join(ignored, ", ")
	}
	return n, nil
}

func parseEventBridge(detailType, at string, detail json.RawMessage) (Notification, error) {
	if detailType != "Object Created" {
		return Notification{Ignored: "EventBridge " + detailType}, nil
	}
	var d struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"etag"`
			VersionID string `json:"version-id"`
		} `json:"object"`
	}
	if err := json.Unmarshal(detail, &d); err != nil {
		return Notification{}, fmt.Errorf("EventBridge detail: %w", err)
	}
	// Unlike S3 event notifications, EventBridge events carry the key as
	// it is (a ":" or "+" in a key arrives unencoded).
	key := d.Object.Key
	if d.Bucket.Name == "" || key == "" {
		return Notification{}, fmt.Errorf("EventBridge event names no bucket or key")
	}
	a := Announced{Bucket: d.Bucket.Name, Key: key, Size: d.Object.Size, ETag: d.Object.ETag, VersionID: d.Object.VersionID, Event: "Object Created"}
	a.Time, _ = time.Parse(time.RFC3339, at)
	return Notification{Objects: []Announced{a}}, nil
}
