package integrity

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/gen"
)

// TestDemoData verifies what the demo generator writes: every digest and
// log file is valid, and the StopLogging story shows as a chain gap and a
// new starting digest in each of the stopped account's chains, explained
// by the StopLogging and StartLogging events in its logs.
func TestDemoData(t *testing.T) {
	dir := t.TempDir()
	sum, err := gen.Generate(t.Context(), gen.Options{Dir: dir, Hours: 4, Accounts: 1, Events: 2000, AccessLogLines: 50, Attacks: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var stopped gen.Story
	for _, s := range sum.Stories {
		if s.ID == "cloudtrail-stopped" {
			stopped = s
		}
	}
	if stopped.ID == "" {
		t.Fatal("no cloudtrail-stopped story")
	}
	var keys StaticKeys
	if err := keys.LoadFile(filepath.Join(dir, "public-keys.json")); err != nil {
		t.Fatal(err)
	}
	buckets := LocalBuckets{Root: dir}
	ents, _ := os.ReadDir(dir)
	var bucket string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "AWSLogs")); err == nil && e.IsDir() {
			bucket = e.Name()
		}
	}
	v := &Verifier{Buckets: buckets, Keys: &keys, Events: BucketTrailEvents{Buckets: buckets}}
	results, s := runVerify(t, v, Request{Bucket: bucket, End: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)})
	if !s.OK() || s.Digests.Valid != sum.DigestFiles || s.Digests.Total() != sum.DigestFiles || s.LogFiles.Valid != s.LogFiles.Total() || s.LogFiles.Valid != sum.LogFiles {
		t.Errorf("summary %+v (generated %d digests, %d log files)", s, sum.DigestFiles, sum.LogFiles)
	}
	gaps, starts := 0, 0
	for _, r := range results {
		switch {
		case r.Status == Valid:
		case r.Kind == ChainGap && r.Account == stopped.Account:
			gaps++
		case r.Kind == NewStartingDigest && r.Account == stopped.Account:
			starts++
			var names []string
			for _, e := range r.Events {
				names = append(names, e.Name)
			}
			if !slices.Contains(names, "StopLogging") || !slices.Contains(names, "StartLogging") {
				t.Errorf("%s: events %v", r.Key, names)
			}
		default:
			b, _ := json.Marshal(r)
			t.Errorf("unexpected finding %s", b)
		}
	}
	if gaps == 0 || gaps != starts || gaps != s.Gaps {
		t.Errorf("%d gaps, %d new starting digests, summary %d", gaps, starts, s.Gaps)
	}
}
