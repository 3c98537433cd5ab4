package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// API is what Apply calls. internal/awsapi implements it for one region
// (the bucket's); topics are reached in their own region.
type API interface {
	// QueueURL returns the URL of the named queue of the caller's account,
	// or "" when there is none.
	QueueURL(ctx context.Context, name string) (string, error)
	CreateQueue(ctx context.Context, name string, attrs map[string]string) (string, error)
	QueueAttributes(ctx context.Context, url string) (map[string]string, error)
	SetQueueAttributes(ctx context.Context, url string, attrs map[string]string) error

	TopicSubscriptions(ctx context.Context, topicARN string) ([]Subscription, error)
	Subscribe(ctx context.Context, topicARN, queueARN string) (string, error)

	BucketNotifications(ctx context.Context, bucket string) (*Notifications, error)
	PutBucketNotifications(ctx context.Context, bucket string, n *Notifications) error

	BucketExists(ctx context.Context, bucket string) (bool, error)
	CreateBucket(ctx context.Context, bucket, region string) error
	BucketPolicy(ctx context.Context, bucket string) (string, error) // "" when none
	PutBucketPolicy(ctx context.Context, bucket, policy string) error
	PublicAccessBlocked(ctx context.Context, bucket string) (bool, error) // all four settings on
	PutPublicAccessBlock(ctx context.Context, bucket string) error
	BucketLogging(ctx context.Context, bucket string) (*Logging, error) // nil when off
	PutBucketLogging(ctx context.Context, bucket string, l Logging) error
}

// Subscription is an SNS subscription.
type Subscription struct{ ARN, Protocol, Endpoint string }

// Notifications is a bucket's event notification configuration.
type Notifications struct {
	Queues, Topics, Lambdas []NotificationTarget
	EventBridge             bool
}

// NotificationTarget is one queue, topic or function notified.
type NotificationTarget struct {
	ID, ARN string
	Events  []string
	Filter  []FilterRule
}

// Logging is a bucket's server access logging target.
type Logging struct {
	Bucket, Prefix string
	Partitioned    bool // date-partitioned keys (PartitionedPrefix, EventTime)
}

// ApplyOptions say what Apply does.
type ApplyOptions struct {
	Notifications bool // create the queue and subscribe it (or configure bucket notifications)
	AccessLogs    bool // enable server access logging of the trail bucket into the access log bucket
	DryRun        bool // read, but only print the calls that would change something
	// Step is called for every call made or planned, as it happens.
	Step func(Step)
}

// Step is one API call of Apply.
type Step struct {
	Call   string // e.g. sqs:CreateQueue
	Target string // what it acts on
	Detail string // parameters or the reason it is skipped
	Write  bool   // changes something
	Done   bool   // was made (false in a dry run, or for a skipped change)
}

// String renders the step for a terminal.
func (s Step) String() string {
	verb := "read "
	switch {
	case s.Write && s.Done:
		verb = "call "
	case s.Write:
		verb = "would"
	}
	out := fmt.Sprintf("%s  %-40s %s", verb, s.Call, s.Target)
	if s.Detail != "" {
		out += "  " + s.Detail
	}
	return out
}

// QueueCreateAttributes are the attributes of a queue Apply creates:
// SQS-managed encryption, 14 days retention, 5 minutes visibility (the
// collector extends it while it works), and the queue policy.
func (p *Params) QueueCreateAttributes() map[string]string {
	return map[string]string{"SqsManagedSseEnabled": "true", "MessageRetentionPeriod": "1209600", "VisibilityTimeout": "300", "Policy": p.QueuePolicy().Compact()}
}

type runner struct {
	ctx   context.Context
	o     ApplyOptions
	steps []Step
}

func (r *runner) emit(s Step) {
	r.steps = append(r.steps, s)
	if r.o.Step != nil {
		r.o.Step(s)
	}
}

func (r *runner) read(call, target string, fn func() error) error {
	r.emit(Step{Call: call, Target: target})
	return fn()
}

