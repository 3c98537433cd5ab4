package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/integrity"
)

// downloadFlags are the inputs of `trailwatch download`.
type downloadFlags struct {
	start, end string
	accounts   []string
	regions    []string
	workers    int
	aws        awsFlags
}

// downloadCommand saves a bucket's CloudTrail objects locally with the
// digests' signatures in sidecars, for `trailwatch verify --local`.
func (a *app) downloadCommand() *cobra.Command {
	var f downloadFlags
	cmd := &cobra.Command{
		Use:   "download s3://BUCKET[/PREFIX] DIR",
		Short: "Download a trail's bucket with the digests' signatures, for trailwatch verify --local",
		Long: `Download copies the CloudTrail objects of a bucket (log files, digest files,
Insights) to DIR/BUCKET/KEY and keeps each object's S3 user metadata, which
holds a digest's signature (x-amz-meta-signature), in a sidecar file
DIR/BUCKET/KEY.metadata.json. A plain download (aws s3 sync) loses that
metadata: without it trailwatch verify --local can prove every digest through
the signature the next digest records, except the newest of each chain.

With --start-time/--end-time only the days around the range are copied
(CloudTrail's AWSLogs/.../REGION/YYYY/MM/DD/ layout, a day of margin each
side, as verify needs). Files already present with the same size are kept,
so an interrupted download resumes.`,
		Example: `  trailwatch download s3://org-trail-logs ./copy --start-time 2026-11-01 --end-time 2026-11-08
  trailwatch verify --local ./copy --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/main \
      --start-time 2026-11-01 --end-time 2026-11-08 --public-keys keys.json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.download(cmd.Context(), &f, args[0], args[1])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.start, "start-time", "", `copy the days from this UTC time on, e.g. "2026-11-01" or "30d" (default everything)`)
	fl.StringVar(&f.end, "end-time", "", "copy the days up to this UTC time (default now)")
	fl.StringSliceVar(&f.accounts, "account-id", nil, "only these accounts (default every account)")
	fl.StringSliceVar(&f.regions, "region", nil, "only these regions (default every region)")
	fl.IntVar(&f.workers, "workers", 16, "objects downloaded in parallel")
	f.aws.register(cmd)
	return cmd
}

// downloadStats counts a download's work.
type downloadStats struct {
	objects, bytes, sidecars, kept atomic.Int64
}

// download runs the command.
func (a *app) download(ctx context.Context, f *downloadFlags, url, dir string) error {
	bucket, prefix, err := parseS3URL(url)
	if err != nil {
		return usageError("%v", err)
	}
	if f.workers <= 0 {
		return usageError("--workers must be positive")
	}
	now := time.Now()
	var from, to time.Time
	if f.start != "" {
		if from, err = parseWhen(f.start, now); err != nil {
			return usageError("--start-time: %v", err)
		}
	}
	to = now.UTC()
	if f.end != "" {
		if to, err = parseWhen(f.end, now); err != nil {
			return usageError("--end-time: %v", err)
		}
	}
	if !from.IsZero() && from.After(to) {
		return usageError("Invalid time range specified: start-time must occur before end-time")
	}
	if strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." {
		return usageError("%q is not a bucket name", bucket)
	}
	sess, err := a.awsSession(ctx, f.aws)
	if err != nil {
		return err
	}
	s3 := sess.S3(f.aws.region)
	dest := filepath.Join(dir, bucket)
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	d := &downloader{s3: s3, bucket: bucket, dest: dest, from: from, to: to,
		accounts: splitLists(f.accounts), regions: splitLists(f.regions)}
	keys := make(chan awsapi.ObjectInfo, 4*f.workers)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range f.workers {
		wg.Go(func() {
			for k := range keys {
				if err := d.fetch(ctx, k); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	listErr := d.list(ctx, prefix, func(o awsapi.ObjectInfo) error {
		select {
		case keys <- o:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(keys)
	wg.Wait()
	st := &d.stats
	fmt.Fprintf(a.stdout, "Downloaded %d objects (%s) to %s, %d with signature metadata in %s sidecars; %d already there\n",
		st.objects.Load(), humanBytes(st.bytes.Load()), dest, st.sidecars.Load(), "<key>"+integrity.SidecarSuffix, st.kept.Load())
	if listErr != nil {
		return fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, listErr)
	}
	if len(errs) > 0 {
		for _, e := range errs[:min(len(errs), 10)] {
			fmt.Fprintln(a.stderr, "trailwatch: "+e.Error())
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d of the objects could not be downloaded", len(errs))}
	}
	return nil
}

// awsSession opens an AWS session with the command's AWS flags.
func (a *app) awsSession(ctx context.Context, af awsFlags) (*awsapi.Session, error) {
	return a.newSession(ctx, af.aws())
}

// downloader copies objects of one bucket.
type downloader struct {
	s3                *awsapi.Buckets
	bucket, dest      string
	from, to          time.Time
	accounts, regions []string
	stats             downloadStats
}

// list finds the keys to copy: under PREFIX/AWSLogs/, account by account
// and region by region from the first day wanted; anything else under the
// prefix in full.
func (d *downloader) list(ctx context.Context, prefix string, emit func(awsapi.ObjectInfo) error) error {
	base := prefix + "AWSLogs/"
	tops, err := d.s3.Prefixes(ctx, d.bucket, base)
	if err != nil {
		return err
	}
	if len(tops) == 0 {
		return d.s3.List(ctx, d.bucket, prefix, "", emit)
	}
	var accts []string
	for _, t := range tops {
		name := lastSegment(t)
		if strings.HasPrefix(name, "o-") {
			subs, err := d.s3.Prefixes(ctx, d.bucket, t)
			if err != nil {
				return err
			}
			accts = append(accts, subs...)
			continue
		}
		accts = append(accts, t)
	}
	for _, ap := range accts {
		if len(d.accounts) > 0 && !slices.Contains(d.accounts, lastSegment(ap)) {
			continue
		}
		kinds, err := d.s3.Prefixes(ctx, d.bucket, ap)
		if err != nil {
			return err
		}
		for _, kp := range kinds {
			if !strings.HasPrefix(lastSegment(kp), "CloudTrail") {
				continue
			}
			regions, err := d.s3.Prefixes(ctx, d.bucket, kp)
			if err != nil {
				return err
			}
			for _, rp := range regions {
				if len(d.regions) > 0 && !slices.Contains(d.regions, lastSegment(rp)) {
					continue
				}
				if err := d.listDays(ctx, rp, emit); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// errDone ends a listing past the last day wanted.
var errDone = errors.New("done")

// listDays lists REGION/YYYY/MM/DD/ keys from a day before the range to a
// day after it.
func (d *downloader) listDays(ctx context.Context, rp string, emit func(awsapi.ObjectInfo) error) error {
	startAfter := ""
	if !d.from.IsZero() {
		startAfter = rp + d.from.AddDate(0, 0, -2).Format("2006/01/02") + "/~"
	}
	hiDay := d.to.AddDate(0, 0, 1).Format("2006/01/02")
	err := d.s3.List(ctx, d.bucket, rp, startAfter, func(o awsapi.ObjectInfo) error {
		if rest := o.Key[len(rp):]; len(rest) >= 10 && rest[:10] > hiDay {
			return errDone
		}
		return emit(o)
	})
	if errors.Is(err, errDone) {
		return nil
	}
	return err
}

// lastSegment returns "b" for "a/b/".
func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// fetch copies one object and its metadata sidecar, through a temporary
// file, unless a copy of the same size (and its sidecar, for a digest) is
// there.
func (d *downloader) fetch(ctx context.Context, obj awsapi.ObjectInfo) error {
	key := obj.Key
	rel := filepath.FromSlash(key)
	if !filepath.IsLocal(rel) || strings.HasSuffix(key, "/") || strings.HasSuffix(key, integrity.SidecarSuffix) {
		return fmt.Errorf("s3://%s/%s: a key that cannot be a local file name, skipped", d.bucket, key)
	}
	path := filepath.Join(d.dest, rel)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == obj.Size {
		_, isDigest := integrity.ParseDigestKey(key)
		if _, err := os.Stat(path + integrity.SidecarSuffix); err == nil || !isDigest {
			d.stats.kept.Add(1)
			return nil
		}
	}
	o, err := d.s3.Get(ctx, d.bucket, key)
	if err != nil {
		return err
	}
	defer o.Body.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return err
	}
	n, err := io.Copy(tmp, o.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("s3://%s/%s: %w", d.bucket, key, err)
	}
	if len(o.Metadata) > 0 {
		data, err := json.MarshalIndent(o.Metadata, "", "  ")
		if err == nil {
			err = os.WriteFile(path+integrity.SidecarSuffix, append(data, '\n'), 0o644)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
		d.stats.sidecars.Add(1)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if !o.LastModified.IsZero() {
		_ = os.Chtimes(path, o.LastModified, o.LastModified)
	}
	d.stats.objects.Add(1)
	d.stats.bytes.Add(n)
	return nil
}
