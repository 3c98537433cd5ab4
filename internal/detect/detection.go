package detect

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"go.yaml.in/yaml/v3"
)

// detection is a compiled Sigma detection section.
type detection struct {
	searches []*search
	byName   map[string]int
	cond     *node
	agg      *aggregation // a Sigma 1 aggregation in the condition (| count() ...)
	// keyName and keySource are the lower-cased eventName / eventSource
	// (operation for access logs) values a matching record must have, or
	// nil when the condition does not pin one.
	keyName, keySource []string
	fields             []*field // every field the detection reads
}

// search is one search identifier: an OR of AND-ed field matchers, or
// keywords.
type search struct {
	name     string
	alts     [][]*fieldMatcher
	keywords []patternGroup
	kwAll    bool
}

// patternGroup is what one Sigma value compiles to: usually one pattern,
// several when a modifier expands a value (base64offset).
type patternGroup []pattern

// fieldMatcher is one field: modifiers: values entry.
type fieldMatcher struct {
	f      *field
	groups []patternGroup
	all    bool // |all: every value must match
	neq    bool // |neq: no value may match
}

// knownModifiers lists the modifiers trailwatch evaluates.
var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true, "re": true, "i": true, "m": true, "s": true,
	"cidr": true, "lt": true, "lte": true, "gt": true, "gte": true, "exists": true, "fieldref": true, "cased": true,
	"neq": true, "base64": true, "base64offset": true, "utf16le": true, "wide": true, "utf16be": true, "utf16": true,
}

// unsupportedModifiers are Sigma modifiers trailwatch does not evaluate.
var unsupportedModifiers = map[string]string{
	"windash": "it expands Windows command-line dashes, which CloudTrail does not have",
	"expand":  "placeholders need values from a processing pipeline, which trailwatch does not have",
	"minute":  "time-part modifiers are not supported", "hour": "time-part modifiers are not supported",
	"day": "time-part modifiers are not supported", "week": "time-part modifiers are not supported",
	"month": "time-part modifiers are not supported", "year": "time-part modifiers are not supported",
}

func compileDetection(r *Rule, n *yaml.Node) *detection {
	d := &detection{byName: map[string]int{}}
	if n.Kind != yaml.MappingNode {
		r.errorf("detection must be a mapping")
		return d
	}
	var conds []string
	var timeframe time.Duration
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "condition":
			switch v.Kind {
			case yaml.ScalarNode:
				conds = []string{v.Value}
			case yaml.SequenceNode:
				conds = scalars(v)
			default:
				r.errorf("condition must be a string or a list of strings")
			}
		case "timeframe":
			tf, err := parseTimespan(scalar(v))
			if err != nil {
				r.errorf("timeframe: %v", err)
			}
			timeframe = tf
		default:
			s := compileSearch(r, k, v)
			d.byName[k] = len(d.searches)
			d.searches = append(d.searches, s)
		}
	}
	if len(conds) == 0 {
		r.errorf("detection has no condition")
		return d
	}
	var roots []*node
	for _, c := range conds {
		text, aggText, hasAgg := strings.Cut(c, "|")
		root, err := parseCondition(text, d)
		if err != nil {
			r.errorf("condition %q: %v", c, err)
			continue
		}
		if hasAgg {
			if len(conds) > 1 {
				r.errorf("condition %q: an aggregation must be the rule's only condition", c)
				continue
			}
			agg, err := parseAggregation(aggText, timeframe)
			if err != nil {
				r.errorf("condition %q: %v", c, err)
				continue
			}
			d.agg = agg
			r.warnf("condition %q uses a Sigma 1 aggregation (deprecated); it is evaluated as a %s correlation over %s", c, agg.typ, agg.timespan)
		}
		roots = append(roots, root)
	}
	if len(roots) == 1 {
		d.cond = roots[0]
	} else if len(roots) > 1 {
		d.cond = &node{op: nOr, kids: roots}
	}
	if d.cond != nil {
		d.checkUnused(r)
		nameField, sourceField := "eventname", "eventsource"
		if r.logs == logAccess {
			nameField, sourceField = "operation", ""
		}
		if vals, ok := d.keyValues(d.cond, nameField); ok {
			d.keyName = vals
		} else if sourceField != "" {
			if vals, ok := d.keyValues(d.cond, sourceField); ok {
				d.keySource = vals
			}
		}
	}
	return d
}

