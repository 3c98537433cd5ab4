package detect

import (
	"testing"
)

// correlationRules are the rules of TestCorrelationConformance: base
// detections and one correlation per type and condition form of the Sigma
// correlation specification (sigma-correlation-rules-specification.md),
// each with events that must fire and events that must not.
const correlationRules = `
title: Denied
name: c_denied
id: 11111111-0000-4000-8000-000000000001
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {errorCode: AccessDenied}
  condition: sel
level: informational
---
title: Any call
name: c_call
id: 11111111-0000-4000-8000-000000000002
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventSource|endswith: .amazonaws.com}
  condition: sel
level: informational
---
title: Failure
name: c_fail
id: 11111111-0000-4000-8000-000000000003
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventName: ConsoleLogin, responseElements.ConsoleLogin: Failure}
  condition: sel
level: informational
---
title: Success
name: c_success
id: 11111111-0000-4000-8000-000000000004
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventName: ConsoleLogin, responseElements.ConsoleLogin: Success}
  condition: sel
level: informational
---
title: event_count gte 3 in 5m by principal
name: c_event_count
id: 11111111-0000-4000-8000-000000000010
correlation:
  type: event_count
  rules: [c_denied]
  group-by: [userIdentity.arn]
  timespan: 5m
  condition: {gte: 3}
level: medium
tests:
  - name: three within two minutes
    match: true
    events:
      - {repeat: 3, every: 60s, event: {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}}
  - name: three spread over ten minutes
    match: false
    events:
      - {repeat: 3, every: 4m, event: {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}}
  - name: three split over two principals
    match: false
    events:
      - {repeat: 2, event: {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}}
      - {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/b'}}
  - name: three calls that succeeded
    match: false
    events:
      - {repeat: 3, event: {eventSource: iam.amazonaws.com, eventName: ListUsers, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}}
---
title: event_count without group-by
name: c_event_count_global
id: 11111111-0000-4000-8000-000000000011
correlation:
  type: event_count
  rules: [c_denied]
  timespan: 5m
  condition: {gt: 2}
level: medium
tests:
  - name: three principals together
    match: true
    events:
      - {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/b'}}
      - {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/c'}}
  - name: two
    match: false
    events:
      - {repeat: 2, event: {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied}}
---
title: event_count lt 3 (decided when the window closes)
name: c_event_count_lt
id: 11111111-0000-4000-8000-000000000012
correlation:
  type: event_count
  rules: [c_denied]
  group-by: [userIdentity.arn]
  timespan: 5m
  condition: {lt: 3}
level: medium
tests:
  - name: one denial
    match: true
    events:
      - {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
  - name: three denials
    match: false
    events:
      - {repeat: 3, event: {eventSource: iam.amazonaws.com, eventName: ListUsers, errorCode: AccessDenied, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}}
---
title: value_count of eventName gte 3 in 10m by principal
name: c_value_count
id: 11111111-0000-4000-8000-000000000020
correlation:
  type: value_count
  rules: [c_call]
  group-by: [userIdentity.arn]
  timespan: 10m
  condition: {gte: 3, field: eventName}
level: medium
tests:
  - name: three different APIs
    match: true
    events:
      - {eventSource: iam.amazonaws.com, eventName: ListUsers, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventSource: iam.amazonaws.com, eventName: ListRoles, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventSource: s3.amazonaws.com, eventName: ListBuckets, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
  - name: one API five times
    match: false
    events:
      - {repeat: 5, event: {eventSource: iam.amazonaws.com, eventName: ListUsers, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}}
  - name: three APIs by three principals
    match: false
    events:
      - {eventSource: iam.amazonaws.com, eventName: ListUsers, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventSource: iam.amazonaws.com, eventName: ListRoles, userIdentity: {arn: 'arn:aws:iam::1:user/b'}}
      - {eventSource: s3.amazonaws.com, eventName: ListBuckets, userIdentity: {arn: 'arn:aws:iam::1:user/c'}}
  - name: three APIs over an hour
    match: false
    events:
      - {eventSource: iam.amazonaws.com, eventName: ListUsers, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventTime: '2026-01-01T12:30:00Z', eventSource: iam.amazonaws.com, eventName: ListRoles, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventTime: '2026-01-01T13:00:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
---
title: temporal (any order) within 5m by address
name: c_temporal
id: 11111111-0000-4000-8000-000000000030
correlation:
  type: temporal
  rules: [c_fail, c_success]
  group-by: [sourceIPAddress]
  timespan: 5m
level: medium
tests:
  - name: success then failure
    match: true
    events:
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Success}}
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Failure}}
  - name: only failures
    match: false
    events:
      - {repeat: 3, event: {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Failure}}}
  - name: from two addresses
    match: false
    events:
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Failure}}
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 198.51.100.9, responseElements: {ConsoleLogin: Success}}
  - name: ten minutes apart
    match: false
    events:
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Failure}}
      - {eventTime: '2026-01-01T12:10:00Z', eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Success}}
---
title: temporal_ordered within 5m by address
name: c_temporal_ordered
id: 11111111-0000-4000-8000-000000000031
correlation:
  type: temporal_ordered
  rules: [c_fail, c_success]
  group-by: [sourceIPAddress]
  timespan: 5m
level: medium
tests:
  - name: failure then success
    match: true
    events:
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Failure}}
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Success}}
  - name: success then failure
    match: false
    events:
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Success}}
      - {eventSource: signin.amazonaws.com, eventName: ConsoleLogin, sourceIPAddress: 203.0.113.9, responseElements: {ConsoleLogin: Failure}}
---
title: first_seen user agent per principal after 1h of learning
name: c_first_seen
id: 11111111-0000-4000-8000-000000000040
correlation:
  type: first_seen
  rules: [c_call]
  group-by: [userIdentity.arn]
  condition: {field: userAgent}
  learning-period: 1h
level: medium
tests:
  - name: a new agent after learning
    match: true
    events:
      - {eventTime: '2026-01-01T00:00:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userAgent: aws-cli/2, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventTime: '2026-01-01T02:00:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userAgent: python-requests/2, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
  - name: the known agent after learning
    match: false
    events:
      - {eventTime: '2026-01-01T00:00:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userAgent: aws-cli/2, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventTime: '2026-01-01T02:00:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userAgent: aws-cli/2, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
  - name: a new agent while learning
    match: false
    events:
      - {eventTime: '2026-01-01T00:00:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userAgent: aws-cli/2, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventTime: '2026-01-01T00:30:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userAgent: python-requests/2, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
  - name: a new principal is learned first
    match: false
    events:
      - {eventTime: '2026-01-01T00:00:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userAgent: aws-cli/2, userIdentity: {arn: 'arn:aws:iam::1:user/a'}}
      - {eventTime: '2026-01-01T02:00:00Z', eventSource: s3.amazonaws.com, eventName: ListBuckets, userAgent: python-requests/2, userIdentity: {arn: 'arn:aws:iam::1:user/b'}}
`

