package detect

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/trailwatch/trailwatch/internal/event"
)

// Options configure an Engine.
type Options struct {
	// MinLevel: rules below it produce no findings (they are still
	// evaluated when a correlation refers to them).
	MinLevel Level
	// Limits bound the correlation state.
	Limits Limits
	// OnFinding receives every finding. Observe calls it from the calling
	// goroutine, so it must be safe for concurrent use when Observe is.
	OnFinding func(Finding)
	Logger    *slog.Logger
}

// Engine evaluates a rule set. Observe is safe for concurrent use.
type Engine struct {
	opts     Options
	rules    []*compiled // detection rules that run
	corrs    []*correlator
	idx      [numLogKinds]ruleIndex
	skipped  []*Rule
	pool     sync.Pool
	records  atomic.Int64
	evals    atomic.Int64
	findings atomic.Int64
}

// compiled is a detection rule at run time.
type compiled struct {
	rule    *Rule
	det     *detection
	emit    bool // produces findings of its own
	parents []*correlator
	id      int
}

// ruleIndex finds the candidate rules for a record.
type ruleIndex struct {
	byName   map[string][]*compiled // lower-cased eventName (operation for access logs)
	bySource map[string][]*compiled // lower-cased eventSource
	always   []*compiled
}

// NewEngine compiles rules into an engine. Rules with errors, and
// correlations that refer to rules that are missing or have errors, are
// left out and listed by Skipped (with the reason added to their
// Problems); NewEngine fails only when no rule is left.
func NewEngine(rules []*Rule, opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Limits.setDefaults()
	e := &Engine{opts: opts}
	e.pool.New = func() any { return &record{buf: make([]value, 0, 8)} }

	// Index rules by id and name; reject duplicates.
	byKey := map[string]*Rule{}
	var usable []*Rule
	for _, r := range rules {
		if !r.OK() {
			e.skipped = append(e.skipped, r)
			continue
		}
		dup := false
		for _, k := range []string{r.ID, r.Name} {
			if k == "" {
				continue
			}
			if other, ok := byKey[k]; ok && other != r {
				r.errorf("duplicate rule id or name %q (also %s)", k, other.Source)
				dup = true
			}
		}
		if dup {
			e.skipped = append(e.skipped, r)
			continue
		}
		for _, k := range []string{r.ID, r.Name} {
			if k != "" {
				byKey[k] = r
			}
		}
		usable = append(usable, r)
	}

	// Resolve correlations (which may refer to correlations), dropping
	// those whose references are missing or cyclic.
	nodes := map[*Rule]int{} // rule -> node id
	nextID := 0
	ok := map[*Rule]bool{}
	var resolve func(r *Rule, seen map[*Rule]bool) bool
	resolve = func(r *Rule, seen map[*Rule]bool) bool {
		if v, done := ok[r]; done {
			return v
		}
		if r.Kind == KindDetection {
			ok[r] = true
			return true
		}
		if seen[r] {
			r.errorf("the correlation refers to itself (directly or through other correlations)")
			ok[r] = false
			return false
		}
		seen[r] = true
		good := true
		for _, ref := range r.corr.rules {
			t, found := byKey[ref]
			if !found {
				r.errorf("the correlation refers to rule %q, which is not loaded (or has errors)", ref)
				good = false
				continue
			}
			if !resolve(t, seen) {
				r.errorf("the correlation refers to rule %q, which cannot be used", ref)
				good = false
			}
		}
		delete(seen, r)
		ok[r] = good
		return good
	}
	for _, r := range usable {
		resolve(r, map[*Rule]bool{})
	}
	var kept []*Rule
	for _, r := range usable {
		if !ok[r] {
			e.skipped = append(e.skipped, r)
			continue
		}
		nodes[r] = nextID
		nextID++
		kept = append(kept, r)
	}

	// Build run-time objects.
	comp := map[*Rule]*compiled{}
	corr := map[*Rule]*correlator{}
	referenced := map[*Rule]bool{}
	generate := map[*Rule]bool{}
	for _, r := range kept {
		switch r.Kind {
		case KindDetection:
			c := &compiled{rule: r, det: r.det, id: nodes[r]}
			comp[r] = c
			if r.det.agg != nil {
				// A Sigma 1 aggregation: the rule itself is the correlation.
				a := r.det.agg
				spec := &corrSpec{typ: a.typ, rules: []string{r.Key()}, groupBy: a.groupBy, timespan: a.timespan, cond: a.cond, fromLegacy: true}
				if a.field != "" {
					spec.fields = []string{a.field}
				}
				cr := e.newCorrelator(r, spec, nextID)
				nextID++
				cr.inputs[c.id] = 0
				cr.group = [][]*field{resolveFields(a.groupBy, r.logs)}
				cr.values = [][]*field{resolveFields(spec.fields, r.logs)}
				cr.emit = r.Level >= opts.MinLevel
				c.parents = append(c.parents, cr)
				referenced[r] = true
			}
		case KindCorrelation:
			corr[r] = e.newCorrelator(r, r.corr, nodes[r])
		}
	}
	for _, r := range kept {
		if r.Kind != KindCorrelation {
			continue
		}
		cr := corr[r]
		cr.emit = r.Level >= opts.MinLevel
		for i, ref := range r.corr.rules {
			t := byKey[ref]
			referenced[t] = true
			if r.corr.generate {
				generate[t] = true
			}
			cr.inputs[nodes[t]] = i
			logs := logCloudTrail
			if t.Kind == KindDetection {
				logs = t.logs
				comp[t].parents = append(comp[t].parents, cr)
			} else {
				corr[t].parents = append(corr[t].parents, cr)
				logs = corr[t].logs()
			}
			cr.group = append(cr.group, resolveFields(aliased(r.corr, t, r.corr.groupBy), logs))
			cr.values = append(cr.values, resolveFields(aliased(r.corr, t, r.corr.fields), logs))
		}
		e.corrs = append(e.corrs, cr)
	}
	for _, c := range comp {
		if c.rule.det.agg != nil {
			e.corrs = append(e.corrs, c.parents[0])
		}
	}
	for _, r := range kept {
		if r.Kind == KindCorrelation {
			// A correlation that is itself referenced (chained) emits only
			// when it is not referenced or asked to generate.
			if referenced[r] && !generate[r] {
				corr[r].emit = false
			}
		}
	}

	for i := range e.idx {
		e.idx[i] = ruleIndex{byName: map[string][]*compiled{}, bySource: map[string][]*compiled{}}
	}
	for _, r := range kept {
		c, isDet := comp[r]
		if !isDet {
			continue
		}
		c.emit = (!referenced[r] || generate[r]) && r.Level >= opts.MinLevel && r.det.agg == nil
		if !c.emit && len(c.parents) == 0 {
			continue // nothing would come of evaluating it
		}
		if !r.logKnown {
			continue
		}
		e.rules = append(e.rules, c)
		ix := &e.idx[r.logs]
		switch {
		case r.det.keyName != nil:
			for _, v := range r.det.keyName {
				ix.byName[v] = append(ix.byName[v], c)
			}
		case r.det.keySource != nil:
			for _, v := range r.det.keySource {
				ix.bySource[v] = append(ix.bySource[v], c)
			}
		default:
			ix.always = append(ix.always, c)
		}
	}
	slices.SortFunc(e.corrs, func(a, b *correlator) int { return a.id - b.id })
	if len(e.rules) == 0 && len(rules) > 0 {
		return e, fmt.Errorf("none of the %d rules can be evaluated (see trailwatch rules lint)", len(rules))
	}
	return e, nil
}

