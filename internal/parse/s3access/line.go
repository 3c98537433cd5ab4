package s3access

import (
	"bytes"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/trailwatch/trailwatch/internal/event"
)

// Field positions, in the documented order.
const (
	fBucketOwner = iota
	fBucket
	fTime
	fRemoteIP
	fRequester
	fRequestID
	fOperation
	fKey
	fRequestURI
	fHTTPStatus
	fErrorCode
	fBytesSent
	fObjectSize
	fTotalTime
	fTurnAroundTime
	fReferrer
	fUserAgent
	fVersionID
	fHostID
	fSigV
	fCipherSuite
	fAuthType
	fHostHeader
	fTLSVersion
	fAccessPointARN
	fACLRequired
	fSourceRegion
	numFields // fields after this one go to AccessLog.Extra
)

// minFields is the number of leading fields a line must have to be a record:
// bucket owner through HTTP status. These ten fields say who did what to
// which bucket and object, when, and with what result; every format S3 has
// ever written starts with them in this order. Everything after the status
// (error code, sizes, timings, user agent, ...) is detail that old or
// truncated lines may lack, and whose absence we record as NULL. A line that
// stops before the status cannot be told apart from a fragment or from some
// other log format, so it is rejected.
const minFields = fHTTPStatus + 1

// fieldName names field f (0-based) in error messages, as the AWS
// documentation does.
func fieldName(f int) string {
	switch f {
	case fBucketOwner:
		return "bucket owner"
	case fBucket:
		return "bucket"
	case fTime:
		return "time"
	case fRemoteIP:
		return "remote IP"
	case fRequester:
		return "requester"
	case fRequestID:
		return "request ID"
	case fOperation:
		return "operation"
	case fKey:
		return "key"
	case fRequestURI:
		return "request-URI"
	case fHTTPStatus:
		return "HTTP status"
	case fErrorCode:
		return "error code"
	case fBytesSent:
		return "bytes sent"
	case fObjectSize:
		return "object size"
	case fTotalTime:
		return "total time"
	case fTurnAroundTime:
		return "turn-around time"
	case fReferrer:
		return "referrer"
	case fUserAgent:
		return "user-agent"
	case fVersionID:
		return "version ID"
	case fHostID:
		return "host ID"
	case fSigV:
		return "signature version"
	case fCipherSuite:
		return "cipher suite"
	case fAuthType:
		return "authentication type"
	case fHostHeader:
		return "host header"
	case fTLSVersion:
		return "TLS version"
	case fAccessPointARN:
		return "access point ARN"
	case fACLRequired:
		return "aclRequired"
	case fSourceRegion:
		return "source region"
	}
	return fmt.Sprintf("field %d", f+1)
}

// lineError says why a line is not a valid record.
type lineError struct {
	field  int    // 0-based field index, -1 for the whole line
	reason string // what is wrong
	value  []byte // offending value, quoted (shortened) in the message; may be nil
}

func (e *lineError) Error() string {
	var s string
	if e.field >= 0 {
		s = fieldName(e.field) + ": " + e.reason
	} else {
		s = e.reason
	}
	if e.value != nil {
		v := e.value
		const maxShown = 40
		if len(v) > maxShown {
			return fmt.Sprintf("%s %q...", s, v[:maxShown])
		}
		return fmt.Sprintf("%s %q", s, v)
	}
	return s
}

// fail builds a lineError. The value is copied: it may alias a buffer that
// is reused before the error is read.
func fail(field int, reason string, value []byte) error {
	if value != nil {
		value = bytes.Clone(value[:min(len(value), 41)])
	}
	return &lineError{field: field, reason: reason, value: value}
}

// timeLayout is the time format of S3 access logs ([%d/%b/%Y:%H:%M:%S %z]).
const timeLayout = "02/Jan/2006:15:04:05 -0700"

// ParseLine parses one line (without its terminator) into rec. It is the
// tokenizer used by Parse.
//
// rec is overwritten. Its strings alias line (no copies are made, except for
// quoted values that contain backslash escapes), so line must not be modified
// while rec is in use; call rec.Clone to keep a record. rec.Raw is line;
// rec.Line is left 0 (Parse sets it). An error says which field is wrong;
// rec is then partially filled and must not be used.
func ParseLine(line []byte, rec *event.AccessLog) error {
	return parseLine(line, rec, nil)
}

