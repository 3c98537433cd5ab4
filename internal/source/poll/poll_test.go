package poll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/event"
)

// memBucket lists keys in order, like S3.
type memBucket struct {
	mu   sync.Mutex
	keys []string
}

func (b *memBucket) add(keys ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys = append(b.keys, keys...)
	slices.Sort(b.keys)
}

func (b *memBucket) List(ctx context.Context, bucket, prefix, startAfter string, fn func(awsapi.ObjectInfo) error) error {
	b.mu.Lock()
	keys := slices.Clone(b.keys)
	b.mu.Unlock()
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			if err := fn(awsapi.ObjectInfo{Key: k, Size: 10}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *memBucket) Prefixes(ctx context.Context, bucket, prefix string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, k := range b.keys {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if i := strings.Index(rest, "/"); i >= 0 {
				p := prefix + rest[:i+1]
				if len(out) == 0 || out[len(out)-1] != p {
					out = append(out, p)
				}
			}
		}
	}
	return out, nil
}

func (b *memBucket) Get(ctx context.Context, bucket, key string) (*awsapi.Object, error) {
	return &awsapi.Object{Body: io.NopCloser(bytes.NewReader(nil))}, nil
}

type memCheckpoints struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *memCheckpoints) Checkpoint(_ context.Context, name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name], nil
}

func (c *memCheckpoints) SetCheckpoint(_ context.Context, name, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[name] = value
	return nil
}

func ctKey(org, acct, svc, region string, day time.Time, hhmm string) string {
	name := fmt.Sprintf("%s_%s_%s_%s%sZ_abcd.json.gz", acct, svc, region, day.Format("20060102T"), hhmm)
	if svc == "CloudTrail-Digest" {
		name = fmt.Sprintf("%s_%s_%s_trail_us-east-1_%s%s00Z.json.gz", acct, svc, region, day.Format("20060102T"), hhmm)
	}
	p := "logs/AWSLogs/"
	if org != "" {
		p += org + "/"
	}
	return p + acct + "/" + svc + "/" + region + "/" + day.Format("2006/01/02/") + name
}

var day0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func tree() *memBucket {
	b := &memBucket{}
	for d := range 3 {
		day := day0.AddDate(0, 0, d)
		for _, acct := range []string{"111111111111", "222222222222"} {
			for _, region := range []string{"us-east-1", "eu-west-1"} {
				b.add(ctKey("o-abc123", acct, "CloudTrail", region, day, "1005"), ctKey("o-abc123", acct, "CloudTrail", region, day, "1010"),
					ctKey("o-abc123", acct, "CloudTrail-Digest", region, day, "1100"))
			}
		}
		b.add(ctKey("", "333333333333", "CloudTrail", "us-east-1", day, "0900")) // a non-organization trail
		b.add(fmt.Sprintf("access/%s-10-00-00-0123456789ABCDEF", day.Format("2006-01-02")))
		b.add(fmt.Sprintf("access/444444444444/us-east-1/data-bucket/%s/%s-11-00-00-0123456789ABCDEF", day.Format("2006/01/02"), day.Format("2006-01-02")))
	}
	b.add("logs/AWSLogs/111111111111/elasticloadbalancing/us-east-1/2026/11/01/x.log.gz", "logs/README.txt")
	return b
}

