package integrity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Verifier validates digest chains and the log files they list.
type Verifier struct {
	// Buckets opens the trail's bucket and any bucket a digest names.
	Buckets Buckets
	// Keys gives the public keys; nil means signatures are not checked
	// (digests are reported unverified).
	Keys PublicKeys
	// Events, when set, explains chain restarts with trail events.
	Events TrailEvents
	// Workers bounds the log files hashed at once and Fetchers the digests
	// read at once. Defaults: 2×GOMAXPROCS (at least 4) and 16; raise both
	// for high-latency storage (S3).
	Workers  int
	Fetchers int
	// Log receives progress at debug level; nil discards.
	Log *slog.Logger
}

// Request says what to verify. Empty fields mean "everything found in the
// bucket".
type Request struct {
	Bucket     string   // the bucket holding the digests (required)
	Prefix     string   // the trail's key prefix, "" for none
	Trail      string   // trail name; "" for every trail found
	HomeRegion string   // the trail's home region; "" for any
	OrgID      string   // organization id (o-…); "" for whatever is found
	Accounts   []string // accounts to verify; empty for every account found
	Regions    []string // regions to verify; empty for every region with digests
	// Start and End bound the digests verified, as the AWS CLI's
	// --start-time and --end-time do. A zero Start verifies from the
	// oldest digest in the bucket (without following the chain further
	// back); a zero End is now.
	Start, End time.Time
}

// Plan is a verification ready to run: the chains to verify, found and
// listed.
type Plan struct {
	v     *Verifier
	req   Request
	open  bool // Start was zero: stop at the oldest listed digest
	cells []*cell
	// missing holds NoDigests results for what was asked and not found.
	missing []Result
	// available lists every chain found in the bucket, for hints.
	available []Scope
}

// cell is one account and region: the chains to verify there and the
// digests of other trails that list log files in the same place.
type cell struct {
	org, account, region string
	chains               []*chainPlan
	foreign              []string // digest keys of other trails, for their log file lists
}

// chainPlan is one trail's digests in a cell.
type chainPlan struct {
	Scope
	standard, backfill []string // keys in range, oldest first
}

// Start returns the start of the range verified.
func (p *Plan) Start() time.Time { return p.req.Start }

// End returns the end of the range verified.
func (p *Plan) End() time.Time { return p.req.End }

// Scopes returns the chains the plan verifies.
func (p *Plan) Scopes() []Scope {
	var out []Scope
	for _, c := range p.cells {
		for _, ch := range c.chains {
			out = append(out, ch.Scope)
		}
	}
	return out
}

