package s3access

import (
	"bytes"

	"github.com/trailwatch/trailwatch/internal/event"
)

// looksMaxLines is how many complete lines Looks checks at most.
const looksMaxLines = 5

// Looks reports whether data (the first bytes of an object) looks like S3 server access log lines;
// used for content sniffing of files whose names say nothing.
//
// One of the first few complete non-blank lines must parse as a record (a
// bad line near the start must not hide the good ones after it). If data
// ends inside the first line, that line must at least start with a bucket
// owner, a bucket and a bracketed, valid time. Blank data is not an access
// log.
func Looks(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	good, seen := 0, 0
	for len(data) > 0 && seen < looksMaxLines {
		var line []byte
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			// Cut off: judge the first line by its start; later ones
			// cannot change the verdict of the complete lines before.
			return good > 0 || looksLikeStart(data)
		}
		line, data = data[:i], data[i+1:]
		if isBlank(line) {
			continue
		}
		seen++
		var rec event.AccessLog
		if parseLine(line, &rec, nil) == nil {
			good++
		}
	}
	return good > 0
}

// looksLikeStart reports whether the (incomplete) line s starts with two
// plain fields and a valid bracketed time.
func looksLikeStart(s []byte) bool {
	p := 0
	for range 2 {
		t := tokenAt(s, p)
		if len(t) == 0 || p+len(t) >= len(s) {
			return false
		}
		for _, c := range t {
			if c <= ' ' || c >= 0x7f || c == '"' || c == '[' {
				return false
			}
		}
		p += len(t) + 1
	}
	if len(s) < p+28 || s[p] != '[' || s[p+27] != ']' {
		return false
	}
	_, ok := parseTime(s[p+1 : p+27])
	return ok
}