func drain(t *testing.T, s *Source) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for {
		o, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.Ref.Key)
		if o.Ack != nil {
			if err := o.Ack(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestBackfillFilters(t *testing.T) {
	b := tree()
	tests := []struct {
		name string
		o    Options
		want int
		has  []string
	}{
		{"everything", Options{Prefix: "logs/"}, 3 * (2*2*3 + 1), nil},
		{"logs only", Options{Prefix: "logs/", Kinds: []event.Kind{event.KindCloudTrail}}, 3 * (2*2*2 + 1), nil},
		{"one account", Options{Prefix: "logs/", Accounts: []string{"222222222222"}}, 3 * 2 * 3, nil},
		{"one region", Options{Prefix: "logs/", Regions: []string{"eu-west-1"}}, 3 * 2 * 3, nil},
		{"date range", Options{Prefix: "logs/", Since: day0.AddDate(0, 0, 1), Until: day0.AddDate(0, 0, 1)}, 2*2*3 + 1, []string{"2026/11/02/"}},
		{"since", Options{Prefix: "logs/", Since: day0.AddDate(0, 0, 2)}, 2*2*3 + 1, []string{"2026/11/03/"}},
		{"access logs, both formats", Options{Prefix: "access/", Kinds: []event.Kind{event.KindAccessLog}}, 6, nil},
		{"access logs since", Options{Prefix: "access/", Kinds: []event.Kind{event.KindAccessLog}, Since: day0.AddDate(0, 0, 2)}, 2, []string{"2026-11-03"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Bucket, tt.o.S3 = "b", b
			got := drain(t, New(tt.o))
			if len(got) != tt.want {
				t.Fatalf("%d objects, want %d:\n%s", len(got), tt.want, strings.Join(got, "\n"))
			}
			for _, k := range got {
				if strings.Contains(k, "elasticloadbalancing") || strings.HasSuffix(k, ".txt") {
					t.Errorf("listed a non-log object %s", k)
				}
				for _, h := range tt.has {
					if !strings.Contains(k, h) {
						t.Errorf("%s is outside the range (%s)", k, h)
					}
				}
			}
		})
	}
}

func TestCheckpointsResume(t *testing.T) {
	b := tree()
	cp := &memCheckpoints{m: map[string]string{}}
	o := Options{Bucket: "b", Prefix: "logs/", S3: b, Checkpoints: cp, Kinds: []event.Kind{event.KindCloudTrail}}
	first := drain(t, New(o))
	if len(first) != 27 {
		t.Fatalf("first pass: %d", len(first))
	}
	// New files arrive; a second backfill with the same checkpoints lists only them.
	day := day0.AddDate(0, 0, 3)
	b.add(ctKey("o-abc123", "111111111111", "CloudTrail", "us-east-1", day, "0005"))
	second := drain(t, New(o))
	if len(second) != 1 || !strings.Contains(second[0], "2026/11/04/") {
		t.Fatalf("second pass: %v", second)
	}
}

func TestCheckpointWaitsForEarlierKeys(t *testing.T) {
	b := &memBucket{}
	for _, hhmm := range []string{"1000", "1005", "1010"} {
		b.add(ctKey("", "111111111111", "CloudTrail", "us-east-1", day0, hhmm))
	}
	cp := &memCheckpoints{m: map[string]string{}}
	s := New(Options{Bucket: "b", Prefix: "logs/", S3: b, Checkpoints: cp, Kinds: []event.Kind{event.KindCloudTrail}})
	ctx := context.Background()
	var objs []func(context.Context, error) error
	var keys []string
	for range 3 {
		o, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o.Ack)
		keys = append(keys, o.Ref.Key)
	}
	mark := func() string {
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, v := range cp.m {
			return v
		}
		return ""
	}
	_ = objs[2](ctx, nil) // the last one first
	if m := mark(); m != "" {
		t.Fatalf("checkpoint moved past unfinished keys: %s", m)
	}
	_ = objs[0](ctx, nil)
	if m := mark(); m != keys[0] {
		t.Fatalf("checkpoint %s, want %s", m, keys[0])
	}
	_ = objs[1](ctx, nil)
	if m := mark(); m != keys[2] {
		t.Fatalf("checkpoint %s, want %s", m, keys[2])
	}
}

func TestRewind(t *testing.T) {
	k := ctKey("", "111111111111", "CloudTrail", "us-east-1", day0, "1005")
	r := rewind(k, time.Hour)
	if !strings.HasSuffix(r, "111111111111_CloudTrail_us-east-1_20261101T0905Z") || r >= k {
		t.Fatalf("rewind %s -> %s", k, r)
	}
	early := ctKey("", "111111111111", "CloudTrail", "us-east-1", day0, "0030")
	if r := rewind(early, time.Hour); !strings.HasSuffix(r, "/2026/10/31/") {
		t.Fatalf("rewind across midnight: %s", r)
	}
}

func TestPollingFindsNewFiles(t *testing.T) {
	b := &memBucket{}
	b.add(ctKey("", "111111111111", "CloudTrail", "us-east-1", day0, "1000"))
	s := New(Options{Bucket: "b", Prefix: "logs/", S3: b, Interval: 20 * time.Millisecond, Kinds: []event.Kind{event.KindCloudTrail}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = o.Ack(ctx, nil)
	late := ctKey("", "111111111111", "CloudTrail", "us-east-1", day0, "1005")
	b.add(late)
	for {
		o, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("the new file was never listed: %v", err)
		}
		_ = o.Ack(ctx, nil)
		if o.Ref.Key == late {
			return
		}
	}
}
