package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/store"
)

// flushBytes is how much a table's builder holds before its rows are
// written (still inside the open transaction). Larger batches amortise
// each write; this bound keeps memory flat for huge inputs.
const flushBytes = 16 << 20

// Counts says how many rows an appender inserted and how many it dropped as
// already stored.
type Counts struct {
	Events, Insights, Digests, AccessLogs int64
	Duplicates                            int64
}

// builder is a table's row builder (eventCols, accessCols, digestCols).
type builder interface{ pending() *pendingRows }

func (c *eventCols) pending() *pendingRows  { return &c.pendingRows }
func (c *accessCols) pending() *pendingRows { return &c.pendingRows }
func (c *digestCols) pending() *pendingRows { return &c.pendingRows }

// tableWriter holds one table's rows within an appender. Parquet-backed
// tables have two builders: while one is written out by the flusher, the
// other fills, so parsing and writing overlap.
type tableWriter struct {
	name, timeCol string
	parquet       *parquetTable // nil for a native table
	cur           builder
	spare         chan builder
	seen          map[uint64]struct{} // identities admitted in this transaction
	count         *int64
}

// Appender is the DuckDB store.Appender. Use one from one goroutine.
type Appender struct {
	s    *Store
	conn *sql.Conn
	open bool // a transaction is open
	done bool // closed: the lock is released

	tables            []*tableWriter
	events, insights  *tableWriter
	digests, access   *tableWriter
	objects           []store.ObjectStatus
	quarantined       []store.Quarantined
	counts, committed Counts
	tmpDir            string        // this appender's files before they are committed
	files             []pendingFile // written in the open transaction
	flushes           atomic.Int64
	jobs              chan flushJob
	inflight          sync.WaitGroup
	mu                sync.Mutex // guards flushErr, files, counts during flushes
	flushErr          error
	flushers          sync.WaitGroup
}

type flushJob struct {
	ctx context.Context
	tw  *tableWriter
	b   builder
}

var _ store.Appender = (*Appender)(nil)

// Begin opens the write transaction; it waits while another is open.
func (s *Store) Begin(ctx context.Context) (store.Appender, error) {
	return s.BeginAppender(ctx)
}

// BeginAppender is Begin returning the concrete type.
func (s *Store) BeginAppender(ctx context.Context) (*Appender, error) {
	s.writer.Lock()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		s.writer.Unlock()
		return nil, fmt.Errorf("begin write: %w", err)
	}
	// Parquet writes need no transaction (they only write files and read
	// committed ones): several flushers, each on its own connection, write
	// in parallel; the commit adds their files to the catalog.
	nflush := s.flushers()
	a := &Appender{s: s, conn: conn, tmpDir: filepath.Join(s.data, "_tmp", "txn-"+randomID()),
		jobs: make(chan flushJob, nflush)}
	mk := func(name, timeCol string, pt *parquetTable, count *int64, newB func() builder) *tableWriter {
		tw := &tableWriter{name: name, timeCol: timeCol, parquet: pt, seen: map[uint64]struct{}{}, count: count, spare: make(chan builder, nflush)}
		tw.cur = newB()
		tw.cur.pending().seen = tw.seen
		if pt != nil {
			for range nflush {
				sp := newB()
				sp.pending().seen = tw.seen
				tw.spare <- sp
			}
		}
		a.tables = append(a.tables, tw)
		return tw
	}
	a.events = mk("cloudtrail_events", "eventTime", s.ptables[0], &a.counts.Events, func() builder { return newEventCols(false) })
	a.insights = mk("cloudtrail_insights", "eventTime", nil, &a.counts.Insights, func() builder { return newEventCols(true) })
	a.digests = mk("cloudtrail_digests", "digestEndTime", nil, &a.counts.Digests, func() builder { return newDigestCols() })
	a.access = mk("s3_access_logs", "requesttime", s.ptables[1], &a.counts.AccessLogs, func() builder { return newAccessCols() })
	for range nflush {
		fc, err := s.db.Conn(ctx)
		if err != nil {
			a.release()
			return nil, fmt.Errorf("begin write: %w", err)
		}
		a.flushers.Add(1)
		go a.flusher(fc)
	}
	if err := a.begin(ctx); err != nil {
		a.release()
		return nil, err
	}
	return a, nil
}

func (a *Appender) begin(ctx context.Context) error {
	if _, err := a.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	a.open = true
	return nil
}