// parseLine is ParseLine with an optional arena for unescaped values and
// extra fields (nil: use the heap).
func parseLine(line []byte, rec *event.AccessLog, a *arena) error {
	*rec = event.AccessLog{
		HTTPStatus:     event.NullInt,
		BytesSent:      event.NullInt,
		ObjectSize:     event.NullInt,
		TotalTime:      event.NullInt,
		TurnAroundTime: event.NullInt,
		Raw:            aliasString(line),
	}
	// Trailing blanks (and a stray CR) are not a field.
	n := len(line)
	for n > 0 && (line[n-1] == ' ' || line[n-1] == '\t' || line[n-1] == '\r') {
		n--
	}
	s := line[:n]
	if n == 0 {
		return fail(-1, "blank line", nil)
	}

	var extra []string
	if a != nil {
		extra = a.strs
	}
	extraStart := len(extra)

	f := 0 // index of the current field
	p := 0 // start of the current field; s[p] exists
	for {
		var (
			v    []byte // the field's value, without quotes or brackets
			e    int    // end of the field: n or the index of the separating space
			esc  bool   // v is quoted and contains a backslash
			null bool   // v is "-" (quoted or not)
		)
		switch {
		case f == fTime:
			if s[p] != '[' {
				return fail(f, "not in brackets:", tokenAt(s, p))
			}
			k := bytes.IndexByte(s[p+1:], ']')
			if k < 0 {
				return fail(f, "no closing bracket:", s[p:])
			}
			v = s[p+1 : p+1+k]
			e = p + 2 + k
			if e < n && s[e] != ' ' {
				return fail(f, "no space after closing bracket:", s[p:])
			}
		case s[p] == '"':
			q := closeQuote(s, p, f)
			if q < 0 {
				return fail(f, "unterminated quoted value:", s[p:])
			}
			v = s[p+1 : q]
			e = q + 1
			esc = bytes.IndexByte(v, '\\') >= 0
			null = len(v) == 1 && v[0] == '-'
		default:
			k := bytes.IndexByte(s[p:], ' ')
			if k < 0 {
				e = n
			} else {
				e = p + k
			}
			v = s[p:e]
			null = len(v) == 1 && v[0] == '-'
		}

		var str string
		if !null && len(v) > 0 {
			if esc {
				str = a.unescape(v)
			} else {
				str = aliasString(v)
			}
		}
		switch f {
		case fBucketOwner:
			rec.BucketOwner = str
		case fBucket:
			rec.Bucket = str
		case fTime:
			rec.RequestDateTime = str
			t, ok := parseTime(v)
			if !ok {
				var err error
				t, err = time.Parse(timeLayout, str)
				if err != nil {
					return fail(f, "cannot parse", v)
				}
				t = t.UTC()
			}
			rec.Time = t
		case fRemoteIP:
			rec.RemoteIP = str
		case fRequester:
			rec.Requester = str
		case fRequestID:
			rec.RequestID = str
		case fOperation:
			rec.Operation = str
		case fKey:
			rec.Key = str
		case fRequestURI:
			rec.RequestURI = str
		case fHTTPStatus, fBytesSent, fObjectSize, fTotalTime, fTurnAroundTime:
			x := event.NullInt
			if !null {
				var ok bool
				if x, ok = parseNum(v); !ok {
					return fail(f, "not a number:", v)
				}
			}
			switch f {
			case fHTTPStatus:
				rec.HTTPStatus = x
			case fBytesSent:
				rec.BytesSent = x
			case fObjectSize:
				rec.ObjectSize = x
			case fTotalTime:
				rec.TotalTime = x
			default:
				rec.TurnAroundTime = x
			}
		case fErrorCode:
			rec.ErrorCode = str
		case fReferrer:
			rec.Referrer = str
		case fUserAgent:
			rec.UserAgent = str
		case fVersionID:
			rec.VersionID = str
		case fHostID:
			rec.HostID = str
		case fSigV:
			rec.SigV = str
		case fCipherSuite:
			rec.CipherSuite = str
		case fAuthType:
			rec.AuthType = str
		case fHostHeader:
			rec.HostHeader = str
		case fTLSVersion:
			rec.TLSVersion = str
		case fAccessPointARN:
			rec.AccessPointARN = str
		case fACLRequired:
			rec.ACLRequired = str
		case fSourceRegion:
			rec.SourceRegion = str
		default:
			// Unknown newer fields are kept as logged: "-" stays "-",
			// since we cannot know whether it means NULL there.
			if null {
				str = "-"
			}
			extra = append(extra, str)
		}

		f++
		if e >= n {
			break
		}
		p = e + 1 // s[p] exists: s does not end with a space
	}
	if f < minFields {
		return fail(-1, fmt.Sprintf("too few fields (%d, need at least %d)", f, minFields), nil)
	}
	if len(extra) > extraStart {
		rec.Extra = extra[extraStart:len(extra):len(extra)]
	}
	if a != nil {
		a.strs = extra
	}
	return nil
}

