package posture

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	_ "embed"
)

// Report is an audit's result, as rendered.
type Report struct {
	Tool        string        `json:"tool"`
	Version     string        `json:"version"`
	GeneratedAt time.Time     `json:"generated_at"`
	Accounts    []string      `json:"accounts"`
	Regions     []string      `json:"regions"`
	Findings    []Finding     `json:"findings"`
	Errors      []GatherError `json:"errors,omitempty"` // what could not be read
}

// NewReport builds a report from a snapshot and its findings.
func NewReport(s *Snapshot, findings []Finding, version string, now time.Time) *Report {
	r := &Report{Tool: "trailwatch", Version: version, GeneratedAt: now.UTC(), Findings: findings}
	for _, a := range s.Accounts {
		r.Accounts = append(r.Accounts, a.ID)
		for _, reg := range a.Regions {
			if !slices.Contains(r.Regions, reg) {
				r.Regions = append(r.Regions, reg)
			}
		}
		r.Errors = append(r.Errors, a.Errors...)
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return r
}

// Counts returns the number of findings per severity.
func (r *Report) Counts() map[Severity]int {
	m := map[Severity]int{}
	for _, f := range r.Findings {
		m[f.Severity]++
	}
	return m
}

// Worst returns the highest severity found, and false when there are no findings.
func (r *Report) Worst() (Severity, bool) {
	if len(r.Findings) == 0 {
		return Info, false
	}
	w := Info
	for _, f := range r.Findings {
		w = max(w, f.Severity)
	}
	return w, true
}

// Summary is a one-line count of findings by severity.
func (r *Report) Summary() string {
	c := r.Counts()
	var parts []string
	for s := Critical; s >= Info; s-- {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	if len(parts) == 0 {
		return "no findings"
	}
	return fmt.Sprintf("%d findings: %s", len(r.Findings), strings.Join(parts, ", "))
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes a terminal table (one row per finding) followed by
// each finding's evidence and remediation.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	if len(r.Findings) == 0 {
		fmt.Fprintf(&b, "No findings in %s (%s).\n", strings.Join(r.Accounts, ", "), strings.Join(r.Regions, ", "))
	} else {
		cols := []string{"#", "SEVERITY", "CONTROL", "ACCOUNT", "REGION", "RESOURCE", "FINDING"}
		rows := make([][]string, len(r.Findings))
		for i, f := range r.Findings {
			rows[i] = []string{fmt.Sprint(i + 1), strings.ToUpper(f.Severity.String()), f.Controls(), f.Account, dash(f.Region), cutMiddle(f.Resource, 60), f.Title}
		}
		writeAligned(&b, cols, rows)
		b.WriteString("\n")
		for i, f := range r.Findings {
			fmt.Fprintf(&b, "%d. [%s] %s (%s)\n   resource:  %s\n   evidence:  %s\n   fix:\n", i+1, strings.ToUpper(f.Severity.String()), f.Title, f.ID, f.Resource, f.Evidence)
			for _, line := range strings.Split(f.Remediation, "\n") {
				b.WriteString("     " + line + "\n")
			}
			b.WriteString("\n")
		}
		b.WriteString(r.Summary() + "\n")
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(&b, "\nNot checked (%d calls failed):\n", len(r.Errors))
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "  %s %s: %s\n", e.Resource, e.Aspect, e.Err)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cutMiddle(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n/2-1]) + "…" + string(r[len(r)-n/2:])
}

func writeAligned(b *strings.Builder, cols []string, rows [][]string) {
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = utf8.RuneCountInString(c)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		b.WriteString("\n")
	}
	line(cols)
	for _, r := range rows {
		line(r)
	}
}

// SARIF 2.1.0.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	HelpURI              string         `json:"helpUri"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	EndTimeUTC                 string              `json:"endTimeUtc"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

