package posture

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Policy is a parsed IAM policy document (bucket, key, queue, topic or
// identity policy).
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one policy statement, normalised: lists are lists whatever
// the document used, condition keys are lower case.
type Statement struct {
	Sid          string
	Effect       string // Allow or Deny
	Principal    *Principal
	NotPrincipal *Principal
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Conditions   []Condition
}

// Principal is a statement's Principal or NotPrincipal.
type Principal struct {
	// Any is Principal "*" or {"AWS": "*"}: everyone, authenticated or not.
	Any           bool
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Condition is one key of one condition operator.
type Condition struct {
	Operator string // as written, e.g. StringEquals, ForAnyValue:StringLike, ArnLikeIfExists
	Key      string // lower case, e.g. aws:sourcearn
	Values   []string
}

// ParsePolicy parses a policy document. It accepts what AWS accepts:
// Statement as an object or an array, Action/Resource/Principal values as
// a string or a list, condition values as strings, numbers or booleans.
// URL-encoded documents (as some APIs return them) are decoded first.
func ParsePolicy(doc string) (*Policy, error) {
	doc = strings.TrimSpace(doc)
	if doc == "" {
		return &Policy{}, nil
	}
	if strings.HasPrefix(doc, "%7B") || strings.HasPrefix(doc, "%7b") {
		if d, err := url.QueryUnescape(doc); err == nil {
			doc = d
		}
	}
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("parse policy: %w", err)
	}
	p := &Policy{Version: raw.Version, ID: raw.ID}
	var stmts []json.RawMessage
	switch {
	case len(raw.Statement) == 0 || string(raw.Statement) == "null":
	case raw.Statement[0] == '[':
		if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
			return nil, fmt.Errorf("parse policy statements: %w", err)
		}
	default:
		stmts = []json.RawMessage{raw.Statement}
	}
	for i, r := range stmts {
		s, err := parseStatement(r)
		if err != nil {
			return nil, fmt.Errorf("parse policy statement %d: %w", i+1, err)
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

type rawStatement struct {
	Sid          string                                `json:"Sid"`
	Effect       string                                `json:"Effect"`
	Principal    json.RawMessage                       `json:"Principal"`
	NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
	Action       stringOrList                          `json:"Action"`
	NotAction    stringOrList                          `json:"NotAction"`
	Resource     stringOrList                          `json:"Resource"`
	NotResource  stringOrList                          `json:"NotResource"`
	Condition    map[string]map[string]json.RawMessage `json:"Condition"`
}

func parseStatement(r json.RawMessage) (Statement, error) {
	var rs rawStatement
	if err := json.Unmarshal(r, &rs); err != nil {
		return Statement{}, err
	}
	s := Statement{Sid: rs.Sid, Effect: rs.Effect, Action: rs.Action, NotAction: rs.NotAction, Resource: rs.Resource, NotResource: rs.NotResource}
	var err error
	if s.Principal, err = parsePrincipal(rs.Principal); err != nil {
		return s, err
	}
	if s.NotPrincipal, err = parsePrincipal(rs.NotPrincipal); err != nil {
		return s, err
	}
	ops := make([]string, 0, len(rs.Condition))
	for op := range rs.Condition {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		keys := make([]string, 0, len(rs.Condition[op]))
		for k := range rs.Condition[op] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			vals, err := conditionValues(rs.Condition[op][k])
			if err != nil {
				return s, fmt.Errorf("condition %s %s: %w", op, k, err)
			}
			s.Conditions = append(s.Conditions, Condition{Operator: op, Key: strings.ToLower(k), Values: vals})
		}
	}
	return s, nil
}

func parsePrincipal(r json.RawMessage) (*Principal, error) {
	if len(r) == 0 || string(r) == "null" {
		return nil, nil
	}
	var star string
	if json.Unmarshal(r, &star) == nil {
		if star == "*" {
			return &Principal{Any: true}, nil
		}
		return nil, fmt.Errorf("principal %q: want \"*\" or an object", star)
	}
	var m map[string]stringOrList
	if err := json.Unmarshal(r, &m); err != nil {
		return nil, fmt.Errorf("principal: %w", err)
	}
	p := &Principal{}
	for k, v := range m {
		switch strings.ToLower(k) {
		case "aws":
			p.AWS = append(p.AWS, v...)
			if slices.Contains(v, "*") {
				p.Any = true
			}
		case "service":
			p.Service = append(p.Service, v...)
		case "federated":
			p.Federated = append(p.Federated, v...)
		case "canonicaluser":
			p.CanonicalUser = append(p.CanonicalUser, v...)
			if slices.Contains(v, "*") {
				p.Any = true
			}
		}
	}
	return p, nil
}

// stringOrList unmarshals "x" or ["x","y"].
type stringOrList []string

// UnmarshalJSON reads a string or a list of strings.
func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func conditionValues(r json.RawMessage) ([]string, error) {
	var list []any
	if err := json.Unmarshal(r, &list); err != nil {
		var one any
		if err := json.Unmarshal(r, &one); err != nil {
			return nil, err
		}
		list = []any{one}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case bool:
			out = append(out, strconv.FormatBool(v))
		case float64:
			out = append(out, strconv.FormatFloat(v, 'f', -1, 64))
		case nil:
			out = append(out, "")
		default:
			return nil, fmt.Errorf("unexpected value %v", v)
		}
	}
	return out, nil
}

// Allow reports whether the statement allows.
func (s *Statement) Allow() bool { return strings.EqualFold(s.Effect, "Allow") }

// Deny reports whether the statement denies.
func (s *Statement) Deny() bool { return strings.EqualFold(s.Effect, "Deny") }

// Values returns the values every condition on key (case-insensitive)
// compares with, and whether there is such a condition.
func (s *Statement) Values(key string) ([]string, bool) {
	key = strings.ToLower(key)
	var out []string
	found := false
	for _, c := range s.Conditions {
		if c.Key == key {
			found = true
			out = append(out, c.Values...)
		}
	}
	return out, found
}

// ConditionOn returns the first condition on key with a positive
// (non-negated) operator, or nil.
func (s *Statement) ConditionOn(key string) *Condition {
	key = strings.ToLower(key)
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if c.Key == key && !negatedOperator(c.Operator) {
			return c
		}
	}
	return nil
}

