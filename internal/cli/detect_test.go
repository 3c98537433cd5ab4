package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/gen"
	"github.com/trailwatch/trailwatch/internal/parse/cloudtrail"
	"github.com/trailwatch/trailwatch/internal/pipeline"
	"github.com/trailwatch/trailwatch/internal/source/dir"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

// attackTree writes CloudTrail events of a small attack (as delivered:
// gzip'd Records files in the S3 key layout).
func attackTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ct := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2026", "11", "01")
	if err := os.MkdirAll(ct, 0o755); err != nil {
		t.Fatal(err)
	}
	user := `"userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/ci-deploy","accountId":"111122223333","userName":"ci-deploy"}`
	common := `"eventVersion":"1.09","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.77","userAgent":"Boto3/1.34.0","recipientAccountId":"111122223333",` + user
	var recs []string
	add := func(id, at, rest string) {
		recs = append(recs, `{`+common+`,"eventID":"`+id+`","eventTime":"2026-11-01T03:`+at+`Z",`+rest+`}`)
	}
	add("00000000-0000-4000-8000-000000000001", "10:00", `"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","requestParameters":{"name":"org-trail"}`)
	add("00000000-0000-4000-8000-000000000002", "11:00", `"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","requestParameters":{"userName":"alice"}`)
	add("00000000-0000-4000-8000-000000000003", "12:00", `"eventSource":"iam.amazonaws.com","eventName":"ListRoles","readOnly":true`)
	data := `{"Records":[` + strings.Join(recs, ",") + `]}`
	writeGz(t, filepath.Join(ct, "111122223333_CloudTrail_us-east-1_20261101T0315Z_attack.json.gz"), []byte(data))
	return dir
}

