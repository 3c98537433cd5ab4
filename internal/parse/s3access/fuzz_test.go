package s3access

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/trailwatch/trailwatch/internal/event"
)

// fuzzSeeds returns the sample lines and hand-written edge cases.
func fuzzSeeds(t testing.TB) []string {
	var seeds []string
	for _, f := range []string{
		"s3access/aws-docs-LogFormat-2019-example.log",
		"s3access/aws-docs-LogFormat-current-example-partial.log",
		"s3access/logstash-patterns-core_aws_spec_S3_ACCESS_LOG.log",
		"s3access/panther-go_s3_server_access_test_lines.log",
		"s3access/panther-analysis_test_scenario_compromised-root-creds_attacker_s3_access.log",
		"peers/elastic-s3access/beats/test.log",
		"peers/elastic-s3access/beats/s3_server_access.log",
		"peers/elastic-s3access/integrations/test-s3-server-access.log.latest-225bb8f2",
	} {
		seeds = append(seeds, lines(readFile(t, f))...)
	}
	return append(seeds,
		line(head, `"GET /a b/\"c\" HTTP/1.1" 200 - 1 2 3 4 "-" "x \"y\" \\"`, tail3, "extra"),
		line(head, `"GET /" HTTP/1.1" 403 AccessDenied 243 - 8 - "r "q" x" "ua "y" z"`, tail),
		line(head, `"GET / HTTP/1.1" 200`),
		line(head, `"GET / HTTP/1.1"`),
		"\x00\x01 [\xff] \"",
		`a b [06/Feb/2019:00:00:38 +0200] " \" \\" "`,
	)
}

// FuzzParseLine checks that ParseLine never panics, that accepted lines
// keep their invariants, and that Parse (arena path) agrees with it.
func FuzzParseLine(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var rec event.AccessLog
		err := ParseLine([]byte(s), &rec)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if rec.Raw != s {
			t.Fatalf("Raw = %q", rec.Raw)
		}
		if !strings.Contains(s, "["+rec.RequestDateTime+"]") || rec.Time.IsZero() && !strings.Contains(rec.RequestDateTime, "0001") {
			t.Fatalf("time %q / %v not from the line", rec.RequestDateTime, rec.Time)
		}
		for _, v := range []int64{rec.HTTPStatus, rec.BytesSent, rec.ObjectSize, rec.TotalTime, rec.TurnAroundTime} {
			if v < event.NullInt {
				t.Fatalf("negative number %d", v)
			}
		}
		// Extra fields only exist past the 27th field, so the line has
		// at least 26 + len(Extra) separating spaces.
		if len(rec.Extra) > 0 && strings.Count(s, " ") < numFields-1+len(rec.Extra) {
			t.Fatalf("extra fields %q in a line with too few spaces", rec.Extra)
		}
		if strings.ContainsAny(s, "\n") {
			return // Parse would split it
		}
		want := rec.Clone()
		want.Line = 1
		want.Raw = strings.TrimSuffix(s, "\r")
		if strings.HasPrefix(want.Raw, "\uFEFF") || isBlank([]byte(s)) {
			return // Parse strips a BOM; blank lines are skipped
		}
		var got []event.AccessLog
		var batch event.Batch
		err = Parse(context.Background(), strings.NewReader(s), &batch, 1, func(b *event.Batch) error {
			for i := range b.AccessLogs {
				got = append(got, b.AccessLogs[i].Clone())
			}
			return nil
		})
		if err != nil || len(got) != 1 {
			t.Fatalf("Parse: %d records, %v", len(got), err)
		}
		if d := diff(got[0], want); d != nil {
			t.Fatalf("Parse differs from ParseLine: %v", d)
		}
	})
}

// FuzzParse checks that Parse never panics on arbitrary input, accounts for
// every non-blank line, and emits records equal to ParseLine's.
func FuzzParse(f *testing.F) {
	seeds := fuzzSeeds(f)
	// Small seeds: the fuzzer minimizes every new input, which takes long
	// for big ones.
	for i := 0; i < len(seeds); i += 4 {
		f.Add(strings.Join(seeds[i:min(i+4, len(seeds))], "\n"), i%5, 100+50*i)
	}
	f.Add(strings.Join(seeds[:5], "\r\n")+"\n\n\x00garbage\n", 1, 100000)
	f.Add("\n\n", 0, 10)
	f.Fuzz(func(t *testing.T, data string, size, limit int) {
		if limit < 1 || limit > 1<<20 {
			limit = 1 << 20
		}
		size = min(max(size, -1), 100)
		var (
			batch event.Batch
			n     int
		)
		err := parse(context.Background(), strings.NewReader(data), &batch, size, func(b *event.Batch) error {
			if len(b.AccessLogs) == 0 || size > 0 && len(b.AccessLogs) > size {
				t.Fatalf("emit with %d records, batch size %d", len(b.AccessLogs), size)
			}
			for i := range b.AccessLogs {
				r := &b.AccessLogs[i]
				if len(r.Raw) > limit {
					t.Fatalf("line %d longer than the limit", r.Line)
				}
				var want event.AccessLog
				if err := ParseLine([]byte(r.Raw), &want); err != nil {
					t.Fatalf("line %d: Parse accepted it, ParseLine: %v", r.Line, err)
				}
				want.Line = r.Line
				if reflect.DeepEqual(*r, want) {
					continue // cheap check first: the fuzzer minimizes many inputs
				}
				if d := diff(*r, want); d != nil {
					t.Fatalf("line %d: %v", r.Line, d)
				}
			}
			n += len(b.AccessLogs)
			return nil
		}, limit)
		skipped := 0
		var se *event.SkippedError
		if errors.As(err, &se) {
			skipped = se.Skipped
		} else if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		nonBlank := 0
		for _, l := range bytes.Split([]byte(data), []byte("\n")) {
			// Lines over the limit are skipped unread, even if blank.
			if len(l) > limit || !isBlank(l) && !bytes.Equal(l, []byte("\uFEFF")) {
				nonBlank++
			}
		}
		if n+skipped > nonBlank || n+skipped < nonBlank-1 {
			// -1: a BOM-only first line is blank for Parse
			t.Fatalf("%d records + %d skipped, %d non-blank lines", n, skipped, nonBlank)
		}
	})
}