func (e *Engine) newCorrelator(r *Rule, spec *corrSpec, id int) *correlator {
	return &correlator{rule: r, spec: spec, inputs: map[int]int{}, id: id, limits: e.opts.Limits, sampleN: 10}
}

// logs returns the log kind of a correlation's first input.
func (c *correlator) logs() logKind {
	for _, fs := range c.group {
		for _, f := range fs {
			if f.kind == fkALString || f.kind == fkALInt || f.kind == fkALTime {
				return logAccess
			}
		}
	}
	return logCloudTrail
}

// aliased resolves correlation field names through aliases for one
// referenced rule.
func aliased(spec *corrSpec, ref *Rule, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if m, ok := spec.aliases[n]; ok {
			for _, k := range []string{ref.Name, ref.ID} {
				if f, ok := m[k]; ok && k != "" {
					out[i] = f
					break
				}
			}
		}
	}
	return out
}

func resolveFields(names []string, logs logKind) []*field {
	out := make([]*field, len(names))
	for i, n := range names {
		out[i], _ = resolveField(n, logs)
	}
	return out
}

// Skipped returns the rules that are not evaluated, with the reason in
// their Problems.
func (e *Engine) Skipped() []*Rule { return e.skipped }

// Observe evaluates every record of the batch. It is meant as
// pipeline.Options.Observe: the batch is only read during the call.
func (e *Engine) Observe(_ context.Context, b *event.Batch) {
	r := e.pool.Get().(*record)
	obj := ""
	if b.Len() > 0 {
		obj = b.Object.URI()
	}
	var evals int64
	var hits []hit
	for i := range b.Events {
		r.reset(logCloudTrail, &b.Events[i], nil)
		evals += e.eval(r, obj, &hits)
	}
	for i := range b.Insights {
		r.reset(logInsight, &b.Insights[i], nil)
		evals += e.eval(r, obj, &hits)
	}
	for i := range b.AccessLogs {
		r.reset(logAccess, nil, &b.AccessLogs[i])
		evals += e.eval(r, obj, &hits)
	}
	r.reset(logCloudTrail, nil, nil)
	e.pool.Put(r)
	e.records.Add(int64(len(b.Events) + len(b.Insights) + len(b.AccessLogs)))
	e.evals.Add(evals)
}

