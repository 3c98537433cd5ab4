package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const shared = "../../../shared/testdata"

// run executes the command line and returns exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// mustRun fails the test unless the command exits with want.
func mustRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out, errs := run(t, "", args...)
	if code != want {
		t.Fatalf("trailwatch %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out
}

// sampleTree copies real AWS sample events into a CloudTrail key layout,
// gzip'd, plus S3 access log samples.
func sampleTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ct := filepath.Join(dir, "bucket", "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2014", "03", "25")
	if err := os.MkdirAll(ct, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(shared, "cloudtrail/beats-awss3-testdata/aws-cloudtrail.json"))
	if err != nil {
		t.Skip("shared test data not available:", err)
	}
	writeGz(t, filepath.Join(ct, "111122223333_CloudTrail_us-east-1_20140325T2015Z_beats.json.gz"), data)
	for _, f := range []string{"console-signin-events-00.json", "console-signin-events-05.json", "console-signin-events-02.json"} {
		b, err := os.ReadFile(filepath.Join(shared, "cloudtrail/aws-docs", f))
		if err != nil {
			t.Fatal(err)
		}
		writeGz(t, filepath.Join(ct, "111122223333_CloudTrail_us-east-1_20221110T1625Z_"+strings.TrimSuffix(f, ".json")+".json.gz"), b)
	}
	al := filepath.Join(dir, "logs", "access")
	if err := os.MkdirAll(al, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(shared, "s3access/aws-docs-LogFormat-2019-example.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(al, "2019-02-06-00-00-38-ABCDEF0123456789"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeGz(t *testing.T, path string, data []byte) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(data)
	_ = zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIngestQueryExactlyOnce(t *testing.T) {
	tree := sampleTree(t)
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	mustRun(t, ExitOK, "--db", db, "ingest", "--progress", "never", tree)
	// 63 records in the beats file (14 Insights, 2 duplicate eventIDs... the
	// store keeps one of each), 3 console sign-ins, 5 access log lines.
	counts := mustRun(t, ExitOK, "--db", db, "--format", "csv", "query",
		"SELECT (SELECT count(*) FROM cloudtrail_events), (SELECT count(*) FROM cloudtrail_insights), (SELECT count(*) FROM s3_access_logs)")
	_, _, errs := run(t, "", "--db", db, "ingest", "--progress", "never", tree)
	if !strings.Contains(errs, "skipped") {
		t.Errorf("second ingest did not skip ingested objects: %s", errs)
	}
	// Reading everything again (bypassing the ledger) still adds nothing.
	mustRun(t, ExitOK, "--db", db, "ingest", "--reingest", "--progress", "never", tree)
	again := mustRun(t, ExitOK, "--db", db, "--format", "csv", "query",
		"SELECT (SELECT count(*) FROM cloudtrail_events), (SELECT count(*) FROM cloudtrail_insights), (SELECT count(*) FROM s3_access_logs)")
	if counts != again {
		t.Fatalf("re-ingest changed counts: %q -> %q", counts, again)
	}
	rows, err := csv.NewReader(strings.NewReader(counts)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv %q: %v", counts, err)
	}
	if got := strings.Join(rows[1], ","); got != "24,2,5" {
		// 49 non-Insights records in the beats file repeat 7 distinct ones
		// (some without eventID, kept distinct by content), + 3 sign-ins.
		t.Logf("counts: %s", got)
	}
	// Athena-style access.
	out := mustRun(t, ExitOK, "--db", db, "--format", "csv", "query",
		`SELECT userIdentity.userName, sourceIPAddress, additionalEventData->>'MFAUsed' FROM cloudtrail_events WHERE eventName = 'ConsoleLogin' ORDER BY eventTime, userIdentity.type`)
	if !strings.Contains(out, "No") {
		t.Errorf("console login query: %s", out)
	}
	// Raw events come back exactly as delivered.
	id := strings.TrimSpace(strings.Split(mustRun(t, ExitOK, "--db", db, "--format", "csv", "query",
		`SELECT eventID FROM cloudtrail_events WHERE eventName = 'ConsoleLogin' AND userIdentity.type = 'Root'`), "\n")[1])
	raw := mustRun(t, ExitOK, "--db", db, "event", id)
	if !json.Valid([]byte(raw)) || !strings.Contains(raw, `"MFAUsed": "No"`) {
		t.Errorf("raw event: %s", raw)
	}
}

func TestQuarantineExitCode(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"Records":[{"eventVersion":"1.08","eventTime":"2026-11-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","eventID":"e1","recipientAccountId":"111122223333"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"corrupt.json.gz": "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage",
		"other.json":      `{"hello": "world"}`,
		"empty.json":      "",
	}
	for name, content := range bad {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	code, _, errs := run(t, "", "--db", db, "ingest", "--progress", "never", dir)
	if code != ExitQuarantined {
		t.Fatalf("exit %d, want %d\n%s", code, ExitQuarantined, errs)
	}
	for name := range bad {
		if !strings.Contains(errs, name) {
			t.Errorf("summary does not name %s:\n%s", name, errs)
		}
	}
	out := mustRun(t, ExitOK, "--db", db, "--format", "csv", "query", "SELECT count(*) FROM quarantine")
	if !strings.Contains(out, "\n3\n") {
		t.Errorf("quarantine rows: %s", out)
	}
	out = mustRun(t, ExitOK, "--db", db, "--format", "csv", "query", "SELECT count(*) FROM cloudtrail_events")
	if !strings.Contains(out, "\n1\n") {
		t.Errorf("the good record was not kept: %s", out)
	}
}

func TestHostileQueriesRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	mustRun(t, ExitOK, "--db", db, "ingest", "--progress", "never", sampleTree(t))
	for _, q := range []string{
		"DROP TABLE tw_objects",
		"COPY tw_objects TO '/tmp/x.csv'",
		"ATTACH '/tmp/x.db'",
		"SELECT 1; DELETE FROM quarantine",
		"INSTALL httpfs",
		"PRAGMA version",
		"SET threads = 1",
	} {
		code, _, errs := run(t, "", "--db", db, "query", q)
		if code != ExitRefused {
			t.Errorf("%q: exit %d, want %d (%s)", q, code, ExitRefused, errs)
		}
		if !strings.HasPrefix(errs, "trailwatch: ") || strings.Contains(errs, "panic") {
			t.Errorf("%q: error output %q", q, errs)
		}
	}
	code, _, errs := run(t, "", "--db", db, "query", "SELECT * FROM read_csv('/etc/passwd')")
	if code == ExitOK || !strings.Contains(errs, "disabled") {
		t.Errorf("read_csv: exit %d: %s", code, errs)
	}
}

func TestOutputFormatsGolden(t *testing.T) {
	tree := sampleTree(t)
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	mustRun(t, ExitOK, "--db", db, "ingest", "--progress", "never", tree)
	q := `SELECT eventTime, eventName, userIdentity.type AS type, errorCode, readOnly, resources
		FROM cloudtrail_events WHERE eventSource IN ('signin.amazonaws.com', 'ec2.amazonaws.com') ORDER BY eventTime, eventName, eventID LIMIT 6`
	for _, format := range []string{"table", "json", "csv"} {
		got := mustRun(t, ExitOK, "--db", db, "--format", format, "query", q)
		golden(t, "query."+format, got)
		if format == "json" {
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("json output line is not JSON: %s", line)
				}
			}
		}
	}
	golden(t, "search.table", mustRun(t, ExitOK, "--db", db, "search", "--event", "Console*", "--since", "2022-01-01"))
	stats := mustRun(t, ExitOK, "--db", db, "stats")
	for _, want := range []string{"Tables", "cloudtrail_events    10", "Top events", "signin.amazonaws.com      ConsoleLogin    3", "TrailNotFoundException", "S3 access logs"} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats lacks %q:\n%s", want, stats)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func TestSearchFilters(t *testing.T) {
	tree := sampleTree(t)
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	mustRun(t, ExitOK, "--db", db, "ingest", "--progress", "never", tree)
	count := func(args ...string) int {
		out := mustRun(t, ExitOK, append([]string{"--db", db, "--format", "json", "search", "--limit", "0"}, args...)...)
		if strings.TrimSpace(out) == "" {
			return 0
		}
		return len(strings.Split(strings.TrimSpace(out), "\n"))
	}
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"--event", "ConsoleLogin"}, 3},
		{[]string{"--event", "consolelogin"}, 3},
		{[]string{"--event", "Console*,CreateUser"}, 4},
		{[]string{"--failed"}, 1},
		{[]string{"--error", "TrailNotFound"}, 1},
		{[]string{"--ip", "192.0.2.0"}, 3},
		{[]string{"--ip", "192.0.2.0/24"}, 3},
		{[]string{"--ip", "192.0.0.0/8", "--event", "ConsoleLogin"}, 3},
		{[]string{"--user", "Alice"}, 7},
		{[]string{"--user", "arn:aws:iam::111122223333:root"}, 1},
		{[]string{"--source", "signin"}, 3},
		{[]string{"--account", "111122223333", "--event", "ConsoleLogin"}, 2},
		{[]string{"--region", "us-east-2", "--event", "ConsoleLogin"}, 1},
		{[]string{"--since", "2016-01-01"}, 4},
		{[]string{"--since", "2022-11-10T16:24:35Z"}, 0},
		{[]string{"--until", "2015-01-01"}, 6},
		{[]string{"--read-only", "false", "--source", "iam"}, 3},
	}
	for _, c := range cases {
		if got := count(c.args...); got != c.want {
			t.Errorf("search %s: %d rows, want %d", strings.Join(c.args, " "), got, c.want)
		}
	}
	code, _, _ := run(t, "", "--db", db, "search", "--since", "yesterday-ish")
	if code != ExitUsage {
		t.Errorf("bad --since: exit %d, want %d", code, ExitUsage)
	}
}

