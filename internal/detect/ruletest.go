package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/parse/cloudtrail"
	"github.com/trailwatch/trailwatch/internal/parse/s3access"
)

// Test is one test case of a rule, from the rule's "tests" attribute (a
// trailwatch extension):
//
//	tests:
//	  - name: fires on StopLogging
//	    match: true
//	    event: {eventSource: cloudtrail.amazonaws.com, eventName: StopLogging, ...}
//	  - name: a burst
//	    match: true
//	    events:
//	      - repeat: 20        # the same event 20 times,
//	        every: 10s        # 10 seconds apart
//	        event: {...}
//	  - match: false
//	    line: '<an S3 server access log line>'
//
// Events are CloudTrail records written as YAML (or JSON); they are parsed
// by trailwatch's CloudTrail parser, so they read exactly as delivered
// events do. Events without eventTime get one, a second after the previous.
type Test struct {
	Name   string
	Match  bool     // whether the rule must fire
	Events []string // CloudTrail records (JSON), in order
	Lines  []string // S3 server access log lines, in order
}

// testEpoch is the eventTime of the first test event that has none.
var testEpoch = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func parseTests(r *Rule, n *yaml.Node) []Test {
	if n.Kind != yaml.SequenceNode {
		r.errorf("tests must be a list")
		return nil
	}
	var out []Test
	for i, tn := range n.Content {
		t := Test{Name: fmt.Sprintf("test %d", i+1), Match: true}
		if tn.Kind != yaml.MappingNode {
			r.errorf("tests[%d] must be a mapping", i)
			continue
		}
		clock := testEpoch
		seq := 0
		for j := 0; j+1 < len(tn.Content); j += 2 {
			k, v := tn.Content[j].Value, tn.Content[j+1]
			var err error
			switch k {
			case "name":
				t.Name = scalar(v)
			case "match":
				t.Match = scalar(v) == "true"
			case "event":
				err = addTestEvents(&t, v, &clock, &seq)
			case "events":
				if v.Kind != yaml.SequenceNode {
					err = fmt.Errorf("events must be a list")
					break
				}
				for _, ev := range v.Content {
					if err = addTestEvents(&t, ev, &clock, &seq); err != nil {
						break
					}
				}
			case "line":
				t.Lines = append(t.Lines, scalar(v))
			case "lines":
				for _, ln := range v.Content {
					if ln.Kind == yaml.MappingNode {
						var rep struct {
							Repeat int
							Line   string
						}
						if err = ln.Decode(&rep); err != nil {
							break
						}
						for range max(rep.Repeat, 1) {
							t.Lines = append(t.Lines, rep.Line)
						}
						continue
					}
					t.Lines = append(t.Lines, scalar(ln))
				}
			default:
				err = fmt.Errorf("unknown key %q (name, match, event, events, line, lines)", k)
			}
			if err != nil {
				r.errorf("tests[%d] (%s): %v", i, t.Name, err)
			}
		}
		if len(t.Events) == 0 && len(t.Lines) == 0 {
			r.errorf("tests[%d] (%s) has no event or line", i, t.Name)
		}
		out = append(out, t)
	}
	return out
}