// TestCorrelationConformance runs each correlation type (event_count,
// value_count, temporal, temporal_ordered and trailwatch's first_seen)
// on events that must fire and events that must not: windows, group-by,
// thresholds and order.
func TestCorrelationConformance(t *testing.T) {
	rules, err := ParseRules([]byte(correlationRules), "correlations.yml")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, r := range rules {
		for _, p := range r.Problems {
			if p.Severity == SevError {
				t.Fatalf("%s: %s", r.Name, p)
			}
		}
		if len(r.Tests) == 0 {
			continue
		}
		for _, res := range RunTests(r, rules) {
			ran++
			t.Run(r.Name+"/"+res.Test.Name, func(t *testing.T) {
				if !res.Pass {
					t.Errorf("fired %d times, want match=%v (err %v)", res.Fired, res.Test.Match, res.Err)
				}
			})
		}
	}
	if ran < 20 {
		t.Errorf("only %d correlation tests ran", ran)
	}
}

// TestExpire checks what a long-running process relies on: Expire forgets
// groups whose windows closed (by event time) and decides their bounded
// conditions, and leaves open windows alone.
func TestExpire(t *testing.T) {
	all, err := ParseRules([]byte(correlationRules), "correlations.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules []*Rule
	for _, r := range all {
		if r.Name == "c_denied" || r.Name == "c_event_count_lt" {
			rules = append(rules, r)
		}
	}
	var fired []Finding
	eng, err := NewEngine(rules, Options{MinLevel: LevelLow, OnFinding: func(f Finding) { fired = append(fired, f) }})
	if err != nil {
		t.Fatal(err)
	}
	denied := func(at, user string) string {
		return `{"eventTime":"` + at + `","eventSource":"iam.amazonaws.com","eventName":"ListUsers","errorCode":"AccessDenied","userIdentity":{"arn":"arn:aws:iam::1:user/` + user + `"}}`
	}
	if err := feed(eng, Test{Events: []string{denied("2026-01-01T10:00:00Z", "a"), denied("2026-01-01T10:01:00Z", "b")}}); err != nil {
		t.Fatal(err)
	}
	eng.Expire() // both windows are open: nothing is decided
	if len(fired) != 0 || eng.Stats().Groups != 2 {
		t.Fatalf("open windows decided: %d findings, %d groups", len(fired), eng.Stats().Groups)
	}
	// Three hours later (past the 5m window and the hour of lateness), user
	// c is denied: a's and b's windows have closed.
	if err := feed(eng, Test{Events: []string{denied("2026-01-01T13:00:00Z", "c")}}); err != nil {
		t.Fatal(err)
	}
	eng.Expire()
	if len(fired) != 2 || eng.Stats().Groups != 1 {
		t.Fatalf("after Expire: %d findings (want 2: a and b had fewer than 3), %d groups (want 1: c)", len(fired), eng.Stats().Groups)
	}
	for _, f := range fired {
		if f.Count != 1 || f.Kind != "correlation" {
			t.Errorf("finding %+v", f)
		}
	}
	eng.Flush() // end of input decides c's window
	if len(fired) != 3 {
		t.Errorf("after Flush: %d findings, want 3", len(fired))
	}
}