func (d *detection) checkUnused(r *Rule) {
	used := map[int]bool{}
	var visit func(n *node)
	visit = func(n *node) {
		if n.op == nRef {
			used[n.ref] = true
		}
		for _, k := range n.kids {
			visit(k)
		}
	}
	visit(d.cond)
	for i, s := range d.searches {
		if !used[i] {
			r.warnf("search identifier %q is not used in the condition", s.name)
		}
	}
}

func compileSearch(r *Rule, name string, n *yaml.Node) *search {
	s := &search{name: name}
	switch n.Kind {
	case yaml.MappingNode:
		if kw, ok := keywordMap(r, s, n); ok {
			s.keywords = kw
			return s
		}
		s.alts = [][]*fieldMatcher{compileMap(r, name, n)}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			r.errorf("search %q is an empty list", name)
			return s
		}
		if n.Content[0].Kind == yaml.MappingNode {
			for _, c := range n.Content {
				if c.Kind != yaml.MappingNode {
					r.errorf("search %q mixes maps and values in one list", name)
					continue
				}
				s.alts = append(s.alts, compileMap(r, name, c))
			}
			return s
		}
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				r.errorf("search %q: keywords must be strings", name)
				continue
			}
			s.keywords = append(s.keywords, compileKeyword(r, name, c.Value, nil))
		}
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			r.errorf("search %q is empty", name)
			return s
		}
		s.keywords = []patternGroup{compileKeyword(r, name, n.Value, nil)}
	default:
		r.errorf("search %q: unexpected %s", name, nodeKind(n))
	}
	return s
}

// keywordMap handles the keyword form with modifiers: '|all': [...].
func keywordMap(r *Rule, s *search, n *yaml.Node) ([]patternGroup, bool) {
	if len(n.Content) != 2 || !strings.HasPrefix(n.Content[0].Value, "|") {
		return nil, false
	}
	mods := strings.Split(strings.TrimPrefix(n.Content[0].Value, "|"), "|")
	var out []patternGroup
	for _, v := range valueNodes(n.Content[1]) {
		out = append(out, compileKeyword(r, s.name, v.Value, mods))
	}
	for _, m := range mods {
		if m == "all" {
			s.kwAll = true
		}
	}
	return out, true
}

// compileKeyword compiles a keyword: a value searched anywhere in the
// record as delivered (contains).
func compileKeyword(r *Rule, search, v string, mods []string) patternGroup {
	cased := false
	for _, m := range mods {
		switch m {
		case "all", "contains":
		case "cased":
			cased = true
		default:
			r.errorf("search %q: modifier %q is not supported on keywords", search, m)
		}
	}
	toks := append([]globTok{{star: true}}, sigmaString(v)...)
	toks = append(toks, globTok{star: true})
	return patternGroup{buildStringPattern(toks, cased)}
}

func valueNodes(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return []*yaml.Node{n}
}

func compileMap(r *Rule, search string, n *yaml.Node) []*fieldMatcher {
	var out []*fieldMatcher
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		fm := compileFieldMatcher(r, search, key, n.Content[i+1])
		if fm != nil {
			out = append(out, fm)
		}
	}
	return out
}

// modifiers is the parsed modifier chain of one field.
type modifiers struct {
	position   patOp // opEq, opPrefix, opSuffix, opContains
	re         bool
	reFlags    string
	cidr       bool
	cmp        *cmpOp
	exists     bool
	fieldref   bool
	cased      bool
	all        bool
	neq        bool
	transforms []string // base64, base64offset, utf16le, utf16be, utf16, in order
}

