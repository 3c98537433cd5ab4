package detect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
)

// corrType is a correlation type.
type corrType uint8

const (
	corrEventCount corrType = iota
	corrValueCount
	corrTemporal
	corrTemporalOrdered
	corrFirstSeen // trailwatch extension
)

var corrTypeNames = [...]string{"event_count", "value_count", "temporal", "temporal_ordered", "first_seen"}

func (t corrType) String() string { return corrTypeNames[t] }

// countCond is a correlation condition: bounds on a count.
type countCond struct {
	gt, gte, lt, lte, eq *int64
}

func (c countCond) ok(n int64) bool {
	return (c.gt == nil || n > *c.gt) && (c.gte == nil || n >= *c.gte) && (c.lt == nil || n < *c.lt) &&
		(c.lte == nil || n <= *c.lte) && (c.eq == nil || n == *c.eq)
}

// bounded reports whether the condition has an upper bound: such
// conditions can only be decided when a window closes.
func (c countCond) bounded() bool { return c.lt != nil || c.lte != nil || c.eq != nil }

func (c countCond) empty() bool {
	return c.gt == nil && c.gte == nil && c.lt == nil && c.lte == nil && c.eq == nil
}

func (c countCond) String() string {
	var parts []string
	for _, p := range []struct {
		op string
		v  *int64
	}{{">", c.gt}, {">=", c.gte}, {"<", c.lt}, {"<=", c.lte}, {"=", c.eq}} {
		if p.v != nil {
			parts = append(parts, p.op+" "+strconv.FormatInt(*p.v, 10))
		}
	}
	return strings.Join(parts, " and ")
}

// corrSpec is a parsed correlation section.
type corrSpec struct {
	typ        corrType
	rules      []string
	groupBy    []string
	timespan   time.Duration
	cond       countCond
	fields     []string                     // value_count: the counted field; first_seen: the field(s) whose values are tracked
	aliases    map[string]map[string]string // alias -> rule name/id -> field
	generate   bool
	learning   time.Duration // first_seen: values seen this long after a group's first event are learned silently
	fromLegacy bool
}

func parseCorrelation(r *Rule, n *yaml.Node, generate bool) *corrSpec {
	c := &corrSpec{generate: generate}
	if n.Kind != yaml.MappingNode {
		r.errorf("correlation must be a mapping")
		return c
	}
	typeSet := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "type":
			t := scalar(v)
			found := false
			for j, name := range corrTypeNames {
				if t == name {
					c.typ, found, typeSet = corrType(j), true, true
				}
			}
			if !found {
				r.errorf("correlation type %q is not supported (event_count, value_count, temporal, temporal_ordered, first_seen)", t)
			}
		case "rules":
			c.rules = scalars(v)
		case "group-by":
			c.groupBy = scalars(v)
		case "timespan":
			ts, err := parseTimespan(scalar(v))
			if err != nil {
				r.errorf("timespan: %v", err)
			}
			c.timespan = ts
		case "learning-period":
			lp, err := parseTimespan(scalar(v))
			if err != nil {
				r.errorf("learning-period: %v", err)
			}
			c.learning = lp
		case "generate":
			c.generate = scalar(v) == "true"
		case "condition":
			parseCorrCondition(r, c, v)
		case "aliases":
			c.aliases = map[string]map[string]string{}
			if v.Kind != yaml.MappingNode {
				r.errorf("aliases must be a mapping")
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				m := map[string]string{}
				av := v.Content[j+1]
				for k := 0; k+1 < len(av.Content); k += 2 {
					m[av.Content[k].Value] = scalar(av.Content[k+1])
				}
				c.aliases[v.Content[j].Value] = m
			}
		default:
			r.warnf("correlation attribute %q is not part of the Sigma correlation specification and is ignored", k)
		}
	}
	if !typeSet {
		r.errorf("correlation has no type")
	}
	if len(c.rules) == 0 {
		r.errorf("correlation refers to no rules")
	}
	switch c.typ {
	case corrEventCount, corrValueCount:
		if c.timespan <= 0 {
			r.errorf("%s correlation needs a timespan", c.typ)
		}
		if c.cond.empty() {
			r.errorf("%s correlation needs a condition (gt, gte, lt, lte or eq)", c.typ)
		}
		if c.typ == corrValueCount && len(c.fields) != 1 {
			r.errorf("value_count correlation needs condition.field")
		}
	case corrTemporal, corrTemporalOrdered:
		if c.timespan <= 0 {
			r.errorf("%s correlation needs a timespan", c.typ)
		}
	case corrFirstSeen:
		if len(c.fields) == 0 {
			r.errorf("first_seen correlation needs condition.field (the field whose new values are reported)")
		}
		if c.learning <= 0 {
			r.errorf("first_seen correlation needs learning-period (e.g. 2h): how long values are learned before new ones are reported")
		}
		r.warnf("first_seen is a trailwatch extension to Sigma correlations")
	}
	if len(c.groupBy) == 0 && c.typ != corrFirstSeen {
		r.warnf("correlation has no group-by: all events are counted together")
	}
	return c
}