func (r *runner) write(call, target, detail string, fn func() error) error {
	if r.o.DryRun {
		r.emit(Step{Call: call, Target: target, Detail: detail, Write: true})
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	r.emit(Step{Call: call, Target: target, Detail: detail, Write: true, Done: true})
	return nil
}

// Apply makes the account match the parameters: the collector's queue
// with its policy and encryption, its subscription to the trail's topic
// (or the bucket's notifications), and server access logging of the trail
// bucket into a dedicated bucket. Running it again changes nothing. It
// returns every call made (or, in a dry run, that would be made).
func Apply(ctx context.Context, api API, p Params, o ApplyOptions) ([]Step, error) {
	if err := p.Normalize(); err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, o: o}
	if o.Notifications {
		if err := r.queue(api, &p); err != nil {
			return r.steps, err
		}
	}
	if o.AccessLogs {
		if err := r.accessLogs(api, &p); err != nil {
			return r.steps, err
		}
	}
	return r.steps, nil
}

func (r *runner) queue(api API, p *Params) error {
	ctx := r.ctx
	var url string
	if err := r.read("sqs:GetQueueUrl", p.QueueName, func() (err error) { url, err = api.QueueURL(ctx, p.QueueName); return }); err != nil {
		return err
	}
	if url == "" {
		attrs := p.QueueCreateAttributes()
		if err := r.write("sqs:CreateQueue", p.QueueName, attrDetail(attrs), func() (err error) { url, err = api.CreateQueue(ctx, p.QueueName, attrs); return }); err != nil {
			return err
		}
	} else {
		var attrs map[string]string
		if err := r.read("sqs:GetQueueAttributes", url, func() (err error) { attrs, err = api.QueueAttributes(ctx, url); return }); err != nil {
			return err
		}
		set := map[string]string{}
		if !SamePolicy(attrs["Policy"], p.QueuePolicy().Compact()) {
			set["Policy"] = p.QueuePolicy().Compact()
		}
		// SqsManagedSseEnabled is absent only from servers that do not
		// implement it (SQS-compatible ones): nothing to fix there.
		if attrs["SqsManagedSseEnabled"] == "false" && attrs["KmsMasterKeyId"] == "" {
			set["SqsManagedSseEnabled"] = "true"
		}
		if len(set) > 0 {
			if err := r.write("sqs:SetQueueAttributes", url, attrDetail(set), func() error { return api.SetQueueAttributes(ctx, url, set) }); err != nil {
				return err
			}
		}
	}
	if p.Notify == NotifyS3 {
		return r.bucketNotification(api, p)
	}
	var subs []Subscription
	topic := p.TopicARN()
	if err := r.read("sns:ListSubscriptionsByTopic", topic, func() (err error) { subs, err = api.TopicSubscriptions(ctx, topic); return }); err != nil {
		return err
	}
	if slices.ContainsFunc(subs, func(s Subscription) bool { return s.Protocol == "sqs" && s.Endpoint == p.QueueARN() }) {
		return nil
	}
	return r.write("sns:Subscribe", topic, "protocol sqs, endpoint "+p.QueueARN(), func() error { _, err := api.Subscribe(ctx, topic, p.QueueARN()); return err })
}

func attrDetail(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, " ")
}

func (r *runner) bucketNotification(api API, p *Params) error {
	ctx := r.ctx
	var n *Notifications
	if err := r.read("s3:GetBucketNotificationConfiguration", p.Bucket, func() (err error) { n, err = api.BucketNotifications(ctx, p.Bucket); return }); err != nil {
		return err
	}
	if n == nil {
		n = &Notifications{}
	}
	qc := p.Notification().QueueConfigurations[0]
	want := NotificationTarget{ID: qc.ID, ARN: qc.QueueArn, Events: qc.Events, Filter: qc.Filter.Key.FilterRules}
	i := slices.IndexFunc(n.Queues, func(t NotificationTarget) bool { return t.ID == want.ID })
	if i >= 0 && sameTarget(n.Queues[i], want) {
		return nil
	}
	if i >= 0 {
		n.Queues[i] = want
	} else {
		n.Queues = append(n.Queues, want)
	}
	return r.write("s3:PutBucketNotificationConfiguration", p.Bucket, "queue "+want.ARN+" on s3:ObjectCreated:* under "+want.Filter[0].Value,
		func() error { return api.PutBucketNotifications(ctx, p.Bucket, n) })
}

func sameTarget(a, b NotificationTarget) bool {
	norm := func(rs []FilterRule) []FilterRule {
		out := slices.Clone(rs)
		for i := range out {
			out[i].Name = strings.ToLower(out[i].Name)
		}
		return out
	}
	return a.ARN == b.ARN && slices.Equal(a.Events, b.Events) && slices.Equal(norm(a.Filter), norm(b.Filter))
}

