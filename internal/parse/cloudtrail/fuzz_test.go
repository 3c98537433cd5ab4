package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// fuzzSeeds are the sample files and small hand-written cases FuzzParse
// starts from.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, pattern := range []string{"cloudtrail/*/*.json", "cloudtrail/*/*.txt", "digest/*/*.json"} {
		files, _ := filepath.Glob(filepath.Join(sharedTestdata, pattern))
		for _, file := range files {
			seeds = append(seeds, readFile(f, file))
		}
	}
	logs, _ := filepath.Glob(filepath.Join(sharedTestdata, "peers/elastic-cloudtrail/*/*.log"))
	for _, file := range logs {
		seeds = append(seeds, readFile(f, file))
	}
	sek, _ := filepath.Glob(filepath.Join(sharedTestdata, "peers/sekoia-cloudtrail/*.json"))
	for _, file := range sek {
		var c struct{ Input struct{ Message string } }
		if json.Unmarshal(readFile(f, file), &c) == nil {
			seeds = append(seeds, []byte(c.Input.Message))
		}
	}
	for _, s := range []string{
		"", " ", "\xef\xbb\xbf", "{}", "[]", "[{}]", "null", `"x"`, "{\"Records\":[]}",
		rec(0), rec(1) + "\n" + rec(2) + "\n",
		`{"Records":[` + rec(0) + `,5,{"eventVersion":tru},` + rec(2) + `]}`,
		rec(0) + "\n" + `{"eventVersion":"1","x":[` + "\n" + rec(2),
		`{"Events":[{"CloudTrailEvent":` + string(mustJSON(f, rec(3))) + `}]}`,
		`{"detail-type":"AWS API Call via CloudTrail","detail":` + rec(4) + `}`,
		`{"eventVersion":"1","eventName":"a\ud83d\ude00\ud800\u0041","\u0065ventID":"E","requestParameters":{"k":"\"\\\/\b\f\n\r\t"}}`,
		`{"eventVersion":"1","eventName":5,"userIdentity":"x","resources":[5,{"ARN":1,"z":2}],"readOnly":"maybe","tlsDetails":[]}`,
		`{"eventVersion":"","userIdentity":{"sessionContext":{"attributes":{"creationDate":""},"assumedRoot":true}},"x":{"":null}}`,
		`{"digestStartTime":"2024-01-01T00:00:00Z","logFiles":[{"s3Object":"k","newestEventTime":"2024-01-01T00:00:00Z"}],"previousDigestSignature":null}` + "\n",
		strings.Repeat("[", 600) + strings.Repeat("]", 600),
		`{"Records":[{"eventVersion":"1","requestParameters":` + strings.Repeat(`{"a":`, 520) + "1" + strings.Repeat("}", 520) + `}]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// bigParsers reuses default-size parsers across fuzz executions (a fresh
// one would allocate its 4 MiB buffer every time); reuse across Parse
// calls is a supported use, so this also exercises it.
var bigParsers = sync.Pool{New: func() any { return NewParser(Options{}) }}

// fuzzParse parses data with a deadline, so that a hang fails the run.
// The zero Options use a pooled parser; others a fresh one.
func fuzzParse(t *testing.T, data []byte, opts Options) result {
	done := make(chan result, 1)
	go func() {
		if opts == (Options{}) {
			p := bigParsers.Get().(*Parser)
			defer bigParsers.Put(p)
			done <- parseWith(t, p, bytes.NewReader(data))
			return
		}
		done <- parseReader(t, bytes.NewReader(data), opts)
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatalf("Parse did not return within 20s (%d bytes, %+v)", len(data), opts)
		return result{}
	}
}

// errClass summarises an error for comparing parses of the same input.
func errClass(err error) string {
	var se *event.SkippedError
	var nc *NotCloudTrailError
	switch {
	case err == nil:
		return "nil"
	case errors.As(err, &se):
		return fmt.Sprintf("skipped %d", se.Skipped)
	case errors.As(err, &nc):
		return "not CloudTrail"
	}
	return "error"
}

// FuzzParse: arbitrary bytes never panic or hang Parse; every record it
// emits keeps its nested documents and Unmapped as valid JSON, Raw is valid
// JSON; and a 64-byte buffer (every value straddles refills) with tiny
// batches gives exactly what the default buffer gives.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		big := fuzzParse(t, data, Options{})
		small := fuzzParse(t, data, Options{BufferSize: 64, BatchSize: 3})
		for _, r := range []*result{&big, &small} {
			for i := range r.Events {
				checkInvariants(t, &r.Events[i])
				if r.Events[i].IsInsight() {
					t.Errorf("Insight in Events")
				}
			}
			for i := range r.Insights {
				checkInvariants(t, &r.Insights[i])
				if !r.Insights[i].IsInsight() {
					t.Errorf("non-Insight in Insights")
				}
			}
			for _, d := range r.Digests {
				if !json.Valid([]byte(d.Raw)) || len(d.SHA256) != 64 || (d.Unmapped != "" && !json.Valid([]byte(d.Unmapped))) {
					t.Errorf("digest: Raw valid %v, SHA256 %q, Unmapped %q", json.Valid([]byte(d.Raw)), d.SHA256, d.Unmapped)
				}
			}
		}
		if !reflect.DeepEqual(big.Events, small.Events) || !reflect.DeepEqual(big.Insights, small.Insights) {
			t.Errorf("buffer sizes disagree: %d/%d events, %d/%d insights (errors %v / %v)",
				len(big.Events), len(small.Events), len(big.Insights), len(small.Insights), big.Err, small.Err)
		}
		if len(big.Digests) != len(small.Digests) {
			t.Errorf("buffer sizes disagree: %d/%d digests", len(big.Digests), len(small.Digests))
		}
		for i := range min(len(big.Digests), len(small.Digests)) {
			b, s := big.Digests[i], small.Digests[i]
			// A digest's SHA-256 covers whitespace before it in the file;
			// a 64-byte buffer may have dropped leading whitespace longer
			// than itself before the digest began (documented limit).
			if lead := len(data) - len(bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")); lead > 32 {
				b.SHA256, s.SHA256 = "", ""
			}
			if !reflect.DeepEqual(b, s) {
				t.Errorf("buffer sizes disagree on digest %d", i)
			}
		}
		if a, b := errClass(big.Err), errClass(small.Err); a != b {
			t.Errorf("buffer sizes disagree on the error: %v / %v", big.Err, small.Err)
		}
	})
}
