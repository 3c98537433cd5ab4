// Package setup generates the least-privilege documents that collecting
// CloudTrail logs needs — bucket, topic, queue and KMS key policies, S3
// event notifications, the collector role's trust and permission policies
// — filled in from a few parameters, plus the same as a CloudFormation
// template and as Terraform. Apply creates the collector's queue and wires
// notifications and server access logging, idempotently, through a narrow
// API that internal/awsapi implements.
//
// Every document is built from Go structs and marshalled with sorted,
// stable output, so the same parameters always give the same bytes.
package setup

import (
	"bytes"
	"encoding/json"
	"slices"
)

// PolicyVersion is the IAM policy language version.
const PolicyVersion = "2012-10-17"

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement.
type Statement struct {
	Sid       string     `json:"Sid,omitempty"`
	Effect    string     `json:"Effect"`
	Principal *Principal `json:"Principal,omitempty"`
	Action    Values     `json:"Action"`
	Resource  Values     `json:"Resource,omitempty"` // none in trust policies
	Condition Conditions `json:"Condition,omitempty"`
}

// Principal is a statement's principal: everyone ("*") or named AWS
// principals and services.
type Principal struct {
	Any     bool
	AWS     Values
	Service Values
}

// MarshalJSON writes "*" or {"AWS": ..., "Service": ...}.
func (p *Principal) MarshalJSON() ([]byte, error) {
	if p.Any {
		return []byte(`"*"`), nil
	}
	m := map[string]Values{}
	if len(p.AWS) > 0 {
		m["AWS"] = p.AWS
	}
	if len(p.Service) > 0 {
		m["Service"] = p.Service
	}
	return marshal(m)
}

// Values is a list written as a string when it has one element, as IAM
// documents usually do.
type Values []string

// MarshalJSON writes one value as a string, more as an array.
func (v Values) MarshalJSON() ([]byte, error) {
	if len(v) == 1 {
		return marshal(v[0])
	}
	return marshal([]string(v))
}

// Conditions maps operator → key → values.
type Conditions map[string]map[string]Values

// add sets a condition.
func (c Conditions) add(op, key string, vals ...string) Conditions {
	if c[op] == nil {
		c[op] = map[string]Values{}
	}
	c[op][key] = append(c[op][key], vals...)
	return c
}

// JSON returns the document indented with two spaces and a final newline.
func (p *Policy) JSON() string { return string(Indent(p)) }

// Compact returns the document on one line (for command arguments).
func (p *Policy) Compact() string {
	b, _ := marshal(p)
	return string(b)
}

// Indent marshals v with sorted map keys, two-space indentation, no HTML
// escaping and a final newline.
func Indent(v any) []byte {
	b, err := marshal(v)
	if err != nil {
		panic(err) // only plain data is marshalled here
	}
	var out bytes.Buffer
	_ = json.Indent(&out, b, "", "  ")
	out.WriteByte('\n')
	return out.Bytes()
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func sortedUnique(v []string) Values {
	out := slices.Clone(v)
	slices.Sort(out)
	return slices.Compact(out)
}