func compileFieldMatcher(r *Rule, search, key string, vn *yaml.Node) *fieldMatcher {
	parts := strings.Split(key, "|")
	name := parts[0]
	if name == "" {
		r.errorf("search %q: a field name is missing before %q", search, key)
		return nil
	}
	var m modifiers
	bad := false
	for _, mod := range parts[1:] {
		mod = strings.ToLower(mod)
		if why, ok := unsupportedModifiers[mod]; ok {
			r.errorf("search %q, field %s: modifier %q is not supported: %s", search, name, mod, why)
			bad = true
			continue
		}
		if !knownModifiers[mod] {
			r.errorf("search %q, field %s: unknown modifier %q", search, name, mod)
			bad = true
			continue
		}
		switch mod {
		case "contains":
			m.position = opContains
		case "startswith":
			m.position = opPrefix
		case "endswith":
			m.position = opSuffix
		case "all":
			m.all = true
		case "re":
			m.re = true
		case "i", "m", "s":
			if !m.re {
				r.errorf("search %q, field %s: modifier %q applies to |re only", search, name, mod)
				bad = true
			}
			m.reFlags += mod
		case "cidr":
			m.cidr = true
		case "lt", "lte", "gt", "gte":
			c := map[string]cmpOp{"lt": cmpLT, "lte": cmpLTE, "gt": cmpGT, "gte": cmpGTE}[mod]
			m.cmp = &c
		case "exists":
			m.exists = true
		case "fieldref":
			m.fieldref = true
		case "cased":
			m.cased = true
		case "neq":
			m.neq = true
		case "wide":
			m.transforms = append(m.transforms, "utf16le")
		default:
			m.transforms = append(m.transforms, mod)
		}
	}
	if bad {
		return nil
	}
	f, known := resolveField(name, r.logs)
	if !known && r.logKnown {
		if r.logs == logAccess {
			r.errorf("search %q: %s is not a field of S3 server access logs (use the Athena column names: remoteip, requester, operation, key, httpstatus, errorcode, ...)", search, name)
			return nil
		}
		r.warnf("search %q: %s is not a documented CloudTrail field; it is read from the event's unmapped fields", search, name)
	}
	fm := &fieldMatcher{f: f, all: m.all, neq: m.neq}
	vals := valueNodes(vn)
	if vn.Kind == yaml.MappingNode {
		r.errorf("search %q, field %s: a value cannot be a mapping", search, name)
		return nil
	}
	if m.all && len(vals) < 2 {
		r.warnf("search %q, field %s: |all with a single value is the same as without it", search, name)
	}
	for _, v := range vals {
		g, err := compileValue(r, v, m)
		if err != nil {
			r.errorf("search %q, field %s: %v", search, name, err)
			return nil
		}
		fm.groups = append(fm.groups, g)
	}
	if len(fm.groups) == 0 {
		r.errorf("search %q, field %s: no values", search, name)
		return nil
	}
	return fm
}

