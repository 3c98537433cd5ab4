package integrity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// maxDigestBytes bounds an uncompressed digest file.
const maxDigestBytes = 256 << 20

// cellRun verifies one cell: its chains, then the log files no digest
// lists.
type cellRun struct {
	*run
	cell *cell
	q    *resultQueue

	mu      sync.Mutex
	digests map[string]*digestFuture // by bucket + "\x00" + key
	logs    map[string]*logFuture
	listed  map[string]bool // log files some digest lists (bucket + "\x00" + key)
	// prevSigs holds, for each digest some digest names as its previous,
	// the previousDigestSignature recorded for it: a signature proves
	// itself, wherever it was read.
	prevSigs map[string]string

	// span of the verified chains' digests, and each chain's newest end
	spanStart, spanEnd   time.Time
	foundStart, foundEnd time.Time
}

func newCellRun(r *run, c *cell) *cellRun {
	return &cellRun{run: r, cell: c, q: newResultQueue(), digests: map[string]*digestFuture{},
		logs: map[string]*logFuture{}, listed: map[string]bool{}, prevSigs: map[string]string{}}
}

// digestFuture is a digest being read.
type digestFuture struct {
	done        chan struct{}
	bucket, key string
	d           *Digest
	meta        map[string]string
	err         error // not found, read error, or invalid format
	logs        []*logFuture
	foreign     bool
}

// logFuture is a log file being hashed.
type logFuture struct {
	done        chan struct{}
	bucket, key string
	sha         string
	err         error
}

func (cr *cellRun) emit(r *Result) { cr.q.push(r) }

// fetchDigest starts reading a digest (once) and returns its future.
func (cr *cellRun) fetchDigest(ctx context.Context, bucket, key string) *digestFuture {
	return cr.fetchDigestAs(ctx, bucket, key, false)
}

// fetchDigestAs is fetchDigest; a foreign digest (another trail's) is read
// only for the log files it lists, which are not hashed.
func (cr *cellRun) fetchDigestAs(ctx context.Context, bucket, key string, foreign bool) *digestFuture {
	id := bucket + "\x00" + key
	cr.mu.Lock()
	f := cr.digests[id]
	if f != nil {
		cr.mu.Unlock()
		return f
	}
	f = &digestFuture{done: make(chan struct{}), bucket: bucket, key: key, foreign: foreign}
	cr.digests[id] = f
	cr.mu.Unlock()
	cr.fetch.submit(func() {
		defer close(f.done)
		if err := ctx.Err(); err != nil {
			f.err = err
			return
		}
		cr.loadDigest(ctx, f)
	})
	return f
}

// loadDigest reads, inflates and parses a digest, then queues its log
// files for hashing.
func (cr *cellRun) loadDigest(ctx context.Context, f *digestFuture) {
	b, err := cr.bucket(ctx, f.bucket)
	if err != nil {
		f.err = err
		return
	}
	body, meta, err := b.Get(ctx, f.key)
	if err != nil {
		f.err = err
		return
	}
	defer body.Close()
	f.meta = meta
	d, err := readDigest(body)
	if err != nil {
		f.err = fmt.Errorf("%s: %w", f.key, err)
		return
	}
	f.d = d
	if !d.Starting && d.PreviousDigestSignature != "" {
		cr.mu.Lock()
		cr.prevSigs[d.PreviousDigestS3Bucket+"\x00"+d.PreviousDigestS3Object] = d.PreviousDigestSignature
		cr.mu.Unlock()
	}
	if f.foreign {
		cr.mu.Lock()
		for _, lf := range d.LogFiles {
			cr.listed[lf.S3Bucket+"\x00"+lf.S3Object] = true
		}
		cr.mu.Unlock()
		return
	}
	f.logs = make([]*logFuture, len(d.LogFiles))
	for i, lf := range d.LogFiles {
		f.logs[i] = cr.hashLog(ctx, lf.S3Bucket, lf.S3Object)
	}
}

