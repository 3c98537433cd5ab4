package posture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// Source reads one account's configuration. internal/awsapi implements it
// over the AWS SDK; tests implement it in memory.
type Source interface {
	// CallerAccount is the account the credentials belong to (STS GetCallerIdentity).
	CallerAccount(ctx context.Context) (string, error)
	// Trails lists the trails that apply to a region, shadow trails
	// (organization and multi-region trails of other regions) included,
	// with their configuration (DescribeTrails).
	Trails(ctx context.Context, region string) ([]*Trail, error)
	// TrailStatus is GetTrailStatus, called in the trail's home region.
	TrailStatus(ctx context.Context, t *Trail) (*TrailStatus, error)
	// EventSelectors is GetEventSelectors, summarised.
	EventSelectors(ctx context.Context, t *Trail) (*Selectors, error)
	// Bucket reads a bucket's settings one by one; an aspect that cannot
	// be read is named in Bucket.Unread and its error returned.
	Bucket(ctx context.Context, name string) (*Bucket, []AspectError)
	// ListBuckets lists the account's buckets with their regions.
	ListBuckets(ctx context.Context) ([]BucketRef, error)
	// BucketLogging reads one bucket's server access logging.
	BucketLogging(ctx context.Context, name, region string) (*LoggingTarget, error)
	// AccountPublicAccessBlock reads the account's S3 Block Public Access
	// (nil, nil when none is configured).
	AccountPublicAccessBlock(ctx context.Context, account string) (*PublicAccessBlock, error)
	// Key reads a KMS key: DescribeKey, GetKeyRotationStatus, GetKeyPolicy.
	Key(ctx context.Context, arn string) (*Key, []AspectError)
	// Topic reads an SNS topic's attributes and subscriptions.
	Topic(ctx context.Context, arn string) (*Topic, []AspectError)
	// Queue reads an SQS queue's attributes, by URL or ARN.
	Queue(ctx context.Context, urlOrARN string) (*Queue, []AspectError)
}

// BucketRef names a bucket and its region.
type BucketRef struct{ Name, Region string }

// AspectError is the failure to read one aspect of a resource.
type AspectError struct {
	Aspect string
	Err    error
}

// GatherOptions say what to read.
type GatherOptions struct {
	Regions    []string // regions to audit; at least one
	QueueURLs  []string // collector queues to audit (besides those the trail's topic or bucket notify)
	AllBuckets bool     // check server access logging of every bucket of the account
	Workers    int      // concurrent calls for AllBuckets; default 4
	Logger     *slog.Logger
}

