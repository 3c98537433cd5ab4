package detect

import (
	"strings"
	"testing"
)

// TestBuiltinRules checks the built-in pack: every rule compiles, has the
// metadata analysts need, and passes its own tests, which include at least
// one event that must fire and one that must not.
func TestBuiltinRules(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 80 {
		t.Fatalf("only %d built-in rules", len(rules))
	}
	names := map[string]bool{}
	for _, r := range rules {
		t.Run(r.Name, func(t *testing.T) {
			for _, p := range r.Problems {
				if p.Severity == SevError || !strings.Contains(p.Message, "first_seen is a trailwatch extension") {
					t.Errorf("%s: %s", r.Source, p)
				}
			}
			if r.ID == "" || r.Name == "" || r.Title == "" || r.Description == "" || r.Author == "" {
				t.Errorf("%s: id, name, title, description and author are required", r.Source)
			}
			if names[r.Name] {
				t.Errorf("duplicate name %s", r.Name)
			}
			names[r.Name] = true
			alerting := r.Level >= LevelLow
			if alerting && (len(r.Techniques()) == 0 && !strings.Contains(strings.Join(r.Tags, " "), "attack.")) {
				t.Errorf("%s: alerting rules need MITRE ATT&CK tags", r.Source)
			}
			if alerting && len(r.FalsePositives) == 0 {
				t.Errorf("%s: alerting rules need falsepositives", r.Source)
			}
			var pos, neg bool
			for _, tc := range r.Tests {
				pos = pos || tc.Match
				neg = neg || !tc.Match
			}
			if !pos || !neg {
				t.Errorf("%s: needs a test that fires and one that must not (has %d tests)", r.Source, len(r.Tests))
			}
			for _, res := range RunTests(r, rules) {
				if !res.Pass {
					t.Errorf("%s: test %q: fired %d times, want match=%v (err %v)", r.Source, res.Test.Name, res.Fired, res.Test.Match, res.Err)
				}
			}
		})
	}
}

// TestBuiltinCIS checks that every CIS AWS Foundations monitoring control
// 4.1 to 4.15 has its rule.
func TestBuiltinCIS(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range rules {
		for _, tag := range r.Tags {
			if c, ok := strings.CutPrefix(tag, "cis.aws."); ok {
				have[c] = true
			}
		}
	}
	for i := 1; i <= 15; i++ {
		c := "4." + itoa(i)
		if !have[c] {
			t.Errorf("no rule for CIS AWS %s", c)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}