func compileValue(r *Rule, v *yaml.Node, m modifiers) (patternGroup, error) {
	if v.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("values must be scalars, not %s", nodeKind(v))
	}
	isNull := v.Tag == "!!null"
	text := v.Value
	switch {
	case m.exists:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, fmt.Errorf("|exists takes true or false, not %q", text)
		}
		return patternGroup{{op: opExists, exist: b}}, nil
	case isNull:
		if m.re || m.cidr || m.cmp != nil || m.fieldref || len(m.transforms) > 0 || m.position != opEq {
			return nil, fmt.Errorf("null cannot be used with modifiers")
		}
		return patternGroup{{op: opNull}}, nil
	case m.fieldref:
		f, known := resolveField(text, r.logs)
		if !known && r.logKnown && r.logs == logAccess {
			return nil, fmt.Errorf("|fieldref: %s is not a field of S3 server access logs", text)
		}
		if !known && r.logKnown {
			r.warnf("|fieldref: %s is not a documented CloudTrail field; it is read from the event's unmapped fields", text)
		}
		return patternGroup{{op: opFieldRef, ref: f, refOp: m.position, cased: m.cased}}, nil
	case m.re:
		flags := ""
		if m.reFlags != "" {
			flags = "(?" + m.reFlags + ")"
		}
		re, err := regexp.Compile(flags + text)
		if err != nil {
			return nil, fmt.Errorf("|re: %q is not a regular expression trailwatch can evaluate (RE2 syntax: no lookaround or backreferences): %v", text, err)
		}
		return patternGroup{{op: opRe, re: re, s: requiredLiteral(flags + text)}}, nil
	case m.cidr:
		pfx, err := netip.ParsePrefix(text)
		if err != nil {
			a, aerr := netip.ParseAddr(text)
			if aerr != nil {
				return nil, fmt.Errorf("|cidr: %q is not a CIDR prefix", text)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		return patternGroup{{op: opCIDR, pfx: pfx.Masked()}}, nil
	case m.cmp != nil:
		n, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return patternGroup{{op: opNum, cmp: *m.cmp, num: n}}, nil
	}
	// Plain strings and numbers, possibly transformed.
	var variants []string
	literal := false
	if len(m.transforms) > 0 {
		variants = []string{text}
		literal = true
		for _, t := range m.transforms {
			variants = transform(t, variants)
		}
	}
	var g patternGroup
	if !literal {
		toks := sigmaString(text)
		g = patternGroup{positioned(toks, m.position, m.cased)}
		if v.Tag == "!!int" || v.Tag == "!!float" {
			if n, err := strconv.ParseFloat(text, 64); err == nil && g[0].op == opEq {
				g[0].isNum, g[0].num = true, n
			}
		}
		return g, nil
	}
	pos := m.position
	if slices.Contains(m.transforms, "base64offset") && pos == opEq {
		pos = opContains // base64offset values are only meaningful inside a string
	}
	for _, s := range variants {
		g = append(g, positioned(literalTokens(s), pos, true))
	}
	return g, nil
}

// positioned applies contains/startswith/endswith to tokens.
func positioned(toks []globTok, pos patOp, cased bool) pattern {
	switch pos {
	case opContains:
		toks = append(append([]globTok{{star: true}}, toks...), globTok{star: true})
	case opPrefix:
		toks = append(toks, globTok{star: true})
	case opSuffix:
		toks = append([]globTok{{star: true}}, toks...)
	}
	return buildStringPattern(toks, cased)
}

// transform applies an encoding modifier to every variant.
func transform(mod string, in []string) []string {
	var out []string
	for _, s := range in {
		switch mod {
		case "base64":
			out = append(out, base64.StdEncoding.EncodeToString([]byte(s)))
		case "base64offset":
			// As pySigma: the three alignments of the value inside a longer
			// base64 string, without the characters that depend on its
			// neighbours.
			b := []byte(s)
			for i := range 3 {
				enc := base64.StdEncoding.EncodeToString(append(make([]byte, i), b...))
				start := [...]int{0, 2, 3}[i]
				end := len(enc) - [...]int{0, 3, 2}[(len(b)+i)%3]
				if end > start {
					out = append(out, enc[start:end])
				}
			}
		case "utf16le", "utf16be", "utf16":
			u := utf16.Encode([]rune(s))
			var b []byte
			if mod == "utf16" {
				b = append(b, 0xff, 0xfe)
			}
			for _, c := range u {
				if mod == "utf16be" {
					b = append(b, byte(c>>8), byte(c))
				} else {
					b = append(b, byte(c), byte(c>>8))
				}
			}
			out = append(out, string(b))
		default:
			out = append(out, s)
		}
	}
	return out
}

// match evaluates the detection against a record.
func (d *detection) match(r *record) bool {
	return d.cond.eval(d, r)
}

