package posture

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func sampleReport(t *testing.T) *Report {
	t.Helper()
	a := cleanAccount(t)
	a.Trails[0].LogFileValidation = false
	a.Buckets[bucket].Policy = `{"Statement":[{"Sid":"<script>alert(1)</script>","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`
	a.Buckets[bucket].PublicAccess.RestrictPublicBuckets = false
	a.PublicAccessBlock = &PublicAccessBlock{BlockPublicAcls: true}
	a.Errors = []GatherError{{Account: acct, Resource: "arn:aws:sqs:us-east-1:111122223333:q", Aspect: "attributes", Err: "sqs:GetQueueAttributes denied"}}
	s := &Snapshot{Accounts: []*Account{a}}
	return NewReport(s, Evaluate(s, Options{Now: testNow}), "v1.2.3", testNow)
}

func TestWriteJSON(t *testing.T) {
	r := sampleReport(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Findings) != len(r.Findings) || back.Findings[0].Severity != Critical || back.Findings[0].Control != "CloudTrail.6" || len(back.Errors) != 1 {
		t.Errorf("round trip: %+v", back)
	}
	if !strings.Contains(b.String(), `"severity": "critical"`) {
		t.Error("severity is not written by name")
	}
}

func TestWriteSARIF(t *testing.T) {
	r := sampleReport(t)
	var b bytes.Buffer
	if err := WriteSARIF(&b, r); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string         `json:"id"`
						HelpURI    string         `json:"helpUri"`
						Properties map[string]any `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Invocations []struct {
				Notifications []any `json:"toolExecutionNotifications"`
			} `json:"invocations"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
					LogicalLocations []struct{ FullyQualifiedName string } `json:"logicalLocations"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("sarif %s", b.String())
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(Rules()) || len(run.Results) != len(r.Findings) || len(run.Invocations[0].Notifications) != 1 {
		t.Fatalf("rules %d results %d", len(run.Tool.Driver.Rules), len(run.Results))
	}
	for i, res := range run.Results {
		rule := run.Tool.Driver.Rules[res.RuleIndex]
		if rule.ID != res.RuleID || res.Locations[0].LogicalLocations[0].FullyQualifiedName != r.Findings[i].Resource || res.Locations[0].PhysicalLocation.ArtifactLocation.URI != r.Findings[i].Resource ||
			!strings.Contains(res.Message.Text, r.Findings[i].Remediation) || rule.Properties["security-severity"] == nil {
			t.Errorf("result %d: %+v", i, res)
		}
	}
	if run.Results[0].Level != "error" {
		t.Errorf("critical finding level %q", run.Results[0].Level)
	}
	for _, rule := range run.Tool.Driver.Rules {
		if rule.ID == RuleLogFileValidation && rule.HelpURI != "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudtrail-controls.html#cloudtrail-4" {
			t.Errorf("help %s", rule.HelpURI)
		}
	}
}

func TestWriteHTML(t *testing.T) {
	r := sampleReport(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;") {
		t.Error("evidence is not escaped")
	}
	for _, want := range []string{"<!DOCTYPE html>", `<a href="#f1">1</a>`, `<article id="f1">`, "CloudTrail.6", "CloudTrail.4", "aws cloudtrail update-trail", "sqs:GetQueueAttributes denied", acct} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	var clean bytes.Buffer
	if err := WriteHTML(&clean, NewReport(&Snapshot{Accounts: []*Account{cleanAccount(t)}}, nil, "v1", testNow)); err != nil || !strings.Contains(clean.String(), "No findings") {
		t.Errorf("clean report: %v", err)
	}
}

func TestWriteTableAndCSV(t *testing.T) {
	r := sampleReport(t)
	var b bytes.Buffer
	if err := WriteTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"SEVERITY", "CRITICAL", "CloudTrail.6 · CIS v1.4.0 3.3", "fix:", "aws s3api put-public-access-block", "Not checked (1 calls failed)", r.Summary()} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != len(r.Findings)+1 || rows[1][0] != "critical" || rows[1][1] != "CloudTrail.6" {
		t.Errorf("csv %v %v", rows, err)
	}
}

func TestSeverity(t *testing.T) {
	for _, name := range []string{"info", "LOW", "Medium", "high", "critical"} {
		if _, err := ParseSeverity(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseSeverity("urgent"); err == nil || !strings.Contains(err.Error(), "want info") {
		t.Errorf("bad severity: %v", err)
	}
	if Severity(9).String() != "severity(9)" {
		t.Error(Severity(9).String())
	}
}

// TestDocsListEveryRule: docs/posture.md's findings table matches the catalog.
func TestDocsListEveryRule(t *testing.T) {
	doc, err := os.ReadFile("../../docs/posture.md")
	if err != nil {
		t.Fatal(err)
	}
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	for _, r := range Rules() {
		row := "| `" + r.ID + "` | " + dash(r.Control) + " | " + dash(r.CIS) + " | " + r.Severity.String() + " | " + r.Title + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/posture.md lacks the row\n%s", row)
		}
	}
}
