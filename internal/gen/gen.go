// Package gen writes realistic, deterministic sample AWS CloudTrail logs and
// Amazon S3 server access logs, laid out exactly as AWS delivers them to S3,
// for trailwatch's demo, its tests and its benchmarks.
//
// Generate builds an AWS Organization (a management account and member
// accounts with IAM users, IAM Identity Center users, CI credentials, EC2
// and Lambda workloads and AWS service principals), simulates a day (by
// default) of their API activity with a working-hours curve, and writes, under
// Options.Dir, one directory per S3 bucket:
//
//   - the organization trail bucket aws-cloudtrail-logs-<mgmt>-demo with
//     gzip'd {"Records":[...]} log files every five minutes per account and
//     region (AWSLogs/o-<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/...),
//     hourly signed digest files (CloudTrail-Digest/..., each with a
//     <name>.metadata.json sidecar holding the S3 object metadata signature)
//     and a CloudTrail Insights file (CloudTrail-Insight/...);
//   - the access-log bucket s3-access-logs-<account>-demo with plain-text S3
//     server access logs for two buckets, one with the simple key format and
//     one with the date-partitioned format.
//
// With Options.Attacks it also plays a set of attack stories (a leaked CI
// key used for reconnaissance and persistence, CloudTrail being stopped,
// a root sign-in without MFA, a security group opened to the world, a bucket
// made public and bulk data theft seen in both CloudTrail and the access
// logs), returned in Summary.Stories and written to Dir/stories.json so that
// tests and demos know what an analyst should find. Dir/public-keys.json holds
// the digest signing key in the shape of `aws cloudtrail list-public-keys`.
//
// Output is a pure function of the Options: the same options (including
// Seed) give byte-identical files whatever the number of workers.
package gen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Options controls what Generate writes. The zero value of each field means
// its default; call SetDefaults to fill them in explicitly.
type Options struct {
	Dir            string    // output root; Generate writes Dir/<bucket>/<key> for every object
	Seed           int64     // the same Seed and options give byte-identical output
	Start          time.Time // first hour generated (UTC, truncated to the hour); default 2026-11-01T00:00:00Z
	Hours          int       // how many hours to generate; default 24
	Accounts       int       // member accounts in the organization; default 3 (plus the management account)
	Regions        []string  // regions in use, home region first; default us-east-1, eu-west-1, us-west-2
	Events         int       // approximate number of benign CloudTrail events; default 50,000
	AccessLogLines int       // approximate number of benign S3 server access log lines; default 20,000
	Attacks        bool      // play the attack stories (the demo turns this on; needs Hours >= 2)
	Digests        bool      // write hourly signed digest files; SetDefaults sets it (use NoDigests to turn digests off)
	Workers        int       // parallel writers; default runtime.GOMAXPROCS(0)
	GzipLevel      int       // gzip level for CloudTrail objects; default gzip.DefaultCompression
	// NoDigests turns digests off: Digests defaults to true, and a bool's
	// zero value cannot say "off" on its own.
	NoDigests bool
}

// Defaults used by SetDefaults.
const (
	DefaultHours          = 24
	DefaultAccounts       = 3
	DefaultEvents         = 50_000
	DefaultAccessLogLines = 20_000
)

// DefaultStart returns the first hour generated when Options.Start is zero:
// 2026-11-01T00:00:00Z.
func DefaultStart() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }

// DefaultRegions are the regions in use when Options.Regions is empty.
func DefaultRegions() []string { return []string{"us-east-1", "eu-west-1", "us-west-2"} }

// SetDefaults fills zero fields with their defaults. Digests becomes true
// unless NoDigests is set; Attacks is left as given.
func (o *Options) SetDefaults() {
	if o.Start.IsZero() {
		o.Start = DefaultStart()
	}
	o.Start = o.Start.UTC().Truncate(time.Hour)
	if o.Hours <= 0 {
		o.Hours = DefaultHours
	}
	if o.Accounts <= 0 {
		o.Accounts = DefaultAccounts
	}
	if len(o.Regions) == 0 {
		o.Regions = DefaultRegions()
	}
	if o.Events <= 0 {
		o.Events = DefaultEvents
	}
	if o.AccessLogLines <= 0 {
		o.AccessLogLines = DefaultAccessLogLines
	}
	o.Digests = !o.NoDigests
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.GzipLevel == 0 {
		o.GzipLevel = gzip.DefaultCompression
	}
}

// Summary reports what Generate wrote.
type Summary struct {
	LogFiles       int     // CloudTrail log files
	DigestFiles    int     // CloudTrail digest files (sidecars not counted)
	InsightFiles   int     // CloudTrail Insights files
	AccessLogFiles int     // S3 server access log objects
	Events         int     // CloudTrail records in the log files (Insights events excluded)
	InsightEvents  int     // CloudTrail Insights records
	AccessLogLines int     // S3 server access log records
	Bytes          int64   // bytes written, as stored (gzip'd where AWS gzips)
	Stories        []Story // the attack stories played, in time order
	Dir            string  // the output root
}

// Story is one attack scenario in the generated data: what an analyst (or a
// detection) should find.
type Story struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Account     string    `json:"account"`  // account id where it happens
	Region      string    `json:"region"`   // main region of the activity
	Actor       string    `json:"actor"`    // principal ARN used
	SourceIP    string    `json:"sourceIP"` // main source address
	Start       time.Time `json:"start"`    // first event
	End         time.Time `json:"end"`      // last event
	EventNames  []string  `json:"eventNames"`
}

