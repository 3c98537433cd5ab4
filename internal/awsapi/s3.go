package awsapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Object is an S3 object being read.
type Object struct {
	Body         io.ReadCloser
	Size         int64
	ETag         string
	VersionID    string
	LastModified time.Time
	// Metadata is the object's user metadata (x-amz-meta-*, without the
	// prefix, lower-case keys), e.g. a digest's "signature".
	Metadata map[string]string
}

// ObjectInfo is an entry of a bucket listing.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
}

// Buckets reads S3 buckets in one region (the session's when empty).
type Buckets struct {
	s      *Session
	region string
}

// S3 returns a client for buckets in region ("" = the session's region).
// SSE-S3 and SSE-KMS objects are read transparently; for SSE-KMS the
// principal needs kms:Decrypt on the key.
func (s *Session) S3(region string) *Buckets { return &Buckets{s: s, region: region} }

func s3URI(bucket, key string) string { return "s3://" + bucket + "/" + key }

// do calls fn with a client for the bucket's region: the configured one
// at first; when S3 answers that the bucket lives elsewhere (a 301
// PermanentRedirect or a region mismatch, with the x-amz-bucket-region
// header), the right region is remembered and fn is called again.
func (b *Buckets) do(bucket string, fn func(c *s3.Client) error) error {
	region := b.region
	b.s.mu.Lock()
	if r, ok := b.s.bucketRegion[bucket]; ok {
		region = r
	}
	b.s.mu.Unlock()
	err := fn(b.s.s3Client(region))
	var re *awshttp.ResponseError
	if err == nil || !errors.As(err, &re) || re.Response == nil {
		return err
	}
	actual := re.Response.Header.Get("X-Amz-Bucket-Region")
	if actual == "" || actual == region || actual == b.s.s3Client(region).Options().Region {
		return err
	}
	b.s.mu.Lock()
	b.s.bucketRegion[bucket] = actual
	b.s.mu.Unlock()
	b.s.conf.Logger.Info("bucket is in another region; using it", "bucket", bucket, "region", actual)
	return fn(b.s.s3Client(actual))
}

// Get opens an object.
func (b *Buckets) Get(ctx context.Context, bucket, key string) (*Object, error) {
	var out *s3.GetObjectOutput
	err := b.do(bucket, func(c *s3.Client) (err error) {
		out, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		return err
	})
	if err != nil {
		return nil, b.s.wrap(err, "s3:GetObject", s3URI(bucket, key))
	}
	o := &Object{Body: out.Body, Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		VersionID: aws.ToString(out.VersionId), LastModified: aws.ToTime(out.LastModified), Metadata: map[string]string{}}
	for k, v := range out.Metadata {
		o.Metadata[strings.ToLower(k)] = v
	}
	return o, nil
}

// List calls fn for each object under prefix whose key sorts after
// startAfter, in key order.
func (b *Buckets) List(ctx context.Context, bucket, prefix, startAfter string, fn func(ObjectInfo) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	var page *s3.ListObjectsV2Output
	for first := true; first || page.NextContinuationToken != nil; first = false {
		if !first {
			in.ContinuationToken = page.NextContinuationToken
		}
		err := b.do(bucket, func(c *s3.Client) (err error) {
			page, err = c.ListObjectsV2(ctx, in)
			return err
		})
		if err != nil {
			return b.s.wrap(err, "s3:ListBucket", s3URI(bucket, prefix))
		}
		for _, o := range page.Contents {
			if err := fn(ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: strings.Trim(aws.ToString(o.ETag), `"`), LastModified: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Prefixes lists the "directories" directly under prefix (delimiter /).
func (b *Buckets) Prefixes(ctx context.Context, bucket, prefix string) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")}
	var out []string
	var page *s3.ListObjectsV2Output
	for first := true; first || page.NextContinuationToken != nil; first = false {
		if !first {
			in.ContinuationToken = page.NextContinuationToken
		}
		err := b.do(bucket, func(c *s3.Client) (err error) {
			page, err = c.ListObjectsV2(ctx, in)
			return err
		})
		if err != nil {
			return nil, b.s.wrap(err, "s3:ListBucket", s3URI(bucket, prefix))
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, aws.ToString(cp.Prefix))
		}
	}
	return out, nil
}

// Put writes an object (tests, setup and the lake use it).
func (b *Buckets) Put(ctx context.Context, bucket, key string, body io.ReadSeeker, metadata map[string]string) error {
	_, err := b.s.s3Client(b.region).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: body, Metadata: metadata})
	return b.s.wrap(err, "s3:PutObject", s3URI(bucket, key))
}

// Delete removes an object.
func (b *Buckets) Delete(ctx context.Context, bucket, key string) error {
	_, err := b.s.s3Client(b.region).DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return b.s.wrap(err, "s3:DeleteObject", s3URI(bucket, key))
}

// CreateBucket creates a bucket (tests and setup).
func (b *Buckets) CreateBucket(ctx context.Context, bucket string) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if r := b.s.s3Client(b.region).Options().Region; r != "" && r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r)}
	}
	_, err := b.s.s3Client(b.region).CreateBucket(ctx, in)
	if err != nil {
		return b.s.wrap(err, "s3:CreateBucket", "s3://"+bucket)
	}
	return nil
}

// String describes the client for logs.
func (b *Buckets) String() string { return fmt.Sprintf("S3 in %s as %s", b.region, b.s.principal) }
