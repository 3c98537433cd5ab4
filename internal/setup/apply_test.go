package setup

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// fakeAPI is an in-memory account.
type fakeAPI struct {
	queues   map[string]map[string]string // url → attributes
	subs     map[string][]Subscription    // topic → subscriptions
	notify   map[string]*Notifications
	buckets  map[string]string // name → region
	policies map[string]string
	blocked  map[string]bool
	logging  map[string]*Logging
	fail     string // a call that fails
}

func newFake() *fakeAPI {
	return &fakeAPI{queues: map[string]map[string]string{}, subs: map[string][]Subscription{}, notify: map[string]*Notifications{},
		buckets: map[string]string{"trail-logs": "us-east-1"}, policies: map[string]string{}, blocked: map[string]bool{}, logging: map[string]*Logging{}}
}

func (f *fakeAPI) err(call string) error {
	if f.fail == call {
		return errors.New(call + " denied on the resource for role x")
	}
	return nil
}

func (f *fakeAPI) QueueURL(_ context.Context, name string) (string, error) {
	if _, ok := f.queues["https://sqs/"+name]; ok {
		return "https://sqs/" + name, nil
	}
	return "", f.err("QueueURL")
}
func (f *fakeAPI) CreateQueue(_ context.Context, name string, attrs map[string]string) (string, error) {
	if err := f.err("CreateQueue"); err != nil {
		return "", err
	}
	a := map[string]string{"QueueArn": "arn:aws:sqs:us-east-1:111122223333:" + name}
	for k, v := range attrs {
		a[k] = v
	}
	f.queues["https://sqs/"+name] = a
	return "https://sqs/" + name, nil
}
func (f *fakeAPI) QueueAttributes(_ context.Context, url string) (map[string]string, error) {
	return f.queues[url], f.err("QueueAttributes")
}
func (f *fakeAPI) SetQueueAttributes(_ context.Context, url string, attrs map[string]string) error {
	for k, v := range attrs {
		f.queues[url][k] = v
	}
	return f.err("SetQueueAttributes")
}
func (f *fakeAPI) TopicSubscriptions(_ context.Context, topic string) ([]Subscription, error) {
	return f.subs[topic], f.err("TopicSubscriptions")
}
func (f *fakeAPI) Subscribe(_ context.Context, topic, queue string) (string, error) {
	f.subs[topic] = append(f.subs[topic], Subscription{ARN: topic + ":1", Protocol: "sqs", Endpoint: queue})
	return topic + ":1", f.err("Subscribe")
}
func (f *fakeAPI) BucketNotifications(_ context.Context, b string) (*Notifications, error) {
	n := f.notify[b]
	if n == nil {
		return nil, f.err("BucketNotifications")
	}
	c := *n
	c.Queues = slices.Clone(n.Queues)
	return &c, f.err("BucketNotifications")
}
func (f *fakeAPI) PutBucketNotifications(_ context.Context, b string, n *Notifications) error {
	f.notify[b] = n
	return f.err("PutBucketNotifications")
}
func (f *fakeAPI) BucketExists(_ context.Context, b string) (bool, error) {
	_, ok := f.buckets[b]
	return ok, f.err("BucketExists")
}
func (f *fakeAPI) CreateBucket(_ context.Context, b, region string) error {
	f.buckets[b] = region
	return f.err("CreateBucket")
}
func (f *fakeAPI) BucketPolicy(_ context.Context, b string) (string, error) {
	return f.policies[b], f.err("BucketPolicy")
}
func (f *fakeAPI) PutBucketPolicy(_ context.Context, b, p string) error {
	f.policies[b] = p
	return f.err("PutBucketPolicy")
}
func (f *fakeAPI) PublicAccessBlocked(_ context.Context, b string) (bool, error) {
	return f.blocked[b], f.err("PublicAccessBlocked")
}
func (f *fakeAPI) PutPublicAccessBlock(_ context.Context, b string) error {
	f.blocked[b] = true
	return f.err("PutPublicAccessBlock")
}
func (f *fakeAPI) BucketLogging(_ context.Context, b string) (*Logging, error) {
	return f.logging[b], f.err("BucketLogging")
}
func (f *fakeAPI) PutBucketLogging(_ context.Context, b string, l Logging) error {
	f.logging[b] = &l
	return f.err("PutBucketLogging")
}

func writes(steps []Step) []string {
	var out []string
	for _, s := range steps {
		if s.Write {
			out = append(out, s.Call)
		}
	}
	return out
}

