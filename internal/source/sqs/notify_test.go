package sqs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const samples = "../../../../shared/testdata/notifications"

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samples, name))
	if err != nil {
		t.Skip("shared test data not available:", err)
	}
	return b
}

// sqsBody extracts the first SQS message body from a Lambda SQS event sample.
func sqsBody(t *testing.T, name string) []byte {
	t.Helper()
	var ev struct {
		Records []struct {
			Body string `json:"body"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(read(t, name), &ev); err != nil || len(ev.Records) == 0 {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(ev.Records[0].Body)
}

func TestParseNotificationSamples(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		want    []string // bucket/key of the announced objects
		test    bool
		ignored bool
	}{
		{name: "S3 event v2.1 Put", body: read(t, "aws-docs/s3-ObjectCreated-Put-v2.1-example.json"), want: []string{"mybucket/HappyFace.jpg"}},
		{name: "s3:TestEvent", body: read(t, "aws-docs/s3-TestEvent.json"), test: true},
		{name: "CloudTrail SNS message, one key", body: read(t, "aws-docs/cloudtrail-sns-notification-message-0.json"),
			want: []string{"your-bucket-name/AWSLogs/123456789012/CloudTrail/us-east-2/2013/12/13/123456789012_CloudTrail_us-west-2_20131213T1920Z_LnPgDQnpkSKEsppV.json.gz"}},
		{name: "CloudTrail SNS message, three keys", body: read(t, "aws-docs/cloudtrail-sns-notification-message-1.json"), want: []string{
			"your-bucket-name/AWSLogs/123456789012/CloudTrail/us-east-2/2016/08/11/123456789012_CloudTrail_us-east-2_20160811T2215Z_kpaMYavMQA9Ahp7L.json.gz",
			"your-bucket-name/AWSLogs/123456789012/CloudTrail/us-east-2/2016/08/11/123456789012_CloudTrail_us-east-2_20160811T2210Z_zqDkyQv3TK8ZdLr0.json.gz",
			"your-bucket-name/AWSLogs/123456789012/CloudTrail/us-east-2/2016/08/11/123456789012_CloudTrail_us-east-2_20160811T2205Z_jaMVRa6JfdLCJYHP.json.gz",
		}},
		{name: "URL-encoded key", body: read(t, "aws-lambda-go/s3-event-with-decoded.json"), want: []string{"sourcebucket/Happy Face.jpg"}},
		{name: "S3 event (powertools)", body: read(t, "powertools-lambda-python/s3Event.json"), want: []string{"lambda-artifacts-deafc19498e3f2df/b21b84d653bb07b05b1e6b33684dc11b"}},
		{name: "decoded key (powertools)", body: read(t, "powertools-lambda-python/s3EventDecodedKey.json"), want: []string{"sourcebucket/Happy Face.jpg"}},
		{name: "S3 event as SQS body", body: sqsBody(t, "powertools-lambda-python/s3SqsEvent.json"), want: []string{"xxx/test.pdf"}},
		{name: "delete is ignored", body: read(t, "powertools-lambda-python/s3EventDeleteObject.json"), ignored: true},
		{name: "lifecycle is ignored", body: read(t, "aws-lambda-go/s3-lifecycle-event.json"), ignored: true},
		{name: "restore is ignored", body: read(t, "aws-lambda-go/s3-restore-event.json"), ignored: true},
		{name: "EventBridge Object Created", body: read(t, "powertools-lambda-python/s3EventBridgeNotificationObjectCreatedEvent.json"), want: []string{"example-bucket/IMG_m7fzo3.jpg"}},
		{name: "EventBridge Object Deleted", body: read(t, "powertools-lambda-python/s3EventBridgeNotificationObjectDeletedEvent.json"), ignored: true},
		{name: "SNS envelope in SQS body", body: read(t, "aws-docs/sns-to-sqs-message-body.json"), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseNotification(tt.body)
			if tt.name == "SNS envelope in SQS body" {
				// The documentation's envelope carries a free-text message:
				// it must be unwrapped and then rejected as not a notification.
				if err == nil || !strings.Contains(err.Error(), "not") {
					t.Fatalf("err = %v, n = %+v", err, n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Test != tt.test {
				t.Errorf("Test = %v", n.Test)
			}
			if (n.Ignored != "") != tt.ignored {
				t.Errorf("Ignored = %q", n.Ignored)
			}
			var got []string
			for _, o := range n.Objects {
				got = append(got, o.Bucket+"/"+o.Key)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseNotificationWrapped(t *testing.T) {
	ct := `{"s3Bucket":"trail","s3ObjectKey":["AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/f.json.gz"]}`
	s3ev := string(read(t, "aws-docs/s3-ObjectCreated-Put-v2.1-example.json"))
	envelope := func(msg string) string {
		b, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:111122223333:t", "Message": msg})
		return string(b)
	}
	for _, tt := range []struct{ name, body, want string }{
		{"CloudTrail via SNS (not raw)", envelope(ct), "trail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/f.json.gz"},
		{"CloudTrail via SNS (raw)", ct, "trail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/f.json.gz"},
		{"S3 event via SNS", envelope(s3ev), "mybucket/HappyFace.jpg"},
		{"S3 event with + for space", `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"logs/a+b%2Bc.log","size":3}}}]}`, "b/logs/a b+c.log"},
	} {
		n, err := ParseNotification([]byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(n.Objects) != 1 || n.Objects[0].Bucket+"/"+n.Objects[0].Key != tt.want {
			t.Errorf("%s: %+v", tt.name, n.Objects)
		}
	}
	for _, bad := range []string{"", "not json", `{"hello":"world"}`, `{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`,
		`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%zz"}}}]}`} {
		if _, err := ParseNotification([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