func parseCorrCondition(r *Rule, c *corrSpec, v *yaml.Node) {
	if v.Kind != yaml.MappingNode {
		r.errorf("correlation condition must be a mapping such as {gte: 10}")
		return
	}
	for j := 0; j+1 < len(v.Content); j += 2 {
		k, val := v.Content[j].Value, v.Content[j+1]
		if k == "field" {
			c.fields = scalars(val)
			continue
		}
		n, err := strconv.ParseInt(scalar(val), 10, 64)
		if err != nil {
			r.errorf("correlation condition %s: %q is not an integer", k, scalar(val))
			continue
		}
		switch k {
		case "gt":
			c.cond.gt = &n
		case "gte":
			c.cond.gte = &n
		case "lt":
			c.cond.lt = &n
		case "lte":
			c.cond.lte = &n
		case "eq":
			c.cond.eq = &n
		default:
			r.errorf("correlation condition %q is not supported (gt, gte, lt, lte, eq, field)", k)
		}
	}
}

// Limits bound the memory correlation rules use. Each correlation rule
// keeps at most MaxGroups groups (distinct group-by values) and at most
// MaxEntries timestamps and values over all its groups, each group at most
// MaxPerGroup of them; at the limits the oldest (or, failing that, arbitrary)
// groups are forgotten. With the defaults a rule holds at most about 100k
// groups and 1M entries: ~100 MB in the worst case of long values, a few
// MB in practice.
type Limits struct {
	MaxGroups   int           // groups per correlation rule; default 100,000
	MaxEntries  int           // timestamps and values per correlation rule; default 1,000,000
	MaxPerGroup int           // timestamps or values per group; default 10,000
	Lateness    time.Duration // how long after its window a group is kept for late events; default 1h
}

func (l *Limits) setDefaults() {
	if l.MaxGroups <= 0 {
		l.MaxGroups = 100_000
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 1_000_000
	}
	if l.MaxPerGroup <= 0 {
		l.MaxPerGroup = 10_000
	}
	if l.Lateness <= 0 {
		l.Lateness = time.Hour
	}
}

const numShards = 16

// correlator is a correlation rule at run time.
type correlator struct {
	rule    *Rule
	spec    *corrSpec
	inputs  map[int]int // input node id -> index of the referenced rule
	group   [][]*field  // per input: the group-by fields
	values  [][]*field  // per input: value_count / first_seen fields
	parents []*correlator
	emit    bool
	id      int
	limits  Limits
	maxTime atomic.Int64
	shards  [numShards]shard
	sampleN int
}

type shard struct {
	mu      sync.Mutex
	groups  map[string]*groupState
	entries int
	ops     int
}

// groupState is the state of one group of one correlation.
type groupState struct {
	first, last int64
	times       []int64   // event_count: sorted event times
	perRule     [][]int64 // temporal: sorted times per referenced rule
	values      map[string]int64
	firedUntil  int64
	winStart    int64 // bounded conditions: the open tumbling window
	winCount    int64
	ids         []string // a sample of the latest event IDs
}

func (g *groupState) size() int {
	n := len(g.times) + len(g.values)
	for _, p := range g.perRule {
		n += len(p)
	}
	return n
}

// hit is what a correlation firing produces before it becomes a finding.
type hit struct {
	c       *correlator
	count   int64
	first   int64
	ids     []string
	group   map[string]string
	details map[string]string
}