// hashLog starts hashing a log file (once) and returns its future.
func (cr *cellRun) hashLog(ctx context.Context, bucket, key string) *logFuture {
	id := bucket + "\x00" + key
	cr.mu.Lock()
	cr.listed[id] = true
	lf := cr.logs[id]
	if lf != nil {
		cr.mu.Unlock()
		return lf
	}
	lf = &logFuture{done: make(chan struct{}), bucket: bucket, key: key}
	cr.logs[id] = lf
	cr.mu.Unlock()
	cr.hash.submit(func() {
		defer close(lf.done)
		if err := ctx.Err(); err != nil {
			lf.err = err
			return
		}
		b, err := cr.bucket(ctx, bucket)
		if err != nil {
			lf.err = err
			return
		}
		body, _, err := b.Get(ctx, key)
		if err != nil {
			lf.err = err
			return
		}
		h := cr.hashers.get()
		lf.sha, lf.err = h.sum(body)
		cr.hashers.put(h)
		if cerr := body.Close(); lf.err == nil && cerr != nil {
			lf.err = cerr
		}
	})
	return lf
}

// readDigest reads a digest object: gzip'd JSON (or plain JSON, for a copy
// stored uncompressed: the hash is over the uncompressed bytes either way).
func readDigest(body io.Reader) (*Digest, error) {
	raw, err := io.ReadAll(io.LimitReader(body, maxDigestBytes))
	if err != nil {
		return nil, err
	}
	data := raw
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(zr, maxDigestBytes))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidDigestFormat, err)
		}
	}
	return ParseDigest(data)
}

// run1 verifies the cell and emits its results.
func (cr *cellRun) run1(ctx context.Context) error {
	c, req := cr.cell, cr.p.req
	cr.run.log.Debug("verifying", "account", c.account, "region", c.region, "chains", len(c.chains))
	type logList struct {
		objs []ObjectInfo
		err  error
	}
	logsCh := make(chan logList, 1)
	go func() {
		objs, err := cr.listLogs(ctx)
		logsCh <- logList{objs, err}
	}()
	if cr.keys != nil {
		if err := cr.keys.load(ctx, c.region, req.Start.Add(-2*time.Hour), req.End.Add(2*time.Hour)); err != nil {
			return err
		}
	}
	// Prefetch newest first, in the order the chains are walked.
	for _, ch := range c.chains {
		for _, l := range [][]string{ch.standard, ch.backfill} {
			for i := len(l) - 1; i >= 0; i-- {
				cr.fetchDigest(ctx, ch.Bucket, l[i])
			}
		}
	}
	for i := len(c.foreign) - 1; i >= 0; i-- {
		cr.fetchDigestAs(ctx, req.Bucket, c.foreign[i], true)
	}
	for _, ch := range c.chains {
		visited := map[string]bool{}
		for _, backfill := range []bool{false, true} {
			keys := ch.standard
			if backfill {
				keys = ch.backfill
			}
			if err := cr.traverse(ctx, ch, keys, backfill, visited); err != nil {
				return err
			}
		}
		// Digests of the trail in range that the chain never reached.
		for _, key := range slices.Concat(ch.standard, ch.backfill) {
			if visited[ch.Bucket+"\x00"+key] {
				continue
			}
			dk, _ := ParseDigestKey(key)
			if err := cr.checkOrphan(ctx, ch, key, dk.Backfill); err != nil {
				return err
			}
		}
	}
	for _, key := range c.foreign {
		if err := waitDone(ctx, cr.fetchDigestAs(ctx, req.Bucket, key, true).done); err != nil {
			return err
		}
	}
	ll := <-logsCh
	if ll.err != nil {
		return ll.err
	}
	return cr.unlisted(ctx, ll.objs)
}

