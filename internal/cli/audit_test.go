package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trailwatch/trailwatch/internal/posture"
	"github.com/trailwatch/trailwatch/internal/posture/posturetest"
)

// auditServer starts the recorded control plane and points the AWS
// credentials at the recorded account key (clean, misconfigured, org).
func auditServer(t *testing.T, key string) (*posturetest.Server, []string) {
	t.Helper()
	srv := posturetest.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return srv, []string{"audit", "--endpoint-url", srv.URL, "--s3-path-style", "--aws-region", "us-east-1",
		"--regions", "us-east-1,eu-west-1", "--at", "2026-11-23T12:00:00Z"}
}

func TestAuditCommandClean(t *testing.T) {
	_, args := auditServer(t, "clean")
	out := mustRun(t, ExitOK, args...)
	if out != "No findings in 111122223333 (us-east-1, eu-west-1).\n" {
		t.Errorf("output %q", out)
	}
}

func TestAuditCommandMisconfigured(t *testing.T) {
	_, args := auditServer(t, "misconfigured")
	args = append(args, "--all-buckets", "--queue-url", "https://sqs.us-east-1.amazonaws.com/444455556666/legacy-queue")

	// the table, compared with a golden file
	table := mustRun(t, ExitOK, args...)
	golden := filepath.Join("testdata", "audit-misconfigured.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli -run TestAuditCommand -update)", err)
	}
	if table != string(want) {
		t.Errorf("table differs from %s (-update to accept):\n%s", golden, table)
	}

	var report posture.Report
	if err := json.Unmarshal([]byte(mustRun(t, ExitOK, append(args, "--format", "json")...)), &report); err != nil {
		t.Fatal(err)
	}
	controls := map[string]bool{}
	for _, f := range report.Findings {
		controls[f.Control] = true
	}
	for _, c := range []string{"CloudTrail.1", "CloudTrail.2", "CloudTrail.3", "CloudTrail.4", "CloudTrail.5", "CloudTrail.6", "CloudTrail.7",
		"S3.1", "S3.5", "S3.8", "S3.9", "S3.13", "S3.14", "S3.15", "S3.20", "S3.22", "S3.23", "KMS.4", "KMS.5", "SQS.1", "SQS.3"} {
		if !controls[c] {
			t.Errorf("no finding with control %s", c)
		}
	}

	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []any `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, ExitOK, append(args, "--format", "sarif")...)), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs[0].Results) != len(report.Findings) {
		t.Errorf("sarif: %v %+v", err, sarif)
	}

	page := filepath.Join(t.TempDir(), "audit.html")
	if out := mustRun(t, ExitOK, append(args, "--format", "html", "--output", page)...); out != "" {
		t.Errorf("--output also printed %q", out)
	}
	html, err := os.ReadFile(page)
	if err != nil || !strings.HasPrefix(string(html), "<!DOCTYPE html>") || !strings.Contains(string(html), "CloudTrail.6") {
		t.Errorf("html report: %v", err)
	}

	if csv := mustRun(t, ExitOK, append(args, "--format", "csv")...); strings.Count(csv, "\n") < len(report.Findings)+1 || !strings.HasPrefix(csv, "severity,control,cis,rule") {
		t.Errorf("csv:\n%s", csv)
	}

	// --fail-on: exit 1 when a finding is that severe
	code, _, errs := run(t, "", append(args, "--fail-on", "critical", "--format", "json")...)
	if code != ExitFailure || !strings.Contains(errs, "(--fail-on critical)") {
		t.Errorf("--fail-on critical: exit %d %s", code, errs)
	}
}

func TestAuditCommandOrganization(t *testing.T) {
	srv, args := auditServer(t, "org")
	args = append(args, "--accounts", "111122223333,444455556666", "--role-name", "trailwatch-audit", "--external-id", "tw-ext", "--format", "json")
	var report posture.Report
	if err := json.Unmarshal([]byte(mustRun(t, ExitOK, args...)), &report); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.Accounts, []string{"111122223333", "444455556666"}) {
		t.Errorf("accounts %v", report.Accounts)
	}
	found := map[string]bool{}
	for _, f := range report.Findings {
		found[f.Account+" "+f.ID] = true
	}
	if !found["111122223333 "+posture.RuleNoOrganizationTrail] || !found["444455556666 "+posture.RuleBucketPublic] || found["111122223333 "+posture.RuleBucketPublic] {
		t.Errorf("findings %v", found)
	}
	for _, acct := range []string{"111122223333", "444455556666"} {
		if c := "sts:AssumeRole:arn:aws:iam::" + acct + ":role/trailwatch-audit:tw-ext"; !slices.Contains(srv.Calls(), c) {
			t.Errorf("no %s in %v", c, srv.Calls())
		}
	}
}

func TestAuditCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "--format", "xml"}, "--format must be"},
		{[]string{"audit", "--accounts", "111122223333"}, "--accounts needs --role-name"},
		{[]string{"audit", "--accounts", "12", "--role-name", "r"}, "not a 12-digit account ID"},
		{[]string{"audit", "--role-name", "r"}, "--role-name needs --accounts"},
		{[]string{"audit", "--accounts", "111122223333", "--role-name", "r", "--role-arn", "arn:aws:iam::1:role/x"}, "exclude each other"},
		{[]string{"audit", "--fail-on", "urgent"}, "--fail-on"},
		{[]string{"audit", "--at", "yesterday"}, "--at"},
		{[]string{"query", "--format", "sarif", "SELECT 1"}, "--format must be table, json or csv"}, // only audit takes sarif
	} {
		code, _, errs := run(t, "", tc.args...)
		if code != ExitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q (want %q)", tc.args, code, errs, tc.want)
		}
	}
}

func TestPartitionOf(t *testing.T) {
	for region, want := range map[string]string{"us-east-1": "aws", "": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "eu-west-1": "aws"} {
		if got := partitionOf(region); got != want {
			t.Errorf("partitionOf(%q) = %q, want %q", region, got, want)
		}
	}
}
