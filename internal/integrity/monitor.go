package integrity

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trailwatch/trailwatch/internal/detect"
	"github.com/trailwatch/trailwatch/internal/event"
)

// DB is the database a Monitor reads and writes: the store's (for DuckDB,
// duckdb.Store.DB()). It reads cloudtrail_digests, tw_objects and
// cloudtrail_events, and writes its own tables integrity_status and
// integrity_findings.
type DB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// execer runs statements (the DB, or a transaction on it).
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Checkpointer keeps the Monitor's progress (the store implements it).
type Checkpointer interface {
	Checkpoint(ctx context.Context, name string) (string, error)
	SetCheckpoint(ctx context.Context, name, value string) error
}

// MonitorOptions configure a Monitor.
type MonitorOptions struct {
	// DB is the store's database (required).
	DB DB
	// Checkpoints keeps the position in cloudtrail_digests (required).
	Checkpoints Checkpointer
	// Keys gives CloudTrail's public keys (ListPublicKeys in production,
	// StaticKeys from a file in tests and demos); nil leaves signatures
	// unchecked (digests are recorded unverified).
	Keys PublicKeys
	// Buckets, when set, reads a listed log file the ledger has no hash
	// for (not collected, or collected before hashes were kept): a missing
	// one is then reported deleted. Without it such files are recorded
	// unverified.
	Buckets Buckets
	// Emit receives every finding that is Invalid or Warning, as a
	// detection finding for the alert pipeline (alert.Manager.Add). May be
	// nil.
	Emit func(detect.Finding)
	// Interval between passes (default 1 minute).
	Interval time.Duration
	// Grace is how long after a digest is due (an hour after the previous
	// one's end) a missing one is reported (default 2 hours).
	Grace time.Duration
	// Settle is how long a digest waits for the log files it lists to be
	// collected before they are checked without them (default 10 minutes).
	Settle time.Duration
	// Name names the checkpoint (default "integrity/monitor").
	Name string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives progress; nil discards.
	Log *slog.Logger
}

// Monitor validates digests continuously as the collector stores them:
// each digest in cloudtrail_digests is checked (location, public key,
// signature from the object's metadata, its link to the previous digest in
// the store) and the log files it lists are compared with the SHA-256 the
// pipeline recorded in the object ledger when it collected them, without
// reading them again. Log files collected in the hours a digest covers
// that no digest lists, chain restarts (with the trail events in the store
// that explain them) and hourly digests that do not arrive within the
// grace period are reported too. Every finding goes to integrity_findings
// and, when Invalid or a Warning, to Emit; integrity_status holds each
// chain's state (one row per bucket, prefix, organization, account,
// region and trail).
type Monitor struct {
	o     MonitorOptions
	keys  *keyRing
	log   *slog.Logger
	once  sync.Once
	ready error
	hs    hashers
	days  map[string][]string // ledger keys per day directory, for one pass
}

// NewMonitor returns a Monitor; call Run (or Check for a single pass).
func NewMonitor(o MonitorOptions) *Monitor {
	o.Interval = cmp.Or(o.Interval, time.Minute)
	o.Grace = cmp.Or(o.Grace, 2*time.Hour)
	o.Settle = cmp.Or(o.Settle, 10*time.Minute)
	o.Name = cmp.Or(o.Name, "integrity/monitor")
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Monitor{o: o, log: o.Log}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if o.Keys != nil {
		m.keys = newKeyRing(o.Keys)
	}
	return m
}

