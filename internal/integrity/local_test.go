package integrity

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/trailwatch/trailwatch/internal/source/dir"
)

func TestSidecarSuffixMatchesDirSource(t *testing.T) {
	if SidecarSuffix != dir.SidecarSuffix {
		t.Errorf("SidecarSuffix %q, source/dir reads %q", SidecarSuffix, dir.SidecarSuffix)
	}
}

func TestLocalBucket(t *testing.T) {
	root := t.TempDir()
	b := LocalBucket{Dir: root}
	files := map[string]string{
		"a-b":                   "1",
		"a/b/c":                 "2",
		"a/b/d":                 "3",
		"a/b/d" + SidecarSuffix: `{"x-amz-meta-signature":"ab","X-Amz-Meta-Signature-Algorithm":"SHA256withRSA"}`,
		"a/c/e":                 "4",
		"a/c/e" + SidecarSuffix: `{"ContentType":"application/json","Metadata":{"signature":"cd","signature-algorithm":"SHA256withRSA"}}`,
		"a/.hidden/f":           "5",
		"a/z":                   "6",
		"b/2024/01/01/x":        "7",
		"b/2024/01/02/y":        "8",
		"b/2024/02/01/z":        "9",
	}
	for k, v := range files {
		p := filepath.Join(root, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := func(prefix, after string) []string {
		var keys []string
		for o, err := range b.List(t.Context(), prefix, after) {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, o.Key)
		}
		return keys
	}
	tests := []struct {
		prefix, after string
		want          []string
	}{
		// S3's order is byte order of whole keys: "a-b" before "a/…".
		{"", "", []string{"a-b", "a/b/c", "a/b/d", "a/c/e", "a/z", "b/2024/01/01/x", "b/2024/01/02/y", "b/2024/02/01/z"}},
		{"a/", "", []string{"a/b/c", "a/b/d", "a/c/e", "a/z"}},
		{"a/b", "", []string{"a/b/c", "a/b/d"}},
		{"a/", "a/b/c", []string{"a/b/d", "a/c/e", "a/z"}},
		{"b/", "b/2024/01/02", []string{"b/2024/01/02/y", "b/2024/02/01/z"}},
		{"nope/", "", nil},
	}
	for _, tc := range tests {
		if got := list(tc.prefix, tc.after); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q, %q) = %v, want %v", tc.prefix, tc.after, got, tc.want)
		}
	}
	if got, _ := b.Prefixes(t.Context(), "a/"); !slices.Equal(got, []string{"a/b/", "a/c/"}) {
		t.Errorf("Prefixes = %v", got)
	}
	for key, want := range map[string]map[string]string{
		"a/b/c": nil,
		"a/b/d": {"signature": "ab", "signature-algorithm": "SHA256withRSA"},
		"a/c/e": {"signature": "cd", "signature-algorithm": "SHA256withRSA"},
	} {
		body, meta, err := b.Get(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(body)
		body.Close()
		if data == nil || (want == nil) != (meta == nil) || want != nil && (meta["signature"] != want["signature"] || meta["signature-algorithm"] != want["signature-algorithm"]) {
			t.Errorf("Get(%s): metadata %v, want %v", key, meta, want)
		}
	}
	for _, key := range []string{"a/missing", "../outside", "/etc/passwd", "a/b", ""} {
		if _, _, err := b.Get(t.Context(), key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want not found", key, err)
		}
	}
	bs := LocalBuckets{Root: root, Name: "mine"}
	if _, err := bs.Bucket(t.Context(), "a"); err != nil {
		t.Errorf("bucket directory a: %v", err)
	}
	if got, err := bs.Bucket(t.Context(), "mine"); err != nil || got.(LocalBucket).Dir != root {
		t.Errorf("the named bucket is the root: %v %v", got, err)
	}
	if _, err := bs.Bucket(t.Context(), "../x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bucket ../x: %v", err)
	}
}
