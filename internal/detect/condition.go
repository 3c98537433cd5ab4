package detect

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// nodeOp is a condition operator.
type nodeOp uint8

const (
	nRef nodeOp = iota // a search identifier
	nAnd
	nOr
	nNot
)

// node is a compiled condition.
type node struct {
	op   nodeOp
	ref  int
	kids []*node
}

func (n *node) eval(d *detection, r *record) bool {
	switch n.op {
	case nRef:
		return d.searches[n.ref].match(r)
	case nAnd:
		for _, k := range n.kids {
			if !k.eval(d, r) {
				return false
			}
		}
		return true
	case nOr:
		for _, k := range n.kids {
			if k.eval(d, r) {
				return true
			}
		}
		return false
	case nNot:
		return !n.kids[0].eval(d, r)
	}
	return false
}

// condParser is a recursive-descent parser for Sigma conditions:
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" expr ")" | ("1" | "any" | "all") "of" (ident | pattern | "them") | ident
type condParser struct {
	toks []string
	pos  int
	d    *detection
}

func parseCondition(s string, d *detection) (*node, error) {
	p := &condParser{toks: tokenize(s), d: d}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("the condition is empty")
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return n, nil
}

func tokenize(s string) []string {
	var toks []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			flush()
		case r == '(' || r == ')':
			flush()
			toks = append(toks, string(r))
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return strings.ToLower(p.toks[p.pos])
	}
	return ""
}

func (p *condParser) expr() (*node, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []*node{first}
	for p.peek() == "or" {
		p.pos++
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &node{op: nOr, kids: kids}, nil
}

func (p *condParser) and() (*node, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	kids := []*node{first}
	for p.peek() == "and" {
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &node{op: nAnd, kids: kids}, nil
}

func (p *condParser) unary() (*node, error) {
	if p.peek() == "not" {
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &node{op: nNot, kids: []*node{n}}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (*node, error) {
	tok := p.peek()
	switch tok {
	case "":
		return nil, fmt.Errorf("the condition ends early")
	case "(":
		p.pos++
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return n, nil
	case ")", "and", "or", "of":
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	case "1", "any", "all":
		if p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of") {
			all := tok == "all"
			p.pos += 2
			if p.pos >= len(p.toks) {
				return nil, fmt.Errorf("%s of what?", tok)
			}
			target := p.toks[p.pos]
			p.pos++
			return p.quantifier(all, target)
		}
	}
	if strings.ContainsAny(tok, "*?") {
		return nil, fmt.Errorf("a pattern (%s) needs \"1 of\" or \"all of\" before it", p.toks[p.pos])
	}
	name := p.toks[p.pos]
	i, ok := p.d.byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown search identifier %q", name)
	}
	p.pos++
	return &node{op: nRef, ref: i}, nil
}

// quantifier expands "1 of x*" / "all of them" to an OR / AND of the
// matching search identifiers (them: every identifier not starting with _).
func (p *condParser) quantifier(all bool, target string) (*node, error) {
	var kids []*node
	for i, s := range p.d.searches {
		var ok bool
		if strings.EqualFold(target, "them") {
			ok = !strings.HasPrefix(s.name, "_")
		} else {
			ok, _ = path.Match(target, s.name)
		}
		if ok {
			kids = append(kids, &node{op: nRef, ref: i})
		}
	}
	if len(kids) == 0 {
		return nil, fmt.Errorf("no search identifier matches %q", target)
	}
	op := nOr
	if all {
		op = nAnd
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return &node{op: op, kids: kids}, nil
}

// aggregation is a Sigma 1 aggregation expression (selection | count() by x
// > 10), evaluated as the equivalent correlation.
type aggregation struct {
	typ      corrType
	field    string // count(field): distinct values
	groupBy  []string
	cond     countCond
	timespan time.Duration
}

func parseAggregation(s string, timeframe time.Duration) (*aggregation, error) {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	if strings.HasPrefix(lower, "near") {
		return nil, fmt.Errorf("the near aggregation is not supported; write a temporal correlation rule")
	}
	if !strings.HasPrefix(lower, "count(") {
		return nil, fmt.Errorf("only count() aggregations are supported (min, max, avg and sum are not), got %q", s)
	}
	if timeframe <= 0 {
		return nil, fmt.Errorf("an aggregation needs detection.timeframe")
	}
	close := strings.IndexByte(s, ')')
	if close < 0 {
		return nil, fmt.Errorf("missing ) in %q", s)
	}
	a := &aggregation{typ: corrEventCount, timespan: timeframe, field: strings.TrimSpace(s[len("count("):close])}
	if a.field != "" {
		a.typ = corrValueCount
	}
	rest := strings.Fields(s[close+1:])
	if len(rest) >= 2 && strings.EqualFold(rest[0], "by") {
		a.groupBy = []string{rest[1]}
		rest = rest[2:]
	}
	if len(rest) != 2 {
		return nil, fmt.Errorf("expected a comparison such as > 10 after count(), got %q", strings.Join(rest, " "))
	}
	n, err := strconv.ParseInt(rest[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is not a number", rest[1])
	}
	switch rest[0] {
	case ">":
		a.cond.gt = &n
	case ">=":
		a.cond.gte = &n
	case "<":
		a.cond.lt = &n
	case "<=":
		a.cond.lte = &n
	case "=", "==":
		a.cond.eq = &n
	default:
		return nil, fmt.Errorf("unknown comparison %q", rest[0])
	}
	return a, nil
}
