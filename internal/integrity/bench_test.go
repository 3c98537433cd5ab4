package integrity

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/integrity/integritytest"
)

// BenchmarkVerifyMonth verifies a month of hourly digests for one region
// (720) and the 2,880 log files they list, from a local copy with
// signature sidecars, with log files of 100 events (~130 KB uncompressed)
// and of 270 (~350 KB, the demo generator's average):
//
//	go test -run XXX -bench VerifyMonth -cpu 2 -benchtime 15x ./internal/integrity
//
// (the first iterations run while the kernel writes the fresh files back).
func BenchmarkVerifyMonth(b *testing.B) {
	for _, events := range []int{100, 270} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) { benchmarkVerifyMonth(b, events) })
	}
}

func benchmarkVerifyMonth(b *testing.B, events int) {
	key, _ := keys(b)
	root := b.TempDir()
	c, err := integritytest.Write(integritytest.Options{Root: root, Key: key, Hours: 720, FilesPerHour: 4, EventsPerFile: events,
		Start: time.Date(2026, 3, 1, 0, 20, 34, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	// The uncompressed bytes hashed, for MB/s.
	var raw int64
	for _, files := range c.LogFiles {
		for _, f := range files {
			data, err := integritytest.ReadGz(c.Path(f))
			if err != nil {
				b.Fatal(err)
			}
			raw += int64(len(data))
		}
	}
	b.SetBytes(raw)
	var sk StaticKeys
	sk.Add("", publicKey(key, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
	v := &Verifier{Buckets: LocalBuckets{Root: root}, Keys: &sk}
	req := Request{Bucket: c.Bucket, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}
	for b.Loop() {
		sum, err := v.Verify(b.Context(), req, func(*Result) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		if sum.Digests.Valid != 720 || sum.LogFiles.Valid != 2880 || !sum.OK() {
			b.Fatalf("digests %+v, logs %+v", sum.Digests, sum.LogFiles)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/month")
}

// BenchmarkVerifyMonthS3 verifies the same month (720 digests, 2,880 log
// files) served by a real local S3-compatible server (VersityGW), with the
// signatures in the objects' metadata and the public key fetched through
// CloudTrail ListPublicKeys from a stand-in:
//
//	go test -tags duckdb_arrow -run XXX -bench VerifyMonthS3 -cpu 2 -benchtime 5x ./internal/integrity
//
// `aws cloudtrail validate-logs` needs ~20 s for the same against a local
// server.
func BenchmarkVerifyMonthS3(b *testing.B) {
	key, _ := keys(b)
	e := newS3Env(b, key)
	for _, events := range []int{100, 270} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
			root := b.TempDir()
			bucket := fmt.Sprintf("month-%d", events)
			c, err := integritytest.Write(integritytest.Options{Root: root, Bucket: bucket, Key: key, Hours: 720, FilesPerHour: 4, EventsPerFile: events,
				Start: time.Date(2026, 3, 1, 0, 20, 34, 0, time.UTC)})
			if err != nil {
				b.Fatal(err)
			}
			e.upload(b, root)
			buckets := S3Buckets{S3: e.sess.S3("")}
			v := &Verifier{Buckets: buckets, Keys: CloudTrailKeys{Session: e.sess}, Workers: 32, Fetchers: 32}
			req := Request{Bucket: c.Bucket, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}
			cpu0 := cpuTime()
			for b.Loop() {
				sum, err := v.Verify(b.Context(), req, func(*Result) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				if sum.Digests.Valid != 720 || sum.LogFiles.Valid != 2880 || !sum.OK() {
					b.Fatalf("digests %+v, logs %+v", sum.Digests, sum.LogFiles)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/month")
			// This process's CPU (not the server's): what a shared machine
			// measures best.
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/month")
		})
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