func (r *runner) accessLogs(api API, p *Params) error {
	ctx := r.ctx
	lb := p.AccessLogBucket
	var exists bool
	if err := r.read("s3:HeadBucket", lb, func() (err error) { exists, err = api.BucketExists(ctx, lb); return }); err != nil {
		return err
	}
	if !exists {
		if err := r.write("s3:CreateBucket", lb, "region "+p.BucketRegion, func() error { return api.CreateBucket(ctx, lb, p.BucketRegion) }); err != nil {
			return err
		}
	}
	blocked := false
	if exists {
		if err := r.read("s3:GetPublicAccessBlock", lb, func() (err error) { blocked, err = api.PublicAccessBlocked(ctx, lb); return }); err != nil {
			return err
		}
	}
	if !blocked {
		if err := r.write("s3:PutPublicAccessBlock", lb, "all four settings on", func() error { return api.PutPublicAccessBlock(ctx, lb) }); err != nil {
			return err
		}
	}
	current := ""
	if exists {
		if err := r.read("s3:GetBucketPolicy", lb, func() (err error) { current, err = api.BucketPolicy(ctx, lb); return }); err != nil {
			return err
		}
	}
	merged, changed, err := MergeAccessLogPolicy(current, p)
	if err != nil {
		return err
	}
	if changed {
		if err := r.write("s3:PutBucketPolicy", lb, "allow logging.s3.amazonaws.com from "+p.BucketARN(), func() error { return api.PutBucketPolicy(ctx, lb, merged) }); err != nil {
			return err
		}
	}
	var cur *Logging
	if err := r.read("s3:GetBucketLogging", p.Bucket, func() (err error) { cur, err = api.BucketLogging(ctx, p.Bucket); return }); err != nil {
		return err
	}
	want := Logging{Bucket: lb, Prefix: "", Partitioned: true}
	if cur != nil && *cur == want {
		return nil
	}
	return r.write("s3:PutBucketLogging", p.Bucket, "into s3://"+lb+"/ (date-partitioned)", func() error { return api.PutBucketLogging(ctx, p.Bucket, want) })
}

// MergeAccessLogPolicy adds the trail bucket to the access log bucket's
// policy (one log bucket serves several buckets): the logging statement's
// aws:SourceArn list grows, other statements are kept. It reports whether
// the policy changed.
func MergeAccessLogPolicy(current string, p *Params) (string, bool, error) {
	want := p.AccessLogBucketPolicy()
	if strings.TrimSpace(current) == "" {
		return want.Compact(), true, nil
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(current), &doc); err != nil {
		return "", false, fmt.Errorf("access log bucket policy: %w", err)
	}
	stmts, _ := doc["Statement"].([]any)
	if m, ok := doc["Statement"].(map[string]any); ok {
		stmts = []any{m}
	}
	found := map[string]bool{}
	changed := false
	for i, s := range stmts {
		m, _ := s.(map[string]any)
		sid, _ := m["Sid"].(string)
		found[sid] = true
		if sid != want.Statement[0].Sid {
			continue
		}
		cond, _ := m["Condition"].(map[string]any)
		like, _ := cond["ArnLike"].(map[string]any)
		var arns []string
		switch v := like["aws:SourceArn"].(type) {
		case string:
			arns = []string{v}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					arns = append(arns, s)
				}
			}
		}
		if !slices.Contains(arns, p.BucketARN()) {
			arns = append(arns, p.BucketARN())
			slices.Sort(arns)
			if like == nil {
				like = map[string]any{}
				if cond == nil {
					cond = map[string]any{}
					m["Condition"] = cond
				}
				cond["ArnLike"] = like
			}
			like["aws:SourceArn"] = arns
			stmts[i] = m
			changed = true
		}
	}
	for _, st := range want.Statement {
		if !found[st.Sid] {
			var m map[string]any
			_ = json.Unmarshal([]byte(mustCompact(st)), &m)
			stmts = append(stmts, m)
			changed = true
		}
	}
	doc["Statement"] = stmts
	b, err := marshal(doc)
	return string(b), changed, err
}

func mustCompact(v any) string {
	b, _ := marshal(v)
	return string(b)
}

// SamePolicy reports whether two policy documents say the same thing,
// ignoring formatting, key order and one-element lists written as strings.
func SamePolicy(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	return reflect.DeepEqual(canonical(x), canonical(y))
}

func canonical(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = canonical(x)
		}
		return out
	case []any:
		if len(v) == 1 {
			return canonical(v[0])
		}
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = canonical(x)
		}
		return out
	}
	return v
}
