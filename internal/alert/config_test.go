package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Setenv("TW_TEST_SLACK", "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX")
	y := `
min_level: medium
group_window: 30m
sinks:
  - type: slack
    url: ${TW_TEST_SLACK}
    min_level: high
  - type: webhook
    name: soc
    url: https://soc.example.com/hooks/trailwatch
    headers: {Authorization: Bearer s3cr3t-t0ken}
    retries: 2
  - type: syslog
    network: tls
    address: siem.example.com:6514
  - type: email
    host: smtp.example.com
    username: alerts
    password: hunter2-password
    from: trailwatch@example.com
    to: [soc@example.com]
  - type: file
    path: /var/log/trailwatch/alerts.jsonl
suppressions:
  - rule: tw_cis_4_4_iam_policy_changes
    principal: arn:aws:iam::*:role/terraform
    reason: deployments
  - source_ip: [10.0.0.0/8]
    until: 2027-01-01T00:00:00Z
    reason: internal scanner
`
	c, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if c.MinLevel != "medium" || c.GroupWindow != 30*time.Minute || len(c.Sinks) != 5 || len(c.Suppressions) != 2 {
		t.Fatalf("config %+v", c)
	}
	s := c.Sinks[0]
	if s.Name != "slack" || s.URL.Reveal() != "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX" || s.MinLevel != "high" || *s.Retries != 5 {
		t.Errorf("slack sink %+v", s)
	}
	if c.Sinks[1].Name != "soc" || *c.Sinks[1].Retries != 2 || c.Sinks[1].MinLevel != "medium" {
		t.Errorf("webhook sink %+v", c.Sinks[1])
	}
	if e := c.Sinks[3]; e.Port != 587 || !*e.StartTLS {
		t.Errorf("email defaults %+v", e)
	}
	if c.Sinks[2].Facility != "local0" || c.Sinks[2].AppName != "trailwatch" {
		t.Errorf("syslog defaults %+v", c.Sinks[2])
	}

	// Secrets never show in logs, %v, %+v, %#v or JSON.
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("config", "sinks", c.Sinks, "url", c.Sinks[0].URL)
	j, _ := json.Marshal(c)
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s", c, c, c, c.Sinks[0].URL) + string(j)
	for _, secret := range []string{"XXXXSECRETXXXX", "s3cr3t-t0ken", "hunter2-password"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q leaked: %s", secret, out)
		}
	}
}

func TestValidateListsEveryError(t *testing.T) {
	y := `
min_level: severe
sinks:
  - type: pager
  - type: webhook
    url: ftp://example.com/x
  - type: syslog
    network: carrier-pigeon
    address: nohost
    facility: kitchen
  - type: email
  - type: file
  - type: slack
    name: dup
    url: https://hooks.slack.com/x
  - type: slack
    name: dup
    url: https://hooks.slack.com/y
suppressions:
  - reason: nothing set
  - rule: x
  - source_ip: [not-an-ip]
    reason: x
`
	_, err := Parse([]byte(y))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`min_level: unknown level "severe"`, `unknown type "pager"`, "url must be an http or https URL",
		`network must be udp, tcp or tls, not "carrier-pigeon"`, "address must be host:port", `unknown facility "kitchen"`,
		"host is required", "from and to are required", "path is required", "duplicate sink name",
		"suppressions[0]: set at least one of", "suppressions[1]: reason is required", `source_ip "not-an-ip"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestParseConfigStrict(t *testing.T) {
	if _, err := Parse([]byte("sinks:\n  - type: file\n    pth: /tmp/x\n")); err == nil || !strings.Contains(err.Error(), "pth") {
		t.Errorf("unknown key not reported: %v", err)
	}
	if _, err := Parse([]byte("sinks:\n  - type: slack\n    url: ${TW_TEST_UNSET_VARIABLE}\n")); err == nil ||
		!strings.Contains(err.Error(), "TW_TEST_UNSET_VARIABLE is not set") {
		t.Errorf("unset variable not reported: %v", err)
	}
	if c, err := Parse(nil); err != nil || c.MinLevel != "low" || c.GroupWindow != time.Hour {
		t.Errorf("empty config: %+v %v", c, err)
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "alerts.yml")
	if err := os.WriteFile(p, []byte("min_level: high\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil || c.MinLevel != "high" {
		t.Errorf("%+v %v", c, err)
	}
	if _, err := Load(p + ".missing"); err == nil {
		t.Error("missing file loaded")
	}
}
