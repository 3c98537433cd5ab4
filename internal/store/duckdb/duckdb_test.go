package duckdb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/trailwatch/trailwatch/internal/store"
	"github.com/trailwatch/trailwatch/internal/store/storetest"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.duckdb"), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreSuite(t *testing.T) {
	t.Logf("arrow ingest path: %v", arrowIngest)
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}