func (a *Appender) ensureOpen(ctx context.Context) error {
	if a.open {
		return nil
	}
	return a.begin(ctx)
}

func (a *Appender) release() {
	if a.done {
		return
	}
	a.done = true
	close(a.jobs)
	a.flushers.Wait()
	_ = a.conn.Close()
	a.s.writer.Unlock()
}

// Counts returns what the appender inserted in committed transactions.
func (a *Appender) Counts() Counts { return a.committed }

// StoredCounts returns the rows committed so far and the rows dropped as
// already stored (pipeline.Counter).
func (a *Appender) StoredCounts() (stored, duplicates int64) {
	c := a.committed
	return c.Events + c.Insights + c.Digests + c.AccessLogs, c.Duplicates
}

// Append adds the batch's records to the pending rows, handing a table's
// rows to the flusher when enough have accumulated.
func (a *Appender) Append(ctx context.Context, b *event.Batch) error {
	if a.done {
		return errors.New("append after the appender was closed")
	}
	if err := a.asyncErr(); err != nil {
		return err
	}
	now := a.s.opts.Now()
	src := b.Object.URI()
	dups := int64(0)
	if len(b.Events) > 0 {
		c := a.events.cur.(*eventCols)
		for i := range b.Events {
			if !c.append(&b.Events[i], src, now) {
				dups++
			}
		}
	}
	if len(b.Insights) > 0 {
		c := a.insights.cur.(*eventCols)
		for i := range b.Insights {
			if !c.append(&b.Insights[i], src, now) {
				dups++
			}
		}
	}
	if len(b.Digests) > 0 {
		c := a.digests.cur.(*digestCols)
		for i := range b.Digests {
			if !c.append(&b.Digests[i], src, now) {
				dups++
			}
		}
	}
	if len(b.AccessLogs) > 0 {
		c := a.access.cur.(*accessCols)
		lk := store.LedgerKey(b.Object)
		for i := range b.AccessLogs {
			if !c.append(&b.AccessLogs[i], src, lk, now) {
				dups++
			}
		}
	}
	if dups > 0 {
		a.mu.Lock()
		a.counts.Duplicates += dups
		a.mu.Unlock()
	}
	for _, tw := range a.tables {
		if tw.cur.pending().size() < a.s.flushBytes() {
			continue
		}
		if err := a.ensureOpen(ctx); err != nil {
			return err
		}
		if tw.parquet == nil {
			if err := a.flushNative(ctx, tw); err != nil {
				return err
			}
			continue
		}
		// Hand the full builder to the flusher and continue with the spare
		// (waiting for it if the previous flush of this table is running).
		full := tw.cur
		a.inflight.Add(1)
		a.jobs <- flushJob{ctx: ctx, tw: tw, b: full}
		select {
		case tw.cur = <-tw.spare:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// flusher writes full builders out, one at a time, on its own connection.
func (a *Appender) flusher(conn *sql.Conn) {
	defer a.flushers.Done()
	defer conn.Close()
	for job := range a.jobs {
		err := a.flushParquet(job.ctx, conn, job.tw, job.b)
		job.b.pending().reset()
		job.tw.spare <- job.b
		if err != nil {
			a.mu.Lock()
			if a.flushErr == nil {
				a.flushErr = err
			}
			a.mu.Unlock()
		}
		a.inflight.Done()
	}
}

func (a *Appender) asyncErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flushErr
}

// flushNative inserts a native table's pending rows, leaving out rows
// already stored: the duplicate check only reads stored rows within the
// batch's time range, which DuckDB's zone maps make cheap.
func (a *Appender) flushNative(ctx context.Context, tw *tableWriter) error {
	p := tw.cur.pending()
	if p.rows == 0 {
		return nil
	}
	rec := p.record()
	defer rec.Release()
	var stmts []insertStmt
	if p.bounds.n > 0 {
		stmts = append(stmts, insertStmt{
			sql: fmt.Sprintf(`INSERT INTO %[1]s SELECT b.* FROM %[3]s b WHERE b.%[2]s IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM %[1]s e WHERE e.%[2]s >= ? AND e.%[2]s <= ? AND e.%[2]s = b.%[2]s AND e.tw_hash = b.tw_hash)`,
				tw.name, tw.timeCol, batchView),
			args: []any{time.UnixMicro(p.bounds.min).UTC(), time.UnixMicro(p.bounds.max).UTC()},
		})
	}
	if p.hasNullTime {
		stmts = append(stmts, insertStmt{
			sql: fmt.Sprintf(`INSERT INTO %[1]s SELECT b.* FROM %[3]s b WHERE b.%[2]s IS NULL AND NOT EXISTS (
				SELECT 1 FROM %[1]s e WHERE e.%[2]s IS NULL AND e.tw_hash = b.tw_hash)`, tw.name, tw.timeCol, batchView),
		})
	}
	inserted, err := insertRecord(ctx, a.conn, tw.name, rec, stmts)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", tw.name, err)
	}
	a.mu.Lock()
	*tw.count += inserted
	a.counts.Duplicates += int64(p.rows) - inserted
	a.mu.Unlock()
	p.reset()
	return nil
}

// insertStmt is one INSERT ... SELECT reading the batch view.
type insertStmt struct {
	sql  string
	args []any
}

// batchView is the name the pending batch has in insert statements.
const batchView = "tw_batch"

// flushParquet writes a Parquet-backed table's rows to new files in the
// transaction's temporary directory, one per day, leaving out rows already
// stored: the check reads only committed files whose time range overlaps
// the batch (rows repeated within the transaction never get this far).
func (a *Appender) flushParquet(ctx context.Context, conn *sql.Conn, tw *tableWriter, b builder) error {
	p := b.pending()
	if p.rows == 0 {
		return nil
	}
	rec := p.record()
	defer rec.Release()
	tc := quoteIdent(tw.timeCol)
	from, to := nullDay, nullDay
	var lo, hi time.Time
	if p.bounds.n > 0 {
		lo, hi = time.UnixMicro(p.bounds.min).UTC(), time.UnixMicro(p.bounds.max).UTC()
		from, to = lo.Format("2006-01-02"), hi.Format("2006-01-02")
		if p.hasNullTime {
			from = nullDay
		}
	}
	existing, err := a.s.overlappingFiles(ctx, conn, tw.name, from, to, lo, hi, p.hasNullTime)
	if err != nil {
		return err
	}
	where := ""
	if len(existing) > 0 {
		timeFilter := ""
		if p.bounds.n > 0 {
			timeFilter = fmt.Sprintf(" AND (e.%[1]s IS NULL OR e.%[1]s BETWEEN %[2]s AND %[3]s)", tc, tsLiteral(lo), tsLiteral(hi))
		}
		where = fmt.Sprintf(` WHERE NOT EXISTS (SELECT 1 FROM read_parquet(%s, union_by_name = false, hive_partitioning = false) e
			WHERE e.%[2]s IS NOT DISTINCT FROM b.%[2]s AND e.tw_hash = b.tw_hash%[3]s)`, sqlList(existing), tc, timeFilter)
	}
	seq := a.flushes.Add(1)
	var q string
	if from == to {
		// One day (the usual case): one file, no partitioning step.
		dir := filepath.Join(a.tmpDir, tw.name, "tw_day="+from)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		q = fmt.Sprintf(`COPY (SELECT b.* FROM %s b%s) TO %s (%s, RETURN_FILES)`,
			batchView, where, sqlString(filepath.Join(dir, fmt.Sprintf("%06d-%s.parquet", seq, randomID()))), parquetOptions)
	} else {
		dir := filepath.Join(a.tmpDir, tw.name, fmt.Sprintf("%06d", seq))
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		q = fmt.Sprintf(`COPY (SELECT b.*, CAST(coalesce(b.%[1]s, TIMESTAMPTZ '%[2]s 00:00:00+00') AS DATE) AS tw_day FROM %[3]s b%[4]s)
			TO %[5]s (%[6]s, PARTITION_BY (tw_day), FILENAME_PATTERN '{uuid}', RETURN_FILES)`,
			tc, nullDay, batchView, where, sqlString(dir), parquetOptions)
	}
	t0 := time.Now()
	res, err := copyRecord(ctx, conn, tw.name, rec, q)
	a.s.log.Debug("wrote batch", "table", tw.name, "rows", p.rows, "files", len(res.files), "took", time.Since(t0))

	if err != nil {
		return fmt.Errorf("write %s: %w", tw.name, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range res.files {
		a.files = append(a.files, pendingFile{table: tw.name, tmp: f, day: dayOf(f)})
	}
	*tw.count += res.rows
	a.counts.Duplicates += int64(p.rows) - res.rows
	return nil
}

func tsLiteral(t time.Time) string {
	return "TIMESTAMPTZ " + sqlString(t.UTC().Format("2006-01-02 15:04:05.999999-07:00"))
}

// copyResult is what COPY ... RETURN_FILES reports.
type copyResult struct {
	rows  int64
	files []string
}

// ObjectDone records an object in the ledger (at Commit).
func (a *Appender) ObjectDone(_ context.Context, o store.ObjectStatus) error {
	a.objects = append(a.objects, o)
	return nil
}

// Quarantine records a quarantined object (at Commit).
func (a *Appender) Quarantine(_ context.Context, q store.Quarantined) error {
	if q.Time.IsZero() {
		q.Time = a.s.opts.Now()
	}
	a.quarantined = append(a.quarantined, q)
	return nil
}

// Commit writes everything pending and commits. The appender stays usable:
// the next Append starts a new transaction.
func (a *Appender) Commit(ctx context.Context) error {
	if a.done {
		return errors.New("commit after the appender was closed")
	}
	a.inflight.Wait()
	if err := a.asyncErr(); err != nil {
		return err
	}
	if err := a.ensureOpen(ctx); err != nil {
		return err
	}
	for _, tw := range a.tables {
		var err error
		if tw.parquet == nil {
			err = a.flushNative(ctx, tw)
		} else {
			err = a.flushParquet(ctx, a.conn, tw, tw.cur)
			tw.cur.pending().reset()
		}
		if err != nil {
			return err
		}
	}
	if err := a.writeLedger(ctx); err != nil {
		return err
	}
	days := map[string]bool{}
	for _, f := range a.files {
		days[f.day] = true
	}
	changed, err := a.placeFiles(ctx)
	if err != nil {
		return err
	}
	a.files = a.files[:0]
	t0 := time.Now()
	if _, err := a.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	a.open = false
	a.s.log.Debug("committed", "took", time.Since(t0))
	a.committed.Events += a.counts.Events
	a.committed.Insights += a.counts.Insights
	a.committed.Digests += a.counts.Digests
	a.committed.AccessLogs += a.counts.AccessLogs
	a.committed.Duplicates += a.counts.Duplicates
	a.counts = Counts{}
	for _, tw := range a.tables {
		clear(tw.seen)
	}
	_ = os.RemoveAll(a.tmpDir)
	for _, t := range a.s.ptables {
		if !changed[t.name] {
			continue
		}
		if _, err := a.s.compact(ctx, a.conn, t, days); err != nil {
			return fmt.Errorf("compact %s: %w", t.name, err)
		}
	}
	a.s.purgeTrash(false)
	return nil
}

// writeLedger inserts the pending ledger and quarantine rows, as Arrow
// batches like the records (a VALUES list costs ~0.15 ms per object).
func (a *Appender) writeLedger(ctx context.Context) error {
	if len(a.objects) == 0 && len(a.quarantined) == 0 {
		return nil
	}
	now := a.s.opts.Now().UTC().UnixMicro()
	if len(a.objects) > 0 {
		var t table
		var key, uri, kind, etag, errText, sha strCol
		size, records, skipped, at := newInt64Col(), newInt64Col(), newInt64Col(), newTimeCol()
		for _, c := range []struct {
			n string
			c column
		}{{"object_key", &key}, {"uri", &uri}, {"kind", &kind}, {"size", size}, {"etag", &etag},
			{"records", records}, {"skipped", skipped}, {"error", &errText}, {"ingested_at", at}, {"sha256", &sha}} {
			t.add(c.n, c.c)
		}
		seen := map[string]bool{}
		for i := len(a.objects) - 1; i >= 0; i-- { // the last status of an object wins
			o := a.objects[i]
			k := store.LedgerKey(o.Object)
			if seen[k] {
				continue
			}
			seen[k] = true
			key.add(k)
			uri.add(o.Object.URI())
			kind.add(o.Kind.String())
			size.add(o.Object.Size)
			etag.opt(o.Object.ETag, false)
			records.add(int64(o.Records))
			skipped.add(int64(o.Skipped))
			errText.opt(o.Error, false)
			at.add(now)
			sha.opt(o.SHA256, false)
			t.rows++
		}
		rec := t.record()
		_, err := insertRecord(ctx, a.conn, "tw_objects", rec, []insertStmt{{sql: "INSERT OR REPLACE INTO tw_objects SELECT * FROM " + batchView}})
		rec.Release()
		if err != nil {
			return fmt.Errorf("write object ledger: %w", err)
		}
		a.objects = a.objects[:0]
	}
	if len(a.quarantined) > 0 {
		var t table
		var object, kind, reason strCol
		size, at := newInt64Col(), newTimeCol()
		for _, c := range []struct {
			n string
			c column
		}{{"object", &object}, {"kind", &kind}, {"reason", &reason}, {"size", size}, {"time", at}} {
			t.add(c.n, c.c)
		}
		for _, q := range a.quarantined {
			object.add(q.Object)
			kind.add(q.Kind.String())
			reason.add(q.Reason)
			size.add(q.Size)
			at.time(q.Time)
			t.rows++
		}
		rec := t.record()
		_, err := insertRecord(ctx, a.conn, "quarantine", rec, []insertStmt{{sql: "INSERT INTO quarantine SELECT * FROM " + batchView}})
		rec.Release()
		if err != nil {
			return fmt.Errorf("write quarantine: %w", err)
		}
		a.quarantined = a.quarantined[:0]
	}
	return nil
}

// placeFiles moves the transaction's files into their table directories
// and adds them to the catalog (in the open transaction). It returns the
// tables whose file lists changed.
func (a *Appender) placeFiles(ctx context.Context) (map[string]bool, error) {
	changed := map[string]bool{}
	if len(a.files) == 0 {
		return changed, nil
	}
	byTable := map[string][]string{}
	for _, f := range a.files {
		byTable[f.table] = append(byTable[f.table], f.tmp)
	}
	stats := map[string]fileStats{}
	for _, t := range a.s.ptables {
		if len(byTable[t.name]) == 0 {
			continue
		}
		st, err := readFileStats(ctx, a.conn, byTable[t.name], t.timeCol)
		if err != nil {
			return nil, fmt.Errorf("read new files: %w", err)
		}
		for k, v := range st {
			stats[k] = v
		}
	}
	for _, f := range a.files {
		t := a.s.ptable(f.table)
		final := filepath.Join(t.dir(a.s.data), "tw_day="+f.day, filepath.Base(f.tmp))
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(f.tmp, final); err != nil {
			return nil, fmt.Errorf("place data file: %w", err)
		}
		if err := a.s.addFile(ctx, a.conn, f.table, final, f.day, stats[f.tmp]); err != nil {
			return nil, fmt.Errorf("record data file: %w", err)
		}
		changed[f.table] = true
	}
	for _, t := range a.s.ptables {
		if !changed[t.name] {
			continue
		}
		view, err := a.s.viewSQL(ctx, a.conn, t)
		if err != nil {
			return nil, err
		}
		if _, err := a.conn.ExecContext(ctx, view); err != nil {
			return nil, fmt.Errorf("update view %s: %w", t.name, err)
		}
	}
	return changed, nil
}

// Rollback discards everything since the last Commit. The appender stays
// usable.
func (a *Appender) Rollback(ctx context.Context) error {
	if a.done {
		return nil
	}
	a.inflight.Wait()
	a.mu.Lock()
	a.flushErr = nil
	a.mu.Unlock()
	for _, tw := range a.tables {
		tw.cur.pending().reset()
		clear(tw.seen)
	}
	a.objects, a.quarantined, a.counts = a.objects[:0], a.quarantined[:0], Counts{}
	a.files = a.files[:0]
	_ = os.RemoveAll(a.tmpDir)
	if !a.open {
		return nil
	}
	a.open = false
	if _, err := a.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// Close rolls back anything uncommitted and releases the write lock.
func (a *Appender) Close() error {
	if a.done {
		return nil
	}
	err := a.Rollback(context.Background())
	a.release()
	return err
}

// fileStats describes a data file for the catalog.
type fileStats struct {
	rows     int64
	min, max sql.NullTime
}

// readFileStats reads row counts and time bounds from Parquet footers.
func readFileStats(ctx context.Context, q queryer, files []string, timeCol string) (map[string]fileStats, error) {
	out := map[string]fileStats{}
	rows, err := q.QueryContext(ctx, `SELECT file_name, sum(num_values),
		min(TRY_CAST(stats_min AS TIMESTAMPTZ)), max(TRY_CAST(stats_max AS TIMESTAMPTZ))
		FROM parquet_metadata(`+sqlList(files)+`) WHERE path_in_schema = ? GROUP BY file_name`, timeCol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var st fileStats
		if err := rows.Scan(&name, &st.rows, &st.min, &st.max); err != nil {
			return nil, err
		}
		out[name] = st
	}
	return out, rows.Err()
}
