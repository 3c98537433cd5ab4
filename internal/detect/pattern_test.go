package detect

import (
	"regexp"
	"testing"
)

// TestRequiredLiteral checks the substring prefilter of |re values: the
// literal is one every match contains, and matching with the prefilter
// gives the regular expression's own answers.
func TestRequiredLiteral(t *testing.T) {
	cases := []struct {
		expr, want string
		inputs     []string
	}{
		{`.+:assumed-role/aws:.+`, ":assumed-role/aws:", []string{"arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1", "arn:aws:sts::1:assumed-role/admin/x", ":assumed-role/aws:"}},
		{`^aws-cli/2\.[0-9]+`, "aws-cli/2.", []string{"aws-cli/2.15.0", "aws-cli/1.2", "Boto3"}},
		{`(?i)^AWS-CLI`, "", []string{"aws-cli/2", "x"}},
		{`abc|xyz`, "", []string{"xyz", "abc", "q"}},
		{`(abc)+def`, "def", []string{"abcdef", "def", "abcde"}},
		{`a.c`, "a", []string{"abc", "xbc"}},
		{`literal`, "literal", []string{"a literal here", "nope"}},
		{`[`, "", nil},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			if got := requiredLiteral(c.expr); got != c.want {
				t.Errorf("requiredLiteral(%q) = %q, want %q", c.expr, got, c.want)
			}
			re, err := regexp.Compile(c.expr)
			if err != nil {
				return
			}
			p := pattern{op: opRe, re: re, s: requiredLiteral(c.expr)}
			for _, in := range c.inputs {
				if got, want := p.matchString(in), re.MatchString(in); got != want {
					t.Errorf("%q on %q: %v, regexp says %v", c.expr, in, got, want)
				}
			}
		})
	}
}
