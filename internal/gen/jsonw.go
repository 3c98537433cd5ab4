package gen

import (
	"strconv"
	"unicode/utf8"
)

// jw builds compact JSON by appending to a byte slice. It tracks commas so
// callers only say what to write:
//
//	w.O(); w.KS("a", "x"); w.KA("b"); w.I(1); w.I(2); w.EA(); w.E()
//
// gives {"a":"x","b":[1,2]}. It never allocates once its buffers have grown.
type jw struct {
	b      []byte
	filled []bool // per open container: an element was written
	key    bool   // a key was just written: the next value takes no comma
}

func (w *jw) reset() {
	w.b = w.b[:0]
	w.filled = w.filled[:0]
	w.key = false
}

// pre writes the separator a new value needs.
func (w *jw) pre() {
	if w.key {
		w.key = false
		return
	}
	if n := len(w.filled); n > 0 {
		if w.filled[n-1] {
			w.b = append(w.b, ',')
		} else {
			w.filled[n-1] = true
		}
	}
}

// K writes an object key.
func (w *jw) K(k string) *jw {
	w.pre()
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
	w.key = true
	return w
}

func (w *jw) S(v string) { w.pre(); w.b = appendJSONString(w.b, v) }
func (w *jw) I(v int64)  { w.pre(); w.b = strconv.AppendInt(w.b, v, 10) }
func (w *jw) B(v bool)   { w.pre(); w.b = strconv.AppendBool(w.b, v) }
func (w *jw) Null()      { w.pre(); w.b = append(w.b, "null"...) }

// F writes a float with up to prec decimals, as AWS prints statistics.
func (w *jw) F(v float64, prec int) {
	w.pre()
	w.b = strconv.AppendFloat(w.b, v, 'f', prec, 64)
}

// Raw writes pre-built JSON.
func (w *jw) Raw(v []byte) { w.pre(); w.b = append(w.b, v...) }

// RawS writes pre-built JSON given as a string.
func (w *jw) RawS(v string) { w.pre(); w.b = append(w.b, v...) }

// T writes a timestamp (unix seconds) as "2006-01-02T15:04:05Z".
func (w *jw) T(sec int64) {
	w.pre()
	w.b = append(w.b, '"')
	w.b = appendISO(w.b, sec)
	w.b = append(w.b, '"')
}

// O opens an object, A an array; E and EA close them.
func (w *jw) O()  { w.pre(); w.b = append(w.b, '{'); w.filled = append(w.filled, false) }
func (w *jw) A()  { w.pre(); w.b = append(w.b, '['); w.filled = append(w.filled, false) }
func (w *jw) E()  { w.b = append(w.b, '}'); w.filled = w.filled[:len(w.filled)-1] }
func (w *jw) EA() { w.b = append(w.b, ']'); w.filled = w.filled[:len(w.filled)-1] }

// Key-value shorthands.
func (w *jw) KS(k, v string)       { w.K(k).S(v) }
func (w *jw) KI(k string, v int64) { w.K(k).I(v) }
func (w *jw) KB(k string, v bool)  { w.K(k).B(v) }
func (w *jw) KN(k string)          { w.K(k).Null() }
func (w *jw) KT(k string, s int64) { w.K(k).T(s) }
func (w *jw) KO(k string)          { w.K(k).O() }
func (w *jw) KA(k string)          { w.K(k).A() }

// KSN writes v, or null when v is empty.
func (w *jw) KSN(k, v string) {
	if v == "" {
		w.KN(k)
		return
	}
	w.KS(k, v)
}

// KSS writes an array of strings.
func (w *jw) KSS(k string, vs ...string) {
	w.KA(k)
	for _, v := range vs {
		w.S(v)
	}
	w.EA()
}

// appendJSONString appends s as a JSON string literal, escaping as
// encoding/json does except that it leaves <, > and & alone (as AWS does).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i++
				start = i
				continue
			}
			if r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hexLower[r&0xf])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// civil converts unix seconds to a UTC calendar date and time of day
// (Howard Hinnant's days-from-civil inverse; valid for all dates we use).
func civil(sec int64) (y, m, d, hh, mm, ss int) {
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	hh, mm, ss = int(rem/3600), int(rem%3600/60), int(rem%60)
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d, hh, mm, ss
}

func app2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
func app4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendISO appends 2006-01-02T15:04:05Z.
func appendISO(b []byte, sec int64) []byte {
	y, m, d, hh, mm, ss := civil(sec)
	b = app4(b, y)
	b = append(b, '-')
	b = app2(b, m)
	b = append(b, '-')
	b = app2(b, d)
	b = append(b, 'T')
	b = app2(b, hh)
	b = append(b, ':')
	b = app2(b, mm)
	b = append(b, ':')
	b = app2(b, ss)
	return append(b, 'Z')
}

// isoTime formats unix seconds as 2006-01-02T15:04:05Z.
func isoTime(sec int64) string { return string(appendISO(make([]byte, 0, 20), sec)) }

var monthAbbr = [...]string{"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// appendCLF appends the S3 access log time: [06/Feb/2019:00:00:38 +0000].
func appendCLF(b []byte, sec int64) []byte {
	y, m, d, hh, mm, ss := civil(sec)
	b = append(b, '[')
	b = app2(b, d)
	b = append(b, '/')
	b = append(b, monthAbbr[m]...)
	b = append(b, '/')
	b = app4(b, y)
	b = append(b, ':')
	b = app2(b, hh)
	b = append(b, ':')
	b = app2(b, mm)
	b = append(b, ':')
	b = app2(b, ss)
	return append(b, " +0000]"...)
}

// javaDate formats like the Java SDK's Date.toString that AWS puts in some
// responseElements: "Nov 1, 2026, 3:04:05 PM".
func javaDate(sec int64) string {
	y, m, d, hh, mm, ss := civil(sec)
	ampm := "AM"
	h12 := hh
	if hh >= 12 {
		ampm = "PM"
		h12 -= 12
	}
	if h12 == 0 {
		h12 = 12
	}
	b := make([]byte, 0, 28)
	b = append(b, monthAbbr[m]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, int64(h12), 10)
	b = append(b, ':')
	b = app2(b, mm)
	b = append(b, ':')
	b = app2(b, ss)
	b = append(b, ' ')
	b = append(b, ampm...)
	return string(b)
}
