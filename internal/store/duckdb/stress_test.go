package duckdb

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/store/storetest"
)

// TestParallelFlushesLoseNothing appends many small batches so that the
// parallel flushers are busy at the same time, commits now and then, and
// checks that every event is stored exactly once.
func TestParallelFlushesLoseNothing(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			s, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.duckdb"), Options{Threads: 4, FlushBytes: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			a, err := s.BeginAppender(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			const total = 30000
			for i := 0; i < total; i += 100 {
				b := &event.Batch{Object: event.ObjectRef{Key: fmt.Sprintf("/x/%d.json", i)}}
				for j := range 100 {
					b.Events = append(b.Events, storetest.Event(i+j))
				}
				if err := a.Append(ctx, b); err != nil {
					t.Fatal(err)
				}
				if i%7000 == 0 {
					if err := a.Commit(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := a.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			var n, distinct int64
			if err := s.DB().QueryRow(`SELECT count(*), count(DISTINCT eventID) FROM cloudtrail_events`).Scan(&n, &distinct); err != nil {
				t.Fatal(err)
			}
			if n != total || distinct != total {
				t.Fatalf("stored %d events (%d distinct), want %d", n, distinct, total)
			}
		})
	}
}