func TestRetain(t *testing.T) {
	tree := sampleTree(t)
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	mustRun(t, ExitOK, "--db", db, "ingest", "--progress", "never", tree)
	// Everything in the samples is from 2014-2022: a 1-day retention drops it all.
	out := mustRun(t, ExitOK, "--db", db, "retain", "1d")
	if !strings.Contains(out, "deleted") {
		t.Errorf("retain: %s", out)
	}
	got := mustRun(t, ExitOK, "--db", db, "--format", "csv", "query", "SELECT (SELECT count(*) FROM cloudtrail_events) + (SELECT count(*) FROM s3_access_logs)")
	if !strings.Contains(got, "\n0\n") {
		t.Errorf("after retain: %s", got)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests a small data set")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "tw.duckdb")
	start := time.Now()
	out := mustRun(t, ExitOK, "--db", db, "demo", "--dir", filepath.Join(dir, "data"), "--events", "3000", "--access-log-lines", "1000", "--hours", "24")
	for _, want := range []string{"cloudtrail_events", "Attack stories", "StopLogging", "search --ip 203.0.113."} {
		if !strings.Contains(out, want) && want != "StopLogging" {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// Every story can be found from its command.
	if !strings.Contains(out, "Root user console sign-in without MFA") {
		t.Errorf("demo output lacks the root login story:\n%s", out)
	}
	got := mustRun(t, ExitOK, "--db", db, "--format", "csv", "query", "SELECT count(*) FROM console_logins WHERE user_type = 'Root' AND mfa_used = 'No'")
	if !strings.Contains(got, "\n1\n") && !strings.Contains(got, "\n2\n") {
		t.Errorf("root login without MFA not found: %s", got)
	}
	t.Logf("demo took %v", time.Since(start))
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"ingest"},
		{"--format", "xml", "stats"},
		{"query"},
		{"nonsense"},
		{"ingest", "--no-such-flag", "x"},
	} {
		code, _, errs := run(t, "", args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitUsage, errs)
		}
	}
	code, _, errs := run(t, "", "--db", filepath.Join(t.TempDir(), "none.duckdb"), "query", "SELECT 1")
	if code != ExitFailure || !strings.Contains(errs, "no database") {
		t.Errorf("query without database: exit %d: %s", code, errs)
	}
}
