package integrity

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Validator checks digests one at a time as a collector receives them
// (from SQS notifications or polling), remembering the newest digest of
// each chain so that a continued chain, a broken one and a late one can be
// told apart. It is safe for concurrent use; Close it when done.
type Validator struct {
	cfg   Verifier
	grace time.Duration
	keys  *keyRing
	fetch *pool
	hash  *pool

	mu     sync.Mutex
	chains map[chainID]*chainState
}

// chainID names a chain: one trail's digests for one account and region.
type chainID struct {
	bucket, prefix, org, account, region, trail, home string
}

// chainState is what a Validator remembers of a chain.
type chainState struct {
	key     string // newest digest checked
	end     time.Time
	alerted time.Time // end of the last hour reported overdue
}

// NewValidator returns a Validator that reads with cfg's Buckets, Keys,
// Events, Workers and Log. grace is how long after a digest is due (an
// hour after the previous one's end) Overdue reports it; default 15
// minutes.
func NewValidator(cfg Verifier, grace time.Duration) *Validator {
	v := &Validator{cfg: cfg, grace: cmp.Or(grace, 15*time.Minute), chains: map[chainID]*chainState{}}
	workers := cfg.Workers
	if workers <= 0 {
		workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	v.fetch, v.hash = newPool(cmp.Or(cfg.Fetchers, 4)), newPool(workers)
	if cfg.Keys != nil {
		v.keys = newKeyRing(cfg.Keys)
	}
	return v
}

// Close stops the Validator's workers.
func (v *Validator) Close() {
	v.fetch.close()
	v.hash.close()
}

// Check validates the digest at bucket/key as it arrives: its location,
// public key and signature, the hashes of its log files, and its link to
// the previous digest (read again: it may have been replaced since), and
// reports a restarted chain. It returns every result: the
// digest's, its log files', and the chain's. Read errors of the digest
// itself are results too; the error is for a cancelled context or a
// failing public key source.
func (v *Validator) Check(ctx context.Context, bucket, key string) ([]Result, error) {
	dk, ok := ParseDigestKey(key)
	if !ok {
		return nil, fmt.Errorf("integrity: %s is not a digest file key", key)
	}
	p := &Plan{v: &v.cfg, req: Request{Bucket: bucket, Prefix: dk.Prefix, Start: dk.Time.Add(-time.Hour), End: dk.Time}}
	r := &run{p: p, log: v.cfg.logger(), keys: v.keys, fetch: v.fetch, hash: v.hash, buckets: map[string]bucketOrErr{}}
	c := &cell{org: dk.OrgID, account: dk.Account, region: dk.Region}
	ch := &chainPlan{Scope: Scope{Bucket: bucket, Prefix: dk.Prefix, OrgID: dk.OrgID, Account: dk.Account, Region: dk.Region, Trail: dk.Trail, HomeRegion: dk.HomeRegion}}
	cr := newCellRun(r, c)
	id := chainID{bucket, dk.Prefix, dk.OrgID, dk.Account, dk.Region, dk.Trail, dk.HomeRegion}

	f := cr.fetchDigest(ctx, bucket, key)
	if err := waitDone(ctx, f.done); err != nil {
		return nil, err
	}
	res, cliValid, proven, err := cr.checkDigest(ctx, ch, f, bucket, key, dk.Backfill, nil)
	if err != nil {
		return nil, err
	}
	cr.emit(res)
	if f.d != nil {
		if err := cr.emitLogs(ctx, ch, f, dk.Backfill, proven, res); err != nil {
			return nil, err
		}
	}
	if f.d != nil && cliValid && !dk.Backfill {
		if err := v.checkLink(ctx, cr, ch, id, f); err != nil {
			return nil, err
		}
	}
	cr.q.finish(nil)
	var out []Result
	for {
		r, err := cr.q.next(ctx)
		if err != nil || r == nil {
			return out, err
		}
		out = append(out, *r)
	}
}

// checkLink checks the digest's link to its previous digest and updates
// the chain's state.
func (v *Validator) checkLink(ctx context.Context, cr *cellRun, ch *chainPlan, id chainID, f *digestFuture) error {
	d := f.d
	v.mu.Lock()
	st := v.chains[id]
	var last chainState
	if st != nil {
		last = *st
	}
	v.mu.Unlock()
	switch {
	case d.Starting:
		if last.key != "" && last.end.Before(d.DigestEndTime) {
			cr.emitGap(ctx, ch, f.bucket, f.key, d, last.key, last.end, false)
		}
	default:
		// Read the previous digest again (it may have been replaced since
		// it was checked) and check it against the link.
		pf := cr.fetchDigest(ctx, d.PreviousDigestS3Bucket, d.PreviousDigestS3Object)
		if err := waitDone(ctx, pf.done); err != nil {
			return err
		}
		pres, _, _, err := cr.checkDigest(ctx, ch, pf, d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, false,
			&link{bucket: f.bucket, key: f.key, d: d})
		if err != nil {
			return err
		}
		if pres.Status == Invalid {
			cr.emit(pres)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if st = v.chains[id]; st == nil {
		st = &chainState{}
		v.chains[id] = st
	}
	if d.DigestEndTime.After(st.end) {
		st.key, st.end = f.key, d.DigestEndTime
	}
	return nil
}

// Overdue reports each chain whose next digest has not been checked an
// hour plus the grace period after the newest one's end. Each missing hour
// is reported once, the oldest first, one per chain and call: call it
// periodically (every few minutes).
func (v *Validator) Overdue(now time.Time) []Result {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Result
	for id, st := range v.chains {
		next := st.end.Add(time.Hour)
		if st.alerted.After(st.end) {
			next = st.alerted.Add(time.Hour)
		}
		if !now.Before(next.Add(v.grace)) {
			key := DigestKeyFor(id.prefix, id.org, id.account, id.region, id.trail, id.home, next, false)
			out = append(out, Result{Type: TypeDigest, Status: Warning, Kind: DigestOverdue, Bucket: id.bucket, Key: key,
				Account: id.account, Region: id.region, Trail: id.trail, Time: next,
				Message: digestMsg(false, id.bucket, key, "WARNING: not delivered"),
				Detail: fmt.Sprintf("the newest digest, s3://%s/%s, ends at %s; the one ending at %s was due by %s",
					id.bucket, st.key, DisplayTime(st.end), DisplayTime(next), DisplayTime(next.Add(v.grace)))})
			st.alerted = next
		}
	}
	return out
}