// listLogs lists the cell's log files in the range.
func (cr *cellRun) listLogs(ctx context.Context) ([]ObjectInfo, error) {
	c, req := cr.cell, cr.p.req
	b, err := cr.bucket(ctx, req.Bucket)
	if err != nil {
		return nil, err
	}
	prefix := awsLogsPrefix(req.Prefix, c.org) + c.account + "/CloudTrail/" + c.region + "/"
	startAfter := ""
	if !cr.p.open {
		startAfter = prefix + req.Start.Add(-26*time.Hour).Format("2006/01/02")
	}
	hiDay := req.End.Add(24 * time.Hour).Format("2006/01/02")
	var out []ObjectInfo
	for o, err := range b.List(ctx, prefix, startAfter) {
		if err != nil {
			return nil, fmt.Errorf("integrity: listing s3://%s/%s: %w", req.Bucket, prefix, err)
		}
		if rest := o.Key[len(prefix):]; len(rest) >= 10 && rest[:10] > hiDay {
			break
		}
		out = append(out, o)
	}
	return out, nil
}

// link is the newer digest the walk came from: the one whose
// previousDigest* members name the digest being checked.
type link struct {
	bucket, key string
	d           *Digest
}

func (l *link) object() string { return "s3://" + l.bucket + "/" + l.key }

// traverse walks one chain the way the AWS CLI does: from the newest digest
// listed, following previousDigestS3Object, and back to the listing after a
// digest that is missing, invalid or starting, until a digest starts before
// the requested start.
func (cr *cellRun) traverse(ctx context.Context, ch *chainPlan, listed []string, backfill bool, visited map[string]bool) error {
	req := cr.p.req
	keys := slices.Clone(listed)
	bucket := ch.Bucket
	key, _ := popNewest(&keys)
	if key == "" {
		return nil
	}
	oldest := keyStamp(listed[0])
	lastStart := keyTime(key)
	var newer *link
	for key != "" && !lastStart.Before(req.Start) {
		if cr.p.open && keyStamp(key) < oldest {
			break // the copy starts here: do not follow the chain back
		}
		visited[bucket+"\x00"+key] = true
		f := cr.fetchDigest(ctx, bucket, key)
		if err := waitDone(ctx, f.done); err != nil {
			return err
		}
		res, cliValid, proven, err := cr.checkDigest(ctx, ch, f, bucket, key, backfill, newer)
		if err != nil {
			return err
		}
		if f.d != nil {
			cr.widen(f.d)
		}
		if !cliValid {
			cr.emit(res)
			if f.d != nil {
				if err := cr.emitLogs(ctx, ch, f, backfill, false, res); err != nil {
					return err
				}
			}
			key, _ = nextBefore(&keys, key)
			newer = nil
			continue
		}
		d := f.d
		cr.track(d)
		lastStart = d.DigestStartTime
		cr.emit(res)
		if err := cr.emitLogs(ctx, ch, f, backfill, proven, res); err != nil {
			return err
		}
		if d.Starting {
			next, nextEnd := nextBefore(&keys, key)
			if next != "" {
				cr.emitGap(ctx, ch, bucket, key, d, next, nextEnd, backfill)
			}
			key, newer = next, nil
			continue
		}
		newer = &link{bucket: bucket, key: key, d: d}
		if pb := d.PreviousDigestS3Bucket; pb != bucket {
			bucket = pb
			keys = cr.relist(ctx, ch, bucket, backfill, d.DigestEndTime)
		}
		key = d.PreviousDigestS3Object
	}
	return nil
}

// relist lists the chain's digests in another bucket (the trail's bucket
// changed), as the AWS CLI does, up to end.
func (cr *cellRun) relist(ctx context.Context, ch *chainPlan, bucket string, backfill bool, end time.Time) []string {
	b, err := cr.bucket(ctx, bucket)
	if err != nil {
		return nil
	}
	chains, err := cr.p.listDigests(ctx, b, bucket, cr.cell, cr.p.req.Start, end)
	if err != nil {
		cr.run.log.Warn("listing digests", "bucket", bucket, "err", err)
		return nil
	}
	for _, o := range chains {
		if o.Trail == ch.Trail && o.HomeRegion == ch.HomeRegion {
			if backfill {
				return o.backfill
			}
			return o.standard
		}
	}
	return nil
}

