package detect

import (
	"strings"
	"time"
)

// StoryMatch reports whether a finding belongs to an incident described by
// the principal who acted, the address it acted from and its time span (as
// the demo's attack stories are): the finding must come from that
// principal (or its session's role) or address, within a few minutes of
// the span.
func StoryMatch(actor, sourceIP string, start, end time.Time, f Finding) bool {
	const slack = 15 * time.Minute
	first := f.FirstTime
	if first.IsZero() {
		first = f.Time
	}
	if f.Time.Before(start.Add(-slack)) || first.After(end.Add(slack)) {
		return false
	}
	if sourceIP != "" && f.SourceIP == sourceIP {
		return true
	}
	if actor == "" || f.Principal == "" {
		return false
	}
	return f.Principal == actor || strings.HasPrefix(f.Principal, strings.TrimSuffix(actor, "/")+"/") ||
		strings.HasPrefix(actor, f.Principal+"/")
}
