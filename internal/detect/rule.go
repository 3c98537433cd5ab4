package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// RuleKind says whether a rule matches single records or correlates them.
type RuleKind uint8

// The kinds of rules.
const (
	KindDetection   RuleKind = iota // a Sigma detection rule
	KindCorrelation                 // a Sigma correlation rule (or a first_seen rule)
)

// Logsource is a rule's Sigma logsource.
type Logsource struct {
	Product    string `json:"product,omitempty"`
	Service    string `json:"service,omitempty"`
	Category   string `json:"category,omitempty"`
	Definition string `json:"definition,omitempty"`
}

// Severity grades a Problem.
type Severity uint8

// Problem severities.
const (
	SevWarning Severity = iota // the rule works, but not quite as written or expected
	SevError                   // the rule cannot be evaluated and is left out
)

// String returns "warning" or "error".
func (s Severity) String() string {
	if s == SevError {
		return "error"
	}
	return "warning"
}

// Problem is something about a rule that trailwatch cannot do as written
// (an error: the rule is not evaluated) or that a rule author should know
// (a warning).
type Problem struct {
	Severity Severity
	Message  string
}

func (p Problem) String() string { return p.Severity.String() + ": " + p.Message }

// Rule is one Sigma rule as loaded: its metadata, its compiled detection or
// correlation, its embedded tests and the problems found while compiling.
type Rule struct {
	ID             string
	Name           string
	Title          string
	Description    string
	Status         string
	Author         string
	Level          Level
	Tags           []string
	References     []string
	FalsePositives []string
	Logsource      Logsource
	Kind           RuleKind
	// Source says where the rule was read: a file path (with #n for the
	// n-th document of a multi-document file) or builtin:<file>.
	Source string
	// Tests are the rule's test cases (the trailwatch "tests" attribute).
	Tests []Test
	// Problems are the unsupported constructs and other issues found.
	Problems []Problem

	logs     logKind
	logKnown bool // the logsource is one trailwatch reads
	det      *detection
	corr     *corrSpec
}

// OK reports whether the rule compiled without errors.
func (r *Rule) OK() bool {
	for _, p := range r.Problems {
		if p.Severity == SevError {
			return false
		}
	}
	return true
}

// Techniques returns the rule's MITRE ATT&CK technique tags (attack.tNNNN
// and attack.tNNNN.NNN), upper-cased: T1562.008.
func (r *Rule) Techniques() []string {
	var out []string
	for _, t := range r.Tags {
		if rest, ok := strings.CutPrefix(strings.ToLower(t), "attack.t"); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			out = append(out, "T"+rest)
		}
	}
	return out
}

// LogSource returns the kind of records the rule applies to:
// "cloudtrail", "cloudtrail_insights" or "s3_server_access", or "" when
// trailwatch does not collect the rule's logsource.
func (r *Rule) LogSource() string {
	if r.Kind == KindCorrelation || !r.logKnown {
		return ""
	}
	return r.logs.String()
}

// Key returns the identifier correlations use to refer to the rule: its id,
// else its name, else its title.
func (r *Rule) Key() string {
	switch {
	case r.ID != "":
		return r.ID
	case r.Name != "":
		return r.Name
	}
	return r.Title
}

func (r *Rule) errorf(format string, args ...any) {
	r.Problems = append(r.Problems, Problem{SevError, fmt.Sprintf(format, args...)})
}

func (r *Rule) warnf(format string, args ...any) {
	r.Problems = append(r.Problems, Problem{SevWarning, fmt.Sprintf(format, args...)})
}

// ParseRules parses the Sigma rules in one YAML file (several documents
// separated by --- are several rules). Rules that cannot be compiled are
// returned too, with their problems; err is set only when the file is not
// YAML at all.
func ParseRules(data []byte, source string) ([]*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var rules []*Rule
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rules, fmt.Errorf("%s: %w", source, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		src := source
		if i > 0 || bytes.Contains(data, []byte("\n---")) {
			src = fmt.Sprintf("%s#%d", source, i+1)
		}
		rules = append(rules, parseRule(doc.Content[0], src))
	}
	return rules, nil
}

// LoadFS loads every .yml and .yaml file under root in fsys, in path order.
func LoadFS(fsys fs.FS, root, sourcePrefix string) ([]*Rule, error) {
	var rules []*Rule
	var errs []error
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(p); ext != ".yml" && ext != ".yaml" {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		rs, err := ParseRules(data, sourcePrefix+p)
		if err != nil {
			errs = append(errs, err)
		}
		rules = append(rules, rs...)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return rules, errors.Join(errs...)
}

// LoadPaths loads rules from files and directories (recursively).
func LoadPaths(paths []string) ([]*Rule, error) {
	var rules []*Rule
	var errs []error
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: %w", err))
			continue
		}
		if info.IsDir() {
			rs, err := LoadFS(os.DirFS(p), ".", filepath.ToSlash(filepath.Clean(p))+"/")
			if err != nil {
				errs = append(errs, err)
			}
			rules = append(rules, rs...)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: %w", err))
			continue
		}
		rs, err := ParseRules(data, p)
		if err != nil {
			errs = append(errs, err)
		}
		rules = append(rules, rs...)
	}
	return rules, errors.Join(errs...)
}

