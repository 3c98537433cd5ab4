package detect

import (
	"strings"
	"testing"
)

// ruleWith wraps a detection section (YAML, indented by 2) in a rule.
func ruleWith(detection string) string {
	return "title: t\nid: 11111111-2222-4333-8444-555555555555\nlevel: high\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n" + detection
}

// fires reports whether the rule fires on the events (JSON, one per line).
func fires(t *testing.T, ruleYAML string, events ...string) bool {
	t.Helper()
	rules, err := ParseRules([]byte(ruleYAML), "test.yml")
	if err != nil || len(rules) != 1 {
		t.Fatalf("parse: %v (%d rules)", err, len(rules))
	}
	r := rules[0]
	if !r.OK() {
		t.Fatalf("rule has errors: %v", r.Problems)
	}
	n := 0
	eng, err := NewEngine(rules, Options{OnFinding: func(Finding) { n++ }})
	if err != nil {
		t.Fatal(err)
	}
	if err := feed(eng, Test{Events: events}); err != nil {
		t.Fatal(err)
	}
	eng.Flush()
	return n > 0
}

// TestConformance checks each Sigma modifier and value form against the
// Sigma specification (sigma-rules-specification.md and
// sigma-appendix-modifiers.md), including the cases sigma-go v0.6.6 gets
// wrong: null values, |fieldref, and wildcards inside contains/startswith/
// endswith values.
func TestConformance(t *testing.T) {
	const (
		denied   = `{"eventName":"DeleteBucket","eventSource":"s3.amazonaws.com","errorCode":"AccessDenied","errorMessage":"Access Denied","userAgent":"aws-cli/2.15.0 Python/3.11","sourceIPAddress":"203.0.113.7"}`
		ok       = `{"eventName":"DeleteBucket","eventSource":"s3.amazonaws.com","userAgent":"Boto3/1.34.0","sourceIPAddress":"10.1.2.3"}`
		empty    = `{"eventName":"DeleteBucket","errorCode":""}`
		user     = `{"eventName":"UpdateLoginProfile","userIdentity":{"type":"IAMUser","userName":"alice","arn":"arn:aws:iam::111122223333:user/alice"},"requestParameters":{"userName":"alice"}}`
		other    = `{"eventName":"UpdateLoginProfile","userIdentity":{"type":"IAMUser","userName":"mallory","arn":"arn:aws:iam::111122223333:user/mallory"},"requestParameters":{"userName":"alice"}}`
		policy   = `{"eventName":"PutUserPolicy","requestParameters":{"userName":"x","policyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::<YOUR-BUCKET-NAME>/*\"}]}"}}`
		sg       = `{"eventName":"AuthorizeSecurityGroupIngress","requestParameters":{"ipPermissions":{"items":[{"fromPort":443,"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"}]}},{"fromPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}}}`
		v6       = `{"eventName":"X","sourceIPAddress":"2001:db8::1"}`
		service  = `{"eventName":"X","sourceIPAddress":"s3.amazonaws.com"}`
		nums     = `{"eventName":"PutBucketLifecycle","requestParameters":{"LifecycleConfiguration":{"Rule":[{"Expiration":{"Days":365}},{"Expiration":{"Days":1}}]}}}`
		bools    = `{"eventName":"X","readOnly":false,"managementEvent":true}`
		b64      = `{"eventName":"RunInstances","requestParameters":{"userData":"IyEvYmluL2Jhc2gKY3VybCBodHRwOi8vMTY5LjI1NC4xNjkuMjU0L2xhdGVzdC9tZXRhLWRhdGE="}}`
		upper    = `{"eventName":"DELETEBUCKET","userAgent":"AWS-CLI/2"}`
		nullJSON = `{"eventName":"X","responseElements":{"a":null}}`
	)
	cases := []struct {
		name, detection string
		event           string
		want            bool
	}{
		// Values and case.
		{"plain value", "  sel: {eventName: DeleteBucket}\n  condition: sel", ok, true},
		{"values are case-insensitive", "  sel: {eventName: deletebucket}\n  condition: sel", upper, true},
		{"cased is case-sensitive", "  sel: {eventName|cased: deletebucket}\n  condition: sel", upper, false},
		{"cased matches exact case", "  sel: {eventName|cased: DELETEBUCKET}\n  condition: sel", upper, true},
		{"list of values is OR", "  sel: {eventName: [CreateBucket, DeleteBucket]}\n  condition: sel", ok, true},
		{"map is AND", "  sel: {eventName: DeleteBucket, errorCode: AccessDenied}\n  condition: sel", ok, false},
		{"list of maps is OR", "  sel: [{eventName: CreateBucket}, {errorCode: AccessDenied}]\n  condition: sel", denied, true},
		{"number value", "  sel: {requestParameters.LifecycleConfiguration.Rule.Expiration.Days: 1}\n  condition: sel", nums, true},
		{"boolean false", "  sel: {readOnly: false}\n  condition: sel", bools, true},
		{"boolean true", "  sel: {managementEvent: true, readOnly: true}\n  condition: sel", bools, false},

		// null and empty.
		{"null matches an absent field", "  sel: {errorCode: null}\n  condition: sel", ok, true},
		{"null does not match a value", "  sel: {errorCode: null}\n  condition: sel", denied, false},
		{"null does not match an empty string", "  sel: {errorCode: null}\n  condition: sel", empty, false},
		{"null matches JSON null", "  sel: {responseElements.a: null}\n  condition: sel", nullJSON, true},
		{"empty string matches an empty value", "  sel: {errorCode: ''}\n  condition: sel", empty, true},
		{"empty string does not match an absent field", "  sel: {errorCode: ''}\n  condition: sel", ok, false},
		{"null in a list", "  sel: {errorCode: [Success, null]}\n  condition: sel", ok, true},

		// Wildcards.
		{"star wildcard", "  sel: {eventName: 'Delete*'}\n  condition: sel", ok, true},
		{"question mark wildcard", "  sel: {eventName: '?eleteBucket'}\n  condition: sel", ok, true},
		{"question mark is one character", "  sel: {eventName: '?Bucket'}\n  condition: sel", ok, false},
		{"escaped star is literal", "  sel: {eventName: 'Delete\\*'}\n  condition: sel", ok, false},
		{"lone star does not match an absent field", "  sel: {errorCode: '*'}\n  condition: sel", ok, false},
		{"contains star matches any value", "  sel: {errorMessage|contains: '*'}\n  condition: sel", denied, true},
		{"contains star does not match an absent field", "  sel: {errorMessage|contains: '*'}\n  condition: sel", ok, false},
		{"contains with an inner wildcard", "  sel: {userAgent|contains: 'cli/*Python'}\n  condition: sel", denied, true},
		{"startswith with an inner wildcard", "  sel: {userAgent|startswith: 'aws-*/2.'}\n  condition: sel", denied, true},
		{"endswith with an inner wildcard", "  sel: {userAgent|endswith: 'Py*3.11'}\n  condition: sel", denied, true},
		{"endswith", "  sel: {userAgent|endswith: '3.11'}\n  condition: sel", denied, true},
		{"startswith is anchored", "  sel: {userAgent|startswith: 'cli'}\n  condition: sel", denied, false},

		// contains|all and document text.
		{"contains|all", "  sel:\n    requestParameters|contains|all: ['\"arn:aws:s3:::<YOUR-BUCKET-NAME>/*\"', '\"s3:GetObject\"', '\"Allow\"']\n  condition: sel", policy, true},
		{"contains|all needs every value", "  sel:\n    requestParameters|contains|all: ['\"s3:GetObject\"', '\"Deny\"']\n  condition: sel", policy, false},
		{"contains (any)", "  sel:\n    requestParameters|contains: ['\"Deny\"', '\"Allow\"']\n  condition: sel", policy, true},

		// Nested fields and arrays.
		{"path through arrays", "  sel: {requestParameters.ipPermissions.items.ipRanges.items.cidrIp: 0.0.0.0/0}\n  condition: sel", sg, true},
		{"numbers through arrays", "  sel: {requestParameters.LifecycleConfiguration.Rule.Expiration.Days|lte: 7}\n  condition: sel", nums, true},
		{"gt", "  sel: {requestParameters.LifecycleConfiguration.Rule.Expiration.Days|gt: 400}\n  condition: sel", nums, false},
		{"gte", "  sel: {requestParameters.LifecycleConfiguration.Rule.Expiration.Days|gte: 365}\n  condition: sel", nums, true},
		{"lt", "  sel: {requestParameters.LifecycleConfiguration.Rule.Expiration.Days|lt: 1}\n  condition: sel", nums, false},

		// re.
		{"re", "  sel: {userAgent|re: '^aws-cli/2\\.[0-9]+'}\n  condition: sel", denied, true},
		{"re is case-sensitive", "  sel: {userAgent|re: '^AWS-CLI'}\n  condition: sel", denied, false},
		{"re|i", "  sel: {userAgent|re|i: '^AWS-CLI'}\n  condition: sel", denied, true},
		{"re with a class", "  sel: {userIdentity.arn|re: '.+:user/[a-z]+$'}\n  condition: sel", user, true},

		// cidr.
		{"cidr v4", "  sel: {sourceIPAddress|cidr: 203.0.113.0/24}\n  condition: sel", denied, true},
		{"cidr v4 outside", "  sel: {sourceIPAddress|cidr: 10.0.0.0/8}\n  condition: sel", denied, false},
		{"cidr list", "  sel: {sourceIPAddress|cidr: [192.168.0.0/16, 10.0.0.0/8]}\n  condition: sel", ok, true},
		{"cidr v6", "  sel: {sourceIPAddress|cidr: '2001:db8::/32'}\n  condition: sel", v6, true},
		{"cidr on a service name", "  sel: {sourceIPAddress|cidr: 0.0.0.0/0}\n  condition: sel", service, false},

		// exists.
		{"exists true", "  sel: {errorCode|exists: true}\n  condition: sel", denied, true},
		{"exists true on empty", "  sel: {errorCode|exists: true}\n  condition: sel", empty, true},
		{"exists false", "  sel: {errorCode|exists: false}\n  condition: sel", ok, true},
		{"exists false on a value", "  sel: {errorCode|exists: false}\n  condition: sel", denied, false},

		// fieldref.
		{"fieldref equal", "  sel: {requestParameters.userName|fieldref: userIdentity.userName}\n  condition: sel", user, true},
		{"fieldref different", "  sel: {requestParameters.userName|fieldref: userIdentity.userName}\n  condition: sel", other, false},
		{"fieldref as a filter", "  sel: {eventName: UpdateLoginProfile}\n  filter: {requestParameters.userName|fieldref: userIdentity.userName}\n  condition: sel and not filter", other, true},
		{"fieldref|endswith", "  sel: {userIdentity.arn|endswith|fieldref: requestParameters.userName}\n  condition: sel", user, true},
		{"fieldref|contains", "  sel: {userIdentity.arn|contains|fieldref: requestParameters.userName}\n  condition: sel", other, false},
		{"neq with fieldref", "  sel: {requestParameters.userName|neq|fieldref: userIdentity.userName}\n  condition: sel", other, true},

		// neq.
		{"neq", "  sel: {eventName|neq: CreateBucket}\n  condition: sel", ok, true},
		{"neq same", "  sel: {eventName|neq: DeleteBucket}\n  condition: sel", ok, false},

		// Encodings.
		{"base64offset|contains", "  sel: {requestParameters.userData|base64offset|contains: '169.254.169.254'}\n  condition: sel", b64, true},
		{"base64offset|contains other", "  sel: {requestParameters.userData|base64offset|contains: '10.0.0.1'}\n  condition: sel", b64, false},
		{"base64", "  sel: {requestParameters.userData|base64|startswith: \"#!/bin/bash\\n\"}\n  condition: sel", b64, true},

		// Keywords.
		{"keywords", "  keywords: [nothing-here, 'aws-cli/2']\n  condition: keywords", denied, true},
		{"keywords miss", "  keywords: [nothing-here]\n  condition: keywords", denied, false},
		{"keywords are case-insensitive", "  keywords: ['ACCESSDENIED']\n  condition: keywords", denied, true},
		{"keywords |all", "  keywords:\n    '|all': [AccessDenied, 'aws-cli']\n  condition: keywords", denied, true},
		{"keywords |all miss", "  keywords:\n    '|all': [AccessDenied, Boto3]\n  condition: keywords", denied, false},
		{"keywords with a wildcard", "  keywords: ['aws-*Python']\n  condition: keywords", denied, true},

		// Conditions.
		{"1 of pattern", "  sel_a: {eventName: X}\n  sel_b: {eventName: DeleteBucket}\n  condition: 1 of sel_*", ok, true},
		{"all of pattern", "  sel_a: {eventName: DeleteBucket}\n  sel_b: {errorCode: AccessDenied}\n  condition: all of sel_*", ok, false},
		{"all of pattern true", "  sel_a: {eventName: DeleteBucket}\n  sel_b: {errorCode: AccessDenied}\n  condition: all of sel_*", denied, true},
		{"1 of them", "  a: {eventName: X}\n  b: {eventName: DeleteBucket}\n  condition: 1 of them", ok, true},
		{"all of them", "  a: {eventName: DeleteBucket}\n  b: {eventSource: s3.amazonaws.com}\n  condition: all of them", ok, true},
		{"them ignores underscore identifiers", "  a: {eventName: DeleteBucket}\n  _b: {eventName: X}\n  condition: all of them", ok, true},
		{"not", "  a: {eventName: DeleteBucket}\n  f: {errorCode|exists: true}\n  condition: a and not f", ok, true},
		{"not 1 of", "  a: {eventName: DeleteBucket}\n  f_1: {errorCode: X}\n  f_2: {userAgent|startswith: Boto3}\n  condition: a and not 1 of f_*", ok, false},
		{"and binds tighter than or", "  a: {eventName: X}\n  b: {eventName: DeleteBucket}\n  c: {errorCode: AccessDenied}\n  condition: a and b or c", denied, true},
		{"parentheses", "  a: {eventName: X}\n  b: {eventName: DeleteBucket}\n  c: {errorCode: AccessDenied}\n  condition: a and (b or c)", denied, false},
		{"condition list is OR", "  a: {eventName: X}\n  b: {eventName: DeleteBucket}\n  condition: [a, b]", ok, true},
		{"operators are case-insensitive", "  a: {eventName: DeleteBucket}\n  b: {eventName: X}\n  condition: a AND NOT b", ok, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := ruleWith(c.detection)
			if got := fires(t, y, c.event); got != c.want {
				t.Errorf("fired %v, want %v\n%s", got, c.want, y)
			}
		})
	}
}