// tokenAt returns the space-delimited token at s[p:], for error messages.
func tokenAt(s []byte, p int) []byte {
	t := s[p:]
	if k := bytes.IndexByte(t, ' '); k >= 0 {
		t = t[:k]
	}
	return t
}

// closeQuote returns the index of the quote that closes the quoted value
// opening at s[p] (field f), or -1 if there is none.
//
// A closing quote is a '"' that is not escaped by a backslash and is followed
// by a space or the end of the line. S3 does not reliably escape quotes in
// the request-URI, referrer and user-agent (a request for `/"` is logged as
// "GET /" HTTP/1.1"), so for those fields a candidate is accepted only if
// what follows looks like the next field; if no candidate does, the first one
// is used.
func closeQuote(s []byte, p, f int) int {
	first := -1
	for j := p + 1; j < len(s); {
		k := bytes.IndexByte(s[j:], '"')
		if k < 0 {
			break
		}
		q := j + k
		j = q + 1
		// An odd number of backslashes before the quote escapes it.
		bs := 0
		for q-1-bs > p && s[q-1-bs] == '\\' {
			bs++
		}
		if bs%2 == 1 {
			continue
		}
		if q+1 < len(s) && s[q+1] != ' ' {
			continue // a quote inside the value
		}
		if first < 0 {
			first = q
		}
		if plausibleNext(s, q+1, f) {
			return q
		}
	}
	return first
}

// plausibleNext reports whether s[i:] (i is the end of the line or a space)
// looks like what follows field f.
func plausibleNext(s []byte, i, f int) bool {
	switch f {
	case fRequestURI:
		// HTTP status (three digits or "-"), error code, bytes sent
		// (digits or "-"), as far as the line goes.
		if i+1 >= len(s) {
			return false
		}
		t := tokenAt(s, i+1)
		if !(len(t) == 1 && t[0] == '-' || len(t) == 3 && isDigit(t[0]) && isDigit(t[1]) && isDigit(t[2])) {
			return false
		}
		i += 1 + len(t)
		if i+1 >= len(s) {
			return true
		}
		i += 1 + len(tokenAt(s, i+1)) // error code
		if i+1 >= len(s) {
			return true
		}
		t = tokenAt(s, i+1)
		if len(t) == 1 && t[0] == '-' {
			return true
		}
		_, ok := parseNum(t)
		return ok
	case fReferrer:
		// The user-agent: quoted, or "-".
		if i+1 >= len(s) {
			return true
		}
		return s[i+1] == '"' || (s[i+1] == '-' && (i+2 == len(s) || s[i+2] == ' '))
	case fUserAgent:
		// Version ID and host ID never contain quotes.
		for range 2 {
			if i >= len(s) {
				return true
			}
			t := tokenAt(s, i+1)
			if bytes.IndexByte(t, '"') >= 0 {
				return false
			}
			i += 1 + len(t)
		}
		return true
	}
	return true
}

func isDigit(c byte) bool { return c-'0' < 10 }

// parseNum parses a non-negative decimal integer.
func parseNum(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var x int64
	for _, c := range v {
		d := int64(c - '0')
		if c-'0' > 9 || x > (math.MaxInt64-d)/10 {
			return 0, false
		}
		x = x*10 + d
	}
	return x, true
}

// aliasString returns b as a string without copying. The caller guarantees
// that b is not modified while the string is in use.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// appendUnescaped appends v to dst with \" and \\ replaced by " and \.
// Other backslashes are kept.
func appendUnescaped(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\') {
			i++
			c = v[i]
		}
		dst = append(dst, c)
	}
	return dst
}
