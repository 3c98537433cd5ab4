package detect

import (
	"context"
	"testing"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/gen"
)

// benchBatches generates the demo data set once and keeps its parsed
// batches (cloned) in memory.
func benchBatches(b *testing.B) []*event.Batch {
	b.Helper()
	dir := b.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Dir: dir, Attacks: true, Events: 100_000}); err != nil {
		b.Fatal(err)
	}
	var out []*event.Batch
	collect := &collector{}
	feedTreeTo(b, collect, dir)
	out = collect.batches
	return out
}

type collector struct{ batches []*event.Batch }

func (c *collector) Observe(_ context.Context, b *event.Batch) {
	c.batches = append(c.batches, b.Clone())
}

// BenchmarkObserve measures the engine on the demo data (100k CloudTrail
// events, 23k access log lines) with the built-in pack, and with the
// SigmaHQ CloudTrail rules added, on one goroutine: ns/record, records/s
// and rule evaluations/s (candidate rules tried, after the index).
//
//	go test -tags duckdb_arrow -run XXX -bench Observe -benchtime 3x ./internal/detect
func BenchmarkObserve(b *testing.B) {
	batches := benchBatches(b)
	records := 0
	for _, bt := range batches {
		records += bt.Len()
	}
	builtin, err := Builtin()
	if err != nil {
		b.Fatal(err)
	}
	sigma, err := LoadPaths([]string{sigmaHQDir})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		rules []*Rule
	}{{"builtin", builtin}, {"builtin+sigmahq", append(append([]*Rule(nil), builtin...), sigma...)}} {
		b.Run(tc.name, func(b *testing.B) {
			var findings int
			var evals int64
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				eng, err := NewEngine(tc.rules, Options{MinLevel: LevelLow, OnFinding: func(Finding) { findings++ }})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for _, bt := range batches {
					eng.Observe(ctx, bt)
				}
				eng.Flush()
				evals += eng.Stats().Evaluations
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
			b.ReportMetric(float64(findings)/float64(b.N), "findings")
			b.ReportMetric(float64(evals)/b.Elapsed().Seconds(), "rule-evals/s")
			b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