// observe updates the correlation with a matching record from input, and
// returns the correlations that fired.
func (c *correlator) observe(e *Engine, input int, r *record, out []hit) []hit {
	idx, ok := c.inputs[input]
	if !ok {
		return out
	}
	ts := r.time()
	if ts.IsZero() {
		return out
	}
	t := ts.UnixNano()
	for {
		m := c.maxTime.Load()
		if t <= m || c.maxTime.CompareAndSwap(m, t) {
			break
		}
	}
	key := r.tmp[:0]
	for i, f := range c.group[idx] {
		if i > 0 {
			key = append(key, 0)
		}
		vals := f.get(r, r.buf[:0])
		if len(vals) > 0 {
			key = append(key, vals[0].text()...)
		}
		r.buf = vals[:0]
	}
	r.tmp = key
	val := r.vtmp[:0]
	var multi []int // value_count: the end offsets of every value of the field in val
	if c.spec.typ == corrValueCount && len(c.values[idx]) == 1 {
		vals := c.values[idx][0].get(r, r.buf[:0])
		for i := range vals {
			if vals[i].kind == vNull {
				continue
			}
			val = append(val, vals[i].text()...)
			multi = append(multi, len(val))
		}
		r.buf = vals[:0]
	} else {
		for i, f := range c.values[idx] {
			if i > 0 {
				val = append(val, '|')
			}
			vals := f.get(r, r.buf[:0])
			if len(vals) > 0 {
				val = append(val, vals[0].text()...)
			}
			r.buf = vals[:0]
		}
	}
	r.vtmp = val
	if len(val) == 0 && c.spec.typ == corrFirstSeen {
		return out // nothing to learn
	}
	h := hashBytes(key)
	sh := &c.shards[h%numShards]
	sh.mu.Lock()
	if sh.groups == nil {
		sh.groups = map[string]*groupState{}
	}
	g, ok := sh.groups[string(key)]
	if !ok {
		c.makeRoom(sh)
		g = &groupState{first: t, last: t}
		if c.spec.typ == corrTemporal || c.spec.typ == corrTemporalOrdered {
			g.perRule = make([][]int64, len(c.spec.rules))
		}
		sh.groups[string(key)] = g
	}
	g.first, g.last = min(g.first, t), max(g.last, t)
	before := g.size()
	var fired *hit
	switch c.spec.typ {
	case corrEventCount:
		fired = c.eventCount(g, t)
	case corrValueCount:
		start := 0
		for _, end := range multi {
			if h := c.valueCount(g, t, val[start:end]); h != nil {
				fired = h
			}
			start = end
		}
	case corrTemporal, corrTemporalOrdered:
		fired = c.temporal(g, idx, t)
	case corrFirstSeen:
		fired = c.firstSeen(g, t, val)
	}
	id := recordID(r)
	if c.spec.typ == corrFirstSeen {
		if fired != nil && id != "" {
			fired.ids = []string{strings.Clone(id)}
		}
	} else if id != "" {
		if len(g.ids) >= c.sampleN {
			copy(g.ids, g.ids[1:])
			g.ids = g.ids[:len(g.ids)-1]
		}
		g.ids = append(g.ids, strings.Clone(id))
		if fired != nil {
			fired.ids = slices.Clone(g.ids)
		}
	}
	if fired != nil {
		fired.group = c.groupMap(key)
	}
	sh.entries += g.size() - before
	sh.ops++
	var closed []hit
	if sh.ops%4096 == 0 {
		closed = c.sweep(sh, c.maxTime.Load(), false)
	}
	sh.mu.Unlock()
	if fired != nil {
		out = append(out, *fired)
	}
	return append(out, closed...)
}

// recordID returns the record's event ID (request ID for access logs).
func recordID(r *record) string {
	if r.kind == logAccess {
		return r.al.RequestID
	}
	return r.ct.EventID
}

func (c *correlator) groupMap(key []byte) map[string]string {
	if len(c.spec.groupBy) == 0 {
		return nil
	}
	parts := strings.Split(string(key), "\x00")
	m := make(map[string]string, len(parts))
	for i, name := range c.spec.groupBy {
		if i < len(parts) && parts[i] != "" {
			m[name] = parts[i]
		}
	}
	return m
}

func (c *correlator) eventCount(g *groupState, t int64) *hit {
	span := int64(c.spec.timespan)
	if c.spec.cond.bounded() {
		return c.tumble(g, t, 1)
	}
	i, _ := slices.BinarySearch(g.times, t)
	g.times = slices.Insert(g.times, i, t)
	// Forget what no window can reach any more.
	horizon := c.maxTime.Load() - span - int64(c.limits.Lateness)
	drop := 0
	for drop < len(g.times) && g.times[drop] < horizon {
		drop++
	}
	if over := len(g.times) - drop - c.limits.MaxPerGroup; over > 0 {
		drop += over
	}
	if drop > 0 {
		g.times = append(g.times[:0], g.times[drop:]...)
	}
	if t <= g.firedUntil {
		return nil
	}
	// The densest window of one timespan that contains t.
	lo, _ := slices.BinarySearch(g.times, t-span)
	best, bestStart := int64(0), t
	for s := lo; s < len(g.times) && g.times[s] <= t; s++ {
		end, _ := slices.BinarySearch(g.times, g.times[s]+span+1)
		if n := int64(end - s); n > best {
			best, bestStart = n, g.times[s]
		}
	}
	if !c.spec.cond.ok(best) {
		return nil
	}
	g.firedUntil = bestStart + span
	return &hit{c: c, count: best, first: bestStart}
}

