package gen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// A cell is one account, region and hour of CloudTrail activity. Cells are
// generated independently, each from its own random stream, so workers can
// run them in any order and still write the same bytes.
type cellKey struct {
	acct, region, hour int
}

// preEvent is a record rendered at planning time (stories, cross-account
// pairs), waiting for its cell.
type preEvent struct {
	t    int64
	seq  int // planning order, to keep equal times stable
	json []byte
}

// logFile describes a delivered CloudTrail log file for the digests.
type logFile struct {
	key            string
	sha            string
	oldest, newest int64
	stamp          int64 // delivery time (the time in the file name)
}

type cellResult struct {
	files  []logFile
	events int
}

// maxPerFile caps the records of one log file; busier five-minute windows
// are split over several files with the same timestamp, as CloudTrail does.
const maxPerFile = 500

// apiTable is an actor class's API mix restricted to one account and region.
type apiTable struct {
	apis []*api
	wt   weighted
}

// tables[acct][region][class]
type tables [][][numClasses]apiTable

func (w *world) buildTables() {
	t := make(tables, len(w.accounts))
	for ai, a := range w.accounts {
		t[ai] = make([][numClasses]apiTable, len(w.regions))
		for ri, region := range w.regions {
			for c := range numClasses {
				var apis []*api
				var ws []float64
				for _, u := range classMix[c] {
					if !w.allowed(u.a, a, region) {
						continue
					}
					apis = append(apis, u.a)
					ws = append(ws, u.w)
				}
				t[ai][ri][c] = apiTable{apis: apis, wt: newWeighted(ws)}
			}
		}
	}
	w.tables = t
}

// allowed reports whether an API can appear in the account and region.
func (w *world) allowed(p *api, a *account, region string) bool {
	if p.global && region != "us-east-1" {
		return false
	}
	if p.homeOnly && region != w.home {
		return false
	}
	if p.mgmtOnly && a.idx != 0 {
		return false
	}
	return true
}

// cellSpec is a cell to generate with its expected benign event count.
type cellSpec struct {
	key      cellKey
	expected float64
}

// cells lists the cells to generate: every account, region and hour with
// benign activity, plus any cell holding planned records.
func (w *world) cells() []cellSpec {
	var sumA, sumR, sumH float64
	for _, x := range w.accountW {
		sumA += x
	}
	for _, x := range w.regionW {
		sumR += x
	}
	for _, x := range w.hourW {
		sumH += x
	}
	norm := sumA * sumR * sumH
	var out []cellSpec
	for ai := range w.accounts {
		for ri := range w.regions {
			for h := range w.hours {
				k := cellKey{ai, ri, h}
				exp := float64(w.opts.Events) * w.accountW[ai] * w.regionW[ri] * w.hourW[h] / norm
				if exp == 0 && len(w.pre[k]) == 0 {
					continue
				}
				out = append(out, cellSpec{key: k, expected: exp})
			}
		}
	}
	return out
}

// classWeights returns the actor-class mix for an account and region at t.
func (w *world) classWeights(ai, ri int, t int64) weighted {
	a := w.accounts[ai]
	ws := make([]float64, numClasses)
	hw := w.humanWeight(t)
	for c := range numClasses {
		if len(a.byClass[c]) == 0 || len(w.tables[ai][ri][c].apis) == 0 {
			continue
		}
		x := a.classW[c]
		switch actorClass(c) {
		case classHumanCLI, classHumanConsole:
			x *= hw
		case classCI:
			x *= 0.15 + hw
		}
		ws[c] = x
	}
	return newWeighted(ws)
}