// sarifPhysical names the resource as the artifact: code scanning
// services want a physical location, and an ARN is a URI.
type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
	Region struct {
		StartLine int `json:"startLine"`
	} `json:"region"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s Severity) string {
	switch {
	case s >= High:
		return "error"
	case s == Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score GitHub code scanning reads.
func securitySeverity(s Severity) string {
	return [...]string{"0.0", "3.0", "5.5", "8.0", "9.5"}[min(max(s, Info), Critical)]
}

// WriteSARIF writes the report as SARIF 2.1.0: every catalog rule, one
// result per finding with the resource as a logical location.
func WriteSARIF(w io.Writer, r *Report) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "trailwatch", Version: r.Version, InformationURI: "https://github.com/trailwatch/trailwatch"}}}
	index := map[string]int{}
	for i, rule := range rules {
		index[rule.ID] = i
		tags := []string{"security", "aws", "cloudtrail"}
		if rule.Control != "" {
			tags = append(tags, "securityhub/"+rule.Control)
		}
		if rule.CIS != "" {
			tags = append(tags, "cis-aws-foundations/"+rule.CIS)
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: rule.ID, Name: ruleName(rule.ID), ShortDescription: sarifText{rule.Title}, FullDescription: sarifText{rule.Why},
			HelpURI: rule.HelpURL(), Help: sarifText{rule.Why + " See " + rule.HelpURL()},
			DefaultConfiguration: sarifConfig{sarifLevel(rule.Severity)},
			Properties:           map[string]any{"security-severity": securitySeverity(rule.Severity), "tags": tags, "control": rule.Control, "cis": rule.CIS},
		})
	}
	inv := sarifInvocation{ExecutionSuccessful: true, EndTimeUTC: r.GeneratedAt.Format(time.RFC3339)}
	for _, e := range r.Errors {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: "warning",
			Message: sarifText{fmt.Sprintf("not checked: %s %s: %s", e.Resource, e.Aspect, e.Err)}})
	}
	run.Invocations = []sarifInvocation{inv}
	run.Results = []sarifResult{}
	for _, f := range r.Findings {
		run.Results = append(run.Results, sarifResult{
			RuleID: f.ID, RuleIndex: index[f.ID], Level: sarifLevel(f.Severity),
			Message:             sarifText{fmt.Sprintf("%s: %s. Evidence: %s. Fix:\n%s", f.Resource, f.Title, f.Evidence, f.Remediation)},
			Locations:           []sarifLocation{location(f.Resource)},
			PartialFingerprints: map[string]string{"trailwatch/v1": f.ID + "|" + f.Account + "|" + f.Region + "|" + f.Resource},
			Properties: map[string]any{"severity": f.Severity.String(), "account": f.Account, "region": f.Region,
				"control": f.Control, "cis": f.CIS, "evidence": f.Evidence, "remediation": f.Remediation},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

func location(resource string) sarifLocation {
	l := sarifLocation{LogicalLocations: []sarifLogical{{Name: lastPart(resource), FullyQualifiedName: resource, Kind: "resource"}}}
	l.PhysicalLocation.ArtifactLocation.URI = resource
	l.PhysicalLocation.Region.StartLine = 1
	return l
}

// ruleName turns "s3.trail-bucket-ssl" into "S3TrailBucketSsl" (SARIF
// rule names are identifiers).
func ruleName(id string) string {
	var b strings.Builder
	up := true
	for _, c := range id {
		if c == '.' || c == '-' {
			up = true
			continue
		}
		if up {
			b.WriteString(strings.ToUpper(string(c)))
			up = false
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func lastPart(res string) string {
	if i := strings.LastIndexAny(res, ":/"); i >= 0 && i < len(res)-1 {
		return res[i+1:]
	}
	return res
}

//go:embed report.html.tmpl
var htmlTemplate string

// WriteHTML writes the report as one self-contained HTML page (inline CSS,
// no scripts, no external resources).
func WriteHTML(w io.Writer, r *Report) error {
	t, err := template.New("report").Funcs(template.FuncMap{
		"upper":  strings.ToUpper,
		"levels": func() []string { return []string{"critical", "high", "medium", "low", "info"} },
		"sev":    func(s Severity) string { return s.String() },
		"count":  func(s string) int { v, _ := ParseSeverity(s); return r.Counts()[v] },
		"help":   func(id string) string { rule, _ := RuleByID(id); return rule.HelpURL() },
		"when":   func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
		"inc":    func(i int) int { return i + 1 },
	}).Parse(htmlTemplate)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	return t.Execute(w, r)
}

// WriteCSV writes one row per finding, with a header.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"severity", "control", "cis", "rule", "account", "region", "resource", "title", "evidence", "remediation"})
	for _, f := range r.Findings {
		_ = cw.Write([]string{f.Severity.String(), f.Control, f.CIS, f.ID, f.Account, f.Region, f.Resource, f.Title, f.Evidence, f.Remediation})
	}
	cw.Flush()
	return cw.Error()
}
