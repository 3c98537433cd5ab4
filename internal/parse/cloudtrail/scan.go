package cloudtrail

import (
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// errShort means the buffer ended inside a value: read more and retry.
var errShort = errors.New("unexpected end of input")

// syntaxError is malformed JSON at a byte offset of the uncompressed stream.
type syntaxError struct {
	off int64
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

// scanner reads JSON tokens from buf. Offsets are indexes into buf; base is
// buf[0]'s offset in the whole stream, for error messages.
type scanner struct {
	buf  []byte
	base int64
	// arena holds unescaped strings; strings handed out alias it or buf.
	arena []byte
}

func (s *scanner) errAt(i int, format string, args ...any) error {
	return &syntaxError{off: s.base + int64(i), msg: fmt.Sprintf(format, args...)}
}

// ws skips JSON whitespace from i.
func (s *scanner) ws(i int) int {
	b := s.buf
	for i < len(b) {
		switch b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialMask returns a mask whose lowest set high bit marks the first
// byte of w that is '"', '\\' or a control character (< 0x20). Bits above
// the first true match may be spurious; only the lowest is exact.
func specialMask(w uint64) uint64 {
	q := w ^ (lsb * '"')
	bs := w ^ (lsb * '\\')
	return ((q - lsb) &^ q & msb) | ((bs - lsb) &^ bs & msb) | ((w - lsb*0x20) &^ w & msb)
}

// strEnd scans a string whose opening quote is at i-1. It returns the index
// of the closing quote and whether the string has escapes.
func (s *scanner) strEnd(i int) (end int, esc bool, err error) {
	b := s.buf
	for {
		for i+8 <= len(b) {
			w := *(*uint64)(unsafe.Pointer(&b[i]))
			if m := specialMask(w); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
			i++
		}
		if i >= len(b) {
			return 0, false, errShort
		}
	special:
		switch c := b[i]; {
		case c == '"':
			return i, esc, nil
		case c == '\\':
			// Validate the escape: strings kept as source text
			// (requestParameters, Unmapped, Raw) must be valid JSON.
			esc = true
			if i+1 >= len(b) {
				return 0, false, errShort
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, errShort
				}
				if _, n := decodeU(b[i+2 : i+6]); n < 0 {
					return 0, false, s.errAt(i, "invalid \\u escape")
				}
				i += 6
			default:
				return 0, false, s.errAt(i, "invalid escape \\%c", b[i+1])
			}
		default:
			return 0, false, s.errAt(i, "control character 0x%02x in string", c)
		}
	}
}

// str parses a string starting at the quote at i. It returns the value
// (aliasing buf when there are no escapes, else the arena) and the index
// after the closing quote.
func (s *scanner) str(i int) (string, int, error) {
	end, esc, err := s.strEnd(i + 1)
	if err != nil {
		return "", 0, err
	}
	raw := s.buf[i+1 : end]
	if !esc {
		return bytesToString(raw), end + 1, nil
	}
	v, err := s.unescape(raw, i+1)
	return v, end + 1, err
}

// rawStr returns the bytes between the quotes of the string at i, escapes
// left in place, and the index after it.
func (s *scanner) rawStr(i int) ([]byte, bool, int, error) {
	end, esc, err := s.strEnd(i + 1)
	if err != nil {
		return nil, false, 0, err
	}
	return s.buf[i+1 : end], esc, end + 1, nil
}

func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// unescape decodes JSON escapes of raw (which starts at buffer index at)
// into the arena.
func (s *scanner) unescape(raw []byte, at int) (string, error) {
	start := len(s.arena)
	if cap(s.arena)-start < len(raw) {
		// Grow into a new array: strings already handed out keep the old one.
		n := make([]byte, start, max(2*cap(s.arena), start+len(raw), 4096))
		copy(n, s.arena)
		s.arena = n
	}
	out := s.arena
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := decodeU(raw[i+1:])
			if n < 0 {
				return "", s.errAt(at+i, "invalid \\u escape")
			}
			i += n
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(-1), 0
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2, n2 = decodeU(raw[i+3:])
				}
				if dec := utf16.DecodeRune(r, r2); n2 > 0 && dec != utf8.RuneError {
					r = dec
					i += 2 + n2
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", s.errAt(at+i, "invalid escape \\%c", raw[i])
		}
	}
	// The arena only grows by append here within capacity reserved above,
	// except for \u escapes that expand; keep whatever array append chose.
	s.arena = out
	return bytesToString(out[start:]), nil
}

// decodeU reads 4 hex digits; it returns the rune and the digits consumed
// (4), or -1.
func decodeU(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, -1
		}
		r = r<<4 | rune(c)
	}
	return r, 4
}

// skip skips the JSON value at i (after whitespace) and returns the index
// after it. It validates structure and strings but not number syntax in
// detail.
func (s *scanner) skip(i int) (int, error) {
	b := s.buf
	i = s.ws(i)
	if i >= len(b) {
		return 0, errShort
	}
	switch b[i] {
	case '"':
		end, _, err := s.strEnd(i + 1)
		if err != nil {
			return 0, err
		}
		return end + 1, nil
	case '{', '[':
		return s.skipNested(i)
	case 't':
		return s.lit(i, "true")
	case 'f':
		return s.lit(i, "false")
	case 'n':
		return s.lit(i, "null")
	default:
		return s.num(i)
	}
}