// Run checks every Interval until ctx is done; a failed pass is logged and
// retried at the next. It returns nil when ctx is cancelled.
func (m *Monitor) Run(ctx context.Context) error {
	if m.o.DB == nil || m.o.Checkpoints == nil {
		return errors.New("integrity monitor: DB and Checkpoints are required")
	}
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		if _, err := m.Check(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("integrity check failed; retrying at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// The Monitor's tables.
var monitorDDL = []string{
	`CREATE TABLE IF NOT EXISTS integrity_status (
		bucket VARCHAR, prefix VARCHAR, organization VARCHAR, account VARCHAR, region VARCHAR,
		trail VARCHAR, home_region VARCHAR,
		status VARCHAR,                 -- valid, invalid, warning, overdue or unverified
		last_digest VARCHAR,            -- the newest digest checked (s3://bucket/key)
		last_digest_end TIMESTAMPTZ,
		digests_valid BIGINT, digests_invalid BIGINT, digests_unverified BIGINT,
		logs_valid BIGINT, logs_invalid BIGINT, logs_unverified BIGINT,
		warnings BIGINT,
		last_finding VARCHAR, last_finding_at TIMESTAMPTZ,
		overdue_since TIMESTAMPTZ,      -- end of the first hour without a digest, while overdue
		overdue_reported TIMESTAMPTZ,   -- end of the last missing hour reported
		checked_at TIMESTAMPTZ,
		PRIMARY KEY (bucket, prefix, organization, account, region, trail, home_region))`,
	`CREATE TABLE IF NOT EXISTS integrity_findings (
		kind VARCHAR, status VARCHAR, type VARCHAR, object VARCHAR,
		account VARCHAR, region VARCHAR, trail VARCHAR,
		time TIMESTAMPTZ, "end" TIMESTAMPTZ,
		message VARCHAR, detail VARCHAR, related VARCHAR, events VARCHAR,
		found_at TIMESTAMPTZ,
		PRIMARY KEY (kind, object))`,
}

func (m *Monitor) setup(ctx context.Context) error {
	m.once.Do(func() {
		for _, q := range monitorDDL {
			if _, err := m.o.DB.ExecContext(ctx, q); err != nil {
				m.ready = fmt.Errorf("integrity monitor: create tables: %w", err)
				return
			}
		}
	})
	return m.ready
}

// CheckSummary tells what one pass did.
type CheckSummary struct {
	Digests  int      // digests checked
	Waiting  int      // digests left for a later pass (their log files are still being collected)
	Results  []Result // every result that is not valid
	Overdue  int      // missing hourly digests reported
	Position string   // the checkpoint after the pass
}

// digestRow is a digest as the store holds it.
type digestRow struct {
	bucket, key, raw, signature, sha, source string
	ingested                                 time.Time
}

// Check runs one pass: it validates the digests stored since the
// checkpoint, reports overdue digests and updates the tables. Passes must
// not overlap (Run makes them one after the other).
func (m *Monitor) Check(ctx context.Context) (*CheckSummary, error) {
	if err := m.setup(ctx); err != nil {
		return nil, err
	}
	pos, err := m.o.Checkpoints.Checkpoint(ctx, m.o.Name)
	if err != nil {
		return nil, err
	}
	rows, err := m.newDigests(ctx, pos)
	if err != nil {
		return nil, err
	}
	sum := &CheckSummary{Position: pos}
	now := m.o.Now().UTC()
	m.days = map[string][]string{}
	defer func() { m.days = nil }()
	b := &batch{chains: map[Scope]*chainDelta{}}
	// Results are written (and the checkpoint moved) in one transaction
	// per chunk of digests: a commit per digest would cost more than the
	// checks.
	const chunk = 256
	for i, row := range rows {
		results, wait, err := m.checkDigest(ctx, row, now)
		if err != nil {
			return sum, errors.Join(err, m.flush(ctx, b, now, sum))
		}
		if wait {
			sum.Waiting = len(rows) - i
			break
		}
		b.add(row, results)
		for _, r := range results {
			if r.Status != Valid {
				sum.Results = append(sum.Results, r)
			}
		}
		if b.digests >= chunk {
			if err := m.flush(ctx, b, now, sum); err != nil {
				return sum, err
			}
		}
	}
	if err := m.flush(ctx, b, now, sum); err != nil {
		return sum, err
	}
	overdue, err := m.overdue(ctx, now)
	if err != nil {
		return sum, err
	}
	sum.Overdue = len(overdue)
	sum.Results = append(sum.Results, overdue...)
	if sum.Digests > 0 || sum.Overdue > 0 {
		m.log.Info("integrity checked", "digests", sum.Digests, "findings", len(sum.Results), "overdue", sum.Overdue, "waiting", sum.Waiting)
	}
	return sum, nil
}

// newDigests reads the digests stored after the checkpoint
// ("<ingested_at>|<bucket>/<key>"), in the order they were stored.
func (m *Monitor) newDigests(ctx context.Context, pos string) ([]digestRow, error) {
	q := `SELECT digestS3Bucket, digestS3Object, raw, coalesce(signature, ''), coalesce(sha256, ''), coalesce(source_object, ''), ingested_at
		FROM cloudtrail_digests WHERE digestS3Object IS NOT NULL`
	var args []any
	if pos != "" {
		ts, obj, _ := strings.Cut(pos, "|")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("integrity monitor: checkpoint %q: %w", pos, err)
		}
		q += ` AND (ingested_at > ? OR (ingested_at = ? AND digestS3Bucket || '/' || digestS3Object > ?))`
		args = append(args, t, t, obj)
	}
	q += ` ORDER BY ingested_at, digestS3Bucket || '/' || digestS3Object LIMIT 5000`
	rs, err := m.o.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("integrity monitor: read digests: %w", err)
	}
	defer rs.Close()
	var out []digestRow
	for rs.Next() {
		var r digestRow
		if err := rs.Scan(&r.bucket, &r.key, &r.raw, &r.signature, &r.sha, &r.source, &r.ingested); err != nil {
			return nil, fmt.Errorf("integrity monitor: read digests: %w", err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// ledgerEntry is what tw_objects says of a log file.
type ledgerEntry struct {
	sha, err string
	ok       bool
}

// ledger looks log files up in tw_objects by their canonical keys.
func (m *Monitor) ledger(ctx context.Context, keys []string) (map[string]ledgerEntry, error) {
	out := map[string]ledgerEntry{}
	for len(keys) > 0 {
		part := keys[:min(len(keys), 500)]
		keys = keys[len(part):]
		args := make([]any, len(part))
		for i, k := range part {
			args[i] = k
		}
		rs, err := m.o.DB.QueryContext(ctx, `SELECT object_key, coalesce(sha256, ''), coalesce(error, '') FROM tw_objects WHERE object_key IN (`+
			strings.TrimSuffix(strings.Repeat("?,", len(part)), ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("integrity monitor: read object ledger: %w", err)
		}
		for rs.Next() {
			var k string
			var e ledgerEntry
			if err := rs.Scan(&k, &e.sha, &e.err); err != nil {
				rs.Close()
				return nil, err
			}
			e.ok = true
			out[k] = e
		}
		if err := rs.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// canonicalKey is the ledger's key of a CloudTrail object: from AWSLogs/
// on (store.LedgerKey).
func canonicalKey(key string) string {
	if i := strings.Index(key, "AWSLogs/"); i >= 0 && (i == 0 || key[i-1] == '/') {
		return key[i:]
	}
	return key
}

// checkDigest validates one stored digest. wait reports that its log files
// are still being collected.
func (m *Monitor) checkDigest(ctx context.Context, row digestRow, now time.Time) (results []Result, wait bool, err error) {
	dk, ok := ParseDigestKey(row.key)
	res := Result{Type: TypeDigest, Bucket: row.bucket, Key: row.key, Account: dk.Account, Region: dk.Region, Trail: dk.Trail, Time: dk.Time, Counted: true}
	fail := func(kind Kind, status, detail string) {
		res.Status, res.Kind = Invalid, kind
		res.Message = digestMsg(dk.Backfill, row.bucket, row.key, "INVALID: "+status)
		res.Detail = detail
	}
	if !ok {
		fail(DigestMoved, "has been moved from its original location", "its digestS3Object is not a digest file key")
		return []Result{res}, false, nil
	}
	d, perr := ParseDigest([]byte(row.raw))
	if perr != nil {
		fail(DigestInvalidFormat, "invalid format", perr.Error())
		return []Result{res}, false, nil
	}
	if row.sha != "" {
		d.SHA256 = row.sha // the hash of the file as stored (whitespace included)
	}
	res.Time = d.DigestEndTime
	// Log files first: wait for them to be collected.
	keys := make([]string, len(d.LogFiles))
	for i, lf := range d.LogFiles {
		keys[i] = canonicalKey(lf.S3Object)
	}
	led, err := m.ledger(ctx, keys)
	if err != nil {
		return nil, false, err
	}
	missing := 0
	for _, k := range keys {
		if !led[k].ok {
			missing++
		}
	}
	if missing > 0 && now.Sub(row.ingested) < m.o.Settle {
		return nil, true, nil
	}
	// Where it was read from must be where it says it is.
	if src := row.source; src != "" {
		moved := false
		if rest, isS3 := strings.CutPrefix(src, "s3://"); isS3 {
			moved = rest != d.DigestS3Bucket+"/"+d.DigestS3Object
		} else {
			moved = !strings.HasSuffix(strings.ReplaceAll(src, "\\", "/"), "/"+canonicalKey(d.DigestS3Object))
		}
		if moved {
			fail(DigestMoved, "has been moved from its original location", "read from "+src+"; it names s3://"+d.DigestS3Bucket+"/"+d.DigestS3Object)
		}
	}
	proven := false
	if res.Status == "" {
		proven, err = m.checkSignature(ctx, &res, d, dk, row)
		if err != nil {
			return nil, false, err
		}
	}
	results = append(results, res)
	// The link to the previous digest, and chain restarts.
	link, err := m.checkLink(ctx, d, dk, row)
	if err != nil {
		return nil, false, err
	}
	results = append(results, link...)
	// The log files against the ledger (or the bucket).
	for i, lf := range d.LogFiles {
		results = append(results, m.checkLogFile(ctx, lf, led[keys[i]], dk, &res, proven))
	}
	// Log files collected in the hours this digest covers, and in those
	// of a deleted previous digest or a restart gap, that no digest lists.
	windows := [][2]time.Time{{d.DigestStartTime, d.DigestEndTime}}
	for _, r := range link {
		switch r.Kind {
		case DigestDeleted:
			windows = append(windows, [2]time.Time{d.DigestStartTime.Add(-time.Hour), d.DigestStartTime})
		case ChainGap:
			windows = append(windows, [2]time.Time{r.Time, r.End})
		}
	}
	for _, w := range windows {
		unl, err := m.unlisted(ctx, d, dk, w[0], w[1])
		if err != nil {
			return nil, false, err
		}
		results = append(results, unl...)
	}
	return results, false, nil
}

// checkSignature checks the digest's signature (from the object's
// metadata, or the previousDigestSignature a later digest recorded) and
// sets res; proven reports a verified signature.
func (m *Monitor) checkSignature(ctx context.Context, res *Result, d *Digest, dk DigestKey, row digestRow) (bool, error) {
	sig, from := row.signature, "metadata"
	if sig == "" {
		err := m.queryRow(ctx, `SELECT coalesce(max(previousDigestSignature), '') FROM cloudtrail_digests WHERE previousDigestS3Bucket = ? AND previousDigestS3Object = ?`,
			[]any{row.bucket, row.key}, &sig)
		if err != nil {
			return false, err
		}
		from = "previousDigestSignature of the next digest"
	}
	unverified := func(status, detail string) {
		res.Status, res.Kind = Unverified, DigestUnverified
		res.Message = digestMsg(dk.Backfill, row.bucket, row.key, "UNVERIFIED: "+status)
		res.Detail = detail
	}
	switch {
	case m.keys == nil:
		unverified("signature not checked (no public keys)", "the monitor has no public key source")
		return false, nil
	case sig == "":
		unverified("no signature", "collected without its x-amz-meta-signature metadata, and no later digest names it yet")
		return false, nil
	}
	pk, ok, valid, err := m.keys.find(ctx, dk.Region, d.DigestPublicKeyFingerprint, d.DigestEndTime)
	if err != nil {
		return false, err
	}
	if !ok || !valid {
		res.Status, res.Kind = Invalid, PublicKeyNotFound
		res.Message = digestMsg(dk.Backfill, row.bucket, row.key, "INVALID: public key not found in region "+dk.Region+" for fingerprint "+d.DigestPublicKeyFingerprint)
		return false, nil
	}
	if verr := VerifySignature(pk.Value, d.DigestPublicKeyFingerprint, d.StringToSign(), sig); verr != nil {
		res.Status, res.Kind = Invalid, DigestModified
		res.Message = digestMsg(dk.Backfill, row.bucket, row.key, "INVALID: "+verr.Error())
		if from != "metadata" {
			res.Detail = "signature taken from the " + from
		}
		return false, nil
	}
	res.Status = Valid
	res.Message = digestMsg(dk.Backfill, row.bucket, row.key, "valid")
	return true, nil
}

func (m *Monitor) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	rs, err := m.o.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("integrity monitor: %w", err)
	}
	defer rs.Close()
	if rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			return err
		}
	}
	return rs.Err()
}

// checkLink checks the digest against the previous one in the store:
// previousDigestHashValue and previousDigestSignature; a previous digest
// missing while older digests of the chain are stored is deleted; a
// starting digest after older ones is a restart.
func (m *Monitor) checkLink(ctx context.Context, d *Digest, dk DigestKey, row digestRow) ([]Result, error) {
	if dk.Backfill {
		return nil, nil
	}
	// The chain's digests: in its directory, named for its trail.
	dirPrefix := awsLogsPrefix(dk.Prefix, dk.OrgID) + dk.Account + "/CloudTrail-Digest/" + dk.Region + "/"
	namePart := "/" + dk.Account + "_CloudTrail-Digest_" + dk.Region + "_" + dk.Trail + "_" + dk.HomeRegion + "_"
	inChain := `digestS3Bucket = ? AND starts_with(digestS3Object, ?) AND contains(digestS3Object, ?) AND NOT ends_with(digestS3Object, '_backfill.json.gz')`
	base := Result{Bucket: row.bucket, Account: dk.Account, Region: dk.Region, Trail: dk.Trail}
	if d.Starting {
		var older string
		var olderEnd sql.NullTime
		err := m.queryRow(ctx, `SELECT coalesce(arg_max(digestS3Object, digestEndTime), ''), max(digestEndTime) FROM cloudtrail_digests
			WHERE `+inChain+` AND digestEndTime < ?`,
			[]any{row.bucket, dirPrefix, namePart, d.DigestStartTime.Add(time.Minute)}, &older, &olderEnd)
		if err != nil || older == "" || !olderEnd.Valid {
			return nil, err
		}
		gap := base
		gap.Type, gap.Status, gap.Kind = TypeChain, Warning, ChainGap
		gap.Key = row.key
		gap.Time, gap.End = olderEnd.Time.UTC(), d.DigestStartTime
		gap.Message = "No log files were delivered by CloudTrail between " + DisplayTime(gap.Time) + " and " + DisplayTime(d.DigestStartTime)
		gap.Related = "s3://" + row.bucket + "/" + older
		gap.Detail = fmt.Sprintf("%d hourly digest files missing: the chain ends with s3://%s/%s and starts again with s3://%s/%s",
			int(d.DigestStartTime.Sub(gap.Time).Round(time.Hour)/time.Hour), row.bucket, older, row.bucket, row.key)
		ns := base
		ns.Type, ns.Status, ns.Kind, ns.Key, ns.Time, ns.Related = TypeDigest, Warning, NewStartingDigest, row.key, d.DigestEndTime, gap.Related
		ns.Message = "Digest file\ts3://" + row.bucket + "/" + row.key + "\tWARNING: new starting digest after s3://" + row.bucket + "/" + older +
			": logging or log file validation was turned off and on"
		ns.Detail = "a starting digest (previousDigest* null) although an older digest exists"
		events, err := trailEventsAround(ctx, StoreTrailEvents{DB: m.o.DB}, TrailEventQuery{Bucket: row.bucket, Prefix: dk.Prefix, OrgID: dk.OrgID,
			Account: dk.Account, Trail: dk.Trail, HomeRegion: dk.HomeRegion}, gap.Time, d)
		if err != nil {
			ns.Detail += "; looking up trail events failed: " + err.Error()
		}
		ns.Events = events
		for _, e := range events {
			ns.Message += "\n  " + e.String()
		}
		if len(events) == 0 && err == nil {
			ns.Detail += "; no StopLogging, StartLogging or UpdateTrail event found in the store around it"
		}
		return []Result{gap, ns}, nil
	}
	var prevSHA, prevSig string
	var found bool
	rs, err := m.o.DB.QueryContext(ctx, `SELECT coalesce(sha256, ''), coalesce(signature, '') FROM cloudtrail_digests WHERE digestS3Bucket = ? AND digestS3Object = ?`,
		d.PreviousDigestS3Bucket, d.PreviousDigestS3Object)
	if err != nil {
		return nil, fmt.Errorf("integrity monitor: %w", err)
	}
	for rs.Next() {
		found = true
		if err := rs.Scan(&prevSHA, &prevSig); err != nil {
			rs.Close()
			return nil, err
		}
	}
	rs.Close()
	prev := base
	prev.Type, prev.Bucket, prev.Key, prev.Related = TypeDigest, d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, "s3://"+row.bucket+"/"+row.key
	prev.Time = keyTime(d.PreviousDigestS3Object)
	invalid := func(kind Kind, status, detail string) []Result {
		prev.Status, prev.Kind = Invalid, kind
		prev.Message = digestMsg(false, prev.Bucket, prev.Key, "INVALID: "+status)
		prev.Detail = detail
		return []Result{prev}
	}
	if !found {
		// Deleted, unless the store never held this chain before it (the
		// collector started later).
		var n int64
		if err := m.queryRow(ctx, `SELECT count(*) FROM cloudtrail_digests WHERE `+inChain+` AND digestEndTime < ?`,
			[]any{d.PreviousDigestS3Bucket, dirPrefix, namePart, prev.Time}, &n); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		return invalid(DigestDeleted, "not found", "named as the previous digest by s3://"+row.bucket+"/"+row.key+", and never collected although older digests of the chain were"), nil
	}
	switch {
	case d.PreviousDigestHashValue != "" && prevSHA != "" && !strings.EqualFold(prevSHA, d.PreviousDigestHashValue):
		return invalid(DigestModified, "hash value doesn't match the previousDigestHashValue of s3://"+row.bucket+"/"+row.key,
			"its SHA-256 is "+prevSHA+"; the next digest recorded "+d.PreviousDigestHashValue), nil
	case d.PreviousDigestSignature != "" && prevSig != "" && !strings.EqualFold(prevSig, d.PreviousDigestSignature):
		return invalid(DigestModified, "signature doesn't match the previousDigestSignature of s3://"+row.bucket+"/"+row.key, ""), nil
	}
	return nil, nil
}

// checkLogFile compares a listed log file's hash with the ledger's (or the
// bucket's copy).
func (m *Monitor) checkLogFile(ctx context.Context, lf event.DigestLogFile, e ledgerEntry, dk DigestKey, dres *Result, proven bool) Result {
	res := Result{Type: TypeLogFile, Bucket: lf.S3Bucket, Key: lf.S3Object, Backfill: dk.Backfill, Account: dk.Account, Region: dk.Region, Trail: dk.Trail,
		Related: dres.Object(), Counted: true}
	res.Time, _ = logFileTime(lf.S3Object)
	fail := func(kind Kind, status, detail string) Result {
		res.Status, res.Kind = Invalid, kind
		res.Message = logMsg(lf.S3Bucket, lf.S3Object, "INVALID: "+status)
		res.Detail = detail
		return res
	}
	sha, how := e.sha, "collected"
	if sha == "" && m.o.Buckets != nil {
		var err error
		sha, err = m.hashFromBucket(ctx, lf.S3Bucket, lf.S3Object)
		how = "read again"
		switch {
		case errors.Is(err, ErrNotFound):
			return fail(LogFileDeleted, "not found", "listed by "+dres.Object())
		case errors.Is(err, errTruncated):
			return fail(LogFileModified, "hash value doesn't match", "the gzip stream is truncated")
		case errors.Is(err, errFormat):
			return fail(LogFileInvalidFormat, "invalid format", err.Error())
		case err != nil && !errors.Is(err, errNotGzip):
			return fail(ReadFailed, err.Error(), "")
		}
	}
	switch {
	case sha == "":
		res.Status, res.Kind = Unverified, LogFileUnverified
		why := "not collected"
		if e.ok {
			why = "collected without its hash"
			if e.err != "" {
				why = "quarantined: " + e.err
			}
		}
		res.Message = logMsg(lf.S3Bucket, lf.S3Object, "UNVERIFIED: "+why)
		res.Detail = "listed by " + dres.Object() + "; give the monitor the bucket to read it"
	case !strings.EqualFold(sha, lf.HashValue):
		return fail(LogFileModified, "hash value doesn't match", "SHA-256 "+sha+" ("+how+"), the digest lists "+lf.HashValue)
	case proven:
		res.Status = Valid
		res.Message = logMsg(lf.S3Bucket, lf.S3Object, "valid")
	default:
		res.Status, res.Kind = Unverified, LogFileUnverified
		res.Message = logMsg(lf.S3Bucket, lf.S3Object, "UNVERIFIED: the digest file that lists it is not proven")
		res.Detail = "the hash matches " + dres.Object()
	}
	return res
}

// hashFromBucket reads a log file and returns its SHA-256.
func (m *Monitor) hashFromBucket(ctx context.Context, bucket, key string) (string, error) {
	b, err := m.o.Buckets.Bucket(ctx, bucket)
	if err != nil {
		return "", err
	}
	body, _, err := b.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer body.Close()
	h := m.hs.get()
	defer m.hs.put(h)
	return h.sum(body)
}

// unlisted reports log files collected between start and end (hours a
// digest covers, or should have), in the digest's account and region,
// that no digest in the store lists.
func (m *Monitor) unlisted(ctx context.Context, d *Digest, dk DigestKey, start, end time.Time) ([]Result, error) {
	if dk.Backfill || start.IsZero() || !end.After(start) {
		return nil, nil
	}
	lo, hi := start.Truncate(time.Minute).Add(time.Minute), end.Add(-edgeMargin)
	base := canonicalKey(awsLogsPrefix("", dk.OrgID)) + dk.Account + "/CloudTrail/" + dk.Region + "/"
	var prefixes []string // day directories, each ending in "/"
	for day := lo.Truncate(24 * time.Hour); !day.After(hi); day = day.Add(24 * time.Hour) {
		prefixes = append(prefixes, base+day.Format("2006/01/02")+"/")
	}
	var cands []string
	for _, p := range prefixes {
		keys, err := m.dayObjects(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if t, ok := logFileTime(k); ok && !t.Before(lo) && !t.After(hi) {
				cands = append(cands, k)
			}
		}
	}
	// Usually the digest lists them all; otherwise every file listed by a
	// digest of the account and region around then (any trail) counts.
	listed := map[string]bool{}
	for _, lf := range d.LogFiles {
		listed[canonicalKey(lf.S3Object)] = true
	}
	cands = slices.DeleteFunc(cands, func(k string) bool { return listed[k] })
	if len(cands) == 0 {
		return nil, nil
	}
	rs, err := m.o.DB.QueryContext(ctx, `SELECT lf.s3Object FROM (SELECT unnest(logFiles) AS lf FROM cloudtrail_digests
		WHERE digestEndTime BETWEEN ? AND ? AND contains(digestS3Object, ?))`,
		start.Add(-time.Hour), end.Add(2*time.Hour), "/"+dk.Account+"/CloudTrail-Digest/"+dk.Region+"/")
	if err != nil {
		return nil, fmt.Errorf("integrity monitor: %w", err)
	}
	for rs.Next() {
		var k sql.NullString
		if err := rs.Scan(&k); err != nil {
			rs.Close()
			return nil, err
		}
		listed[canonicalKey(k.String)] = true
	}
	if err := rs.Close(); err != nil {
		return nil, err
	}
	var out []Result
	slices.Sort(cands)
	for _, k := range cands {
		if listed[k] {
			continue
		}
		key := k
		if dk.Prefix != "" {
			key = dk.Prefix + "/" + k
		}
		t, _ := logFileTime(k)
		out = append(out, Result{Type: TypeLogFile, Status: Invalid, Kind: LogFileUnlisted, Bucket: d.DigestS3Bucket, Key: key,
			Account: dk.Account, Region: dk.Region, Time: t,
			Message: logMsg(d.DigestS3Bucket, key, "INVALID: not listed in any digest file"),
			Related: "s3://" + d.DigestS3Bucket + "/" + d.DigestS3Object,
			Detail: "delivered at " + DisplayTime(t) + ", between " + DisplayTime(start) + " and " + DisplayTime(end) +
				", hours the digest chain covers, but no digest lists it: it was added, or its digest is missing"})
	}
	return out, nil
}

// dayObjects returns the ledger's keys under a day directory, read once
// per pass (a pass checks a day's digests one after the other).
func (m *Monitor) dayObjects(ctx context.Context, prefix string) ([]string, error) {
	if keys, ok := m.days[prefix]; ok {
		return keys, nil
	}
	// A key range (the primary key's index serves it): "…/DD/" to "…/DD0".
	rs, err := m.o.DB.QueryContext(ctx, `SELECT object_key FROM tw_objects WHERE object_key >= ? AND object_key < ?`, prefix, prefix[:len(prefix)-1]+"0")
	if err != nil {
		return nil, fmt.Errorf("integrity monitor: %w", err)
	}
	defer rs.Close()
	var keys []string
	for rs.Next() {
		var k string
		if err := rs.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	if len(m.days) > 64 {
		clear(m.days)
	}
	m.days[prefix] = keys
	return keys, nil
}

// overdue reports chains whose next hourly digest has not been stored
// within the grace period, one missing hour per chain and pass.
func (m *Monitor) overdue(ctx context.Context, now time.Time) ([]Result, error) {
	rs, err := m.o.DB.QueryContext(ctx, `SELECT bucket, prefix, organization, account, region, trail, home_region, last_digest, last_digest_end, overdue_reported
		FROM integrity_status WHERE last_digest_end IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("integrity monitor: read status: %w", err)
	}
	type chain struct {
		s        Scope
		last     string
		end      time.Time
		reported sql.NullTime
	}
	var chains []chain
	for rs.Next() {
		var c chain
		if err := rs.Scan(&c.s.Bucket, &c.s.Prefix, &c.s.OrgID, &c.s.Account, &c.s.Region, &c.s.Trail, &c.s.HomeRegion, &c.last, &c.end, &c.reported); err != nil {
			rs.Close()
			return nil, err
		}
		chains = append(chains, c)
	}
	if err := rs.Close(); err != nil {
		return nil, err
	}
	var out []Result
	for _, c := range chains {
		next := c.end.UTC().Add(time.Hour)
		if c.reported.Valid && !c.reported.Time.Before(next) {
			next = c.reported.Time.UTC().Add(time.Hour)
		}
		if now.Before(next.Add(m.o.Grace)) {
			continue
		}
		key := DigestKeyFor(c.s.Prefix, c.s.OrgID, c.s.Account, c.s.Region, c.s.Trail, c.s.HomeRegion, next, false)
		r := Result{Type: TypeDigest, Status: Warning, Kind: DigestOverdue, Bucket: c.s.Bucket, Key: key,
			Account: c.s.Account, Region: c.s.Region, Trail: c.s.Trail, Time: next,
			Message: digestMsg(false, c.s.Bucket, key, "WARNING: not delivered"),
			Detail: fmt.Sprintf("the newest digest, %s, ends at %s; the one ending at %s was due by %s: deleted, or logging or log file validation was stopped",
				c.last, DisplayTime(c.end), DisplayTime(next), DisplayTime(next.Add(m.o.Grace)))}
		if err := m.saveFinding(ctx, m.o.DB, &r, now); err != nil {
			return nil, err
		}
		_, err := m.o.DB.ExecContext(ctx, `UPDATE integrity_status SET overdue_reported = ?, overdue_since = coalesce(overdue_since, ?), status = 'overdue',
			last_finding = ?, last_finding_at = ?, checked_at = ?
			WHERE bucket = ? AND prefix = ? AND organization = ? AND account = ? AND region = ? AND trail = ? AND home_region = ?`,
			next, next, string(r.Kind), now, now, c.s.Bucket, c.s.Prefix, c.s.OrgID, c.s.Account, c.s.Region, c.s.Trail, c.s.HomeRegion)
		if err != nil {
			return nil, fmt.Errorf("integrity monitor: update status: %w", err)
		}
		m.emit(&r)
		out = append(out, r)
	}
	return out, nil
}

// batch accumulates the results of digests until they are written.
type batch struct {
	chains   map[Scope]*chainDelta
	order    []Scope
	findings []Result
	digests  int
	pos      string // the checkpoint once written
}

// chainDelta is what a batch changes in a chain's status row.
type chainDelta struct {
	status        string
	last          string
	end           time.Time
	digests, logs Counts
	warnings      int
	lastKind      string
}

// add records a digest's results.
func (b *batch) add(row digestRow, results []Result) {
	dk, _ := ParseDigestKey(row.key)
	sc := Scope{Bucket: row.bucket, Prefix: dk.Prefix, OrgID: dk.OrgID, Account: dk.Account, Region: dk.Region, Trail: dk.Trail, HomeRegion: dk.HomeRegion}
	cd := b.chains[sc]
	if cd == nil {
		cd = &chainDelta{}
		b.chains[sc] = cd
		b.order = append(b.order, sc)
	}
	var c, lc Counts
	warnings := 0
	var end time.Time
	for i := range results {
		r := &results[i]
		switch {
		case r.Status == Warning:
			warnings++
		case r.Type == TypeDigest && r.Key == row.key:
			c.add(r.Status)
			end = r.Time
		case r.Type == TypeDigest:
			c.add(r.Status)
		case r.Type == TypeLogFile:
			lc.add(r.Status)
		}
		if r.Status != Valid {
			cd.lastKind = string(r.Kind)
			b.findings = append(b.findings, *r)
		}
	}
	status := "valid"
	switch {
	case c.Invalid+lc.Invalid > 0:
		status = "invalid"
	case warnings > 0:
		status = "warning"
	case c.Unverified > 0:
		status = "unverified"
	}
	if cd.status != "invalid" {
		cd.status = status
	}
	if !dk.Backfill && !end.IsZero() && !end.Before(cd.end) { // a backfill digest does not move the chain on
		cd.end, cd.last = end, "s3://"+row.bucket+"/"+row.key
	}
	cd.digests.Valid += c.Valid
	cd.digests.Invalid += c.Invalid
	cd.digests.Unverified += c.Unverified
	cd.logs.Valid += lc.Valid
	cd.logs.Invalid += lc.Invalid
	cd.logs.Unverified += lc.Unverified
	cd.warnings += warnings
	b.digests++
	b.pos = row.ingested.UTC().Format(time.RFC3339Nano) + "|" + row.bucket + "/" + row.key
}

// flush sends a batch's alerts, writes its findings and status changes in
// one transaction, moves the checkpoint past its digests and empties it.
func (m *Monitor) flush(ctx context.Context, b *batch, now time.Time, sum *CheckSummary) error {
	if b.digests == 0 {
		return nil
	}
	// Alerts first: after a crash the batch is checked again and its
	// alerts sent again (the alert manager merges them), never lost.
	for i := range b.findings {
		m.emit(&b.findings[i])
	}
	tx, err := m.o.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("integrity monitor: %w", err)
	}
	defer tx.Rollback()
	for i := range b.findings {
		if err := m.saveFinding(ctx, tx, &b.findings[i], now); err != nil {
			return err
		}
	}
	for _, sc := range b.order {
		if err := m.saveStatus(ctx, tx, sc, b.chains[sc], now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("integrity monitor: commit: %w", err)
	}
	if err := m.o.Checkpoints.SetCheckpoint(ctx, m.o.Name, b.pos); err != nil {
		return err
	}
	sum.Digests += b.digests
	sum.Position = b.pos
	*b = batch{chains: map[Scope]*chainDelta{}}
	return nil
}

// saveStatus adds a batch's changes to a chain's status row.
func (m *Monitor) saveStatus(ctx context.Context, ex execer, sc Scope, cd *chainDelta, now time.Time) error {
	var lastFindingAt any
	if cd.lastKind != "" {
		lastFindingAt = now
	}
	var endArg, lastArg any
	if !cd.end.IsZero() {
		endArg, lastArg = cd.end, cd.last
	}
	// One row per chain; counters add up; the status is the newest
	// digest's, except that invalid stays until the row is reset (evidence
	// of tampering is not cleared by later valid digests).
	_, err := ex.ExecContext(ctx, `INSERT INTO integrity_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)
		ON CONFLICT DO UPDATE SET
			status = CASE WHEN integrity_status.status = 'invalid' THEN 'invalid' ELSE excluded.status END,
			last_digest = CASE WHEN excluded.last_digest_end IS NOT NULL AND (integrity_status.last_digest_end IS NULL OR excluded.last_digest_end >= integrity_status.last_digest_end)
				THEN excluded.last_digest ELSE integrity_status.last_digest END,
			last_digest_end = greatest(integrity_status.last_digest_end, excluded.last_digest_end),
			digests_valid = integrity_status.digests_valid + excluded.digests_valid,
			digests_invalid = integrity_status.digests_invalid + excluded.digests_invalid,
			digests_unverified = integrity_status.digests_unverified + excluded.digests_unverified,
			logs_valid = integrity_status.logs_valid + excluded.logs_valid,
			logs_invalid = integrity_status.logs_invalid + excluded.logs_invalid,
			logs_unverified = integrity_status.logs_unverified + excluded.logs_unverified,
			warnings = integrity_status.warnings + excluded.warnings,
			last_finding = coalesce(excluded.last_finding, integrity_status.last_finding),
			last_finding_at = coalesce(excluded.last_finding_at, integrity_status.last_finding_at),
			overdue_since = CASE WHEN excluded.last_digest_end > integrity_status.last_digest_end THEN NULL ELSE integrity_status.overdue_since END,
			checked_at = excluded.checked_at`,
		sc.Bucket, sc.Prefix, sc.OrgID, sc.Account, sc.Region, sc.Trail, sc.HomeRegion, cd.status, lastArg, endArg,
		cd.digests.Valid, cd.digests.Invalid, cd.digests.Unverified, cd.logs.Valid, cd.logs.Invalid, cd.logs.Unverified,
		cd.warnings, nullIfEmpty(cd.lastKind), lastFindingAt, now)
	if err != nil {
		return fmt.Errorf("integrity monitor: update status: %w", err)
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// saveFinding writes one finding to integrity_findings.
func (m *Monitor) saveFinding(ctx context.Context, ex execer, r *Result, now time.Time) error {
	var events []string
	for _, e := range r.Events {
		events = append(events, e.String())
	}
	var end any
	if !r.End.IsZero() {
		end = r.End
	}
	var at any
	if !r.Time.IsZero() {
		at = r.Time
	}
	obj := r.Object()
	if obj == "" {
		obj = "s3://" + r.Bucket + "/"
	}
	_, err := ex.ExecContext(ctx, `INSERT OR REPLACE INTO integrity_findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(r.Kind), string(r.Status), string(r.Type), obj, r.Account, r.Region, r.Trail, at, end,
		r.Message, r.Detail, r.Related, strings.Join(events, "\n"), now)
	if err != nil {
		return fmt.Errorf("integrity monitor: save finding: %w", err)
	}
	return nil
}

// emit turns an Invalid or Warning result into a detection finding.
func (m *Monitor) emit(r *Result) {
	if m.o.Emit == nil || (r.Status != Invalid && r.Status != Warning) {
		return
	}
	m.o.Emit(ToFinding(r))
}

// findingTitles names the findings for alerts.
var findingTitles = map[Kind]string{
	LogFileModified:      "CloudTrail log file modified after delivery",
	LogFileDeleted:       "CloudTrail log file deleted after delivery",
	LogFileInvalidFormat: "CloudTrail log file replaced by something that is not a log file",
	LogFileUnlisted:      "CloudTrail log file listed in no digest (added, or its digest is missing)",
	DigestModified:       "CloudTrail digest file modified",
	DigestDeleted:        "CloudTrail digest file deleted",
	DigestMoved:          "CloudTrail digest file moved",
	DigestInvalidFormat:  "CloudTrail digest file unreadable",
	PublicKeyNotFound:    "CloudTrail digest signed with an unknown public key",
	ChainGap:             "CloudTrail digest chain gap: logging or validation was off",
	NewStartingDigest:    "CloudTrail log file validation restarted",
	DigestOverdue:        "CloudTrail hourly digest not delivered",
	ReadFailed:           "CloudTrail log integrity could not be checked",
}

// ToFinding turns a result into a detection finding for the alert
// pipeline: rule "trailwatch-integrity-<kind>", level high for tampering
// and loss, medium for restarts and overdue digests.
func ToFinding(r *Result) detect.Finding {
	level := detect.LevelHigh
	switch r.Kind {
	case ChainGap, NewStartingDigest, DigestOverdue, ReadFailed:
		level = detect.LevelMedium
	case DigestModified, DigestDeleted, LogFileDeleted, LogFileModified:
		level = detect.LevelHigh
	}
	if r.Status == Unverified {
		level = detect.LevelLow
	}
	title := cmp.Or(findingTitles[r.Kind], "CloudTrail log integrity: "+string(r.Kind))
	details := map[string]string{"kind": string(r.Kind), "status": string(r.Status), "message": r.Message}
	for k, v := range map[string]string{"detail": r.Detail, "related": r.Related, "trail": r.Trail, "bucket": r.Bucket, "key": r.Key} {
		if v != "" {
			details[k] = v
		}
	}
	var evs []string
	for _, e := range r.Events {
		evs = append(evs, e.String())
	}
	if len(evs) > 0 {
		details["events"] = strings.Join(evs, "; ")
	}
	f := detect.Finding{RuleID: "trailwatch-integrity-" + string(r.Kind), RuleName: "integrity_" + strings.ReplaceAll(string(r.Kind), "-", "_"),
		Title: title, Level: level, Tags: []string{"attack.defense-evasion", "attack.t1565.001", "attack.t1070"}, Kind: "integrity", Log: "cloudtrail_digest",
		Time: r.Time, Account: r.Account, Region: r.Region, Object: r.Object(), Details: details}
	if f.Time.IsZero() {
		f.Time = time.Now().UTC()
	}
	if len(r.Events) > 0 {
		last := r.Events[len(r.Events)-1]
		f.Principal, f.SourceIP, f.EventName, f.EventID, f.EventSource = last.Principal, last.SourceIP, last.Name, last.EventID, "cloudtrail.amazonaws.com"
	}
	return f
}

// StoreTrailEvents finds trail events (StopLogging, StartLogging,
// UpdateTrail, DeleteTrail, CreateTrail) among the events the store
// ingested.
type StoreTrailEvents struct {
	DB DB
}

// TrailEvents queries cloudtrail_events for q's trail between q.From and
// q.To.
func (s StoreTrailEvents) TrailEvents(ctx context.Context, q TrailEventQuery) ([]TrailEvent, error) {
	rs, err := s.DB.QueryContext(ctx, `SELECT eventTime, eventName, coalesce(recipientAccountId, ''), coalesce(awsRegion, ''),
		coalesce(principal(userIdentity), ''), coalesce(sourceIPAddress, ''), coalesce(eventID, ''),
		coalesce(requestParameters->>'$.name', ''), coalesce(requestParameters->>'$.enableLogFileValidation', '')
		FROM cloudtrail_events
		WHERE eventSource = 'cloudtrail.amazonaws.com' AND eventName IN ('StopLogging', 'StartLogging', 'UpdateTrail', 'DeleteTrail', 'CreateTrail')
			AND errorCode IS NULL AND eventTime BETWEEN ? AND ?
		ORDER BY eventTime`, q.From, q.To)
	if err != nil {
		return nil, fmt.Errorf("trail events: %w", err)
	}
	defer rs.Close()
	var out []TrailEvent
	for rs.Next() {
		var e TrailEvent
		var validation string
		if err := rs.Scan(&e.Time, &e.Name, &e.Account, &e.Region, &e.Principal, &e.SourceIP, &e.EventID, &e.Trail, &validation); err != nil {
			return nil, err
		}
		if e.Trail != q.Trail && !strings.HasSuffix(e.Trail, ":trail/"+q.Trail) {
			continue
		}
		e.Time = e.Time.UTC()
		if e.Name == "UpdateTrail" && validation != "" {
			e.Detail = "enableLogFileValidation=" + validation
		}
		e.Source = "cloudtrail_events"
		out = append(out, e)
	}
	return out, rs.Err()
}