// popNewest removes and returns the last key and its time.
func popNewest(keys *[]string) (string, time.Time) {
	if len(*keys) == 0 {
		return "", time.Time{}
	}
	k := (*keys)[len(*keys)-1]
	*keys = (*keys)[:len(*keys)-1]
	return k, keyTime(k)
}

// nextBefore pops keys until one is older than before (the AWS CLI's
// _get_last_digest with before_key).
func nextBefore(keys *[]string, before string) (string, time.Time) {
	bs := keyStamp(before)
	for len(*keys) > 0 {
		k, t := popNewest(keys)
		if keyStamp(k) < bs {
			return k, t
		}
	}
	return "", time.Time{}
}

// widen extends the span of digests seen in the cell's chains.
func (cr *cellRun) widen(d *Digest) {
	if !d.DigestStartTime.IsZero() && (cr.spanStart.IsZero() || d.DigestStartTime.Before(cr.spanStart)) {
		cr.spanStart = d.DigestStartTime
	}
	if d.DigestEndTime.After(cr.spanEnd) {
		cr.spanEnd = d.DigestEndTime
	}
}

// track keeps the found range as the AWS CLI does: valid digests, clipped
// to the requested range.
func (cr *cellRun) track(d *Digest) {
	req := cr.p.req
	s := d.DigestStartTime
	if s.Before(req.Start) {
		s = req.Start
	}
	if cr.foundStart.IsZero() || s.Before(cr.foundStart) {
		cr.foundStart = s
	}
	e := d.DigestEndTime
	if e.After(req.End) {
		e = req.End
	}
	if e.After(cr.foundEnd) {
		cr.foundEnd = e
	}
}

