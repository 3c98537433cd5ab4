package integrity

import (
	"path"
	"slices"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/integrity/integritytest"
)

// TestValidator feeds digests one at a time, as a collector would.
func TestValidator(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*chainOpts)
		tamper func(t *testing.T, f *fx)
		skip   int // digest index not fed (its notification lost)
		want   func(c *chainT) []finding
	}{
		{name: "in order", skip: -1, want: func(*chainT) []finding { return nil }},
		// Notifications can be lost: the link is checked by reading the
		// previous digest again.
		{name: "one digest not fed", skip: 2, want: func(*chainT) []finding { return nil }},
		{name: "previous digest deleted", skip: 2, tamper: func(t *testing.T, f *fx) { f.remove(t, f.c.Digests[2]) },
			want: func(c *chainT) []finding { return []finding{{DigestDeleted, path.Base(c.Digests[2])}} }},
		{name: "log file modified", skip: -1, tamper: func(t *testing.T, f *fx) {
			if err := integritytest.WriteGz(f.c.Path(f.c.LogFiles[4][1]), []byte("{}")); err != nil {
				t.Fatal(err)
			}
		}, want: func(c *chainT) []finding { return []finding{{LogFileModified, path.Base(c.LogFiles[4][1])}} }},
		{name: "restart", skip: -1, mod: func(o *chainOpts) { o.Restart = map[int]int{3: 1} },
			want: func(c *chainT) []finding {
				return []finding{{ChainGap, ""}, {NewStartingDigest, path.Base(c.Digests[3])}}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFx(t, tc.mod)
			if tc.tamper != nil {
				tc.tamper(t, f)
			}
			val := NewValidator(Verifier{Buckets: LocalBuckets{Root: f.root}, Keys: f.keys}, 0)
			defer val.Close()
			var got []finding
			for i, key := range f.c.Digests {
				if i == tc.skip {
					continue
				}
				res, err := val.Check(t.Context(), f.c.Bucket, key)
				if err != nil {
					t.Fatal(err)
				}
				if res[0].Type != TypeDigest || res[0].Key != key {
					t.Errorf("first result %+v", res[0])
				}
				got = append(got, findings(res)...)
			}
			if want := tc.want(f.c); !slices.Equal(got, want) {
				t.Errorf("findings %v, want %v", got, want)
			}
		})
	}
}

// TestValidatorReplacedPrevious: the previous digest was replaced after
// it was checked (with a valid signature): the next one's
// previousDigestHashValue tells.
func TestValidatorReplacedPrevious(t *testing.T) {
	f := newFx(t, nil)
	val := NewValidator(Verifier{Buckets: LocalBuckets{Root: f.root}, Keys: f.keys}, 0)
	defer val.Close()
	check := func(i int) []finding {
		res, err := val.Check(t.Context(), f.c.Bucket, f.c.Digests[i])
		if err != nil {
			t.Fatal(err)
		}
		return findings(res)
	}
	check(0)
	check(1)
	_, m := readDigestJSON(t, f, 1)
	m["logFiles"] = []any{}
	if err := integritytest.Resign(f.c, f.c.Digests[1], marshal(t, m), f.opts.Key, m["digestEndTime"].(string), m["previousDigestSignature"].(string)); err != nil {
		t.Fatal(err)
	}
	if got, want := check(2), []finding{{DigestModified, path.Base(f.c.Digests[1])}}; !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
}

func TestValidatorOverdue(t *testing.T) {
	f := newFx(t, func(o *chainOpts) { o.Hours = 2 })
	val := NewValidator(Verifier{Buckets: LocalBuckets{Root: f.root}, Keys: f.keys}, 10*time.Minute)
	defer val.Close()
	for _, key := range f.c.Digests {
		if _, err := val.Check(t.Context(), f.c.Bucket, key); err != nil {
			t.Fatal(err)
		}
	}
	last := f.c.Ends[1]
	if got := val.Overdue(last.Add(69 * time.Minute)); len(got) != 0 {
		t.Errorf("overdue before the grace period: %v", got)
	}
	got := val.Overdue(last.Add(71 * time.Minute))
	if len(got) != 1 || got[0].Kind != DigestOverdue || got[0].Key != f.opts.DigestKey(last.Add(time.Hour)) {
		t.Fatalf("overdue %+v", got)
	}
	if again := val.Overdue(last.Add(75 * time.Minute)); len(again) != 0 {
		t.Errorf("reported twice: %v", again)
	}
	if next := val.Overdue(last.Add(131 * time.Minute)); len(next) != 1 || next[0].Key != f.opts.DigestKey(last.Add(2*time.Hour)) {
		t.Errorf("next hour: %+v", next)
	}
}
