package detect

import (
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// patOp is how a pattern compares a value.
type patOp uint8

const (
	opEq       patOp = iota // equal
	opPrefix                // starts with
	opSuffix                // ends with
	opContains              // contains
	opGlob                  // wildcard pattern with inner * or ?
	opRe                    // regular expression
	opCIDR                  // IP address within a prefix
	opNum                   // numeric comparison
	opNull                  // the field is absent or null
	opExists                // the field is (or is not) present
	opFieldRef              // compare with another field of the same record
	opAny                   // any non-null value (a lone "*")
)

// cmpOp is a numeric comparison.
type cmpOp uint8

const (
	cmpLT cmpOp = iota
	cmpLTE
	cmpGT
	cmpGTE
)

// pattern is one compiled Sigma value.
type pattern struct {
	op    patOp
	s     string // literal; lower-cased unless cased
	cased bool
	glob  []globTok
	re    *regexp.Regexp
	pfx   netip.Prefix
	cmp   cmpOp
	num   float64
	isNum bool // s is a number: compare numbers numerically too
	exist bool
	ref   *field
	refOp patOp // opEq, opPrefix, opSuffix or opContains for opFieldRef
}

// globTok is one token of a wildcard pattern.
type globTok struct {
	r    rune // literal rune (lower-cased unless cased)
	star bool // *
	one  bool // ?
}

// sigmaString parses a Sigma string value into tokens: * and ? are
// wildcards; a backslash escapes *, ? and itself and is literal elsewhere.
func sigmaString(s string) []globTok {
	toks := make([]globTok, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			toks = append(toks, globTok{r: rune(s[i+1])})
			i += 2
			continue
		case c == '*':
			toks = append(toks, globTok{star: true})
		case c == '?':
			toks = append(toks, globTok{one: true})
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			toks = append(toks, globTok{r: r})
			i += n
			continue
		}
		i++
	}
	return toks
}

// literalTokens wraps a literal string (no wildcards) as tokens.
func literalTokens(s string) []globTok {
	toks := make([]globTok, 0, len(s))
	for _, r := range s {
		toks = append(toks, globTok{r: r})
	}
	return toks
}

// buildStringPattern turns tokens into the cheapest pattern that matches
// the same strings.
func buildStringPattern(toks []globTok, cased bool) pattern {
	// Collapse runs of stars.
	clean := toks[:0:0]
	for _, t := range toks {
		if t.star && len(clean) > 0 && clean[len(clean)-1].star {
			continue
		}
		if !cased && !t.star && !t.one {
			t.r = unicode.ToLower(t.r)
		}
		clean = append(clean, t)
	}
	lead := len(clean) > 0 && clean[0].star
	trail := len(clean) > 1 && clean[len(clean)-1].star
	inner := clean
	if lead {
		inner = inner[1:]
	}
	if trail {
		inner = inner[:len(inner)-1]
	}
	literal := true
	for _, t := range inner {
		if t.star || t.one {
			literal = false
			break
		}
	}
	p := pattern{cased: cased}
	if !literal {
		p.op, p.glob = opGlob, clean
		return p
	}
	var b strings.Builder
	for _, t := range inner {
		b.WriteRune(t.r)
	}
	p.s = b.String()
	switch {
	case lead && len(inner) == 0:
		p.op = opAny
	case lead && trail:
		p.op = opContains
	case lead:
		p.op = opSuffix
	case trail:
		p.op = opPrefix
	default:
		p.op = opEq
	}
	return p
}

// matchString reports whether s matches a string pattern (opEq ...
// opGlob, opRe).
func (p *pattern) matchString(s string) bool {
	switch p.op {
	case opAny:
		return true
	case opEq:
		if p.cased {
			return s == p.s
		}
		return strings.EqualFold(s, p.s)
	case opPrefix:
		if p.cased {
			return strings.HasPrefix(s, p.s)
		}
		return hasPrefixFold(s, p.s)
	case opSuffix:
		if p.cased {
			return strings.HasSuffix(s, p.s)
		}
		return hasSuffixFold(s, p.s)
	case opContains:
		if p.cased {
			return strings.Contains(s, p.s)
		}
		return containsFold(s, p.s)
	case opGlob:
		return globMatch(p.glob, s, p.cased)
	case opRe:
		if p.s != "" && !strings.Contains(s, p.s) {
			return false // the literal every match contains is missing
		}
		return p.re.MatchString(s)
	}
	return false
}