// eval runs the candidate rules on one record and returns how many ran.
func (e *Engine) eval(r *record, obj string, hits *[]hit) int64 {
	ix := &e.idx[r.kind]
	var name, source string
	if r.kind == logAccess {
		name = r.al.Operation
	} else {
		name, source = r.ct.EventName, r.ct.EventSource
	}
	n := int64(0)
	if len(ix.byName) > 0 {
		for _, c := range ix.byName[lowerKey(r, name)] {
			n++
			e.try(c, r, obj, hits)
		}
	}
	if len(ix.bySource) > 0 && source != "" {
		for _, c := range ix.bySource[lowerKey(r, source)] {
			n++
			e.try(c, r, obj, hits)
		}
	}
	for _, c := range ix.always {
		n++
		e.try(c, r, obj, hits)
	}
	return n
}

// lowerKey lower-cases s into the record's scratch space; the result is
// valid until the next call and only used for map lookups.
func lowerKey(r *record, s string) string {
	b := r.tmp[:0]
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			upper = true
		}
		b = append(b, c)
	}
	r.tmp = b
	if !upper {
		return s
	}
	return unsafe.String(&b[0], len(b))
}

func (e *Engine) try(c *compiled, r *record, obj string, hits *[]hit) {
	if !c.det.match(r) {
		return
	}
	if c.emit {
		e.emit(newFinding(c.rule, r, obj))
	}
	if len(c.parents) == 0 {
		return
	}
	*hits = (*hits)[:0]
	e.propagate(c.id, c.parents, r, obj, hits)
}

// propagate feeds a match to correlations, and their firings to theirs.
func (e *Engine) propagate(id int, parents []*correlator, r *record, obj string, hits *[]hit) {
	for _, p := range parents {
		start := len(*hits)
		*hits = p.observe(e, id, r, *hits)
		fired := (*hits)[start:]
		for i := range fired {
			h := fired[i]
			if p.emit {
				e.emit(h.finding(r, obj))
			}
			if len(p.parents) > 0 {
				e.propagate(p.id, p.parents, r, obj, hits)
			}
		}
	}
}

func (e *Engine) emit(f Finding) {
	e.findings.Add(1)
	if e.opts.OnFinding != nil {
		e.opts.OnFinding(f)
	}
}

// finding turns a correlation firing into a finding, taking the event
// fields from the record that made it fire (nil at end of input).
func (h *hit) finding(r *record, obj string) Finding {
	var f Finding
	if r != nil {
		f = newFinding(h.c.rule, r, obj)
	} else {
		f = Finding{RuleID: h.c.rule.Key(), RuleName: h.c.rule.Name, Title: h.c.rule.Title, Level: h.c.rule.Level, Tags: h.c.rule.Tags, Time: time.Unix(0, h.first).UTC()}
		if len(h.ids) > 0 {
			f.EventID = h.ids[len(h.ids)-1]
		}
	}
	f.Kind = "correlation"
	if h.c.spec.typ == corrFirstSeen {
		f.Kind = "first_seen"
	}
	f.FirstTime = time.Unix(0, h.first).UTC()
	f.Count = h.count
	f.EventIDs = h.ids
	f.Group = h.group
	if len(h.details) > 0 {
		if f.Details == nil {
			f.Details = map[string]string{}
		}
		for k, v := range h.details {
			f.Details[k] = v
		}
	}
	return f
}

// Flush decides the correlation windows still open (conditions with an
// upper bound, such as lt: 5, are only decided when a window closes) and
// emits what fires. Call it at the end of the input.
func (e *Engine) Flush() {
	for _, c := range e.corrs {
		for _, h := range c.flush() {
			if c.emit {
				e.emit(h.finding(nil, ""))
			}
		}
	}
}

// Expire forgets the correlation groups whose windows have closed (by the
// latest event time seen, plus Limits.Lateness) and emits what their
// bounded conditions (lt, lte) decide, leaving open windows alone. The
// engine does this by itself every few thousand records per rule; a
// long-running process calls it periodically too, so that quiet rules free
// their memory and decide their windows. Safe for concurrent use with
// Observe.
func (e *Engine) Expire() {
	for _, c := range e.corrs {
		for _, h := range c.expire() {
			if c.emit {
				e.emit(h.finding(nil, ""))
			}
		}
	}
}

// Stats describes the engine's work so far.
type Stats struct {
	Rules        int   // detection rules evaluated
	Correlations int   // correlation rules
	Skipped      int   // rules left out because of errors
	Indexed      int   // detection rules found through the eventName/eventSource index
	Records      int64 // records observed
	Evaluations  int64 // rule evaluations (candidates tried)
	Findings     int64
	Groups       int // correlation groups held
	Entries      int // correlation timestamps and values held
}

// Stats returns counters of the engine's work.
func (e *Engine) Stats() Stats {
	s := Stats{Rules: len(e.rules), Correlations: len(e.corrs), Skipped: len(e.skipped),
		Records: e.records.Load(), Evaluations: e.evals.Load(), Findings: e.findings.Load()}
	for _, c := range e.rules {
		if c.det.keyName != nil || c.det.keySource != nil {
			s.Indexed++
		}
	}
	for _, c := range e.corrs {
		g, n := c.stateSize()
		s.Groups += g
		s.Entries += n
	}
	return s
}
