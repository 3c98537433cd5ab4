package detect

import (
	"strconv"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// Finding is one rule match: a record that matched a detection rule, or
// the record that made a correlation fire. Findings share no memory with
// parser buffers.
type Finding struct {
	RuleID      string            `json:"ruleId"`
	RuleName    string            `json:"ruleName,omitempty"`
	Title       string            `json:"title"`
	Level       Level             `json:"severity"`
	Tags        []string          `json:"tags,omitempty"`
	Kind        string            `json:"kind"` // match, correlation or first_seen
	Log         string            `json:"log"`  // cloudtrail, cloudtrail_insights or s3_server_access
	Time        time.Time         `json:"eventTime"`
	FirstTime   time.Time         `json:"firstTime,omitzero"` // correlations: the window's first event
	EventID     string            `json:"eventID,omitempty"`  // access logs: the request ID
	EventIDs    []string          `json:"eventIDs,omitempty"` // correlations: a sample of the events
	EventName   string            `json:"eventName,omitempty"`
	EventSource string            `json:"eventSource,omitempty"`
	Principal   string            `json:"principal,omitempty"`
	SourceIP    string            `json:"sourceIP,omitempty"`
	UserAgent   string            `json:"userAgent,omitempty"`
	Account     string            `json:"account,omitempty"`
	Region      string            `json:"region,omitempty"`
	ErrorCode   string            `json:"errorCode,omitempty"`
	Count       int64             `json:"count,omitempty"` // correlations: events (or values, or rules) counted
	Group       map[string]string `json:"group,omitempty"` // correlations: the group-by values
	Details     map[string]string `json:"details,omitempty"`
	Object      string            `json:"object,omitempty"` // the log object the record came from
}

// Anonymous is the principal of unauthenticated S3 requests.
const Anonymous = "anonymous"

// newFinding fills a finding from the record (cloning every string).
func newFinding(rule *Rule, r *record, object string) Finding {
	f := Finding{
		RuleID: rule.Key(), RuleName: rule.Name, Title: rule.Title, Level: rule.Level, Tags: rule.Tags,
		Kind: "match", Log: r.kind.String(), Time: r.time(), Object: object,
	}
	switch r.kind {
	case logAccess:
		a := r.al
		f.EventID = strings.Clone(a.RequestID)
		f.EventName = strings.Clone(a.Operation)
		f.EventSource = "s3.amazonaws.com"
		f.Principal = strings.Clone(a.Requester)
		if f.Principal == "" {
			f.Principal = Anonymous
		}
		f.SourceIP = strings.Clone(a.RemoteIP)
		f.UserAgent = strings.Clone(a.UserAgent)
		f.Region = strings.Clone(a.SourceRegion)
		f.ErrorCode = strings.Clone(a.ErrorCode)
		f.Details = map[string]string{"bucket": strings.Clone(a.Bucket)}
		if a.Key != "" {
			f.Details["key"] = strings.Clone(a.Key)
		}
		if a.HTTPStatus != event.NullInt {
			f.Details["httpstatus"] = strconv.FormatInt(a.HTTPStatus, 10)
		}
	default:
		e := r.ct
		f.EventID = strings.Clone(e.EventID)
		f.EventName = strings.Clone(e.EventName)
		f.EventSource = strings.Clone(e.EventSource)
		f.Principal = strings.Clone(e.Principal())
		f.SourceIP = strings.Clone(e.SourceIPAddress)
		f.UserAgent = strings.Clone(e.UserAgent)
		f.Account = strings.Clone(e.RecipientAccountID)
		if f.Account == "" {
			f.Account = strings.Clone(e.UserIdentity.AccountID)
		}
		f.Region = strings.Clone(e.AWSRegion)
		f.ErrorCode = strings.Clone(e.ErrorCode)
	}
	return f
}
