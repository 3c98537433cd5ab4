// Package alert turns detection findings into alerts and delivers them.
//
// Findings of the same rule about the same principal within one group
// window (default one hour, aligned to the clock) become one alert with a
// count and first and last seen times, so a burst of events is one alert.
// Suppressions drop findings that match an allowlist entry. Alerts are
// persisted through a Store (the alerts table of the database) with a
// status (open, acknowledged, closed), and new alerts are sent to sinks:
// a JSON webhook, Slack, syslog (RFC 5424 over UDP, TCP or TLS), e-mail
// (SMTP with STARTTLS) and a JSON-lines file. Deliveries are retried with
// exponential backoff; failures are counted in Prometheus metrics; secrets
// (tokens, passwords, webhook URLs) are never logged.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/detect"
)

// Status is where an alert is in its life.
type Status string

// Alert statuses.
const (
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged"
	StatusClosed       Status = "closed"
)

// ParseStatus accepts open, acknowledged (ack) and closed.
func ParseStatus(s string) (Status, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "open":
		return StatusOpen, nil
	case "acknowledged", "ack", "acked":
		return StatusAcknowledged, nil
	case "closed", "close":
		return StatusClosed, nil
	}
	return "", fmt.Errorf("unknown status %q (open, acknowledged, closed)", s)
}

// maxEventIDs bounds the sample of event IDs an alert keeps.
const maxEventIDs = 10

// Alert is a group of findings of one rule about one principal.
type Alert struct {
	ID        string            `json:"id"`
	RuleID    string            `json:"ruleId"`
	RuleName  string            `json:"ruleName,omitempty"`
	Title     string            `json:"title"`
	Level     detect.Level      `json:"severity"`
	Status    Status            `json:"status"`
	FirstSeen time.Time         `json:"firstSeen"`
	LastSeen  time.Time         `json:"lastSeen"`
	Count     int64             `json:"count"` // findings grouped in the alert
	Principal string            `json:"principal,omitempty"`
	SourceIP  string            `json:"sourceIP,omitempty"`
	Account   string            `json:"account,omitempty"`
	Region    string            `json:"region,omitempty"`
	Log       string            `json:"log,omitempty"`
	EventIDs  []string          `json:"eventIDs,omitempty"` // a sample of the events (at most 10)
	Tags      []string          `json:"tags,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
	Note      string            `json:"note,omitempty"` // why it was acknowledged or closed
	UpdatedAt time.Time         `json:"updatedAt,omitzero"`
}

// groupKey is who an alert is about: the principal, else the address.
func groupKey(f *detect.Finding) string {
	if f.Principal != "" {
		return f.Principal
	}
	return f.SourceIP
}

// alertID derives an alert's ID from its rule, its group key and the start
// of its group window, so that the same findings always make the same alert
// (a re-run hunt updates the alerts it made before instead of duplicating
// them).
func alertID(ruleID, key string, window time.Time) string {
	h := sha256.Sum256([]byte(ruleID + "\x00" + key + "\x00" + window.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(h[:8])
}

// newAlert starts an alert from its first finding.
func newAlert(f *detect.Finding, window time.Duration, now time.Time) *Alert {
	first := f.FirstTime
	if first.IsZero() || first.After(f.Time) {
		first = f.Time
	}
	a := &Alert{
		ID:     alertID(f.RuleID, groupKey(f), windowStart(f.Time, window)),
		RuleID: f.RuleID, RuleName: f.RuleName, Title: f.Title, Level: f.Level, Status: StatusOpen,
		FirstSeen: first, LastSeen: f.Time, Principal: f.Principal, SourceIP: f.SourceIP,
		Account: f.Account, Region: f.Region, Log: f.Log, Tags: f.Tags, UpdatedAt: now,
		Details: map[string]string{},
	}
	a.merge(f)
	return a
}

// windowStart returns the start of the group window holding t.
func windowStart(t time.Time, window time.Duration) time.Time {
	if window <= 0 {
		return t
	}
	return t.UTC().Truncate(window)
}

// merge adds a finding to the alert.
func (a *Alert) merge(f *detect.Finding) {
	n := f.Count
	if n <= 0 || f.Kind != "correlation" {
		n = 1
	}
	a.Count += n
	first := f.FirstTime
	if first.IsZero() {
		first = f.Time
	}
	if first.Before(a.FirstSeen) {
		a.FirstSeen = first
	}
	if f.Time.After(a.LastSeen) {
		a.LastSeen = f.Time
	}
	ids := f.EventIDs
	if len(ids) == 0 && f.EventID != "" {
		ids = []string{f.EventID}
	}
	for _, id := range ids {
		if len(a.EventIDs) >= maxEventIDs {
			break
		}
		if !contains(a.EventIDs, id) {
			a.EventIDs = append(a.EventIDs, id)
		}
	}
	if a.SourceIP == "" {
		a.SourceIP = f.SourceIP
	}
	if f.EventName != "" && a.Details["eventName"] == "" {
		a.Details["eventName"] = f.EventName
	}
	if f.EventSource != "" && a.Details["eventSource"] == "" {
		a.Details["eventSource"] = f.EventSource
	}
	for k, v := range f.Details {
		if _, ok := a.Details[k]; !ok {
			a.Details[k] = v
		}
	}
	for k, v := range f.Group {
		if _, ok := a.Details["group."+k]; !ok {
			a.Details["group."+k] = v
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Sort orders alerts by first seen time, then rule title.
func Sort(alerts []Alert) {
	sort.SliceStable(alerts, func(i, j int) bool {
		if !alerts[i].FirstSeen.Equal(alerts[j].FirstSeen) {
			return alerts[i].FirstSeen.Before(alerts[j].FirstSeen)
		}
		return alerts[i].Title < alerts[j].Title
	})
}

// Summary is a one-line description of an alert for messages.
func (a *Alert) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s", strings.ToUpper(a.Level.String()), a.Title)
	if a.Principal != "" {
		fmt.Fprintf(&b, " by %s", a.Principal)
	}
	if a.SourceIP != "" {
		fmt.Fprintf(&b, " from %s", a.SourceIP)
	}
	if a.Account != "" {
		fmt.Fprintf(&b, " in account %s", a.Account)
	}
	if a.Count > 1 {
		fmt.Fprintf(&b, " (%d events)", a.Count)
	}
	return b.String()
}