// Generate writes the sample data set described by opts (see the package
// documentation) and reports what it wrote. It applies SetDefaults to opts
// first. It overwrites but never removes files already under opts.Dir, so
// use a fresh directory. The attack stories need at least two hours.
func Generate(ctx context.Context, opts Options) (Summary, error) {
	opts.SetDefaults()
	if opts.Dir == "" {
		return Summary{}, errors.New("gen: Options.Dir is empty")
	}
	if opts.Hours > 24*366 {
		return Summary{}, fmt.Errorf("gen: %d hours is more than a year", opts.Hours)
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, fmt.Errorf("gen: %w", err)
	}
	key, err := loadSigner()
	if err != nil {
		return Summary{}, err
	}
	w := newWorld(opts)
	w.keyFP = key.fingerprint
	w.plan()
	w.buildTables()

	sum := Summary{Dir: opts.Dir, Stories: w.stories}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Tasks: CloudTrail cells, then access-log cells.
	cells := w.cells()
	alCells := w.accessCells()
	cellRes := make([]cellResult, len(cells))
	alRes := make([]alResult, len(alCells))
	total := len(cells) + len(alCells)
	workers := make([]*worker, opts.Workers)
	for i := range workers {
		workers[i] = newWorker(w)
	}
	if err := runTasks(ctx, workers, total, func(wk *worker, i int) error {
		if i < len(cells) {
			return wk.runCell(ctx, cells[i], &cellRes[i])
		}
		j := i - len(cells)
		return wk.runAccessCell(ctx, alCells[j], &alRes[j])
	}); err != nil {
		return sum, err
	}
	for _, cr := range cellRes {
		sum.LogFiles += len(cr.files)
		sum.Events += cr.events
	}
	for _, ar := range alRes {
		sum.AccessLogFiles += ar.files
		sum.AccessLogLines += ar.lines
	}

	// Digests: one chain per account and region, built in parallel.
	if opts.Digests {
		chains := w.chains(cells, cellRes)
		chainRes := make([]int, len(chains))
		if err := runTasks(ctx, workers, len(chains), func(wk *worker, i int) error {
			n, err := wk.writeChain(chains[i], key)
			chainRes[i] = n
			return err
		}); err != nil {
			return sum, err
		}
		for _, n := range chainRes {
			sum.DigestFiles += n
		}
	}
	if w.insight != nil {
		n, err := workers[0].writeInsight(w.insight)
		if err != nil {
			return sum, err
		}
		sum.InsightFiles++
		sum.InsightEvents += n
	}
	for _, wk := range workers {
		sum.Bytes += wk.bytes
	}

	// stories.json and public-keys.json.
	stories := w.stories
	if stories == nil {
		stories = []Story{}
	}
	sj, err := json.MarshalIndent(stories, "", "  ")
	if err != nil {
		return sum, fmt.Errorf("gen: encoding stories: %w", err)
	}
	n, err := writeFileMkdir(filepath.Join(opts.Dir, "stories.json"), append(sj, '\n'))
	if err != nil {
		return sum, err
	}
	sum.Bytes += n
	pk := publicKeysJSON(key, w.start-30*86400, w.start+int64(w.hours)*3600+30*86400)
	n, err = writeFileMkdir(filepath.Join(opts.Dir, "public-keys.json"), pk)
	if err != nil {
		return sum, err
	}
	sum.Bytes += n
	return sum, nil
}

// runTasks runs n tasks over the workers, stopping at the first error.
func runTasks(ctx context.Context, workers []*worker, n int, run func(*worker, int) error) error {
	if n == 0 {
		return nil
	}
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for _, wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := run(wk, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-inner.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	return nil
}

// worker is one goroutine's reusable state.
type worker struct {
	w     *world
	g     evgen
	gz    *gzip.Writer
	gzbuf bytes.Buffer
	buf   []byte
	dirs  map[string]bool
	bytes int64
	level int
}

func newWorker(w *world) *worker {
	wk := &worker{w: w, dirs: map[string]bool{}, level: w.opts.GzipLevel}
	wk.g.w = w
	return wk
}

// put writes one object, gzip'd when gz is set, and returns the bytes
// written to disk.
func (wk *worker) put(bucket, key string, data []byte, gz bool) (int64, error) {
	path := filepath.Join(wk.w.opts.Dir, bucket, filepath.FromSlash(key))
	dir := filepath.Dir(path)
	if !wk.dirs[dir] {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, fmt.Errorf("gen: %w", err)
		}
		wk.dirs[dir] = true
	}
	out := data
	if gz {
		wk.gzbuf.Reset()
		if wk.gz == nil {
			z, err := gzip.NewWriterLevel(&wk.gzbuf, wk.level)
			if err != nil {
				return 0, fmt.Errorf("gen: gzip level %d: %w", wk.level, err)
			}
			wk.gz = z
		} else {
			wk.gz.Reset(&wk.gzbuf)
		}
		if _, err := wk.gz.Write(data); err != nil {
			return 0, fmt.Errorf("gen: compressing %s: %w", key, err)
		}
		if err := wk.gz.Close(); err != nil {
			return 0, fmt.Errorf("gen: compressing %s: %w", key, err)
		}
		out = wk.gzbuf.Bytes()
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return 0, fmt.Errorf("gen: %w", err)
	}
	wk.bytes += int64(len(out))
	return int64(len(out)), nil
}

func writeFileMkdir(path string, data []byte) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("gen: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return 0, fmt.Errorf("gen: %w", err)
	}
	return int64(len(data)), nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