// tumble counts into tumbling windows that start at a group's first event,
// for conditions with an upper bound; a window is decided when it closes.
func (c *correlator) tumble(g *groupState, t int64, n int64) *hit {
	span := int64(c.spec.timespan)
	var h *hit
	if g.winCount > 0 && t >= g.winStart+span {
		if c.spec.cond.ok(g.winCount) {
			h = &hit{c: c, count: g.winCount, first: g.winStart}
		}
		g.winCount = 0
		if c.spec.typ == corrValueCount {
			clear(g.values)
		}
	}
	if g.winCount == 0 {
		g.winStart = t
	}
	g.winCount += n
	return h
}

func (c *correlator) valueCount(g *groupState, t int64, val []byte) *hit {
	span := int64(c.spec.timespan)
	if g.values == nil {
		g.values = map[string]int64{}
	}
	old, seen := g.values[string(val)]
	if c.spec.cond.bounded() {
		var h *hit
		if g.winCount > 0 && t >= g.winStart+span {
			if c.spec.cond.ok(int64(len(g.values))) {
				h = &hit{c: c, count: int64(len(g.values)), first: g.winStart}
			}
			clear(g.values)
			g.winCount = 0
			seen = false
		}
		if g.winCount == 0 {
			g.winStart = t
		}
		g.winCount++
		if !seen && len(g.values) < c.limits.MaxPerGroup {
			g.values[string(val)] = t
		}
		return h
	}
	if !seen {
		if len(g.values) >= c.limits.MaxPerGroup {
			forgetOldest(g.values, len(g.values)/8+1)
		}
		g.values[string(val)] = t
	} else if t > old {
		g.values[string(val)] = t
	}
	if t <= g.firedUntil {
		return nil
	}
	var n int64
	first := t
	for _, vt := range g.values {
		if vt >= t-span && vt <= t {
			n++
			first = min(first, vt)
		}
	}
	if !c.spec.cond.ok(n) {
		return nil
	}
	g.firedUntil = t + span
	return &hit{c: c, count: n, first: first, details: map[string]string{"field": strings.Join(c.spec.fields, ","), "distinct": strconv.FormatInt(n, 10)}}
}

// forgetOldest deletes the n values seen longest ago.
func forgetOldest(m map[string]int64, n int) {
	times := make([]int64, 0, len(m))
	for _, t := range m {
		times = append(times, t)
	}
	slices.Sort(times)
	cut := times[min(n, len(times))-1]
	for k, t := range m {
		if t <= cut && n > 0 {
			delete(m, k)
			n--
		}
	}
}

func (c *correlator) temporal(g *groupState, idx int, t int64) *hit {
	span := int64(c.spec.timespan)
	times := g.perRule[idx]
	i, _ := slices.BinarySearch(times, t)
	times = slices.Insert(times, i, t)
	horizon := c.maxTime.Load() - span - int64(c.limits.Lateness)
	drop := 0
	for drop < len(times) && times[drop] < horizon {
		drop++
	}
	if over := len(times) - drop - min(c.limits.MaxPerGroup, 256); over > 0 {
		drop += over
	}
	g.perRule[idx] = append(times[:0], times[drop:]...)
	if t <= g.firedUntil {
		return nil
	}
	need := int64(len(g.perRule))
	if !c.spec.cond.empty() {
		need = 0 // the condition decides, on the number of distinct rules
	}
	// Candidate windows start at each time in [t-span, t].
	for _, start := range c.windowStarts(g, t) {
		end := start + span
		var n int64
		if c.spec.typ == corrTemporalOrdered {
			if orderedWithin(g.perRule, start, end) {
				n = int64(len(g.perRule))
			}
		} else {
			for _, ts := range g.perRule {
				j, _ := slices.BinarySearch(ts, start)
				if j < len(ts) && ts[j] <= end {
					n++
				}
			}
		}
		if (need > 0 && n >= need) || (need == 0 && c.spec.cond.ok(n)) {
			g.firedUntil = t + span
			return &hit{c: c, count: n, first: start}
		}
	}
	return nil
}

func (c *correlator) windowStarts(g *groupState, t int64) []int64 {
	span := int64(c.spec.timespan)
	var starts []int64
	for _, ts := range g.perRule {
		j, _ := slices.BinarySearch(ts, t-span)
		for ; j < len(ts) && ts[j] <= t; j++ {
			starts = append(starts, ts[j])
		}
	}
	slices.Sort(starts)
	return slices.Compact(starts)
}

