package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