// checkDigest verifies a fetched digest. cliValid says whether the AWS CLI
// would accept it (and so walk on through its link); proven whether its
// signature was verified (its log files are then proven by their hashes).
func (cr *cellRun) checkDigest(ctx context.Context, ch *chainPlan, f *digestFuture, bucket, key string, backfill bool, newer *link) (res *Result, cliValid, proven bool, err error) {
	res = &Result{Type: TypeDigest, Bucket: bucket, Key: key, Backfill: backfill, Account: ch.Account, Region: ch.Region, Trail: ch.Trail, Time: keyTime(key), Counted: true}
	if newer != nil {
		res.Related = newer.object()
	}
	fail := func(kind Kind, status, detail string) {
		res.Status, res.Kind = Invalid, kind
		res.Message = digestMsg(backfill, bucket, key, "INVALID: "+status)
		res.Detail = detail
	}
	if f.err != nil {
		switch {
		case errors.Is(f.err, ErrNotFound):
			fail(DigestDeleted, "not found", "")
			if newer != nil {
				res.Detail = "named as the previous digest by " + newer.object()
			}
		case errors.Is(f.err, ErrInvalidDigestFormat):
			fail(DigestInvalidFormat, "invalid format", f.err.Error())
		case ctx.Err() != nil:
			return nil, false, false, ctx.Err()
		default:
			fail(ReadFailed, f.err.Error(), "")
		}
		return res, false, false, nil
	}
	d := f.d
	res.Time = d.DigestEndTime
	// The signature: from the object's metadata, or, for a local copy
	// without it, from the newer digest that names this one.
	sig, sigFrom := "", ""
	if f.meta != nil {
		sig = f.meta["signature"]
		if sig == "" || f.meta["signature-algorithm"] == "" {
			fail(DigestModified, "signature verification failed", "the object has no x-amz-meta-signature or x-amz-meta-signature-algorithm metadata")
			return res, false, false, nil
		}
		sigFrom = "metadata"
	} else if newer != nil && newer.d.PreviousDigestSignature != "" {
		sig, sigFrom = newer.d.PreviousDigestSignature, "previousDigestSignature of "+newer.object()
	} else {
		cr.mu.Lock()
		sig = cr.prevSigs[bucket+"\x00"+key]
		cr.mu.Unlock()
		sigFrom = "previousDigestSignature of a later digest"
	}
	var backfillAt time.Time
	if backfill && f.meta != nil {
		ts := f.meta["backfill-generation-timestamp"]
		t, perr := parseTime(ts)
		if ts == "" || perr != nil {
			fail(DigestInvalidFormat, "invalid format", "a backfill digest without a valid x-amz-meta-backfill-generation-timestamp")
			return res, false, false, nil
		}
		backfillAt = t
	}
	if d.DigestS3Bucket != bucket || d.DigestS3Object != key {
		fail(DigestMoved, "has been moved from its original location", "it names s3://"+d.DigestS3Bucket+"/"+d.DigestS3Object)
		return res, false, false, nil
	}
	switch {
	case cr.keys == nil:
		res.Status, res.Kind = Unverified, DigestUnverified
		res.Message = digestMsg(backfill, bucket, key, "UNVERIFIED: signature not checked (no public keys)")
		res.Detail = "no public keys were given"
	case sig == "":
		res.Status, res.Kind = Unverified, DigestUnverified
		res.Message = digestMsg(backfill, bucket, key, "UNVERIFIED: no signature")
		res.Detail = "the local copy has no " + SidecarSuffix + " sidecar with the object's x-amz-meta-signature, and no later digest names this one; its log files are checked against an unproven list"
	default:
		at := d.DigestEndTime
		if !backfillAt.IsZero() {
			at = backfillAt
		}
		pk, ok, valid, kerr := cr.keys.find(ctx, ch.Region, d.DigestPublicKeyFingerprint, at)
		if kerr != nil {
			return nil, false, false, kerr
		}
		if !ok {
			fail(PublicKeyNotFound, "public key not found in region "+ch.Region+" for fingerprint "+d.DigestPublicKeyFingerprint, "")
			return res, false, false, nil
		}
		if !valid {
			fail(PublicKeyNotFound, "public key not found in region "+ch.Region+" for fingerprint "+d.DigestPublicKeyFingerprint,
				fmt.Sprintf("the key with this fingerprint is valid from %s to %s, not at %s", DisplayTime(pk.ValidityStartTime), DisplayTime(pk.ValidityEndTime), DisplayTime(at)))
			return res, false, false, nil
		}
		if verr := VerifySignature(pk.Value, d.DigestPublicKeyFingerprint, d.StringToSign(), sig); verr != nil {
			if newer == nil && sigFrom != "metadata" {
				// Only an invalid digest named this signature: it proves
				// nothing either way.
				res.Status, res.Kind = Unverified, DigestUnverified
				res.Message = digestMsg(backfill, bucket, key, "UNVERIFIED: no signature")
				res.Detail = "the local copy has no " + SidecarSuffix + " sidecar, and the signature a later (invalid) digest records for it does not verify"
				return res, true, false, nil
			}
			var se *signatureError
			kind := DigestModified
			if errors.As(verr, &se) {
				kind = se.kind
			}
			detail := ""
			if sigFrom != "metadata" {
				detail = "signature taken from the " + sigFrom
			} else if a := f.meta["signature-algorithm"]; !strings.EqualFold(a, SignatureAlgorithm) {
				detail = "the object names the signature algorithm " + a + ", not " + SignatureAlgorithm
			}
			fail(kind, verr.Error(), detail)
			return res, false, false, nil
		}
		res.Status = Valid
		res.Message = digestMsg(backfill, bucket, key, "valid")
		if sigFrom != "metadata" {
			res.Detail = "signature taken from the " + sigFrom
		}
		proven = true
	}
	// Beyond the AWS CLI: the digest must be the one the newer digest
	// chained to.
	if newer != nil {
		switch {
		case newer.d.PreviousDigestHashValue != "" && !strings.EqualFold(newer.d.PreviousDigestHashValue, d.SHA256):
			fail(DigestModified, "hash value doesn't match the previousDigestHashValue of "+newer.object(),
				"its SHA-256 is "+d.SHA256+"; the next digest recorded "+newer.d.PreviousDigestHashValue)
			return res, true, false, nil
		case sigFrom == "metadata" && newer.d.PreviousDigestSignature != "" && !strings.EqualFold(newer.d.PreviousDigestSignature, sig):
			fail(DigestModified, "signature doesn't match the previousDigestSignature of "+newer.object(), "")
			return res, true, false, nil
		}
	}
	return res, true, proven, nil
}