// runCell generates one cell's log files.
func (wk *worker) runCell(ctx context.Context, c cellSpec, res *cellResult) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	w := wk.w
	a := w.accounts[c.key.acct]
	region := w.regions[c.key.region]
	hourStart := w.start + int64(c.key.hour)*3600
	r := newRand(w.seed, tagCell, uint64(c.key.acct), hashString(region), uint64(c.key.hour))

	// How many benign events, and when.
	exp := c.expected * (0.85 + 0.3*r.Float64())
	n := int(exp)
	if r.Float64() < exp-float64(n) {
		n++
	}
	times := make([]int64, 0, n)
	for range n {
		t := hourStart + int64(r.IntN(3600))
		if w.gap.covers(a.idx, t) {
			continue
		}
		times = append(times, t)
	}
	slices.Sort(times)
	pre := w.pre[c.key]

	g := &wk.g
	g.r = r
	g.a = a
	g.region = region
	var cw weighted
	if len(times) > 0 {
		cw = w.classWeights(c.key.acct, c.key.region, hourStart+1800)
		if cw.total == 0 {
			times = times[:0]
		}
	}

	prefix := "AWSLogs/" + w.orgID + "/" + a.id + "/CloudTrail/" + region + "/"
	bi, pi := 0, 0
	var evIdx []int // per record in the window: -1-i for pre[i], else benign time index
	for win := range 12 {
		ws := hourStart + int64(win)*300
		we := ws + 300
		evIdx = evIdx[:0]
	collect:
		for bi < len(times) || pi < len(pre) {
			switch {
			case pi < len(pre) && pre[pi].t < we && (bi >= len(times) || pre[pi].t <= times[bi]):
				if !w.gap.covers(a.idx, pre[pi].t) {
					evIdx = append(evIdx, -1-pi)
				}
				pi++
			case bi < len(times) && times[bi] < we:
				evIdx = append(evIdx, bi)
				bi++
			default:
				break collect
			}
		}
		if len(evIdx) == 0 {
			continue
		}
		nFiles := (len(evIdx) + maxPerFile - 1) / maxPerFile
		per := (len(evIdx) + nFiles - 1) / nFiles
		for f := 0; f < len(evIdx); f += per {
			chunk := evIdx[f:min(f+per, len(evIdx))]
			buf := append(wk.buf[:0], `{"Records":[`...)
			var oldest, newest int64
			for j, x := range chunk {
				if j > 0 {
					buf = append(buf, ',')
				}
				var t int64
				if x < 0 {
					p := &pre[-1-x]
					t = p.t
					buf = append(buf, p.json...)
				} else {
					t = times[x]
					g.t = t
					buf = wk.benign(buf, &cw, c.key)
				}
				if j == 0 || t < oldest {
					oldest = t
				}
				if t > newest {
					newest = t
				}
			}
			buf = append(buf, "]}"...)
			wk.buf = buf
			name := a.id + "_CloudTrail_" + region + "_" + string(appendStamp(nil, we, false)) + "_" + randChars(r, alnum, 16) + ".json.gz"
			key := prefix + dateDir(we) + name
			if _, err := wk.put(w.trailBucket, key, buf, true); err != nil {
				return err
			}
			res.files = append(res.files, logFile{key: key, sha: sha256Hex(buf), oldest: oldest, newest: newest, stamp: we})
			res.events += len(chunk)
		}
	}
	return nil
}

// benign appends one benign record at g.t.
func (wk *worker) benign(out []byte, cw *weighted, k cellKey) []byte {
	g := &wk.g
	w := wk.w
	c := cw.pick(g.r)
	a := g.a
	ids := a.byClass[c]
	id := ids[g.r.IntN(len(ids))]
	tab := &w.tables[k.acct][k.region][c]
	p := tab.apis[tab.wt.pick(g.r)]
	return g.render(out, id, p)
}

// render appends one record of API p by identity id at g.t.
func (g *evgen) render(out []byte, id *identity, p *api) []byte {
	e := g.begin(id, p.src, p.name, p.ro)
	console := id.class == classHumanConsole && id.kind != kService
	if console && p != apiConsoleLogin {
		e.console = true
		switch x := g.r.IntN(10); {
		case x < 2:
			g.ip, g.ua = "AWS Internal", "AWS Internal"
			e.tls = false
		case x < 3:
			g.ua = "console.amazonaws.com"
		}
	}
	errP := p.errP
	if errP == 0 {
		errP = defaultErrP
	}
	g.failing = errP > 0 && id.kind != kService && id.kind != kRoot &&
		!strings.Contains(id.roleName, "AdministratorAccess") && g.r.Float64() < errP
	p.fill(g)
	if g.failing {
		g.applyError(g.errRes)
	}
	return g.finish(out)
}

// appendStamp appends YYYYMMDDTHHmmZ (or YYYYMMDDTHHmmssZ with seconds).
func appendStamp(b []byte, sec int64, seconds bool) []byte {
	y, m, d, hh, mm, ss := civil(sec)
	b = app4(b, y)
	b = app2(b, m)
	b = app2(b, d)
	b = append(b, 'T')
	b = app2(b, hh)
	b = app2(b, mm)
	if seconds {
		b = app2(b, ss)
	}
	return append(b, 'Z')
}

// dateDir returns "YYYY/MM/DD/".
func dateDir(sec int64) string {
	y, m, d, _, _, _ := civil(sec)
	b := make([]byte, 0, 11)
	b = app4(b, y)
	b = append(b, '/')
	b = app2(b, m)
	b = append(b, '/')
	b = app2(b, d)
	return string(append(b, '/'))
}

// newStandaloneGen returns an evgen for planning with its own stream.
func newStandaloneGen(w *world, r *rand.Rand) *evgen {
	return &evgen{w: w, r: r}
}