// requiredLiteral returns the longest case-sensitive literal that every
// match of the regular expression contains ("" when there is none), so
// that a cheap substring test can skip most non-matching values: Go's
// regexp only takes that shortcut for literals at the start.
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	var parts []*syntax.Regexp
	switch re.Op {
	case syntax.OpConcat:
		parts = re.Sub
	case syntax.OpLiteral:
		parts = []*syntax.Regexp{re}
	}
	best := ""
	for _, p := range parts {
		if p.Op == syntax.OpLiteral && p.Flags&syntax.FoldCase == 0 && len(string(p.Rune)) > len(best) {
			best = string(p.Rune)
		}
	}
	return best
}

// matchValue reports whether one value matches the pattern.
func (p *pattern) matchValue(v *value) bool {
	if v.kind == vNull {
		return false
	}
	switch p.op {
	case opCIDR:
		a, err := netip.ParseAddr(v.text())
		return err == nil && p.pfx.Contains(a.Unmap())
	case opNum:
		n, ok := v.number()
		if !ok {
			return false
		}
		switch p.cmp {
		case cmpLT:
			return n < p.num
		case cmpLTE:
			return n <= p.num
		case cmpGT:
			return n > p.num
		}
		return n >= p.num
	case opEq:
		if p.isNum && (v.kind == vNum || v.kind == vBool) {
			n, _ := v.number()
			return n == p.num
		}
	}
	return p.matchString(v.text())
}

// number returns the value as a number when it is one.
func (v *value) number() (float64, bool) {
	switch v.kind {
	case vNum, vBool:
		return v.n, true
	case vStr:
		n, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
		return n, err == nil
	}
	return 0, false
}

// hasPrefixFold is strings.HasPrefix ignoring case; prefix is lower-case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return isNonASCII(prefix) && strings.HasPrefix(strings.ToLower(s), prefix)
	}
	if equalFoldLower(s[:len(prefix)], prefix) {
		return true
	}
	return isNonASCII(prefix) && strings.HasPrefix(strings.ToLower(s), prefix)
}

// hasSuffixFold is strings.HasSuffix ignoring case; suffix is lower-case.
func hasSuffixFold(s, suffix string) bool {
	if len(s) >= len(suffix) && equalFoldLower(s[len(s)-len(suffix):], suffix) {
		return true
	}
	return isNonASCII(suffix) && strings.HasSuffix(strings.ToLower(s), suffix)
}

// containsFold is strings.Contains ignoring case; sub is lower-case.
func containsFold(s, sub string) bool {
	if isNonASCII(sub) {
		return strings.Contains(strings.ToLower(s), sub)
	}
	n := len(sub)
	if n == 0 {
		return true
	}
	first := sub[0]
	firstUp := first
	if 'a' <= first && first <= 'z' {
		firstUp = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(s); i++ {
		c := s[i]
		if c != first && c != firstUp {
			continue
		}
		if equalFoldLower(s[i+1:i+n], sub[1:]) {
			return true
		}
	}
	return false
}

// equalFoldLower compares s with the ASCII-lower-case string lower,
// ignoring ASCII case in s. Both have the same length.
func equalFoldLower(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// globMatch matches s against wildcard tokens (* any run, ? one rune),
// backtracking only to the last star.
func globMatch(toks []globTok, s string, cased bool) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for si < len(s) || ti < len(toks) {
		if ti < len(toks) {
			t := toks[ti]
			switch {
			case t.star:
				starT, starS = ti, si
				ti++
				continue
			case si < len(s):
				r, n := utf8.DecodeRuneInString(s[si:])
				if t.one || r == t.r || (!cased && unicode.ToLower(r) == t.r) {
					ti++
					si += n
					continue
				}
			}
		}
		if starT >= 0 && starS < len(s) {
			_, n := utf8.DecodeRuneInString(s[starS:])
			starS += n
			ti, si = starT+1, starS
			continue
		}
		return false
	}
	return true
}