// checkOrphan verifies a digest of the chain's trail that the walk did not
// reach (a copy at another key, or one outside the chain) and its log
// files.
func (cr *cellRun) checkOrphan(ctx context.Context, ch *chainPlan, key string, backfill bool) error {
	f := cr.fetchDigest(ctx, ch.Bucket, key)
	if err := waitDone(ctx, f.done); err != nil {
		return err
	}
	res, _, proven, err := cr.checkDigest(ctx, ch, f, ch.Bucket, key, backfill, nil)
	if err != nil {
		return err
	}
	if f.d != nil {
		cr.widen(f.d)
	}
	if res.Status == Valid {
		res.Detail = "not reached from the newest digest through previousDigestS3Object"
	}
	cr.emit(res)
	if f.d == nil {
		return nil
	}
	return cr.emitLogs(ctx, ch, f, backfill, proven, res)
}

// emitLogs emits the results of a digest's log files, in its order.
func (cr *cellRun) emitLogs(ctx context.Context, ch *chainPlan, f *digestFuture, backfill, proven bool, dres *Result) error {
	for i, lf := range f.d.LogFiles {
		fu := f.logs[i]
		if err := waitDone(ctx, fu.done); err != nil {
			return err
		}
		res := &Result{Type: TypeLogFile, Bucket: lf.S3Bucket, Key: lf.S3Object, Backfill: backfill,
			Account: ch.Account, Region: ch.Region, Trail: ch.Trail, Related: dres.Object(), Counted: true}
		res.Time, _ = logFileTime(lf.S3Object)
		fail := func(kind Kind, status, detail string) {
			res.Status, res.Kind = Invalid, kind
			res.Message = logMsg(lf.S3Bucket, lf.S3Object, "INVALID: "+status)
			res.Detail = detail
		}
		sha, err := fu.sha, fu.err
		if errors.Is(err, errNotGzip) {
			if strings.EqualFold(sha, lf.HashValue) {
				err = nil
				res.Detail = "stored uncompressed"
			} else {
				err = errFormat
			}
		}
		switch {
		case err == nil && strings.EqualFold(sha, lf.HashValue):
			if proven {
				res.Status = Valid
				res.Message = logMsg(lf.S3Bucket, lf.S3Object, "valid")
			} else {
				res.Status, res.Kind = Unverified, LogFileUnverified
				why := "the digest file that lists it is not valid"
				if dres.Status == Unverified {
					why = "the digest file that lists it is not proven"
				}
				res.Message = logMsg(lf.S3Bucket, lf.S3Object, "UNVERIFIED: "+why)
				res.Detail = "the hash matches " + dres.Object()
			}
		case err == nil:
			fail(LogFileModified, "hash value doesn't match", "SHA-256 "+sha+", the digest lists "+lf.HashValue)
		case errors.Is(err, errTruncated):
			fail(LogFileModified, "hash value doesn't match", "the gzip stream is truncated")
		case errors.Is(err, ErrNotFound):
			fail(LogFileDeleted, "not found", "")
		case errors.Is(err, errFormat):
			fail(LogFileInvalidFormat, "invalid format", err.Error())
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			fail(ReadFailed, err.Error(), "")
		}
		cr.emit(res)
	}
	return nil
}