func (s *search) match(r *record) bool {
	if s.keywords != nil {
		raw := r.rawText()
		if s.kwAll {
			for i := range s.keywords {
				if !s.keywords[i].matchString(raw) {
					return false
				}
			}
			return true
		}
		for i := range s.keywords {
			if s.keywords[i].matchString(raw) {
				return true
			}
		}
		return false
	}
	for _, alt := range s.alts {
		ok := true
		for _, fm := range alt {
			if !fm.match(r) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (g patternGroup) matchString(s string) bool {
	for i := range g {
		if g[i].matchString(s) {
			return true
		}
	}
	return false
}

// rawText returns the record as delivered, for keyword searches.
func (r *record) rawText() string {
	if r.kind == logAccess {
		return r.al.Raw
	}
	return r.ct.Raw
}

func (fm *fieldMatcher) match(r *record) bool {
	vals := fm.f.get(r, r.buf[:0])
	r.buf = vals[:0]
	ok := fm.matchValues(r, vals)
	if fm.neq {
		return !ok
	}
	return ok
}

func (fm *fieldMatcher) matchValues(r *record, vals []value) bool {
	if fm.all {
		for _, g := range fm.groups {
			if !g.matchAny(r, vals) {
				return false
			}
		}
		return true
	}
	for _, g := range fm.groups {
		if g.matchAny(r, vals) {
			return true
		}
	}
	return false
}

// matchAny reports whether any value matches any pattern of the group.
func (g patternGroup) matchAny(r *record, vals []value) bool {
	for i := range g {
		p := &g[i]
		switch p.op {
		case opNull:
			null := true
			for j := range vals {
				if vals[j].kind != vNull {
					null = false
					break
				}
			}
			if null {
				return true
			}
			continue
		case opExists:
			if (len(vals) > 0) == p.exist {
				return true
			}
			continue
		case opFieldRef:
			if p.matchRef(r, vals) {
				return true
			}
			continue
		}
		for j := range vals {
			if p.matchValue(&vals[j]) {
				return true
			}
		}
	}
	return false
}

// matchRef compares the field's values with those of the referenced field.
func (p *pattern) matchRef(r *record, vals []value) bool {
	if len(vals) == 0 {
		return false
	}
	// The referenced values go after the field's own in the scratch space.
	refs := p.ref.get(r, make([]value, 0, 2))
	for i := range vals {
		a := vals[i].text()
		if vals[i].kind == vNull {
			continue
		}
		for j := range refs {
			if refs[j].kind == vNull {
				continue
			}
			b := refs[j].text()
			if !p.cased {
				a, b = strings.ToLower(a), strings.ToLower(b)
			}
			var ok bool
			switch p.refOp {
			case opPrefix:
				ok = strings.HasPrefix(a, b)
			case opSuffix:
				ok = strings.HasSuffix(a, b)
			case opContains:
				ok = strings.Contains(a, b)
			default:
				ok = a == b
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// keyValues returns the lower-cased values field must have (canonical
// name) for the node to match, when the node pins them.
func (d *detection) keyValues(n *node, field string) ([]string, bool) {
	switch n.op {
	case nRef:
		s := d.searches[n.ref]
		if s.keywords != nil || len(s.alts) == 0 {
			return nil, false
		}
		var out []string
		for _, alt := range s.alts {
			vals, ok := altKeyValues(alt, field)
			if !ok {
				return nil, false
			}
			out = append(out, vals...)
		}
		return dedupe(out), true
	case nAnd:
		var best []string
		found := false
		for _, k := range n.kids {
			if vals, ok := d.keyValues(k, field); ok && (!found || len(vals) < len(best)) {
				best, found = vals, true
			}
		}
		return best, found
	case nOr:
		var out []string
		for _, k := range n.kids {
			vals, ok := d.keyValues(k, field)
			if !ok {
				return nil, false
			}
			out = append(out, vals...)
		}
		return dedupe(out), true
	}
	return nil, false
}

func altKeyValues(alt []*fieldMatcher, field string) ([]string, bool) {
	for _, fm := range alt {
		if fm.f.canon != field || fm.neq || (fm.all && len(fm.groups) > 1) {
			continue
		}
		var out []string
		ok := true
		for _, g := range fm.groups {
			for _, p := range g {
				if p.op != opEq {
					ok = false
					break
				}
				out = append(out, strings.ToLower(p.s))
			}
		}
		if ok {
			return out, true
		}
	}
	return nil, false
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// parseTimespan parses a Sigma timespan: a number and s, m, h, d or w.
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("invalid timespan %q (use e.g. 30s, 5m, 1h, 7d)", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid timespan %q (use e.g. 30s, 5m, 1h, 7d)", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("invalid timespan %q (use e.g. 30s, 5m, 1h, 7d)", s)
	}
	return time.Duration(n) * unit, nil
}