func negatedOperator(op string) bool {
	op = strings.ToLower(op)
	return strings.Contains(op, "not") || strings.HasPrefix(op, "null")
}

// HasPrincipalService reports whether the statement names the service
// principal (e.g. cloudtrail.amazonaws.com).
func (s *Statement) HasPrincipalService(service string) bool {
	return s.Principal != nil && slices.ContainsFunc(s.Principal.Service, func(v string) bool { return strings.EqualFold(v, service) })
}

// Public reports whether an Allow statement applies to anyone: Principal
// "*" (or NotPrincipal) without a condition that pins the caller to known
// accounts, organizations, networks or source resources. It follows the
// rules AWS uses for "public" in S3 policy status and IAM Access Analyzer.
func (s *Statement) Public() bool {
	if !s.Allow() {
		return false
	}
	if s.NotPrincipal == nil && (s.Principal == nil || !s.Principal.Any) {
		return false
	}
	return !s.restrictedByCondition()
}

// restrictingKeys are the condition keys that, with fixed values, limit a
// "*" principal to known callers.
var restrictingKeys = map[string]bool{
	"aws:sourcearn": true, "aws:sourceaccount": true, "aws:sourceowner": true, "aws:sourceorgid": true, "aws:sourceorgpaths": true,
	"aws:sourcevpc": true, "aws:sourcevpce": true, "aws:sourceip": true,
	"aws:principalaccount": true, "aws:principalarn": true, "aws:principalorgid": true, "aws:principalorgpaths": true,
	"aws:userid": true, "aws:username": true, "aws:principalservicename": true,
	"kms:calleraccount": true, "s3:dataaccesspointaccount": true, "s3:dataaccesspointarn": true,
	"lambda:eventsourcetoken": true,
}

