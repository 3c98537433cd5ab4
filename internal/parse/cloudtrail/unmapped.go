package cloudtrail

import (
	"github.com/trailwatch/trailwatch/internal/event"
)

// unmappedWriter collects the fields of one record that have no column and
// renders them as one JSON object, nested by their original path, so that
// fields added to CloudTrail after this version are kept and queryable.
type unmappedWriter struct {
	entries []unmappedEntry
}

type unmappedEntry struct {
	path []string
	key  string
	val  []byte
}

func (u *unmappedWriter) begin() { u.entries = u.entries[:0] }

func (u *unmappedWriter) add(path []string, key string, val []byte) {
	u.entries = append(u.entries, unmappedEntry{path: path, key: key, val: val})
}

// finish renders the collected entries into the scanner's arena.
func (u *unmappedWriter) finish(s *scanner) event.RawJSON {
	if len(u.entries) == 0 {
		return ""
	}
	start := len(s.arena)
	out := s.arena
	out = append(out, '{')
	var open []string // the path of the object currently open
	first := true
	for _, e := range u.entries {
		// Close levels that the entry does not share.
		common := 0
		for common < len(open) && common < len(e.path) && open[common] == e.path[common] {
			common++
		}
		for len(open) > common {
			out = append(out, '}')
			open = open[:len(open)-1]
			first = false
		}
		for _, p := range e.path[common:] {
			if !first {
				out = append(out, ',')
			}
			out = appendJSONString(out, p)
			out = append(out, ':', '{')
			open = append(open, p)
			first = true
		}
		if !first {
			out = append(out, ',')
		}
		out = appendJSONString(out, e.key)
		out = append(out, ':')
		out = append(out, e.val...)
		first = false
	}
	for range open {
		out = append(out, '}')
	}
	out = append(out, '}')
	// append may have moved the arena; strings handed out before keep the
	// old array alive, so this is safe.
	s.arena = out
	u.entries = u.entries[:0]
	return event.RawJSON(bytesToString(out[start:]))
}