func TestDetectCommand(t *testing.T) {
	dir := attackTree(t)
	out := mustRun(t, ExitOK, "detect", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	byRule := map[string]map[string]any{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		byRule[m["ruleName"].(string)] = m
	}
	f, ok := byRule["tw_cloudtrail_logging_stopped"]
	if !ok {
		t.Fatalf("StopLogging not detected:\n%s", out)
	}
	for k, want := range map[string]string{"severity": "critical", "eventID": "00000000-0000-4000-8000-000000000001",
		"eventTime": "2026-11-01T03:10:00Z", "principal": "arn:aws:iam::111122223333:user/ci-deploy", "sourceIP": "203.0.113.77",
		"title": "CloudTrail Logging Stopped or Trail Deleted"} {
		if f[k] != want {
			t.Errorf("%s = %v, want %s", k, f[k], want)
		}
	}
	if _, ok := f["ruleId"]; !ok {
		t.Error("no ruleId")
	}
	if _, ok := byRule["tw_iam_access_key_for_other_user"]; !ok {
		t.Errorf("access key for another user not detected:\n%s", out)
	}

	// Only user rules, grouped into alerts.
	rules := t.TempDir()
	rule := `title: Roles listed
id: 6f1d2c3b-0a9e-4d8c-b7a6-5e4f3d2c1b0a
level: medium
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventName: ListRoles}
  condition: sel
`
	if err := os.WriteFile(filepath.Join(rules, "r.yml"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, ExitOK, "detect", "--no-builtin", "--rules", rules, "--alerts", dir)
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, `"title":"Roles listed"`) || !strings.Contains(out, `"count":1`) {
		t.Errorf("alerts output:\n%s", out)
	}
	code, _, errs := run(t, "", "detect", "--min-level", "extreme", dir)
	if code != ExitUsage || !strings.Contains(errs, "--min-level") {
		t.Errorf("bad level: %d %s", code, errs)
	}
}

func TestRulesCommands(t *testing.T) {
	out := mustRun(t, ExitOK, "rules", "list")
	for _, want := range []string{"tw_cis_4_1_unauthorized_api_calls", "tw_cloudtrail_logging_stopped", "T1562.008", "correlation", "s3_server_access"} {
		if !strings.Contains(out, want) {
			t.Errorf("rules list lacks %q", want)
		}
	}
	out = mustRun(t, ExitOK, "rules", "test")
	if !regexp.MustCompile(`\d+ rules, \d+ tests: \d+ passed, 0 failed`).MatchString(out) {
		t.Errorf("rules test: %s", out)
	}
	// The SigmaHQ rules lint without errors (one warns about a field
	// CloudTrail does not have).
	out = mustRun(t, ExitOK, "rules", "lint", filepath.Join(shared, "sigma/cloudtrail"))
	if !strings.Contains(out, "57 rules: 0 with errors") || !strings.Contains(out, "status is not a documented CloudTrail field") {
		t.Errorf("lint SigmaHQ: %s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("title: b\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s: {userAgent|windash: x}\n  condition: s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "", "rules", "lint", bad)
	if code != ExitFailure || !strings.Contains(out, `modifier "windash" is not supported`) {
		t.Errorf("lint bad rule: exit %d\n%s", code, out)
	}
	failing := filepath.Join(t.TempDir(), "failing.yml")
	if err := os.WriteFile(failing, []byte(`title: f
id: 1d2c3b4a-0a9e-4d8c-b7a6-5e4f3d2c1b0a
level: low
logsource: {product: aws, service: cloudtrail}
detection:
  s: {eventName: StopLogging}
  condition: s
tests:
  - name: wrong on purpose
    match: true
    event: {eventName: StartLogging}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "", "rules", "test", failing)
	if code != ExitFailure || !strings.Contains(out, "FAIL") || !strings.Contains(out, "wrong on purpose") {
		t.Errorf("failing test: exit %d\n%s", code, out)
	}
}

func TestIngestHuntAlerts(t *testing.T) {
	dir := attackTree(t)
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	code, _, errs := run(t, "", "--db", db, "ingest", "--progress", "never", dir)
	if code != ExitOK || !regexp.MustCompile(`detection: \d+ rules .*: \d+ findings, [1-9]\d* alerts`).MatchString(errs) {
		t.Fatalf("ingest: exit %d\n%s", code, errs)
	}
	out := mustRun(t, ExitOK, "--db", db, "--format", "json", "alerts")
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var a map[string]any
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		if a["status"] != "open" {
			t.Errorf("alert %v", a)
		}
		if a["ruleName"] == "tw_cloudtrail_logging_stopped" {
			ids = append(ids, a["id"].(string))
		}
	}
	if len(ids) != 1 {
		t.Fatalf("StopLogging alerts: %v\n%s", ids, out)
	}
	got := mustRun(t, ExitOK, "--db", db, "alerts", "ack", ids[0][:8], "--note", "checking")
	if !strings.Contains(got, ids[0]+" acknowledged") {
		t.Errorf("ack: %s", got)
	}
	// A hunt over the same events updates the same alerts.
	_, _, errs = run(t, "", "--db", db, "hunt", "--since", "2026-10-31", "--until", "2026-11-02")
	if !strings.Contains(errs, "hunt: 3 records") {
		t.Errorf("hunt: %s", errs)
	}
	out = mustRun(t, ExitOK, "--db", db, "--format", "csv", "query", "SELECT status, count, note FROM alerts WHERE id = '"+ids[0]+"'")
	if !strings.Contains(out, "acknowledged,1,checking") {
		t.Errorf("after hunt: %s", out)
	}
	mustRun(t, ExitOK, "--db", db, "alerts", "close", ids[0])
	out = mustRun(t, ExitOK, "--db", db, "alerts", "list")
	if strings.Contains(out, ids[0][:8]) {
		t.Errorf("closed alert still listed as active:\n%s", out)
	}
	out = mustRun(t, ExitOK, "--db", db, "alerts", "--status", "closed")
	if !strings.Contains(out, ids[0][:8]) {
		t.Errorf("closed alert not listed:\n%s", out)
	}
	code, _, errs = run(t, "", "--db", db, "alerts", "ack", "ffffffffffff")
	if code != ExitFailure || !strings.Contains(errs, "no such alert") {
		t.Errorf("unknown id: %d %s", code, errs)
	}
	// --no-detect leaves alerts alone.
	db2 := filepath.Join(t.TempDir(), "tw2.duckdb")
	_, _, errs = run(t, "", "--db", db2, "ingest", "--no-detect", "--progress", "never", dir)
	if strings.Contains(errs, "detection:") {
		t.Errorf("--no-detect ran detection: %s", errs)
	}
	if out := mustRun(t, ExitOK, "--db", db2, "alerts"); !strings.Contains(out, "no alerts") {
		t.Errorf("alerts after --no-detect: %s", out)
	}
}

func TestIngestAlertsConfig(t *testing.T) {
	dir := attackTree(t)
	cfgDir := t.TempDir()
	out := filepath.Join(cfgDir, "alerts.jsonl")
	cfg := filepath.Join(cfgDir, "alerts.yml")
	if err := os.WriteFile(cfg, []byte("sinks:\n  - type: file\n    path: "+out+"\n    min_level: critical\nsuppressions:\n  - rule: tw_iam_access_key_for_other_user\n    reason: test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	_, _, errs := run(t, "", "--db", db, "ingest", "--progress", "never", "--alerts-config", cfg, dir)
	if !strings.Contains(errs, "findings suppressed") {
		t.Errorf("no suppression: %s", errs)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(data), "\n") != 1 || !strings.Contains(string(data), "tw_cloudtrail_logging_stopped") {
		t.Errorf("file sink got:\n%s", data)
	}
	if err := os.WriteFile(cfg, []byte("sinks:\n  - type: pager\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "", "--db", db, "ingest", "--alerts-config", cfg, dir)
	if code != ExitUsage || !strings.Contains(errs, `unknown type "pager"`) {
		t.Errorf("bad config: exit %d %s", code, errs)
	}
}

// TestDemoAlerts runs the demo and checks that each of its attack stories
// lists at least one alert.
func TestDemoAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests a data set")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "tw.duckdb")
	out := mustRun(t, ExitOK, "--db", db, "demo", "--dir", filepath.Join(dir, "data"), "--events", "6000", "--access-log-lines", "2000")
	i := strings.Index(out, "Alerts raised by the attack stories")
	if i < 0 {
		t.Fatalf("no alert section:\n%s", out)
	}
	section := out[i:]
	stories := regexp.MustCompile(`(?m)^\d\. .*$`).FindAllStringIndex(section, -1)
	if len(stories) != 7 {
		t.Fatalf("%d stories in the alert section:\n%s", len(stories), section)
	}
	for k, s := range stories {
		end := len(section)
		if k+1 < len(stories) {
			end = stories[k+1][0]
		}
		body := section[s[0]:end]
		if strings.Contains(body, "(none)") || !regexp.MustCompile(`(?m)^   (CRITICAL|HIGH|MEDIUM|LOW) `).MatchString(body) {
			t.Errorf("story without alerts:\n%s", body)
		}
	}
}

// BenchmarkIngestDetection measures what detection costs ingest, end to
// end (gzip'd files to a committed database, alerts stored): each
// iteration ingests the same generated data (100k CloudTrail events with
// the attack stories, 40k S3 access log lines) into fresh databases three
// times: with --no-detect, with the built-in pack, and with the built-in
// pack plus the 57 SigmaHQ CloudTrail rules. It reports ns per record of
// each and the slowdown of each rule set against --no-detect, in wall
// time and in CPU time (user+system of the process, DuckDB's threads
// included), both from the fastest of the iterations of each mode: on a
// shared machine the minimum is what the code costs, the rest is noise.
//
//	go test -tags duckdb_arrow -run XXX -bench IngestDetection -benchtime 3x ./internal/cli
func BenchmarkIngestDetection(b *testing.B) {
	data := b.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Dir: data, Attacks: true, Events: 100_000, AccessLogLines: 40_000}); err != nil {
		b.Fatal(err)
	}
	modes := []struct {
		name string
		args []string
	}{
		{"none", []string{"--no-detect"}},
		{"builtin", nil},
		{"builtin+sigmahq", []string{"--rules", filepath.Join(shared, "sigma/cloudtrail")}},
	}
	elapsed := make([]time.Duration, len(modes))
	cpu := make([]time.Duration, len(modes))
	minWall := make([]time.Duration, len(modes))
	minCPU := make([]time.Duration, len(modes))
	var records int64
	recRE := regexp.MustCompile(`: (\d+) records read`)
	b.ResetTimer()
	for i := range b.N {
		for k, m := range modes {
			db := filepath.Join(b.TempDir(), fmt.Sprintf("%s-%d.duckdb", strings.ReplaceAll(m.name, "+", "-"), i))
			args := append(append([]string{"--db", db, "ingest", "--progress", "never"}, m.args...), data)
			var out, errb bytes.Buffer
			start, cpu0 := time.Now(), cpuTime(b)
			code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
			wall, used := time.Since(start), cpuTime(b)-cpu0
			elapsed[k] += wall
			cpu[k] += used
			if i == 0 || wall < minWall[k] {
				minWall[k] = wall
			}
			if i == 0 || used < minCPU[k] {
				minCPU[k] = used
			}
			if code != ExitOK {
				b.Fatalf("%v: exit %d\n%s", args, code, errb.String())
			}
			if k == 0 && i == 0 {
				mm := recRE.FindStringSubmatch(errb.String())
				if mm == nil {
					b.Fatalf("no record count in %s", errb.String())
				}
				records, _ = strconv.ParseInt(mm[1], 10, 64)
			}
		}
	}
	b.StopTimer()
	for k, m := range modes {
		b.ReportMetric(float64(elapsed[k].Nanoseconds())/float64(int64(b.N)*records), "ns/record-"+m.name)
		b.ReportMetric(float64(cpu[k].Nanoseconds())/float64(int64(b.N)*records), "cpu-ns/record-"+m.name)
		if k > 0 {
			b.ReportMetric(100*(float64(minWall[k])/float64(minWall[0])-1), "%slowdown-"+m.name)
			b.ReportMetric(100*(float64(minCPU[k])/float64(minCPU[0])-1), "%cpu-slowdown-"+m.name)
		}
	}
	b.ReportMetric(float64(records), "records")
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestStartDetectionLongRunning drives detection the way a long-running
// collector does: findings are persisted by the periodic flush while the
// process runs (not only at finish), the sinks are notified, the metrics
// are exported, and finish may be called more than once.
func TestStartDetectionLongRunning(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := duckdb.Open(ctx, filepath.Join(dir, "tw.duckdb"), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sinkFile := filepath.Join(dir, "alerts.jsonl")
	cfg := filepath.Join(dir, "alerts.yml")
	if err := os.WriteFile(cfg, []byte("sinks:\n  - type: file\n    path: "+sinkFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &errb, log: slog.New(slog.NewTextHandler(&errb, nil))}
	reg := prometheus.NewRegistry()
	det, err := a.startDetection(ctx, detectionOptions{rules: ruleFlags{minLevel: "low"}, alertsConfig: cfg, store: st, notify: true,
		registerer: reg, flushEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The events of attackTree, parsed as the pipeline would.
	src, err := dir2batch(t, attackTree(t))
	if err != nil {
		t.Fatal(err)
	}
	det.eng.Observe(ctx, src)

	deadline := time.Now().Add(10 * time.Second)
	var stored []alert.Alert
	for time.Now().Before(deadline) {
		if stored, err = st.ListAlerts(ctx, duckdb.AlertFilter{}); err == nil && len(stored) >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(stored) < 2 {
		t.Fatalf("alerts not persisted while running: %v %v", stored, err)
	}
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(sinkFile); strings.Count(string(data), "\n") >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if data, _ := os.ReadFile(sinkFile); !strings.Contains(string(data), "tw_cloudtrail_logging_stopped") {
		t.Errorf("file sink while running:\n%s", data)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for k, min := range map[string]float64{"trailwatch_detect_records_total": 3, "trailwatch_detect_rule_evaluations_total": 1,
		"trailwatch_detect_rules": 50, "trailwatch_detect_findings_total": 2, "trailwatch_alert_deliveries_total,result=sent,sink=file": 2} {
		if got[k] < min {
			t.Errorf("metric %s = %v, want at least %v", k, got[k], min)
		}
	}
	if err := det.finish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := det.finish(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
}

// dir2batch parses the CloudTrail files under root into one batch.
func dir2batch(t *testing.T, root string) (*event.Batch, error) {
	t.Helper()
	var out event.Batch
	p := cloudtrail.NewParser(cloudtrail.Options{})
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		var b event.Batch
		return p.Parse(context.Background(), gz, &b, func(b *event.Batch) error {
			out.Events = append(out.Events, b.Clone().Events...)
			return nil
		})
	})
	out.Object = event.ObjectRef{Key: "test"}
	return &out, err
}

// TestHuntSince30d hunts with an age (--since 30d, the default) over
// stored events: the recent StopLogging raises an alert, the one from 40
// days ago is outside the range.
func TestHuntSince30d(t *testing.T) {
	dir := t.TempDir()
	ct := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2026", "01", "01")
	if err := os.MkdirAll(ct, 0o755); err != nil {
		t.Fatal(err)
	}
	ev := func(id string, at time.Time, user string) string {
		return `{"eventVersion":"1.09","eventID":"` + id + `","eventTime":"` + at.UTC().Format(time.RFC3339) + `","awsRegion":"us-east-1",` +
			`"sourceIPAddress":"203.0.113.77","recipientAccountId":"111122223333","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging",` +
			`"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/` + user + `","accountId":"111122223333","userName":"` + user + `"},` +
			`"requestParameters":{"name":"org-trail"}}`
	}
	now := time.Now()
	data := `{"Records":[` + ev("00000000-0000-4000-8000-0000000000a1", now.Add(-48*time.Hour), "recent") + "," +
		ev("00000000-0000-4000-8000-0000000000a2", now.Add(-40*24*time.Hour), "old") + `]}`
	writeGz(t, filepath.Join(ct, "111122223333_CloudTrail_us-east-1_20260101T0000Z_x.json.gz"), []byte(data))
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	mustRun(t, ExitOK, "--db", db, "ingest", "--no-detect", "--progress", "never", dir)
	code, out, errs := run(t, "", "--db", db, "--format", "json", "hunt", "--since", "30d")
	if code != ExitOK || !strings.Contains(errs, "hunt: 1 records") {
		t.Fatalf("hunt: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "user/recent") || strings.Contains(out, "user/old") {
		t.Errorf("hunt printed:\n%s", out)
	}
	list := mustRun(t, ExitOK, "--db", db, "--format", "json", "alerts", "--rule", "tw_cloudtrail_logging_stopped")
	if strings.Count(list, "\n") != 1 || !strings.Contains(list, "user/recent") {
		t.Errorf("stored alerts:\n%s", list)
	}
	// The default range is 30 days too; --dry-run records nothing.
	db2 := filepath.Join(t.TempDir(), "tw2.duckdb")
	mustRun(t, ExitOK, "--db", db2, "ingest", "--no-detect", "--progress", "never", dir)
	_, _, errs = run(t, "", "--db", db2, "hunt", "--dry-run")
	if !strings.Contains(errs, "hunt: 1 records") {
		t.Errorf("default range: %s", errs)
	}
	if out := mustRun(t, ExitOK, "--db", db2, "alerts"); !strings.Contains(out, "no alerts") {
		t.Errorf("dry run recorded alerts:\n%s", out)
	}
	code, _, errs = run(t, "", "--db", db, "hunt", "--since", "thirty days")
	if code != ExitUsage || !strings.Contains(errs, "--since") {
		t.Errorf("bad --since: exit %d %s", code, errs)
	}
}

// TestRulesLintBrokenFile lints a directory where one file is not YAML:
// the file is reported, the other rules are still linted, exit code 1;
// ingest refuses the directory with the file's name.
func TestRulesLintBrokenFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.yml"), []byte("title: [x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("title: b\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s: {eventName|re: '('}\n  condition: s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "", "rules", "lint", dir)
	if code != ExitFailure || !strings.Contains(out, "broken.yml: yaml:") || !strings.Contains(out, "is not a regular expression") ||
		!strings.Contains(out, "1 rules: 2 with errors") {
		t.Errorf("lint: exit %d\n%s", code, out)
	}
	code, _, errs := run(t, "", "--db", filepath.Join(t.TempDir(), "tw.duckdb"), "ingest", "--rules", dir, attackTree(t))
	if code == ExitOK || !strings.Contains(errs, "broken.yml") {
		t.Errorf("ingest with a broken rule file: exit %d\n%s", code, errs)
	}
}

// BenchmarkDetectionCPUShare measures what detection costs ingest in a way
// the load of other processes does not skew (wall times on a shared
// machine do): it runs ingest's pipeline into a fresh database with
// detection on, counts the CPU time of the threads running the engine
// (Engine.Observe, with alert grouping, thread CPU time) and of storing the
// alerts at the end (process CPU time), and reports their share of the
// ingest's CPU time and the slowdown that share means. Linux only (thread
// CPU time); elsewhere it reports nothing.
//
//	go test -tags duckdb_arrow -run XXX -bench DetectionCPUShare -benchtime 2x ./internal/cli
func BenchmarkDetectionCPUShare(b *testing.B) {
	if _, ok := threadCPU(); !ok {
		b.Skip("no per-thread CPU time here")
	}
	data := b.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Dir: data, Attacks: true, Events: 100_000, AccessLogLines: 40_000}); err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct {
		name string
		dirs []string
	}{{"builtin", nil}, {"builtin+sigmahq", []string{filepath.Join(shared, "sigma/cloudtrail")}}} {
		b.Run(m.name, func(b *testing.B) {
			var share, slowdown float64
			for range b.N {
				ctx := context.Background()
				st, err := duckdb.Open(ctx, filepath.Join(b.TempDir(), "tw.duckdb"), duckdb.Options{})
				if err != nil {
					b.Fatal(err)
				}
				a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}
				// Alerts are stored once, at finish, where their cost is counted.
				det, err := a.startDetection(ctx, detectionOptions{rules: ruleFlags{dirs: m.dirs, minLevel: "low"}, store: st, notify: true,
					flushEvery: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				var engine atomic.Int64
				observe := func(ctx context.Context, bt *event.Batch) {
					runtime.LockOSThread()
					t0, _ := threadCPU()
					det.eng.Observe(ctx, bt)
					t1, _ := threadCPU()
					runtime.UnlockOSThread()
					engine.Add(int64(t1 - t0))
				}
				src, err := dir.Open([]string{data}, nil)
				if err != nil {
					b.Fatal(err)
				}
				cpu0 := cpuTime(b)
				sum, err := pipeline.Run(ctx, src, st, pipeline.Options{Workers: runtime.GOMAXPROCS(0), SkipIngested: true, Observe: observe})
				if err != nil || sum.Stored == 0 {
					b.Fatalf("ingest: %v (%d stored)", err, sum.Stored)
				}
				cpu1 := cpuTime(b)
				if err := det.finish(ctx); err != nil {
					b.Fatal(err)
				}
				cpu2 := cpuTime(b)
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
				detection := time.Duration(engine.Load()) + (cpu2 - cpu1)
				total := cpu2 - cpu0
				share += float64(detection) / float64(total)
				slowdown += float64(detection) / float64(total-detection)
			}
			b.ReportMetric(100*share/float64(b.N), "%cpu-in-detection")
			b.ReportMetric(100*slowdown/float64(b.N), "%slowdown")
		})
	}
}

// threadCPU is the CPU time of the calling thread (Linux: RUSAGE_THREAD);
// ok is false where the system has no such measure.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD on Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