// addTestEvents adds one event, or a repeated one ({repeat, every, event}).
func addTestEvents(t *Test, n *yaml.Node, clock *time.Time, seq *int) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("an event must be a mapping")
	}
	repeat, every := 1, time.Second
	evNode := n
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == "event" && len(n.Content) <= 6 {
			evNode = n.Content[j+1]
		}
	}
	if evNode != n {
		for j := 0; j+1 < len(n.Content); j += 2 {
			switch n.Content[j].Value {
			case "repeat":
				fmt.Sscan(n.Content[j+1].Value, &repeat)
			case "every":
				d, err := time.ParseDuration(n.Content[j+1].Value)
				if err != nil {
					return fmt.Errorf("every: %v", err)
				}
				every = d
			}
		}
	}
	var m map[string]any
	if err := evNode.Decode(&m); err != nil {
		return err
	}
	start := *clock
	if s, ok := m["eventTime"].(string); ok {
		tt, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("eventTime: %v", err)
		}
		start = tt
	} else if tt, ok := m["eventTime"].(time.Time); ok {
		start = tt
	}
	for k := range max(repeat, 1) {
		*seq++
		at := start.Add(time.Duration(k) * every)
		m["eventTime"] = at.UTC().Format(time.RFC3339)
		if _, ok := m["eventID"]; !ok || repeat > 1 {
			m["eventID"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", *seq)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		t.Events = append(t.Events, string(b))
		*clock = at.Add(time.Second)
	}
	return nil
}

// TestResult is the outcome of one rule test.
type TestResult struct {
	Rule     *Rule
	Test     Test
	Fired    int   // findings of the rule
	Pass     bool  // Fired > 0 == Test.Match
	Err      error // the test could not run
	Findings []Finding
}

// RunTests runs the tests of rule. Correlations are run together with the
// rules they refer to, looked up in all.
func RunTests(rule *Rule, all []*Rule) []TestResult {
	var out []TestResult
	set := withDependencies(rule, all)
	for _, t := range rule.Tests {
		res := TestResult{Rule: rule, Test: t}
		var findings []Finding
		eng, err := NewEngine(set, Options{MinLevel: LevelInformational, OnFinding: func(f Finding) {
			if f.RuleID == rule.Key() {
				findings = append(findings, f)
			}
		}})
		if err != nil {
			res.Err = err
			out = append(out, res)
			continue
		}
		if !rule.OK() || contains(eng.Skipped(), rule) {
			res.Err = fmt.Errorf("the rule cannot be evaluated: %v", rule.Problems)
			out = append(out, res)
			continue
		}
		if err := feed(eng, t); err != nil {
			res.Err = err
		}
		eng.Flush()
		res.Findings = findings
		res.Fired = len(findings)
		res.Pass = res.Err == nil && (res.Fired > 0) == t.Match
		out = append(out, res)
	}
	return out
}

func contains(rules []*Rule, r *Rule) bool {
	for _, x := range rules {
		if x == r {
			return true
		}
	}
	return false
}

// withDependencies returns rule and, for correlations, every rule it
// refers to (transitively).
func withDependencies(rule *Rule, all []*Rule) []*Rule {
	byKey := map[string]*Rule{}
	for _, r := range all {
		for _, k := range []string{r.ID, r.Name} {
			if k != "" {
				byKey[k] = r
			}
		}
	}
	seen := map[*Rule]bool{}
	var out []*Rule
	var add func(r *Rule)
	add = func(r *Rule) {
		if seen[r] {
			return
		}
		seen[r] = true
		out = append(out, r)
		if r.corr != nil {
			for _, ref := range r.corr.rules {
				if t, ok := byKey[ref]; ok {
					add(t)
				}
			}
		}
	}
	add(rule)
	return out
}

// feed parses a test's records and observes them in order.
func feed(eng *Engine, t Test) error {
	ctx := context.Background()
	if len(t.Events) > 0 {
		p := cloudtrail.NewParser(cloudtrail.Options{})
		var batch event.Batch
		err := p.Parse(ctx, strings.NewReader(strings.Join(t.Events, "\n")), &batch, func(b *event.Batch) error {
			b.Object = event.ObjectRef{Key: "test"}
			eng.Observe(ctx, b)
			return nil
		})
		if err != nil {
			return fmt.Errorf("parse test events: %w", err)
		}
	}
	if len(t.Lines) > 0 {
		var batch event.Batch
		err := s3access.Parse(ctx, bytes.NewReader([]byte(strings.Join(t.Lines, "\n")+"\n")), &batch, 1024, func(b *event.Batch) error {
			b.Object = event.ObjectRef{Key: "test"}
			eng.Observe(ctx, b)
			return nil
		})
		if err != nil {
			return fmt.Errorf("parse test lines: %w", err)
		}
	}
	return nil
}
