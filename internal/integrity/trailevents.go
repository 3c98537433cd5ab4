package integrity

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// isTrailEvent reports the calls that stop, start or reconfigure a trail's
// logging or log file validation.
func isTrailEvent(name string) bool {
	switch name {
	case "StopLogging", "StartLogging", "UpdateTrail", "DeleteTrail", "CreateTrail":
		return true
	}
	return false
}

// BucketTrailEvents finds trail events in the log files of the trail's own
// bucket: the calls to cloudtrail.amazonaws.com in the trail's home region,
// in every account of the bucket (an organization trail is managed from
// the management account). It reads at most MaxFiles log files per query
// (default 2,000). The store implements TrailEvents more cheaply once the
// events are ingested.
type BucketTrailEvents struct {
	Buckets  Buckets
	MaxFiles int
}

// TrailEvents scans the log files delivered between q.From and q.To (plus
// twenty minutes for delivery) for the trail's events.
func (e BucketTrailEvents) TrailEvents(ctx context.Context, q TrailEventQuery) ([]TrailEvent, error) {
	b, err := e.Buckets.Bucket(ctx, q.Bucket)
	if err != nil {
		return nil, err
	}
	maxFiles := e.MaxFiles
	if maxFiles <= 0 {
		maxFiles = 2000
	}
	base := awsLogsPrefix(q.Prefix, q.OrgID)
	accts, err := prefixes(ctx, b, base)
	if err != nil {
		return nil, err
	}
	// The chain's own account first: a trail is usually managed from it.
	slices.SortStableFunc(accts, func(a, b string) int {
		return boolInt(segment(b) == q.Account) - boolInt(segment(a) == q.Account)
	})
	to := q.To.Add(20 * time.Minute)
	var out []TrailEvent
	files := 0
	for _, ap := range accts {
		if !isAccount(segment(ap)) {
			continue
		}
		prefix := ap + "CloudTrail/" + q.HomeRegion + "/"
		hiDay := to.Format("2006/01/02")
		for o, err := range b.List(ctx, prefix, prefix+q.From.Add(-24*time.Hour).Format("2006/01/02")) {
			if err != nil {
				return out, err
			}
			if rest := o.Key[len(prefix):]; len(rest) >= 10 && rest[:10] > hiDay {
				break
			}
			t, ok := logFileTime(o.Key)
			if !ok || t.Before(q.From) || t.After(to) {
				continue
			}
			if files++; files > maxFiles {
				return out, fmt.Errorf("more than %d log files between %s and %s: stopped looking", maxFiles, DisplayTime(q.From), DisplayTime(to))
			}
			evs, err := scanTrailEvents(ctx, b, q, o.Key)
			if err != nil {
				return out, err
			}
			out = append(out, evs...)
		}
	}
	slices.SortStableFunc(out, func(a, b TrailEvent) int { return a.Time.Compare(b.Time) })
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// scanTrailEvents reads one log file and returns its trail events for q's
// trail.
func scanTrailEvents(ctx context.Context, b Bucket, q TrailEventQuery, key string) ([]TrailEvent, error) {
	body, _, err := b.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var r io.Reader = body
	zr, err := gzip.NewReader(body)
	if err == nil {
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, 512<<20))
	if err != nil || !bytes.Contains(data, []byte("cloudtrail.amazonaws.com")) {
		return nil, nil // unreadable files are reported by the verification itself
	}
	var doc struct {
		Records []struct {
			EventTime          string `json:"eventTime"`
			EventSource        string `json:"eventSource"`
			EventName          string `json:"eventName"`
			AWSRegion          string `json:"awsRegion"`
			RecipientAccountID string `json:"recipientAccountId"`
			SourceIPAddress    string `json:"sourceIPAddress"`
			EventID            string `json:"eventID"`
			ErrorCode          string `json:"errorCode"`
			UserIdentity       struct {
				ARN           string `json:"arn"`
				PrincipalID   string `json:"principalId"`
				InvokedBy     string `json:"invokedBy"`
				SessionIssuer struct {
					ARN string `json:"arn"`
				} `json:"sessionIssuer"`
			} `json:"userIdentity"`
			RequestParameters map[string]json.RawMessage `json:"requestParameters"`
		} `json:"Records"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return nil, nil
	}
	var out []TrailEvent
	for _, rec := range doc.Records {
		if rec.EventSource != "cloudtrail.amazonaws.com" || !isTrailEvent(rec.EventName) || rec.ErrorCode != "" {
			continue
		}
		var name string
		_ = json.Unmarshal(rec.RequestParameters["name"], &name)
		if name != q.Trail && !strings.HasSuffix(name, ":trail/"+q.Trail) {
			continue
		}
		t, _ := parseTime(rec.EventTime)
		ev := TrailEvent{Time: t, Name: rec.EventName, Account: rec.RecipientAccountID, Region: rec.AWSRegion,
			Principal: rec.UserIdentity.ARN, SourceIP: rec.SourceIPAddress, EventID: rec.EventID, Trail: name,
			Source: "s3://" + q.Bucket + "/" + key}
		if ev.Principal == "" {
			ev.Principal = cmp.Or(rec.UserIdentity.SessionIssuer.ARN, rec.UserIdentity.PrincipalID, rec.UserIdentity.InvokedBy)
		}
		if rec.EventName == "UpdateTrail" {
			var v bool
			if raw, ok := rec.RequestParameters["enableLogFileValidation"]; ok && json.Unmarshal(raw, &v) == nil {
				ev.Detail = fmt.Sprintf("enableLogFileValidation=%t", v)
			}
		}
		out = append(out, ev)
	}
	return out, nil
}
