package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestExampleConfigIsValid(t *testing.T) {
	c, err := Load("../../docs/trailwatch.example.yaml", env(map[string]string{"TRAILWATCH_EXTERNAL_ID": "ext-123"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example config does not validate:\n%v", err)
	}
	if len(c.Sources) != 3 {
		t.Fatalf("sources = %d", len(c.Sources))
	}
	s := c.Sources[0]
	if s.ExternalID != "ext-123" || s.Visibility != Duration(5*time.Minute) || s.Type != TypeSQS {
		t.Errorf("source 0 = %+v", s)
	}
	cred := s.Credentials(c.AWS)
	if cred.Region != "us-east-1" || cred.SessionName != "trailwatch" || cred.RoleARN == "" {
		t.Errorf("merged credentials = %+v", cred)
	}
	p := c.Sources[2]
	if !p.Since.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || p.Interval != Duration(15*time.Minute) || len(p.Regions) != 2 {
		t.Errorf("source 2 = %+v", p)
	}
	if c.Store.Retention != Duration(400*24*time.Hour) {
		t.Errorf("retention = %v", c.Store.Retention)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string // from Parse
		check   func(t *testing.T, c *Config)
	}{
		{
			name: "defaults",
			yaml: "sources: [{type: dir, paths: [x]}]",
			check: func(t *testing.T, c *Config) {
				if c.Store.Path != "trailwatch.duckdb" || c.HTTP.Listen != DefaultListen || c.Sources[0].Name != "dir-1" || c.Log.Level != "info" {
					t.Errorf("defaults not applied: %+v", c)
				}
			},
		},
		{
			name: "env overrides the file",
			yaml: "store: {path: a.duckdb}\nworkers: 3\nsources: [{type: dir, paths: [x]}]",
			env:  map[string]string{"TRAILWATCH_DB": "b.duckdb", "TRAILWATCH_WORKERS": "7", "TRAILWATCH_AWS_REGION": "eu-west-1"},
			check: func(t *testing.T, c *Config) {
				if c.Store.Path != "b.duckdb" || c.Workers != 7 || c.AWS.Region != "eu-west-1" {
					t.Errorf("env not applied: %+v", c)
				}
			},
		},
		{name: "bad env number", yaml: "{}", env: map[string]string{"TRAILWATCH_WORKERS": "many"}, wantErr: "TRAILWATCH_WORKERS: not a number"},
		{
			name: "variables expanded, with defaults",
			yaml: "sources: [{type: sqs, queue_url: '${Q}', role_arn: 'arn:aws:iam::1:role/r', external_id: '${X:-fallback}'}]",
			env:  map[string]string{"Q": "https://sqs.us-east-1.amazonaws.com/1/q"},
			check: func(t *testing.T, c *Config) {
				if c.Sources[0].QueueURL != "https://sqs.us-east-1.amazonaws.com/1/q" || c.Sources[0].ExternalID != "fallback" {
					t.Errorf("not expanded: %+v", c.Sources[0])
				}
			},
		},
		{name: "unset variable", yaml: "sources: [{type: sqs, queue_url: '${NOPE}'}]", wantErr: "NOPE referenced but not set"},
		{name: "unknown key", yaml: "sources: [{type: sqs, queue: x}]", wantErr: "field queue not found"},
		{name: "bad duration", yaml: "sources: [{type: sqs, visibility: soon}]", wantErr: `invalid duration "soon"`},
		{name: "bad date", yaml: "sources: [{type: s3, since: yesterday}]", wantErr: `invalid date "yesterday"`},
		{name: "empty file", yaml: "", check: func(t *testing.T, c *Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.yaml), env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	y := `
workers: -1
http: {listen: nowhere}
log: {level: loud}
aws: {endpoint_url: "not a url"}
sources:
  - {name: a, type: sqs}
  - {name: a, type: sqs, queue_url: "ftp://x", visibility: 1s, bucket: b}
  - {type: s3, bucket: "b/c", prefix: logs, accounts: ["12"], since: 2026-02-01, until: 2026-01-01}
  - {type: dir}
  - {type: kafka}
  - {type: dir, paths: [x], kinds: [cloudtrail, vpcflow]}
  - {type: sqs, queue_url: "https://sqs.us-east-1.amazonaws.com/1/q", external_id: lonely}
  - {type: s3, bucket: b, role_arn: "role/x", session_duration: 1m, interval: 1s}
`
	c, err := Parse(strings.NewReader(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"workers: must not be negative",
		`http.listen: "nowhere"`,
		`log.level: "loud"`,
		`aws: endpoint_url "not a url"`,
		"sources[0] (a): queue_url is required",
		"sources[1] (a): name is also used by sources[0]",
		`sources[1] (a): queue_url "ftp://x" is not a queue URL`,
		"sources[1] (a): visibility below 10s",
		"sources[1] (a): bucket applies only to type s3",
		`sources[2] (s3-3): bucket "b/c" must be a bucket name`,
		`prefix "logs" must end with /`,
		`accounts: "12" is not a 12-digit account ID`,
		"until (2026-01-01) is before since (2026-02-01)",
		"sources[3] (dir-4): paths is required",
		`sources[4] (kafka-5): type "kafka" is not sqs, s3 or dir`,
		`kinds: "vpcflow" is not`,
		"sources[6] (sqs-7): external_id is set but no role_arn",
		`role_arn "role/x" is not an IAM role ARN`,
		"session_duration must be between 15m and 12h",
		"interval below 10s",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n < 20 {
		t.Errorf("only %d problems listed", n)
	}
}

func TestNoSources(t *testing.T) {
	if err := Default().Validate(); err == nil || !strings.Contains(err.Error(), "at least one source") {
		t.Fatalf("err = %v", err)
	}
}

func TestExternalIDFromTopLevelRole(t *testing.T) {
	c, err := Parse(strings.NewReader("aws: {role_arn: 'arn:aws:iam::1:role/r', external_id: e}\nsources: [{type: dir, paths: [x]}]"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// A source's own role does not inherit the top-level external ID.
	s := Source{AWS: AWS{RoleARN: "arn:aws:iam::2:role/other"}}
	if got := s.Credentials(c.AWS); got.ExternalID != "" || got.RoleARN != "arn:aws:iam::2:role/other" {
		t.Errorf("credentials = %+v", got)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "1h30m": 90 * time.Minute,
		"30": 30 * time.Second, "0.5d": 12 * time.Hour, "": 0,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1d", "d", "x", "-5s", "-3"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestParseDate(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-01-31":                time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC),
		"2026-01-31T10:00:00Z":      time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC),
		"2026-01-31T10:00:00+02:00": time.Date(2026, 1, 31, 8, 0, 0, 0, time.UTC),
		"7d":                        now.Add(-7 * 24 * time.Hour),
	} {
		got, err := ParseDate(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "2026-13-01", "30"} {
		if _, err := ParseDate(bad, now); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}