// skipNested skips an object or array starting at i and validates it as
// JSON, tracking depth in a small stack so hostile nesting cannot exhaust
// the goroutine stack. Values kept as text (requestParameters, ...) go to
// JSON-queried columns, so they must be valid JSON.
func (s *scanner) skipNested(i int) (int, error) {
	b := s.buf
	var stack [64]byte
	deep := stack[:0]
	// After an opening bracket or a comma we expect a value (or a key in an
	// object); after a value, a comma or a closing bracket.
	const (
		wantValue = iota // a value, or a closing bracket right after an opening one
		wantKey          // an object key (or '}' right after '{')
		wantComma        // ',' or the closing bracket
	)
	state, empty := wantValue, true // empty: the container was just opened
	deep = append(deep, b[i])
	if b[i] == '{' {
		state = wantKey
	}
	i++
	for {
		i = s.ws(i)
		if i >= len(b) {
			return 0, errShort
		}
		c := b[i]
		switch state {
		case wantKey:
			if c == '}' && empty {
				goto closeBracket
			}
			if c != '"' {
				return 0, s.errAt(i, "expected object key, found %q", c)
			}
			end, _, err := s.strEnd(i + 1)
			if err != nil {
				return 0, err
			}
			j, err := s.expect(end+1, ':')
			if err != nil {
				return 0, err
			}
			i = j
			state, empty = wantValue, false
			continue
		case wantValue:
			if c == ']' && empty && deep[len(deep)-1] == '[' {
				goto closeBracket
			}
			empty = false
			switch c {
			case '{', '[':
				if len(deep) >= maxDepth {
					return 0, s.errAt(i, "nesting deeper than %d", maxDepth)
				}
				deep = append(deep, c)
				state, empty = wantValue, true
				if c == '{' {
					state = wantKey
				}
				i++
				continue
			case '"':
				end, _, err := s.strEnd(i + 1)
				if err != nil {
					return 0, err
				}
				i = end + 1
			case 't':
				j, err := s.lit(i, "true")
				if err != nil {
					return 0, err
				}
				i = j
			case 'f':
				j, err := s.lit(i, "false")
				if err != nil {
					return 0, err
				}
				i = j
			case 'n':
				j, err := s.lit(i, "null")
				if err != nil {
					return 0, err
				}
				i = j
			default:
				j, err := s.num(i)
				if err != nil {
					return 0, err
				}
				i = j
			}
			state = wantComma
			continue
		case wantComma:
			switch c {
			case ',':
				state = wantValue
				if deep[len(deep)-1] == '{' {
					state = wantKey
				}
				i++
				continue
			case '}', ']':
				goto closeBracket
			}
			return 0, s.errAt(i, "expected ',' or closing bracket, found %q", c)
		}
	closeBracket:
		if (c == '}') != (deep[len(deep)-1] == '{') {
			return 0, s.errAt(i, "mismatched %q", c)
		}
		deep = deep[:len(deep)-1]
		i++
		if len(deep) == 0 {
			return i, nil
		}
		state, empty = wantComma, false
	}
}

// maxDepth bounds JSON nesting.
const maxDepth = 512

func (s *scanner) lit(i int, want string) (int, error) {
	b := s.buf
	if len(b)-i < len(want) {
		if string(b[i:]) == want[:len(b)-i] {
			return 0, errShort
		}
		return 0, s.errAt(i, "invalid literal")
	}
	if string(b[i:i+len(want)]) != want {
		return 0, s.errAt(i, "invalid literal")
	}
	return i + len(want), nil
}

// num validates the JSON number at i and returns the index after it.
func (s *scanner) num(i int) (int, error) {
	b := s.buf
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	// int: 0 | [1-9][0-9]*
	switch {
	case j >= len(b):
		return 0, errShort
	case b[j] == '0':
		j++
	case b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return 0, s.errAt(j, "unexpected character %q", b[j])
	}
	if j < len(b) && b[j] == '.' {
		j++
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == k {
			if j >= len(b) {
				return 0, errShort
			}
			return 0, s.errAt(j, "invalid number")
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == k {
			if j >= len(b) {
				return 0, errShort
			}
			return 0, s.errAt(j, "invalid number")
		}
	}
	if j >= len(b) {
		// A number may continue in the next read.
		return 0, errShort
	}
	return j, nil
}

// expect checks that the next non-space byte is c and returns the index
// after it.
func (s *scanner) expect(i int, c byte) (int, error) {
	i = s.ws(i)
	if i >= len(s.buf) {
		return 0, errShort
	}
	if s.buf[i] != c {
		return 0, s.errAt(i, "expected %q, found %q", c, s.buf[i])
	}
	return i + 1, nil
}

// objectIter walks the members of an object whose '{' is at i. fn gets
// the raw key (escapes intact) and the index of the value; it returns the
// index after the value.
func (s *scanner) object(i int, fn func(key []byte, esc bool, v int) (int, error)) (int, error) {
	b := s.buf
	i++ // '{'
	i = s.ws(i)
	if i >= len(b) {
		return 0, errShort
	}
	if b[i] == '}' {
		return i + 1, nil
	}
	for {
		if b[i] != '"' {
			return 0, s.errAt(i, "expected object key, found %q", b[i])
		}
		key, esc, j, err := s.rawStr(i)
		if err != nil {
			return 0, err
		}
		if j, err = s.expect(j, ':'); err != nil {
			return 0, err
		}
		j = s.ws(j)
		if j >= len(b) {
			return 0, errShort
		}
		if j, err = fn(key, esc, j); err != nil {
			return 0, err
		}
		j = s.ws(j)
		if j >= len(b) {
			return 0, errShort
		}
		switch b[j] {
		case ',':
			i = s.ws(j + 1)
			if i >= len(b) {
				return 0, errShort
			}
		case '}':
			return j + 1, nil
		default:
			return 0, s.errAt(j, "expected ',' or '}', found %q", b[j])
		}
	}
}

// isNull reports whether the value at i is the literal null.
func (s *scanner) isNull(i int) bool {
	return len(s.buf)-i >= 4 && string(s.buf[i:i+4]) == "null"
}