// knownAttributes are the Sigma attributes (and trailwatch's) that a rule
// document may have; anything else is a custom attribute and ignored.
var knownAttributes = []string{"title", "id", "name", "related", "status", "description", "author", "date", "modified",
	"references", "tags", "level", "logsource", "detection", "fields", "falsepositives", "license", "correlation",
	"generate", "scope", "taxonomy", "tests", "action", "filter"}

func parseRule(n *yaml.Node, source string) *Rule {
	r := &Rule{Source: source, Level: LevelMedium}
	if n.Kind != yaml.MappingNode {
		r.errorf("a rule must be a YAML mapping, not %s", nodeKind(n))
		return r
	}
	var detNode, corrNode, testsNode *yaml.Node
	levelSet := false
	generate := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "title":
			r.Title = scalar(v)
		case "id":
			r.ID = scalar(v)
		case "name":
			r.Name = scalar(v)
		case "status":
			r.Status = scalar(v)
		case "description":
			r.Description = strings.TrimSpace(scalar(v))
		case "author":
			r.Author = scalar(v)
		case "level":
			l, err := ParseLevel(scalar(v))
			if err != nil {
				r.errorf("level: %v", err)
			}
			r.Level, levelSet = l, true
		case "tags":
			r.Tags = scalars(v)
		case "references":
			r.References = scalars(v)
		case "falsepositives":
			r.FalsePositives = scalars(v)
		case "logsource":
			if v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					val := strings.ToLower(scalar(v.Content[j+1]))
					switch v.Content[j].Value {
					case "product":
						r.Logsource.Product = val
					case "service":
						r.Logsource.Service = val
					case "category":
						r.Logsource.Category = val
					case "definition":
						r.Logsource.Definition = scalar(v.Content[j+1])
					}
				}
			}
		case "detection":
			detNode = v
		case "correlation":
			corrNode = v
		case "generate":
			generate = scalar(v) == "true"
		case "tests":
			testsNode = v
		case "action":
			r.errorf("action: %q: Sigma 1 rule collections (action: global/reset/repeat) are not supported; write one rule per document", scalar(v))
		case "filter":
			r.errorf("Sigma filter documents are not supported; use suppressions in the alerts configuration")
		}
	}
	if r.Title == "" {
		r.errorf("the rule has no title")
	}
	if r.ID == "" && r.Name == "" {
		r.warnf("the rule has no id: correlations and alerts will refer to it by its title")
	}
	switch {
	case detNode != nil && corrNode != nil:
		r.errorf("a rule has either detection or correlation, not both")
	case corrNode != nil:
		r.Kind = KindCorrelation
		r.corr = parseCorrelation(r, corrNode, generate)
		if !levelSet {
			r.Level = LevelMedium
		}
	case detNode != nil:
		r.Kind = KindDetection
		r.resolveLogsource()
		r.det = compileDetection(r, detNode)
		if !levelSet {
			r.warnf("the rule has no level: medium is assumed")
		}
	default:
		r.errorf("the rule has neither detection nor correlation")
	}
	if testsNode != nil {
		r.Tests = parseTests(r, testsNode)
	}
	return r
}

// resolveLogsource maps the logsource to the records the rule reads.
func (r *Rule) resolveLogsource() {
	ls := r.Logsource
	switch {
	case ls.Product == "aws" && (ls.Service == "cloudtrail" || ls.Service == "" && ls.Category == ""):
		r.logs, r.logKnown = logCloudTrail, true
	case ls.Product == "aws" && (ls.Service == "cloudtrail_insights" || ls.Service == "cloudtrail_insight"):
		r.logs, r.logKnown = logInsight, true
	case ls.Product == "aws" && (ls.Service == "s3_server_access" || ls.Service == "s3_access" || ls.Category == "s3_server_access"):
		r.logs, r.logKnown = logAccess, true
	default:
		r.warnf("logsource %s is not collected by trailwatch (it reads product aws with service cloudtrail, cloudtrail_insights or s3_server_access): the rule never matches",
			describeLogsource(ls))
	}
}

func describeLogsource(ls Logsource) string {
	var parts []string
	if ls.Product != "" {
		parts = append(parts, "product "+ls.Product)
	}
	if ls.Service != "" {
		parts = append(parts, "service "+ls.Service)
	}
	if ls.Category != "" {
		parts = append(parts, "category "+ls.Category)
	}
	if len(parts) == 0 {
		return "(empty)"
	}
	return strings.Join(parts, ", ")
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	if n.Kind == yaml.AliasNode {
		return scalar(n.Alias)
	}
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

func scalars(n *yaml.Node) []string {
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, scalar(c))
		}
		return out
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	}
	return nil
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "an alias"
}

// SortRules orders rules by level (highest first), then title.
func SortRules(rules []*Rule) {
	slices.SortStableFunc(rules, func(a, b *Rule) int {
		if a.Level != b.Level {
			return int(b.Level) - int(a.Level)
		}
		return strings.Compare(a.Title, b.Title)
	})
}