func (s *Statement) restrictedByCondition() bool {
	for _, c := range s.Conditions {
		if !restrictingKeys[c.Key] || negatedOperator(c.Operator) {
			continue
		}
		if len(c.Values) == 0 {
			continue
		}
		open := false
		for _, v := range c.Values {
			if broadValue(c.Key, v) {
				open = true
			}
		}
		if !open {
			return true
		}
	}
	return false
}

// broadValue reports whether a condition value matches (nearly) anything.
func broadValue(key, v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || strings.Trim(v, "*?") == "" {
		return true
	}
	switch key {
	case "aws:sourceip":
		return v == "0.0.0.0/0" || v == "::/0" || strings.HasSuffix(v, "/0") || strings.HasSuffix(v, "/1") && !strings.Contains(v, ":")
	case "aws:sourcearn", "aws:principalarn":
		if arnField(v, 2) == "s3" && arnField(v, 4) == "" { // bucket ARNs have no account
			return strings.Trim(arnField(v, 5), "*?/") == ""
		}
		acct := arnField(v, 4)
		return acct == "" || strings.ContainsAny(acct, "*?")
	case "aws:sourceaccount", "aws:principalaccount", "kms:calleraccount", "aws:sourceowner":
		return strings.ContainsAny(v, "*?")
	}
	return false
}

// Allows reports whether the statement's actions cover action (e.g.
// "s3:PutObject"), with IAM's case-insensitive wildcards.
func (s *Statement) Allows(action string) bool {
	if len(s.NotAction) > 0 {
		return !matchAny(s.NotAction, action)
	}
	return matchAny(s.Action, action)
}

// AllowsAny reports whether the statement covers any of the actions.
func (s *Statement) AllowsAny(actions ...string) bool {
	return slices.ContainsFunc(actions, s.Allows)
}

func matchAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if wildMatch(p, action) {
			return true
		}
	}
	return false
}

// wildMatch matches IAM wildcards (* and ?) case-insensitively.
func wildMatch(pattern, s string) bool {
	ok, err := path.Match(strings.ToLower(strings.ReplaceAll(pattern, "/", "\x00")), strings.ToLower(strings.ReplaceAll(s, "/", "\x00")))
	return err == nil && ok
}

// WildMatch is the exported form of IAM wildcard matching, for ARNs and
// actions.
func WildMatch(pattern, s string) bool { return wildMatch(pattern, s) }

// ActionWildcards lists the actions of an Allow statement that use a
// wildcard, and NotAction when present.
func (s *Statement) ActionWildcards() []string {
	var out []string
	for _, a := range s.Action {
		if strings.ContainsAny(a, "*?") {
			out = append(out, a)
		}
	}
	if len(s.NotAction) > 0 {
		out = append(out, "NotAction")
	}
	return out
}

// PrincipalString describes the principal for evidence.
func (s *Statement) PrincipalString() string {
	p := s.Principal
	prefix := ""
	if p == nil && s.NotPrincipal != nil {
		p, prefix = s.NotPrincipal, "NotPrincipal "
	}
	if p == nil {
		return "(none)"
	}
	if p.Any {
		return prefix + `"*"`
	}
	var parts []string
	for _, g := range []struct {
		k string
		v []string
	}{{"AWS", p.AWS}, {"Service", p.Service}, {"Federated", p.Federated}, {"CanonicalUser", p.CanonicalUser}} {
		for _, v := range g.v {
			parts = append(parts, g.k+":"+v)
		}
	}
	return prefix + strings.Join(parts, ", ")
}

// Label names the statement for evidence: its Sid or its position.
func (s *Statement) label(i int) string {
	if s.Sid != "" {
		return fmt.Sprintf("statement %q", s.Sid)
	}
	return fmt.Sprintf("statement #%d", i+1)
}
