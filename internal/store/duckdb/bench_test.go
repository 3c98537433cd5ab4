package duckdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/parse/cloudtrail"
)

// sampleEvents parses the Elastic sample file (real AWS documentation events).
func sampleEvents(tb testing.TB) []event.CloudTrail {
	f, err := os.Open("../../../../shared/testdata/cloudtrail/beats-awss3-testdata/aws-cloudtrail.json")
	if err != nil {
		tb.Skip(err)
	}
	defer f.Close()
	var out []event.CloudTrail
	var b event.Batch
	err = cloudtrail.NewParser(cloudtrail.Options{}).Parse(context.Background(), f, &b, func(b *event.Batch) error {
		for _, e := range b.Events {
			out = append(out, e.Clone())
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkAppendCommit measures the store alone: parsed events in, committed rows out.
func BenchmarkAppendCommit(b *testing.B) {
	samples := sampleEvents(b)
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.duckdb"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, err := s.BeginAppender(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	const batch = 1000
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bt := &event.Batch{Object: event.ObjectRef{Key: "bench.json"}}
	ids := make([]string, batch)
	b.ResetTimer()
	cpu0 := cpuTime()
	for n := 0; n < b.N; n += batch {
		bt.Events = bt.Events[:0]
		for i := 0; i < batch && n+i < b.N; i++ {
			e := samples[(n+i)%len(samples)]
			ids[i] = fmt.Sprintf("%08d-0000-0000-0000-000000000000", n+i)
			e.EventID = ids[i]
			e.EventTime = base.Add(time.Duration(n+i) * time.Millisecond)
			bt.Events = append(bt.Events, e)
		}
		if err := a.Append(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	if err := a.Commit(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.Logf("commit took %v", time.Since(t0))
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/event")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
