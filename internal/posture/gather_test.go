package posture

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// memSource serves cleanAccount's configuration, failing what fail names.
type memSource struct {
	a    *Account
	fail map[string]bool
}

func (m *memSource) err(what string) error {
	if m.fail[what] {
		return errors.New(what + " denied")
	}
	return nil
}
func (m *memSource) CallerAccount(context.Context) (string, error) { return m.a.ID, m.err("caller") }
func (m *memSource) Trails(_ context.Context, region string) ([]*Trail, error) {
	if err := m.err("trails:" + region); err != nil {
		return nil, err
	}
	var out []*Trail
	for _, arn := range m.a.RegionTrails[region] {
		for _, t := range m.a.Trails {
			if t.ARN == arn {
				c := *t
				c.Status, c.Selectors, c.Account, c.HomeRegion = nil, nil, "", ""
				out = append(out, &c)
			}
		}
	}
	return out, nil
}
func (m *memSource) TrailStatus(_ context.Context, t *Trail) (*TrailStatus, error) {
	return m.a.Trails[0].Status, m.err("status")
}
func (m *memSource) EventSelectors(_ context.Context, t *Trail) (*Selectors, error) {
	return m.a.Trails[0].Selectors, m.err("selectors")
}
func (m *memSource) Bucket(_ context.Context, name string) (*Bucket, []AspectError) {
	b := *m.a.Buckets[name]
	if err := m.err("bucket-logging"); err != nil {
		b.Unread = append(b.Unread, "logging")
		return &b, []AspectError{{"logging", err}}
	}
	return &b, nil
}
func (m *memSource) ListBuckets(context.Context) ([]BucketRef, error) {
	return []BucketRef{{bucket, "us-east-1"}, {"app-data", "eu-west-1"}, {logBucket, "us-east-1"}}, m.err("list")
}
func (m *memSource) BucketLogging(_ context.Context, name, _ string) (*LoggingTarget, error) {
	if name == logBucket {
		return nil, nil
	}
	return nil, m.err("logging:" + name)
}
func (m *memSource) AccountPublicAccessBlock(context.Context, string) (*PublicAccessBlock, error) {
	return m.a.PublicAccessBlock, m.err("pab")
}
func (m *memSource) Key(_ context.Context, arn string) (*Key, []AspectError) {
	k := *m.a.Keys[arn]
	return &k, nil
}
func (m *memSource) Topic(_ context.Context, arn string) (*Topic, []AspectError) {
	tp := *m.a.Topics[arn]
	return &tp, nil
}
func (m *memSource) Queue(_ context.Context, id string) (*Queue, []AspectError) {
	for _, q := range m.a.Queues {
		if q.ARN == id || q.URL == id {
			c := *q
			return &c, nil
		}
	}
	return &Queue{Unread: []string{"attributes"}}, []AspectError{{"attributes", errors.New("sqs:GetQueueAttributes denied on " + id)}}
}

func TestGather(t *testing.T) {
	ctx := context.Background()
	src := &memSource{a: cleanAccount(t), fail: map[string]bool{}}
	a, err := Gather(ctx, src, GatherOptions{Regions: []string{"us-east-1", "eu-west-1"}, QueueURLs: []string{"arn:aws:sqs:us-east-1:999999999999:elsewhere"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Trails) != 1 || a.Trails[0].Account != acct || a.Trails[0].HomeRegion != "us-east-1" || len(a.Queues) != 1 || len(a.Errors) != 0 {
		t.Fatalf("gathered %+v errors %+v", a, a.Errors)
	}
	if fs := Evaluate(&Snapshot{Accounts: []*Account{a}}, Options{Now: testNow}); len(fs) != 0 {
		t.Errorf("gathered clean account: %v", ids(fs))
	}

	// failures are recorded, their checks skipped, the rest goes on
	src.fail = map[string]bool{"trails:eu-west-1": true, "pab": true, "logging:app-data": true}
	a, err = Gather(ctx, src, GatherOptions{Regions: []string{"us-east-1", "eu-west-1"}, AllBuckets: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range a.Errors {
		msgs = append(msgs, e.Aspect+": "+e.Err)
	}
	if got := strings.Join(msgs, "; "); got != "trails: trails:eu-west-1 denied; account-public-access-block: pab denied; logging: logging:app-data denied" {
		t.Errorf("errors %s", got)
	}
	if !a.AllBuckets || len(a.Buckets) != 3 {
		t.Errorf("buckets %v", a.Buckets)
	}
	if fs := Evaluate(&Snapshot{Accounts: []*Account{a}}, Options{Now: testNow}); len(fs) != 0 {
		t.Errorf("findings on unread aspects: %v", ids(fs))
	}

	if _, err := Gather(ctx, src, GatherOptions{}); err == nil {
		t.Error("no region: no error")
	}
	src.fail = map[string]bool{"caller": true}
	if _, err := Gather(ctx, src, GatherOptions{Regions: []string{"us-east-1"}}); err == nil || !strings.Contains(err.Error(), "identify the account: caller denied") {
		t.Errorf("caller: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	src.fail = map[string]bool{"trails:us-east-1": true}
	if _, err := Gather(cctx, src, GatherOptions{Regions: []string{"us-east-1"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		public    bool
		err       string
	}{
		{"object statement", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}`, true, ""},
		{"AWS star", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:GetObject"}]}`, true, ""},
		{"org condition", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}]}`, false, ""},
		{"wildcard source arn", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"}}}]}`, true, ""},
		{"any source account", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Condition":{"StringLike":{"aws:SourceAccount":"*"}}}]}`, true, ""},
		{"negated condition", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}}]}`, true, ""},
		{"open ip", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}`, true, ""},
		{"not principal", `{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject"}]}`, true, ""},
		{"deny", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*"}]}`, false, ""},
		{"url encoded", `%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%22*%22%2C%22Action%22%3A%22s3%3AGetObject%22%7D%5D%7D`, true, ""},
		{"bool condition", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`, false, ""},
		{"broken", `{"Statement":[`, false, "parse policy"},
		{"bad principal", `{"Statement":[{"Effect":"Allow","Principal":"someone","Action":"s3:*"}]}`, false, "principal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy(tc.doc)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Statements[0].Public(); got != tc.public {
				t.Errorf("public %v, want %v", got, tc.public)
			}
		})
	}
	p, _ := ParsePolicy(`{"Statement":[{"Effect":"Allow","Action":["s3:Get*","sqs:*"]}]}`)
	s := p.Statements[0]
	if !s.Allows("s3:GetObject") || !s.Allows("SQS:SendMessage") || s.Allows("s3:PutObject") {
		t.Error("wildcard actions")
	}
}

// FuzzPolicyChecks: any policy document, as a bucket, key, topic or queue
// policy, gives an error or findings, never a panic.
func FuzzPolicyChecks(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"Statement":{}}`, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"],"Service":"cloudtrail.amazonaws.com"},"NotAction":"s3:Get*","Condition":{"StringLike":{"aws:SourceArn":["*",1,true,null]}}}]}`,
		`%7B%22Statement%22%3A%5B%5D%7D`, `{"Statement":[null]}`, `[]`, `{"Statement":"x"}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		_, _ = ParsePolicy(doc)
		a := cleanAccount(t)
		a.Buckets[bucket].Policy, a.Keys[keyARN].Policy, a.Topics[topicARN].Policy, a.Queues[queueARN].Policy = doc, doc, doc, doc
		_ = evaluate(a)
	})
}