// TestUnsupportedReported checks that constructs trailwatch cannot
// evaluate are reported per rule as errors, not ignored.
func TestUnsupportedReported(t *testing.T) {
	cases := []struct{ name, detection, want string }{
		{"windash", "  sel: {userAgent|windash|contains: ' -enc '}\n  condition: sel", `modifier "windash" is not supported`},
		{"expand", "  sel: {userIdentity.arn|expand: '%Admins%'}\n  condition: sel", `modifier "expand" is not supported`},
		{"unknown modifier", "  sel: {eventName|sounds_like: x}\n  condition: sel", `unknown modifier "sounds_like"`},
		{"lookahead", "  sel: {userAgent|re: '^(?!aws)'}\n  condition: sel", "not a regular expression trailwatch can evaluate"},
		{"bad cidr", "  sel: {sourceIPAddress|cidr: 300.1.1.1/8}\n  condition: sel", "is not a CIDR prefix"},
		{"unknown identifier", "  sel: {eventName: x}\n  condition: sel and nope", `unknown search identifier "nope"`},
		{"near", "  sel: {eventName: x}\n  condition: sel | near other", "near aggregation is not supported"},
		{"max aggregation", "  sel: {eventName: x}\n  timeframe: 5m\n  condition: sel | max(bytes) > 5", "only count() aggregations"},
		{"aggregation without timeframe", "  sel: {eventName: x}\n  condition: sel | count() > 5", "needs detection.timeframe"},
		{"exists with a string", "  sel: {eventName|exists: yes please}\n  condition: sel", "|exists takes true or false"},
		{"null with a modifier", "  sel: {eventName|contains: null}\n  condition: sel", "null cannot be used with modifiers"},
		{"empty condition", "  sel: {eventName: x}\n  condition: ''", "the condition is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules, err := ParseRules([]byte(ruleWith(c.detection)), "x.yml")
			if err != nil {
				t.Fatal(err)
			}
			r := rules[0]
			if r.OK() {
				t.Fatalf("rule compiled without errors: %v", r.Problems)
			}
			var msgs []string
			for _, p := range r.Problems {
				msgs = append(msgs, p.String())
			}
			if !strings.Contains(strings.Join(msgs, "\n"), c.want) {
				t.Errorf("problems %q do not mention %q", msgs, c.want)
			}
			eng, _ := NewEngine(rules, Options{})
			if len(eng.Skipped()) != 1 {
				t.Errorf("the engine did not leave the rule out")
			}
		})
	}
}

// TestLegacyAggregation checks that a Sigma 1 count() aggregation is
// evaluated as the equivalent correlation.
func TestLegacyAggregation(t *testing.T) {
	y := ruleWith("  sel: {errorCode: AccessDenied}\n  timeframe: 5m\n  condition: sel | count() by userIdentity.arn >= 3")
	ev := `{"eventName":"ListUsers","errorCode":"AccessDenied","userIdentity":{"arn":"arn:aws:iam::1:user/a"},"eventTime":"2026-01-01T00:00:0%dZ"}`
	var three, two []string
	for i := range 3 {
		three = append(three, strings.Replace(ev, "%d", string(rune('0'+i)), 1))
	}
	two = three[:2]
	if !fires(t, y, three...) {
		t.Error("three denials did not fire")
	}
	if fires(t, y, two...) {
		t.Error("two denials fired")
	}
	y2 := ruleWith("  sel: {errorCode: AccessDenied}\n  timeframe: 5m\n  condition: sel | count(eventName) by userIdentity.arn > 1")
	if fires(t, y2, three...) {
		t.Error("value count of one event name fired")
	}
}