func (v *Verifier) logger() *slog.Logger {
	if v.Log != nil {
		return v.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Verify plans and runs a verification (see Plan and Plan.Run).
func (v *Verifier) Verify(ctx context.Context, req Request, emit func(*Result) error) (*Summary, error) {
	p, err := v.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Run(ctx, emit)
}

// Plan finds the chains to verify: it lists the bucket's accounts and
// regions (restricted by the request) and each chain's digest keys in the
// range.
func (v *Verifier) Plan(ctx context.Context, req Request) (*Plan, error) {
	if req.Bucket == "" {
		return nil, errors.New("integrity: no bucket")
	}
	req.Prefix = strings.Trim(req.Prefix, "/")
	if req.End.IsZero() {
		req.End = time.Now().UTC().Truncate(time.Second)
	}
	req.Start, req.End = req.Start.UTC(), req.End.UTC()
	if !req.Start.IsZero() && req.Start.After(req.End) {
		return nil, errors.New("Invalid time range specified: start-time must occur before end-time")
	}
	b, err := v.Buckets.Bucket(ctx, req.Bucket)
	if err != nil {
		return nil, fmt.Errorf("integrity: bucket %s: %w", req.Bucket, err)
	}
	p := &Plan{v: v, req: req, open: req.Start.IsZero()}
	type acct struct{ org, id string }
	var accts []acct
	base := awsLogsPrefix(req.Prefix, "")
	tops, err := prefixes(ctx, b, base)
	if err != nil {
		return nil, fmt.Errorf("integrity: listing s3://%s/%s: %w", req.Bucket, base, err)
	}
	for _, t := range tops {
		name := segment(t)
		switch {
		case strings.HasPrefix(name, "o-"):
			if req.OrgID != "" && name != req.OrgID {
				continue
			}
			subs, err := prefixes(ctx, b, t)
			if err != nil {
				return nil, fmt.Errorf("integrity: listing s3://%s/%s: %w", req.Bucket, t, err)
			}
			for _, s := range subs {
				if isAccount(segment(s)) {
					accts = append(accts, acct{name, segment(s)})
				}
			}
		case isAccount(name) && req.OrgID == "":
			accts = append(accts, acct{"", name})
		}
	}
	wantAcct := func(id string) bool { return len(req.Accounts) == 0 || slices.Contains(req.Accounts, id) }
	wantRegion := func(r string) bool { return len(req.Regions) == 0 || slices.Contains(req.Regions, r) }
	foundAcct := map[string]bool{}
	accts = slices.DeleteFunc(accts, func(a acct) bool { return !wantAcct(a.id) })
	// The regions of each account, then the digests of each region, listed
	// in parallel (round trips, in S3).
	limit := cmp.Or(v.Fetchers, 16)
	regions := make([][]string, len(accts))
	err = parallel(ctx, len(accts), limit, func(i int) error {
		a := accts[i]
		ap := awsLogsPrefix(req.Prefix, a.org) + a.id + "/"
		regs, err := prefixes(ctx, b, ap+"CloudTrail-Digest/")
		if err != nil {
			return fmt.Errorf("integrity: listing s3://%s/%sCloudTrail-Digest/: %w", req.Bucket, ap, err)
		}
		for _, rp := range regs {
			regions[i] = append(regions[i], segment(rp))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var cells, others []*cell
	for i, a := range accts {
		foundAcct[a.id] = true
		for _, r := range regions[i] {
			c := &cell{org: a.org, account: a.id, region: r}
			if wantRegion(r) {
				cells = append(cells, c)
			} else {
				others = append(others, c)
			}
		}
	}
	listed := make([][]*chainPlan, len(cells))
	err = parallel(ctx, len(cells), limit, func(i int) error {
		var err error
		listed[i], err = p.listDigests(ctx, b, req.Bucket, cells[i], req.Start, req.End)
		return err
	})
	if err != nil {
		return nil, err
	}
	chainRegions := map[string]bool{}
	for i, c := range cells {
		for _, ch := range listed[i] {
			p.available = append(p.available, ch.Scope)
			if (req.Trail == "" || ch.Trail == req.Trail) && (req.HomeRegion == "" || ch.HomeRegion == req.HomeRegion) {
				c.chains = append(c.chains, ch)
				chainRegions[c.region] = true
			} else {
				c.foreign = append(c.foreign, ch.standard...)
				c.foreign = append(c.foreign, ch.backfill...)
			}
		}
		if len(c.chains) > 0 {
			p.cells = append(p.cells, c)
		}
	}
	if len(p.cells) == 0 || len(chainRegions) < len(req.Regions) {
		// Nothing (or not everything) found: list the other regions too,
		// to say where digests are.
		more := make([][]*chainPlan, len(others))
		err := parallel(ctx, len(others), limit, func(i int) error {
			var err error
			more[i], err = p.listDigests(ctx, b, req.Bucket, others[i], req.Start, req.End)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, chains := range more {
			for _, ch := range chains {
				p.available = append(p.available, ch.Scope)
			}
		}
	}
	if p.open {
		// From the oldest digest listed (its hour).
		for _, c := range p.cells {
			for _, ch := range c.chains {
				for _, l := range [][]string{ch.standard, ch.backfill} {
					if len(l) > 0 {
						dk, _ := ParseDigestKey(l[0])
						if t := dk.Time.Add(-time.Hour); p.req.Start.IsZero() || t.Before(p.req.Start) {
							p.req.Start = t
						}
					}
				}
			}
		}
		if p.req.Start.IsZero() || p.req.Start.After(p.req.End) {
			p.req.Start = p.req.End
		}
	}
	p.noDigests(foundAcct, chainRegions)
	return p, nil
}

// noDigests records what was asked for and has no digests.
func (p *Plan) noDigests(foundAcct, chainRegions map[string]bool) {
	req := p.req
	what := "trail " + cmp.Or(req.Trail, "(any)")
	where := "s3://" + req.Bucket + "/" + awsLogsPrefix(req.Prefix, req.OrgID)
	var avail []string
	for _, s := range p.available {
		avail = append(avail, s.Account+"/"+s.Region+"/"+s.Trail+" (home "+s.HomeRegion+")")
	}
	slices.Sort(avail)
	avail = slices.Compact(avail)
	hint := "no digest files at all under " + where + ": is log file validation on, and are --s3-bucket and --s3-prefix right?"
	if len(avail) > 0 {
		hint = "digest files exist for " + strings.Join(avail, ", ")
	}
	add := func(account, region, detail string) {
		msg := fmt.Sprintf("No digests found for %s", what)
		if account != "" {
			msg += " in account " + account
		}
		if region != "" {
			msg += " in region " + region
		}
		p.missing = append(p.missing, Result{Type: TypeChain, Status: Invalid, Kind: NoDigests, Bucket: req.Bucket,
			Account: account, Region: region, Trail: req.Trail, Time: req.Start, End: req.End,
			Message: msg + " between " + DisplayTime(req.Start) + " and " + DisplayTime(req.End),
			Detail:  detail})
	}
	for _, a := range req.Accounts {
		if !foundAcct[a] {
			add(a, "", "the account has no logs under "+where+"; "+hint)
		}
	}
	for _, r := range req.Regions {
		if !chainRegions[r] && len(p.cells) > 0 {
			add("", r, hint)
		}
	}
	if len(p.cells) == 0 && len(p.missing) == 0 {
		add("", strings.Join(req.Regions, ","), hint)
	}
}

// listDigests lists the digest keys of a cell in the range [start,
// end+1h] (by the time in their names, as the AWS CLI does) and groups
// them by trail.
func (p *Plan) listDigests(ctx context.Context, b Bucket, bucket string, c *cell, start, end time.Time) ([]*chainPlan, error) {
	prefix := awsLogsPrefix(p.req.Prefix, c.org) + c.account + "/CloudTrail-Digest/" + c.region + "/"
	startAfter, lo := "", ""
	if !start.IsZero() {
		startAfter = prefix + start.Add(-time.Minute).Format("2006/01/02")
		lo = start.Format("20060102T150405Z")
	}
	hiDay := end.Add(time.Hour).Format("2006/01/02")
	hi := end.Add(time.Hour).Format("20060102T150405Z")
	byTrail := map[[2]string]*chainPlan{}
	var order [][2]string
	for o, err := range b.List(ctx, prefix, startAfter) {
		if err != nil {
			return nil, fmt.Errorf("integrity: listing s3://%s/%s: %w", bucket, prefix, err)
		}
		rest := o.Key[len(prefix):]
		if len(rest) >= 10 && rest[:10] > hiDay {
			break
		}
		dk, ok := ParseDigestKey(o.Key)
		if !ok || dk.Account != c.account || dk.Region != c.region || dk.OrgID != c.org || dk.Prefix != p.req.Prefix {
			continue
		}
		if dk.Stamp < lo || dk.Stamp > hi {
			continue
		}
		id := [2]string{dk.Trail, dk.HomeRegion}
		ch := byTrail[id]
		if ch == nil {
			ch = &chainPlan{Scope: Scope{Bucket: bucket, Prefix: p.req.Prefix, OrgID: c.org, Account: c.account, Region: c.region, Trail: dk.Trail, HomeRegion: dk.HomeRegion}}
			byTrail[id] = ch
			order = append(order, id)
		}
		if dk.Backfill {
			ch.backfill = append(ch.backfill, o.Key)
		} else {
			ch.standard = append(ch.standard, o.Key)
		}
	}
	var out []*chainPlan
	slices.SortFunc(order, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	for _, id := range order {
		ch := byTrail[id]
		sortByStamp(ch.standard)
		sortByStamp(ch.backfill)
		out = append(out, ch)
	}
	return out, nil
}

// parallel calls fn(0) … fn(n-1) on at most limit goroutines and returns
// the first error.
func parallel(ctx context.Context, n, limit int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
	)
	sem := make(chan struct{}, max(1, limit))
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				if errs == nil {
					errs = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// sortByStamp orders digest keys by the time in their names (the listing
// orders them by day directory, then name; within a trail that is the
// same).
func sortByStamp(keys []string) {
	slices.SortStableFunc(keys, func(a, b string) int { return strings.Compare(keyStamp(a), keyStamp(b)) })
}

// keyStamp returns the YYYYMMDDTHHMMSSZ of a digest key (the AWS CLI's
// extract_digest_key_date).
func keyStamp(key string) string {
	if dk, ok := ParseDigestKey(key); ok {
		return dk.Stamp
	}
	return ""
}

func keyTime(key string) time.Time {
	dk, _ := ParseDigestKey(key)
	return dk.Time
}

// run is one execution of a plan.
type run struct {
	p       *Plan
	log     *slog.Logger
	keys    *keyRing
	fetch   *pool
	hash    *pool
	hashers hashers

	bmu     sync.Mutex
	buckets map[string]bucketOrErr
}

type bucketOrErr struct {
	b   Bucket
	err error
}

func (r *run) bucket(ctx context.Context, name string) (Bucket, error) {
	r.bmu.Lock()
	defer r.bmu.Unlock()
	if be, ok := r.buckets[name]; ok {
		return be.b, be.err
	}
	b, err := r.p.v.Buckets.Bucket(ctx, name)
	r.buckets[name] = bucketOrErr{b, err}
	return b, err
}

// Run verifies the plan's chains, calling emit for every result in the AWS
// CLI's order (newest digest first, each followed by its log files), and
// returns the summary. emit is called from one goroutine. An error from
// emit, from listing, from the public key source or a cancelled context
// ends the run; findings do not.
func (p *Plan) Run(ctx context.Context, emit func(*Result) error) (*Summary, error) {
	v := p.v
	workers := v.Workers
	if workers <= 0 {
		workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	fetchers := v.Fetchers
	if fetchers <= 0 {
		fetchers = 16
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{p: p, log: v.logger(), fetch: newPool(fetchers), hash: newPool(workers), buckets: map[string]bucketOrErr{}}
	if v.Keys != nil {
		r.keys = newKeyRing(v.Keys)
	}
	sum := &Summary{Start: p.req.Start, End: p.req.End, SignaturesChecked: v.Keys != nil, Scopes: p.Scopes()}
	out := func(res *Result) error {
		sum.add(res)
		return emit(res)
	}
	for i := range p.missing {
		if err := out(&p.missing[i]); err != nil {
			return sum, err
		}
	}
	// Cells run ahead of the one being emitted, up to lookahead at once.
	const lookahead = 3
	runs := make([]*cellRun, len(p.cells))
	for i, c := range p.cells {
		runs[i] = newCellRun(r, c)
	}
	aheadDone := make(chan struct{})
	defer func() {
		// Stop what runs ahead, then the workers.
		cancel()
		<-aheadDone
		r.fetch.close()
		r.hash.close()
	}()
	go func() {
		sem := make(chan struct{}, lookahead)
		var wg sync.WaitGroup
		defer func() {
			wg.Wait()
			close(aheadDone)
		}()
		for _, cr := range runs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				cr.q.finish(ctx.Err())
				continue
			}
			wg.Go(func() {
				defer func() { <-sem }()
				cr.q.finish(cr.run1(ctx))
			})
		}
	}()
	for _, cr := range runs {
		for {
			res, err := cr.q.next(ctx)
			if err != nil {
				return sum, err
			}
			if res == nil {
				break
			}
			if err := out(res); err != nil {
				return sum, err
			}
		}
		if !cr.foundStart.IsZero() && (sum.FoundStart.IsZero() || cr.foundStart.Before(sum.FoundStart)) {
			sum.FoundStart = cr.foundStart
		}
		if cr.foundEnd.After(sum.FoundEnd) {
			sum.FoundEnd = cr.foundEnd
		}
	}
	return sum, nil
}

// resultQueue hands one cell's results to the emitter in order.
type resultQueue struct {
	mu     sync.Mutex
	items  []*Result
	done   bool
	err    error
	signal chan struct{}
}

func newResultQueue() *resultQueue { return &resultQueue{signal: make(chan struct{}, 1)} }

func (q *resultQueue) push(r *Result) {
	q.mu.Lock()
	q.items = append(q.items, r)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *resultQueue) finish(err error) {
	q.mu.Lock()
	q.done, q.err = true, err
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// next returns the next result, nil at the end.
func (q *resultQueue) next(ctx context.Context) (*Result, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			r := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.mu.Unlock()
			return r, nil
		}
		done, err := q.done, q.err
		q.mu.Unlock()
		if done {
			return nil, err
		}
		select {
		case <-q.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
