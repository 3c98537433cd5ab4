package detect

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/trailwatch/trailwatch/internal/gen"
)

// acceptedBenign lists the built-in rules that fire on the demo's benign
// traffic on purpose: the CIS AWS Foundations monitoring controls report
// every occurrence of what they monitor (any denied call, any root use,
// any IAM policy or security group change, any failed console sign-in),
// which the benign day contains.
var acceptedBenign = map[string]bool{
	"tw_cis_4_1_unauthorized_api_calls":  true,
	"tw_cis_4_3_root_usage":              true,
	"tw_cis_4_4_iam_policy_changes":      true,
	"tw_cis_4_6_console_auth_failures":   true,
	"tw_cis_4_10_security_group_changes": true,
}

// runDemo generates the demo data set and returns the findings of the
// built-in pack at the default alerting level.
func runDemo(t *testing.T, attacks bool) ([]Finding, []gen.Story, map[string]string) {
	t.Helper()
	f, s, n, _ := runDemoDir(t, attacks)
	return f, s, n
}

// runDemoDir is runDemo, also returning the data directory.
func runDemoDir(t *testing.T, attacks bool) ([]Finding, []gen.Story, map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	opts := gen.Options{Dir: dir, Attacks: attacks, Workers: 2}
	if raceEnabled {
		opts.Events, opts.AccessLogLines = 8000, 3000
	}
	sum, err := gen.Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, r := range rules {
		names[r.Key()] = r.Name
	}
	var mu sync.Mutex
	var out []Finding
	eng, err := NewEngine(rules, Options{MinLevel: LevelLow, OnFinding: func(f Finding) {
		mu.Lock()
		out = append(out, f)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	feedTree(t, eng, dir)
	return out, sum.Stories, names, dir
}

// TestDemoBenign counts the built-in pack's findings on the demo's benign
// traffic (attacks off): zero outside the accepted CIS monitors.
func TestDemoBenign(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a day of data")
	}
	findings, _, names, dir := runDemoDir(t, false)
	if testing.Verbose() {
		logSigmaHQBenign(t, dir)
	}
	per := map[string]int{}
	for _, f := range findings {
		per[names[f.RuleID]]++
	}
	var keys []string
	for k := range per {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if acceptedBenign[k] {
			t.Logf("accepted: %s fired %d times on benign traffic", k, per[k])
			continue
		}
		t.Errorf("false positives: %s fired %d times on benign traffic", k, per[k])
	}
}

// TestDemoStories checks that each attack story of the demo raises at
// least one finding: one from the story's actor or address, within its
// time span.
func TestDemoStories(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a day of data")
	}
	findings, stories, names := runDemo(t, true)
	if len(stories) != 7 {
		t.Fatalf("%d stories, want 7", len(stories))
	}
	for _, s := range stories {
		var hits []string
		for _, f := range findings {
			if StoryMatch(s.Actor, s.SourceIP, s.Start, s.End, f) && !acceptedBenign[names[f.RuleID]] {
				hits = append(hits, names[f.RuleID])
			}
		}
		sort.Strings(hits)
		if len(hits) == 0 {
			t.Errorf("story %s (%s) raised no finding", s.ID, s.Title)
		} else {
			t.Logf("story %s: %s", s.ID, strings.Join(compact(hits), ", "))
		}
	}
}

func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// logSigmaHQBenign reports (without judging: they are SigmaHQ's) the
// findings of the 57 SigmaHQ CloudTrail rules on the benign traffic.
func logSigmaHQBenign(t *testing.T, dir string) {
	rules, err := LoadPaths([]string{sigmaHQDir})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	per := map[string]int{}
	eng, err := NewEngine(rules, Options{MinLevel: LevelLow, OnFinding: func(f Finding) {
		mu.Lock()
		per[f.Title+" ("+f.Level.String()+")"]++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	n := feedTree(t, eng, dir)
	total := 0
	for k, v := range per {
		total += v
		t.Logf("SigmaHQ on benign traffic: %s fired %d times", k, v)
	}
	t.Logf("SigmaHQ on benign traffic: %d findings on %d records", total, n)
}
