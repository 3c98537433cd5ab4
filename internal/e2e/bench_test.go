package e2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/collector"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/gen"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/source/dir"
	"github.com/trailwatch/trailwatch/internal/source/sqs"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

// Collecting from the local S3 and SQS servers, as the collector does in
// production: one S3 event notification per object.
//
//	go test -tags duckdb_arrow -run XXX -bench CollectLarge -benchtime 1x -cpu 2 ./internal/e2e/
//
// (one benchmark per process: a second one in the same process runs
// slower, after the first one's store and servers).
//
// BenchmarkCollectSmallObjects: a day of typical 5-minute files (~2 KB).
// BenchmarkCollectLargeObjects and BenchmarkIngestLargeObjectsLocally: the
// same large files through the queue and from a local directory.
func BenchmarkCollectSmallObjects(b *testing.B) {
	benchCollect(b, smallObjects)
}

func BenchmarkIngestSmallObjectsLocally(b *testing.B) {
	benchIngest(b, smallObjects)
}

// smallObjects are a day of a quiet account: typical 5-minute files.
var smallObjects = gen.Options{Hours: 24, Events: 10_000, Accounts: 1, Regions: []string{"us-east-1", "eu-west-1", "us-west-2"}}

func BenchmarkCollectLargeObjects(b *testing.B) {
	benchCollect(b, largeObjects)
}

func BenchmarkIngestLargeObjectsLocally(b *testing.B) {
	benchIngest(b, largeObjects)
}

func benchIngest(b *testing.B, o gen.Options) {
	root := genBench(b, o)
	var events, objects int64
	var elapsed time.Duration
	for b.Loop() {
		st, err := duckdb.Open(context.Background(), filepath.Join(b.TempDir(), "tw.duckdb"), duckdb.Options{})
		if err != nil {
			b.Fatal(err)
		}
		src, err := dir.Open([]string{root}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if f := os.Getenv("BENCH_PROF"); f != "" {
			pf, _ := os.Create(f)
			_ = pprof.StartCPUProfile(pf)
		}
		start, cpu0 := time.Now(), cpuTime()
		sum, err := pipeline.Run(context.Background(), &onlyCloudTrail{src}, st, pipeline.Options{SkipIngested: true})
		elapsed += time.Since(start)
		pprof.StopCPUProfile()
		b.Logf("%d objects in %s, %.1f s of CPU", sum.Objects, time.Since(start), (cpuTime() - cpu0).Seconds())
		if err != nil {
			b.Fatal(err)
		}
		events += sum.Records
		objects += sum.Objects
		st.Close()
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(objects)/elapsed.Seconds(), "objects/s")
}

// largeObjects are an hour of a busy account: ~12,000 events per file.
var largeObjects = gen.Options{Hours: 1, Events: 500_000, Accounts: 1, Regions: []string{"us-east-1", "eu-west-1", "us-west-2"}}

// onlyCloudTrail keeps the CloudTrail log files of a source.
type onlyCloudTrail struct{ pipeline.Source }

func (s *onlyCloudTrail) Next(ctx context.Context) (*pipeline.Object, error) {
	for {
		o, err := s.Source.Next(ctx)
		if err != nil || event.ClassifyKey(o.Ref.Key).Kind == event.KindCloudTrail {
			return o, err
		}
	}
}

func genBench(b *testing.B, o gen.Options) string {
	b.Helper()
	o.Dir, o.Seed, o.NoDigests, o.AccessLogLines = b.TempDir(), 11, true, 1
	if _, err := gen.Generate(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	return o.Dir
}

func benchCollect(b *testing.B, o gen.Options) {
	e := newEnv(b)
	ctx := context.Background()
	root := genBench(b, o)
	var objs []uploaded
	for _, u := range e.upload(b, root) {
		if u.Kind == event.KindCloudTrail {
			objs = append(objs, u)
		}
	}
	var size int64
	for _, u := range objs {
		size += u.Size
	}
	b.Logf("%d CloudTrail objects, %d bytes on average", len(objs), size/int64(len(objs)))
	var events, objects int64
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		qURL, err := e.sess.CreateQueue(ctx, "bench-"+time.Now().Format("150405.000000"), nil)
		if err != nil {
			b.Fatal(err)
		}
		q := e.sess.Queue(qURL)
		announce(b, q, objs)
		st, err := duckdb.Open(ctx, filepath.Join(b.TempDir(), "tw.duckdb"), duckdb.Options{})
		if err != nil {
			b.Fatal(err)
		}
		inflight, _ := strconv.Atoi(os.Getenv("BENCH_INFLIGHT"))
		src := sqs.New(sqs.Options{Queue: q, Fetcher: e.sess.S3(""), StopWhenEmpty: true, Wait: time.Second, MaxInFlight: inflight})
		c := collector.New(collector.Options{
			Sources:  []collector.Source{{Name: "bench", Type: "sqs", Source: src, Close: src.Close}},
			Store:    st,
			Pipeline: pipeline.Options{SkipIngested: true, Workers: benchWorkers()},
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if f := os.Getenv("BENCH_PROF"); f != "" {
			pf, _ := os.Create(f)
			_ = pprof.StartCPUProfile(pf)
		}
		start, cpu0 := time.Now(), cpuTime()
		done := make(chan error, 1)
		go func() { _, err := c.Run(ctx); done <- err }()
		// Time to the last commit: not the drain's final empty receive.
		for c.Stats().Objects.Load() < int64(len(objs)) {
			select {
			case err := <-done:
				b.Fatalf("collector ended early: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		elapsed += time.Since(start)
		pprof.StopCPUProfile()
		b.Logf("%d objects in %s, %d commits, %.1f s of CPU", c.Stats().Objects.Load(), time.Since(start), c.Stats().Commits.Load(), (cpuTime() - cpu0).Seconds())
		events += c.Stats().Records.Load()
		objects += c.Stats().Objects.Load()
		c.Stop()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
	b.ReportMetric(float64(objects)/elapsed.Seconds(), "objects/s")
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchWorkers() int {
	n, _ := strconv.Atoi(os.Getenv("BENCH_WORKERS"))
	return n
}

// announce sends one S3 event notification per object, in parallel.
func announce(b *testing.B, q *awsapi.Queue, objs []uploaded) {
	b.Helper()
	work := make(chan uploaded)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	senders := 8
	if os.Getenv("BENCH_ORDERED") != "" {
		senders = 1 // in key order, as a local ingest reads them
	}
	for range senders {
		wg.Go(func() {
			for o := range work {
				if err := q.Send(context.Background(), s3EventBody(o, time.Now())); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