// emitGap reports a chain restart: the AWS CLI's gap message, and the new
// starting digest with the trail events that explain it.
func (cr *cellRun) emitGap(ctx context.Context, ch *chainPlan, bucket, key string, d *Digest, older string, olderEnd time.Time, backfill bool) {
	p := ""
	if backfill {
		p = "(backfill) "
	}
	base := Result{Bucket: bucket, Backfill: backfill, Account: ch.Account, Region: ch.Region, Trail: ch.Trail}
	gap := base
	gap.Type, gap.Status, gap.Kind = TypeChain, Warning, ChainGap
	gap.Time, gap.End = olderEnd, d.DigestStartTime
	gap.Message = p + "No log files were delivered by CloudTrail between " + DisplayTime(olderEnd) + " and " + DisplayTime(d.DigestStartTime)
	gap.Related = "s3://" + bucket + "/" + older
	missing := int(d.DigestStartTime.Sub(olderEnd).Round(time.Hour) / time.Hour)
	if missing > 0 {
		gap.Detail = fmt.Sprintf("%d hourly digest files missing: the chain ends with s3://%s/%s and starts again with s3://%s/%s", missing, bucket, older, bucket, key)
	} else {
		gap.Detail = fmt.Sprintf("no hour is missing, but the chain ends with s3://%s/%s and starts again with s3://%s/%s", bucket, older, bucket, key)
	}
	cr.emit(&gap)
	ns := base
	ns.Type, ns.Status, ns.Kind = TypeDigest, Warning, NewStartingDigest
	ns.Key, ns.Time = key, d.DigestEndTime
	ns.Related = gap.Related
	ns.Message = p + "Digest file\ts3://" + bucket + "/" + key + "\tWARNING: new starting digest after s3://" + bucket + "/" + older +
		": logging or log file validation was turned off and on"
	ns.Detail = "a starting digest (previousDigest* null) although an older digest exists"
	if ev := cr.p.v.Events; ev != nil {
		events, err := trailEventsAround(ctx, ev, TrailEventQuery{Bucket: ch.Bucket, Prefix: ch.Prefix, OrgID: ch.OrgID, Account: ch.Account,
			Trail: ch.Trail, HomeRegion: ch.HomeRegion}, olderEnd, d)
		if err != nil {
			ns.Detail += "; looking up trail events failed: " + err.Error()
		}
		ns.Events = events
		for _, e := range events {
			ns.Message += "\n  " + e.String()
		}
		if len(events) == 0 && err == nil {
			ns.Detail += "; no StopLogging, StartLogging or UpdateTrail event found around it"
		}
	}
	cr.emit(&ns)
}

// trailEventsAround asks for the trail events between the end of the old
// chain (less two hours: logging stops within the last digest's hour) and
// the end of the new starting digest, in one window or, for a long gap, two.
func trailEventsAround(ctx context.Context, ev TrailEvents, q TrailEventQuery, olderEnd time.Time, d *Digest) ([]TrailEvent, error) {
	from, to := olderEnd.Add(-2*time.Hour), d.DigestEndTime.Add(15*time.Minute)
	windows := [][2]time.Time{{from, to}}
	if to.Sub(from) > 6*time.Hour {
		windows = [][2]time.Time{{from, olderEnd.Add(time.Hour)}, {d.DigestStartTime.Add(-time.Hour), to}}
	}
	var out []TrailEvent
	for _, w := range windows {
		q.From, q.To = w[0], w[1]
		evs, err := ev.TrailEvents(ctx, q)
		if err != nil {
			return out, err
		}
		out = append(out, evs...)
	}
	slices.SortStableFunc(out, func(a, b TrailEvent) int { return a.Time.Compare(b.Time) })
	// The same event may come from overlapping windows or a log file
	// delivered twice.
	return slices.CompactFunc(out, func(a, b TrailEvent) bool {
		if a.EventID != "" || b.EventID != "" {
			return a.EventID == b.EventID
		}
		return a.Time.Equal(b.Time) && a.Name == b.Name && a.Principal == b.Principal && a.Detail == b.Detail
	}), nil
}

