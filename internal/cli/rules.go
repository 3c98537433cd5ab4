package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/detect"
)

func (a *app) rulesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List, check and test detection rules (Sigma)",
		Long: `Rules are Sigma YAML (https://sigmahq.io). trailwatch embeds a pack of them
(CIS AWS Foundations 4.1-4.15, logging tampering, identity, network and data
exposure, credential access, execution, S3 access log rules, correlations and
first-seen rules) and loads more from --rules directories.

  rules list            what would run, with level and MITRE ATT&CK techniques
  rules lint [PATH...]  report what a rule uses that trailwatch cannot evaluate
  rules test [PATH...]  run the test events embedded in rules (tests: ...)`,
	}
	cmd.AddCommand(a.rulesListCommand(), a.rulesLintCommand(), a.rulesTestCommand())
	return cmd
}

func (a *app) rulesListCommand() *cobra.Command {
	var f ruleFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the rules (built-in and --rules)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules, err := a.loadRules(f)
			if err != nil {
				return err
			}
			detect.SortRules(rules)
			if a.format == "json" {
				enc := json.NewEncoder(a.stdout)
				for _, r := range rules {
					if err := enc.Encode(ruleInfo(r)); err != nil {
						return err
					}
				}
				return nil
			}
			var rows [][]string
			for _, r := range rules {
				i := ruleInfo(r)
				rows = append(rows, []string{i.Name, i.Level, i.Kind, i.Log, cut(i.Title, 70), strings.Join(i.Techniques, ","), i.Status})
			}
			if a.format == "csv" {
				return writeCSV(a.stdout, []string{"name", "level", "kind", "log", "title", "attack", "status"}, rows)
			}
			if err := writeTable(a.stdout, []string{"NAME", "LEVEL", "KIND", "LOG", "TITLE", "ATT&CK", "STATUS"}, rows); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n%d rules\n", len(rules))
			return nil
		},
	}
	f.register(cmd.Flags(), "informational")
	return cmd
}

// ruleSummary is how rules list describes a rule.
type ruleSummary struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Title      string   `json:"title"`
	Level      string   `json:"level"`
	Kind       string   `json:"kind"`
	Log        string   `json:"log,omitempty"`
	Techniques []string `json:"techniques,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Source     string   `json:"source"`
	Status     string   `json:"status"` // ok, or the number of errors
	Tests      int      `json:"tests"`
}

func ruleInfo(r *detect.Rule) ruleSummary {
	s := ruleSummary{ID: r.ID, Name: r.Name, Title: r.Title, Level: r.Level.String(), Log: r.LogSource(), Techniques: r.Techniques(),
		Tags: r.Tags, Source: r.Source, Status: "ok", Tests: len(r.Tests), Kind: "detection"}
	if s.Name == "" {
		s.Name = r.Key()
	}
	if r.Kind == detect.KindCorrelation {
		s.Kind = "correlation"
	}
	errs := 0
	for _, p := range r.Problems {
		if p.Severity == detect.SevError {
			errs++
		}
	}
	if errs > 0 {
		s.Status = fmt.Sprintf("%d error(s)", errs)
	}
	return s
}

func (a *app) rulesLintCommand() *cobra.Command {
	var f ruleFlags
	cmd := &cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Report, per rule, what trailwatch cannot evaluate as written (errors) and what looks wrong (warnings)",
		Long: `Lint compiles rules (the files and directories given, else the built-in pack
and --rules) and prints every problem: unsupported modifiers (windash, expand,
time parts), regular expressions Go cannot run, unknown fields, logsources
trailwatch does not collect, broken correlations. Rules with errors are never
evaluated; the exit code is 1 when any rule has one.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && len(f.dirs) == 0 {
				f.noBuiltin = true
			}
			rules, err := a.loadRules(f, args...)
			bad, warned := 0, 0
			if err != nil {
				// Files that are not YAML (or cannot be read): report
				// each and lint the others.
				var ue *ExitError
				if errors.As(err, &ue) {
					return err
				}
				for _, line := range strings.Split(err.Error(), "\n") {
					fmt.Fprintf(a.stdout, "%s\n", line)
					bad++
				}
			}
			// Building an engine finds the problems between rules
			// (correlations referring to missing rules, duplicates).
			_, _ = detect.NewEngine(rules, detect.Options{})
			for _, r := range rules {
				if len(r.Problems) == 0 {
					continue
				}
				if !r.OK() {
					bad++
				} else {
					warned++
				}
				fmt.Fprintf(a.stdout, "%s: %s\n", r.Source, r.Title)
				for _, p := range r.Problems {
					fmt.Fprintf(a.stdout, "  %s\n", p)
				}
			}
			fmt.Fprintf(a.stdout, "%d rules: %d with errors (not evaluated), %d with warnings\n", len(rules), bad, warned)
			if bad > 0 {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d rule(s) or file(s) have errors", bad)}
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "informational")
	return cmd
}

func (a *app) rulesTestCommand() *cobra.Command {
	var f ruleFlags
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run the test events embedded in rules (the tests: attribute)",
		Long: `Test runs each rule's test cases: the events (CloudTrail records written as
YAML or JSON) or S3 access log lines under the rule's tests attribute, with
whether the rule must fire. See docs/detect.md for the format.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && len(f.dirs) == 0 {
				f.noBuiltin = true
			}
			all, err := a.loadRules(f, args...)
			if err != nil {
				return err
			}
			// Correlations may refer to built-in rules: resolve against all.
			ctx := all
			if f.noBuiltin {
				if b, err := detect.Builtin(); err == nil {
					ctx = append(append([]*detect.Rule(nil), all...), b...)
				}
			}
			tests, failed, untested := 0, 0, 0
			for _, r := range all {
				if len(r.Tests) == 0 {
					untested++
					if verbose {
						fmt.Fprintf(a.stdout, "NONE  %s (%s)\n", r.Title, r.Source)
					}
					continue
				}
				for _, res := range detect.RunTests(r, ctx) {
					tests++
					status := "ok  "
					if !res.Pass {
						status = "FAIL"
						failed++
					}
					if !res.Pass || verbose {
						want := "fire"
						if !res.Test.Match {
							want = "not fire"
						}
						fmt.Fprintf(a.stdout, "%s  %s: %s (must %s; fired %d times)", status, r.Source, res.Test.Name, want, res.Fired)
						if res.Err != nil {
							fmt.Fprintf(a.stdout, ": %v", res.Err)
						}
						fmt.Fprintln(a.stdout)
					}
				}
			}
			fmt.Fprintf(a.stdout, "%d rules, %d tests: %d passed, %d failed; %d rules have no tests\n", len(all), tests, tests-failed, failed, untested)
			if failed > 0 {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d rule test(s) failed", failed)}
			}
			return nil
		},
	}
	f.register(cmd.Flags(), "informational")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every test")
	return cmd
}