var applyParams = Params{Account: "111122223333", Region: "us-east-1", Bucket: "trail-logs"}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name   string
		notify string
		opts   ApplyOptions
		first  []string
	}{
		{"sns", NotifySNS, ApplyOptions{Notifications: true}, []string{"sqs:CreateQueue", "sns:Subscribe"}},
		{"s3", NotifyS3, ApplyOptions{Notifications: true}, []string{"sqs:CreateQueue", "s3:PutBucketNotificationConfiguration"}},
		{"access logs", NotifySNS, ApplyOptions{AccessLogs: true}, []string{"s3:CreateBucket", "s3:PutPublicAccessBlock", "s3:PutBucketPolicy", "s3:PutBucketLogging"}},
		{"everything", NotifyS3, ApplyOptions{Notifications: true, AccessLogs: true}, []string{"sqs:CreateQueue", "s3:PutBucketNotificationConfiguration",
			"s3:CreateBucket", "s3:PutPublicAccessBlock", "s3:PutBucketPolicy", "s3:PutBucketLogging"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFake()
			other := NotificationTarget{ID: "other", ARN: "arn:aws:lambda:us-east-1:111122223333:function:f", Events: []string{"s3:ObjectRemoved:*"}}
			api.notify["trail-logs"] = &Notifications{Queues: []NotificationTarget{other}}
			p := applyParams
			p.Notify = tc.notify
			if err := p.Normalize(); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()

			// dry run: every change planned, none made
			dry := tc.opts
			dry.DryRun = true
			var printed []string
			dry.Step = func(s Step) { printed = append(printed, s.String()) }
			steps, err := Apply(ctx, api, p, dry)
			if err != nil {
				t.Fatal(err)
			}
			if got := writes(steps); !slices.Equal(got, tc.first) {
				t.Errorf("dry run plans %v, want %v", got, tc.first)
			}
			if len(api.queues) != 0 || len(api.buckets) != 1 || len(api.logging) != 0 || len(api.notify["trail-logs"].Queues) != 1 {
				t.Fatal("the dry run changed something")
			}
			if len(printed) != len(steps) || !strings.HasPrefix(printed[len(printed)-1], "would") {
				t.Errorf("printed %q", printed)
			}

			steps, err = Apply(ctx, api, p, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := writes(steps); !slices.Equal(got, tc.first) {
				t.Errorf("first run made %v, want %v", got, tc.first)
			}
			steps, err = Apply(ctx, api, p, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := writes(steps); len(got) != 0 {
				t.Errorf("second run made %v", got)
			}
			if tc.opts.Notifications {
				q := api.queues["https://sqs/"+DefaultQueueName]
				if !SamePolicy(q["Policy"], p.QueuePolicy().Compact()) || q["SqsManagedSseEnabled"] != "true" {
					t.Errorf("queue %v", q)
				}
			}
			if tc.notify == NotifyS3 {
				n := api.notify["trail-logs"]
				if len(n.Queues) != 2 || n.Queues[0].ID != "other" || n.Queues[1].ARN != p.QueueARN() || n.Queues[1].Filter[0].Value != "AWSLogs/" {
					t.Errorf("notifications %+v", n.Queues)
				}
			}
			if tc.opts.AccessLogs {
				lb := AccessLogBucketName("111122223333", "us-east-1")
				if l := api.logging["trail-logs"]; l == nil || l.Bucket != lb || !l.Partitioned || !api.blocked[lb] {
					t.Errorf("logging %+v blocked %v", l, api.blocked)
				}
			}
		})
	}
}

// TestApplyRepairs: an existing queue with a broad policy and no
// encryption is fixed, and an access log bucket serving another bucket
// keeps it.
func TestApplyRepairs(t *testing.T) {
	api := newFake()
	ctx := context.Background()
	api.queues["https://sqs/"+DefaultQueueName] = map[string]string{"QueueArn": "arn:aws:sqs:us-east-1:111122223333:" + DefaultQueueName,
		"Policy": `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*"}]}`, "SqsManagedSseEnabled": "false"}
	lb := AccessLogBucketName("111122223333", "us-east-1")
	api.buckets[lb] = "us-east-1"
	api.blocked[lb] = true
	q := applyParams
	q.Bucket = "app-data"
	if err := q.Normalize(); err != nil {
		t.Fatal(err)
	}
	api.policies[lb], _, _ = MergeAccessLogPolicy("", &q)
	steps, err := Apply(ctx, api, applyParams, ApplyOptions{Notifications: true, AccessLogs: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := writes(steps); !slices.Equal(got, []string{"sqs:SetQueueAttributes", "sns:Subscribe", "s3:PutBucketPolicy", "s3:PutBucketLogging"}) {
		t.Errorf("made %v", got)
	}
	if a := api.queues["https://sqs/"+DefaultQueueName]; a["SqsManagedSseEnabled"] != "true" || strings.Contains(a["Policy"], `"*"`) {
		t.Errorf("queue %v", a)
	}
	pol := api.policies[lb]
	if !strings.Contains(pol, "arn:aws:s3:::app-data") || !strings.Contains(pol, "arn:aws:s3:::trail-logs") {
		t.Errorf("merged policy lost a bucket: %s", pol)
	}
}

func TestApplyErrors(t *testing.T) {
	for _, call := range []string{"QueueURL", "CreateQueue", "TopicSubscriptions", "Subscribe", "BucketExists", "PutBucketPolicy", "PutBucketLogging"} {
		api := newFake()
		api.fail = call
		_, err := Apply(context.Background(), api, applyParams, ApplyOptions{Notifications: true, AccessLogs: true})
		if err == nil || !strings.Contains(err.Error(), call+" denied") {
			t.Errorf("%s: %v", call, err)
		}
	}
	if _, err := Apply(context.Background(), newFake(), Params{}, ApplyOptions{Notifications: true}); err == nil || !strings.Contains(err.Error(), "account") {
		t.Errorf("bad parameters: %v", err)
	}
	if _, _, err := MergeAccessLogPolicy("{not json", &applyParams); err == nil {
		t.Error("merging a broken policy")
	}
}