// String renders the event for a message line.
func (e TrailEvent) String() string {
	s := e.Name + " at " + DisplayTime(e.Time)
	if e.Principal != "" {
		s += " by " + e.Principal
	}
	if e.SourceIP != "" {
		s += " from " + e.SourceIP
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Margins for log files near the edges of the digests seen: a file written
// before a digest closes may be delivered, and listed, after it.
const (
	edgeMargin    = 5 * time.Minute
	deliveryDelay = 15 * time.Minute // a digest is delivered within this after its end time
)

// unlisted reports the cell's log files that no digest lists, and digests
// missing at the head of a chain.
func (cr *cellRun) unlisted(ctx context.Context, objs []ObjectInfo) error {
	req := cr.p.req
	if cr.spanEnd.IsZero() {
		return nil
	}
	lo := cr.spanStart.Truncate(time.Minute).Add(time.Minute)
	hi := cr.spanEnd.Add(-edgeMargin)
	if lo.Before(req.Start) && !cr.p.open {
		lo = req.Start
	}
	if hi.After(req.End) {
		hi = req.End
	}
	// The newest log file delivered in range, and whether a chain's next
	// digest is overdue at that time.
	var newestLog time.Time
	for _, o := range objs {
		if t, ok := logFileTime(o.Key); ok && !t.After(req.End) && t.After(newestLog) {
			newestLog = t
		}
	}
	var headFrom, headTo time.Time
	for _, ch := range cr.cell.chains {
		if len(ch.standard) == 0 {
			continue
		}
		newest := keyTime(ch.standard[len(ch.standard)-1])
		// The digests due, by the newest log file's delivery, after it.
		due := int(newestLog.Sub(newest.Add(deliveryDelay)) / time.Hour)
		if due < 1 {
			continue
		}
		next := newest.Add(time.Hour)
		key := DigestKeyFor(ch.Prefix, ch.OrgID, ch.Account, ch.Region, ch.Trail, ch.HomeRegion, next, false)
		cr.emit(&Result{Type: TypeDigest, Status: Invalid, Kind: DigestDeleted, Bucket: ch.Bucket, Key: key,
			Account: ch.Account, Region: ch.Region, Trail: ch.Trail, Time: next, Counted: true,
			Message: digestMsg(false, ch.Bucket, key, "INVALID: not found"),
			Detail: fmt.Sprintf("the newest digest file ends at %s, but log files were delivered until %s: %d digest files after it are missing (deleted, or log file validation was turned off)",
				DisplayTime(newest), DisplayTime(newestLog), due)})
		if headFrom.IsZero() || newest.Before(headFrom) {
			headFrom = newest
		}
		if to := newest.Add(time.Duration(due) * time.Hour); to.After(headTo) {
			headTo = to
		}
	}
	bucket := req.Bucket
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, ok := logFileTime(o.Key)
		if !ok || cr.listed[bucket+"\x00"+o.Key] {
			continue
		}
		inSpan := !t.Before(lo) && !t.After(hi)
		inHead := !headFrom.IsZero() && !t.Before(headFrom) && !t.After(headTo.Add(-edgeMargin)) && !t.After(req.End)
		if !inSpan && !inHead {
			continue
		}
		cr.emit(&Result{Type: TypeLogFile, Status: Invalid, Kind: LogFileUnlisted, Bucket: bucket, Key: o.Key,
			Account: cr.cell.account, Region: cr.cell.region, Time: t,
			Message: logMsg(bucket, o.Key, "INVALID: not listed in any digest file"),
			Detail:  "delivered at " + DisplayTime(t) + ", within the hours the digest files cover, but no digest lists it: it was added, or its digest is missing"})
	}
	return nil
}