// Gather reads one account's configuration. It fails only when the account
// cannot be identified or ctx ends; other failures are recorded in
// Account.Errors and their aspects in Unread, so checks skip them.
func Gather(ctx context.Context, src Source, o GatherOptions) (*Account, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(o.Regions) == 0 {
		return nil, errors.New("posture: no region to audit")
	}
	id, err := src.CallerAccount(ctx)
	if err != nil {
		return nil, fmt.Errorf("identify the account: %w", err)
	}
	a := &Account{ID: id, Regions: slices.Clone(o.Regions), RegionTrails: map[string][]string{},
		Buckets: map[string]*Bucket{}, Keys: map[string]*Key{}, Topics: map[string]*Topic{}, Queues: map[string]*Queue{}}
	fail := func(region, resource, aspect string, err error) {
		o.Logger.Warn("could not read", "account", id, "region", region, "resource", resource, "aspect", aspect, "err", err)
		a.Errors = append(a.Errors, GatherError{Account: id, Region: region, Resource: resource, Aspect: aspect, Err: err.Error()})
	}
	seen := map[string]*Trail{}
	for _, region := range o.Regions {
		ts, err := src.Trails(ctx, region)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			a.Unread = append(a.Unread, "trails:"+region)
			fail(region, "cloudtrail:"+region, "trails", err)
			continue
		}
		for _, t := range ts {
			a.RegionTrails[region] = append(a.RegionTrails[region], t.ARN)
			if seen[t.ARN] == nil {
				if t.Account == "" {
					t.Account = ARNAccount(t.ARN)
				}
				if t.HomeRegion == "" {
					t.HomeRegion = ARNRegion(t.ARN)
				}
				seen[t.ARN] = t
				a.Trails = append(a.Trails, t)
			}
		}
	}
	slices.SortFunc(a.Trails, func(x, y *Trail) int { return strings.Compare(x.ARN, y.ARN) })
	for _, t := range a.Trails {
		if t.Status, err = src.TrailStatus(ctx, t); err != nil {
			fail(t.HomeRegion, t.ARN, "status", err)
		}
		if t.Selectors, err = src.EventSelectors(ctx, t); err != nil {
			fail(t.HomeRegion, t.ARN, "event-selectors", err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if t.S3Bucket != "" && a.Buckets[t.S3Bucket] == nil {
			b, errs := src.Bucket(ctx, t.S3Bucket)
			for _, e := range errs {
				fail(b.Region, "arn:aws:s3:::"+t.S3Bucket, e.Aspect, e.Err)
			}
			b.Account = id
			a.Buckets[t.S3Bucket] = b
		}
		if t.KMSKeyID != "" && a.Keys[t.KMSKeyID] == nil {
			k, errs := src.Key(ctx, t.KMSKeyID)
			for _, e := range errs {
				fail(ARNRegion(t.KMSKeyID), t.KMSKeyID, e.Aspect, e.Err)
			}
			a.Keys[t.KMSKeyID] = k
		}
		if t.SNSTopicARN != "" && a.Topics[t.SNSTopicARN] == nil {
			tp, errs := src.Topic(ctx, t.SNSTopicARN)
			for _, e := range errs {
				fail(ARNRegion(t.SNSTopicARN), t.SNSTopicARN, e.Aspect, e.Err)
			}
			a.Topics[t.SNSTopicARN] = tp
		}
	}
	// collector queues: given, subscribed to a trail topic, notified by a trail bucket
	queues := slices.Clone(o.QueueURLs)
	for _, arn := range sortedKeys(a.Topics) {
		for _, s := range a.Topics[arn].Subscriptions {
			if s.Protocol == "sqs" {
				queues = append(queues, s.Endpoint)
			}
		}
	}
	for _, name := range sortedKeys(a.Buckets) {
		queues = append(queues, a.Buckets[name].NotifyQueues...)
	}
	done := map[string]bool{}
	for _, q := range queues {
		if done[q] {
			continue
		}
		done[q] = true
		if strings.HasPrefix(q, "arn:") && ARNAccount(q) != "" && ARNAccount(q) != id {
			continue // another account's queue: audited with that account
		}
		qq, errs := src.Queue(ctx, q)
		for _, e := range errs {
			fail(qq.Region, q, e.Aspect, e.Err)
		}
		if qq.ARN == "" {
			qq.ARN = q
		}
		done[qq.ARN] = true
		a.Queues[qq.ARN] = qq
	}
	if pab, err := src.AccountPublicAccessBlock(ctx, id); err != nil {
		a.Unread = append(a.Unread, "public-access-block")
		fail("", "arn:aws:s3:::*", "account-public-access-block", err)
	} else {
		a.PublicAccessBlock = pab
	}
	if o.AllBuckets {
		if err := gatherAllBuckets(ctx, src, a, o, fail); err != nil {
			return nil, err
		}
	}
	return a, ctx.Err()
}

func gatherAllBuckets(ctx context.Context, src Source, a *Account, o GatherOptions, fail func(region, resource, aspect string, err error)) error {
	refs, err := src.ListBuckets(ctx)
	if err != nil {
		a.Unread = append(a.Unread, "list-buckets")
		fail("", "arn:aws:s3:::*", "list-buckets", err)
		return ctx.Err()
	}
	a.AllBuckets = true
	workers := o.Workers
	if workers <= 0 {
		workers = 4
	}
	type result struct {
		ref BucketRef
		lt  *LoggingTarget
		err error
	}
	var todo []BucketRef
	for _, r := range refs {
		if a.Buckets[r.Name] == nil {
			todo = append(todo, r)
		}
	}
	results := make([]result, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i, r := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			lt, err := src.BucketLogging(ctx, r.Name, r.Region)
			results[i] = result{r, lt, err}
		}()
	}
	wg.Wait()
	for _, r := range results {
		b := &Bucket{Name: r.ref.Name, Region: r.ref.Region, Account: a.ID, Logging: r.lt}
		// only logging was read
		for _, asp := range BucketAspects() {
			if asp != "logging" && asp != "location" {
				b.Unread = append(b.Unread, asp)
			}
		}
		if r.err != nil {
			b.Unread = append(b.Unread, "logging")
			fail(r.ref.Region, "arn:aws:s3:::"+r.ref.Name, "logging", r.err)
		}
		a.Buckets[r.ref.Name] = b
	}
	return ctx.Err()
}
