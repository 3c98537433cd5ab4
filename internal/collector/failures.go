package collector

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Failure is a kind of object failure: what became of the object
// (retry or quarantined) and why (a reason label such as throttled,
// server_error, access_denied, not_found, poison).
type Failure struct {
	Outcome string
	Reason  string
}

// FailureCount is how many objects failed one way.
type FailureCount struct {
	Failure
	Objects int64
}

// Failures returns the object failures seen since the start, most
// frequent first.
func (c *Collector) Failures() []FailureCount {
	c.m.mu.Lock()
	out := make([]FailureCount, 0, len(c.m.failures))
	for f, n := range c.m.failures {
		out = append(out, FailureCount{f, n})
	}
	c.m.mu.Unlock()
	slices.SortFunc(out, func(a, b FailureCount) int {
		return cmp.Or(cmp.Compare(b.Objects, a.Objects), cmp.Compare(a.Outcome, b.Outcome), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// FormatFailures says in one line what failed and why, e.g.
// "retried 3 (2 throttled, 1 server_error); quarantined 1 (1 not_found)".
func FormatFailures(fs []FailureCount) string {
	by := map[string][]string{}
	total := map[string]int64{}
	var outcomes []string
	for _, f := range fs {
		if _, ok := total[f.Outcome]; !ok {
			outcomes = append(outcomes, f.Outcome)
		}
		total[f.Outcome] += f.Objects
		by[f.Outcome] = append(by[f.Outcome], fmt.Sprintf("%d %s", f.Objects, f.Reason))
	}
	slices.Sort(outcomes)
	parts := make([]string, 0, len(outcomes))
	for _, o := range outcomes {
		verb := o
		if o == "retry" {
			verb = "retried"
		}
		parts = append(parts, fmt.Sprintf("%s %d (%s)", verb, total[o], strings.Join(by[o], ", ")))
	}
	return strings.Join(parts, "; ")
}