// orderedWithin reports whether the rules matched in order, each at or
// after the previous one, all within [start, end], the first at start.
func orderedWithin(per [][]int64, start, end int64) bool {
	at := start
	for k, ts := range per {
		j, _ := slices.BinarySearch(ts, at)
		if j >= len(ts) || ts[j] > end || (k == 0 && ts[j] != start) {
			return false
		}
		at = ts[j]
	}
	return true
}

func (c *correlator) firstSeen(g *groupState, t int64, val []byte) *hit {
	if g.values == nil {
		g.values = map[string]int64{}
	}
	if _, seen := g.values[string(val)]; seen {
		return nil
	}
	if len(g.values) >= c.limits.MaxPerGroup {
		return nil // the group is full: stop learning and reporting (documented)
	}
	v := strings.Clone(string(val))
	g.values[v] = t
	if t < g.first+int64(c.spec.learning) {
		return nil
	}
	return &hit{c: c, count: 1, first: t, details: map[string]string{
		"field": strings.Join(c.spec.fields, ","), "value": v,
		"learning_since": time.Unix(0, g.first).UTC().Format(time.RFC3339),
	}}
}

// makeRoom keeps a shard within its share of the limits before a group is
// added: it forgets expired groups, then arbitrary ones.
func (c *correlator) makeRoom(sh *shard) {
	maxGroups := max(1, c.limits.MaxGroups/numShards)
	maxEntries := max(1, c.limits.MaxEntries/numShards)
	if len(sh.groups) < maxGroups && sh.entries < maxEntries {
		return
	}
	horizon := c.maxTime.Load() - int64(c.spec.timespan) - int64(c.limits.Lateness)
	for k, g := range sh.groups {
		if c.spec.typ != corrFirstSeen && g.last < horizon {
			sh.entries -= g.size()
			delete(sh.groups, k)
		}
	}
	for k, g := range sh.groups {
		if len(sh.groups) < maxGroups*7/8 && sh.entries < maxEntries*7/8 {
			break
		}
		sh.entries -= g.size()
		delete(sh.groups, k)
	}
}

// sweep forgets groups whose windows closed, deciding bounded conditions;
// with all it decides every open window (end of input).
func (c *correlator) sweep(sh *shard, now int64, all bool) []hit {
	var out []hit
	span := int64(c.spec.timespan)
	horizon := now - span - int64(c.limits.Lateness)
	for k, g := range sh.groups {
		if c.spec.cond.bounded() && g.winCount > 0 && (all || g.winStart+span < horizon) {
			n := g.winCount
			if c.spec.typ == corrValueCount {
				n = int64(len(g.values))
			}
			if c.spec.cond.ok(n) {
				out = append(out, hit{c: c, count: n, first: g.winStart, ids: slices.Clone(g.ids), group: c.groupMap([]byte(k))})
			}
			g.winCount = 0
		}
		if c.spec.typ != corrFirstSeen && (all || g.last < horizon) {
			sh.entries -= g.size()
			delete(sh.groups, k)
		}
	}
	return out
}

// expire forgets the groups whose windows closed (by the latest event time
// seen), deciding their bounded conditions, without touching open windows.
func (c *correlator) expire() []hit {
	var out []hit
	now := c.maxTime.Load()
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		if len(sh.groups) > 0 {
			out = append(out, c.sweep(sh, now, false)...)
		}
		sh.mu.Unlock()
	}
	return out
}

// flush decides every open window (end of input).
func (c *correlator) flush() []hit {
	var out []hit
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		if c.spec.cond.bounded() {
			out = append(out, c.sweep(sh, c.maxTime.Load(), true)...)
		}
		sh.mu.Unlock()
	}
	return out
}

// stateSize returns the number of groups and entries held.
func (c *correlator) stateSize() (groups, entries int) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		groups += len(sh.groups)
		entries += sh.entries
		sh.mu.Unlock()
	}
	return groups, entries
}

// hashBytes is FNV-1a.
func hashBytes(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func (c *corrSpec) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s over %d rule(s)", c.typ, len(c.rules))
	if len(c.groupBy) > 0 {
		fmt.Fprintf(&b, " by %s", strings.Join(c.groupBy, ", "))
	}
	if c.timespan > 0 {
		fmt.Fprintf(&b, " within %s", c.timespan)
	}
	if !c.cond.empty() {
		fmt.Fprintf(&b, " when count %s", c.cond)
	}
	return b.String()
}
