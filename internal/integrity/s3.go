package integrity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
)

// S3Buckets reads buckets in S3 (or an S3-compatible server) through
// package awsapi: objects with their user metadata (a digest's signature),
// listings in key order with StartAfter, and common prefixes.
type S3Buckets struct {
	S3 *awsapi.Buckets
}

// Bucket returns the bucket name; it does not call S3.
func (s S3Buckets) Bucket(_ context.Context, name string) (Bucket, error) {
	if name == "" {
		return nil, fmt.Errorf("integrity: empty bucket name: %w", ErrNotFound)
	}
	return s3Bucket{s3: s.S3, name: name}, nil
}

// s3Bucket is one bucket in S3.
type s3Bucket struct {
	s3   *awsapi.Buckets
	name string
}

// errStop ends a listing early.
var errStop = errors.New("stop listing")

// List lists objects under prefix after startAfter, in key order.
func (b s3Bucket) List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		err := b.s3.List(ctx, b.name, prefix, startAfter, func(o awsapi.ObjectInfo) error {
			if !yield(ObjectInfo{Key: o.Key, Size: o.Size, LastModified: o.LastModified}, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(ObjectInfo{}, notFound(err))
		}
	}
}

// Get opens an object with its user metadata.
func (b s3Bucket) Get(ctx context.Context, key string) (io.ReadCloser, map[string]string, error) {
	o, err := b.s3.Get(ctx, b.name, key)
	if err != nil {
		return nil, nil, notFound(err)
	}
	meta := o.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return o.Body, meta, nil
}

// Prefixes lists the common prefixes under prefix.
func (b s3Bucket) Prefixes(ctx context.Context, prefix string) ([]string, error) {
	p, err := b.s3.Prefixes(ctx, b.name, prefix)
	return p, notFound(err)
}

// notFound marks S3's "no such key/bucket" with ErrNotFound, keeping the
// AWS error (which names the action, object and principal).
func notFound(err error) error {
	if err != nil && awsapi.IsNotFound(err) {
		return fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	return err
}

// CloudTrailKeys fetches public keys with CloudTrail ListPublicKeys through
// package awsapi.
type CloudTrailKeys struct {
	Session *awsapi.Session
}

// PublicKeys calls ListPublicKeys in region for start–end.
func (k CloudTrailKeys) PublicKeys(ctx context.Context, region string, start, end time.Time) ([]PublicKey, error) {
	keys, err := k.Session.PublicKeys(ctx, region, start, end)
	if err != nil {
		return nil, err
	}
	out := make([]PublicKey, len(keys))
	for i, pk := range keys {
		out[i] = PublicKey{Fingerprint: pk.Fingerprint, Value: pk.Value, ValidityStartTime: pk.ValidityStartTime, ValidityEndTime: pk.ValidityEndTime}
	}
	return out, nil
}
