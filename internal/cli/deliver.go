package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/config"
)

// deliverOptions say where generated logs go: into S3 buckets of the same
// names, announced on a queue, as CloudTrail and S3 deliver them.
type deliverOptions struct {
	aws    config.AWS
	notify string // queue URL or name (created when a name); empty: no notifications
}

// deliver uploads every object under root (root/<bucket>/<key>) to its
// bucket, creating the buckets, with each digest's signature as object
// metadata, and announces each object with an S3 event notification.
func (a *app) deliver(ctx context.Context, root string, o deliverOptions) error {
	sess, err := a.newSession(ctx, o.aws)
	if err != nil {
		return err
	}
	var queue *awsapi.Queue
	if o.notify != "" {
		u := o.notify
		if !strings.Contains(u, "://") {
			if u, err = sess.CreateQueue(ctx, u, nil); err != nil {
				return err
			}
		}
		queue = sess.Queue(u)
	}
	type object struct{ bucket, key, path string }
	var objs []object
	buckets := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".metadata.json") {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		bucket, key, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if !ok {
			return nil // root-level files (public-keys.json, stories.json)
		}
		buckets[bucket] = true
		objs = append(objs, object{bucket, key, path})
		return nil
	})
	if err != nil {
		return err
	}
	s3 := sess.S3("")
	for b := range buckets {
		if err := s3.CreateBucket(ctx, b); err != nil {
			return err
		}
	}
	start := time.Now()
	work := make(chan object)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ob := range work {
				if err := deliverOne(ctx, s3, queue, ob.bucket, ob.key, ob.path); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, ob := range objs {
		select {
		case work <- ob:
		case err := <-errs:
			close(work)
			wg.Wait()
			return err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Fprintf(a.stderr, "uploaded %d objects to %d buckets in %s", len(objs), len(buckets), time.Since(start).Round(time.Millisecond))
	if queue != nil {
		fmt.Fprintf(a.stderr, " and announced each on %s", queue.URL())
	}
	fmt.Fprintln(a.stderr)
	if queue != nil {
		fmt.Fprintln(a.stdout, queue.URL())
	}
	return nil
}

func deliverOne(ctx context.Context, s3 *awsapi.Buckets, queue *awsapi.Queue, bucket, key, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var meta map[string]string
	if m, err := os.ReadFile(path + ".metadata.json"); err == nil {
		if err := json.Unmarshal(m, &meta); err != nil {
			return fmt.Errorf("%s.metadata.json: %w", path, err)
		}
	}
	if err := s3.Put(ctx, bucket, key, bytes.NewReader(data), meta); err != nil {
		return err
	}
	if queue == nil {
		return nil
	}
	return queue.Send(ctx, s3EventNotification(bucket, key, int64(len(data)), time.Now()))
}

// s3EventNotification is the S3 event notification of a new object, as S3
// sends it to a queue (keys URL-encoded like a form: space as +).
func s3EventNotification(bucket, key string, size int64, t time.Time) string {
	type obj struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	}
	type bkt struct {
		Name string `json:"name"`
		ARN  string `json:"arn"`
	}
	type s3 struct {
		SchemaVersion   string `json:"s3SchemaVersion"`
		ConfigurationID string `json:"configurationId"`
		Bucket          bkt    `json:"bucket"`
		Object          obj    `json:"object"`
	}
	type record struct {
		EventVersion string `json:"eventVersion"`
		EventSource  string `json:"eventSource"`
		AWSRegion    string `json:"awsRegion"`
		EventTime    string `json:"eventTime"`
		EventName    string `json:"eventName"`
		S3           s3     `json:"s3"`
	}
	b, _ := json.Marshal(map[string][]record{"Records": {{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: "us-east-1",
		EventTime: t.UTC().Format("2006-01-02T15:04:05.000Z"), EventName: "ObjectCreated:Put",
		S3: s3{SchemaVersion: "1.0", ConfigurationID: "trailwatch",
			Bucket: bkt{Name: bucket, ARN: "arn:aws:s3:::" + bucket},
			Object: obj{Key: strings.ReplaceAll(url.QueryEscape(key), "%2F", "/"), Size: size}},
	}}})
	return string(b)
}
