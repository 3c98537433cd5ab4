package duckdb

import (
	"context"
	"path/filepath"

	"database/sql"
	"errors"
	"fmt"
	"github.com/apache/arrow-go/v18/arrow"
	"os"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/store"
)

// flushBytes is how much a table builder holds before its rows are inserted
// (still inside the open transaction). Larger batches amortise the INSERT;
// this bound keeps memory flat for huge inputs.
const flushBytes = 64 << 20

// Counts says how many rows an appender inserted and how many it dropped as
// already stored.
type Counts struct {
	Events, Insights, Digests, AccessLogs int64
	Duplicates                            int64
}

// Appender is the DuckDB store.Appender. Use one from one goroutine.
type Appender struct {
	s    *Store
	conn *sql.Conn
	open bool // a transaction is open
	done bool // committed or rolled back: the lock is released

	events, insights *eventCols
	digests          *digestCols
	access           *accessCols
	objects          []store.ObjectStatus
	quarantined      []store.Quarantined
	counts           Counts
	committed        Counts
	pending          []pendingTable
	tmpDir           string        // this appender's files before they are committed
	files            []pendingFile // written in the open transaction
	flushes          int
}

var _ store.Appender = (*Appender)(nil)

// Begin opens the write transaction; it waits while another is open.
func (s *Store) Begin(ctx context.Context) (store.Appender, error) {
	return s.BeginAppender(ctx)
}

// BeginAppender is Begin returning the concrete type (for Counts).
func (s *Store) BeginAppender(ctx context.Context) (*Appender, error) {
	s.writer.Lock()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		s.writer.Unlock()
		return nil, fmt.Errorf("begin write: %w", err)
	}
	a := &Appender{
		s: s, conn: conn,
		events: newEventCols(false), insights: newEventCols(true),
		digests: newDigestCols(), access: newAccessCols(),
	}
	a.pending = []pendingTable{
		{"cloudtrail_events", "eventTime", &a.events.pendingRows, &a.counts.Events, s.ptables[0]},
		{"cloudtrail_insights", "eventTime", &a.insights.pendingRows, &a.counts.Insights, nil},
		{"cloudtrail_digests", "digestEndTime", &a.digests.pendingRows, &a.counts.Digests, nil},
		{"s3_access_logs", "requesttime", &a.access.pendingRows, &a.counts.AccessLogs, s.ptables[1]},
	}
	a.tmpDir = filepath.Join(s.data, "_tmp", "txn-"+randomID())
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

func (a *Appender) release() {
	if a.done {
		return
	}
	a.done = true
	_ = a.conn.Close()
	a.s.writer.Unlock()
}

// Counts returns what the appender inserted in committed transactions.
func (a *Appender) Counts() Counts { return a.committed }

// Append adds the batch's records to the pending rows, inserting them
// when enough have accumulated.
func (a *Appender) Append(ctx context.Context, b *event.Batch) error {
	if a.done {
		return errors.New("append after the appender was closed")
	}
	now := a.s.opts.Now()
	src := b.Object.URI()
	for i := range b.Events {
		if !a.events.append(&b.Events[i], src, now) {
			a.counts.Duplicates++
		}
	}
	for i := range b.Insights {
		if !a.insights.append(&b.Insights[i], src, now) {
			a.counts.Duplicates++
		}
	}
	for i := range b.Digests {
		if !a.digests.append(&b.Digests[i], src, now) {
			a.counts.Duplicates++
		}
	}
	if len(b.AccessLogs) > 0 {
		lk := store.LedgerKey(b.Object)
		for i := range b.AccessLogs {
			if !a.access.append(&b.AccessLogs[i], src, lk, now) {
				a.counts.Duplicates++
			}
		}
	}
	for _, t := range a.tables() {
		if t.rows.size() >= flushBytes {
			if err := a.flush(ctx, t); err != nil {
				return err
			}
		}
	}
	return nil
}

type pendingTable struct {
	name, timeCol string
	rows          *pendingRows
	count         *int64
	parquet       *parquetTable // nil for native tables
}

func (a *Appender) tables() []pendingTable { return a.pending }

// flush inserts a table's pending rows, leaving out rows already stored:
// the duplicate check only reads stored rows within the batch's time range,
// which DuckDB's zone maps make cheap when data arrives roughly in order.
func (a *Appender) flush(ctx context.Context, t pendingTable) error {
	p := t.rows
	if p.rows == 0 {
		return nil
	}
	if !a.open {
		if err := a.begin(ctx); err != nil {
			return err
		}
	}
	rec := p.record()
	defer rec.Release()
	if t.parquet != nil {
		return a.flushParquet(ctx, t, rec)
	}
	var stmts []insertStmt
	if p.bounds.n > 0 {
		stmts = append(stmts, insertStmt{
			sql: fmt.Sprintf(`INSERT INTO %[1]s SELECT b.* FROM %[3]s b WHERE b.%[2]s IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM %[1]s e WHERE e.%[2]s >= ? AND e.%[2]s <= ? AND e.%[2]s = b.%[2]s AND e.tw_hash = b.tw_hash)`,
				t.name, t.timeCol, batchView),
			args: []any{time.UnixMicro(p.bounds.min).UTC(), time.UnixMicro(p.bounds.max).UTC()},
		})
	}
	if p.hasNullTime {
		stmts = append(stmts, insertStmt{
			sql: fmt.Sprintf(`INSERT INTO %[1]s SELECT b.* FROM %[3]s b WHERE b.%[2]s IS NULL AND NOT EXISTS (
				SELECT 1 FROM %[1]s e WHERE e.%[2]s IS NULL AND e.tw_hash = b.tw_hash)`, t.name, t.timeCol, batchView),
		})
	}
	inserted, err := insertRecord(ctx, a.conn, t.name, rec, stmts)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", t.name, err)
	}
	*t.count += inserted
	a.counts.Duplicates += int64(p.rows) - inserted
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

// Commit inserts everything pending and commits. The appender stays usable:
// the next Append starts a new transaction.
func (a *Appender) Commit(ctx context.Context) error {
	if a.done {
		return errors.New("commit after the appender was closed")
	}
	for _, t := range a.tables() {
		if err := a.flush(ctx, t); err != nil {
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
	if a.open {
		t0 := time.Now()
		defer func() { a.s.log.Debug("committed", "took", time.Since(t0)) }()
		if _, err := a.conn.ExecContext(ctx, "COMMIT"); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		a.open = false
	}
	a.committed.Events += a.counts.Events
	a.committed.Insights += a.counts.Insights
	a.committed.Digests += a.counts.Digests
	a.committed.AccessLogs += a.counts.AccessLogs
	a.committed.Duplicates += a.counts.Duplicates
	a.counts = Counts{}
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

// writeLedger inserts the pending ledger and quarantine rows.
func (a *Appender) writeLedger(ctx context.Context) error {
	if len(a.objects) == 0 && len(a.quarantined) == 0 {
		return nil
	}
	if !a.open {
		if err := a.begin(ctx); err != nil {
			return err
		}
	}
	now := a.s.opts.Now().UTC()
	const chunk = 200
	for len(a.objects) > 0 {
		n := min(chunk, len(a.objects))
		args := make([]any, 0, 9*n)
		for _, o := range a.objects[:n] {
			var errText any
			if o.Error != "" {
				errText = o.Error
			}
			args = append(args, store.LedgerKey(o.Object), o.Object.URI(), o.Kind.String(), o.Object.Size,
				o.Object.ETag, o.Records, o.Skipped, errText, now)
		}
		q := `INSERT OR REPLACE INTO tw_objects VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?),", n), ",")
		if _, err := a.conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("write object ledger: %w", err)
		}
		a.objects = a.objects[n:]
	}
	for len(a.quarantined) > 0 {
		n := min(chunk, len(a.quarantined))
		args := make([]any, 0, 5*n)
		for _, q := range a.quarantined[:n] {
			args = append(args, q.Object, q.Kind.String(), q.Reason, q.Size, q.Time.UTC())
		}
		q := `INSERT INTO quarantine VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?,?,?,?),", n), ",")
		if _, err := a.conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("write quarantine: %w", err)
		}
		a.quarantined = a.quarantined[n:]
	}
	return nil
}

// Rollback discards everything since the last Commit. The appender stays
// usable.
func (a *Appender) Rollback(ctx context.Context) error {
	if a.done {
		return nil
	}
	for _, t := range a.tables() {
		t.rows.reset()
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

// StoredCounts returns the rows committed so far and the rows dropped as
// already stored (pipeline.Counter).
func (a *Appender) StoredCounts() (stored, duplicates int64) {
	c := a.committed
	return c.Events + c.Insights + c.Digests + c.AccessLogs, c.Duplicates
}

// flushParquet writes a Parquet-backed table's pending rows to new files
// in the transaction's temporary directory, one per day, leaving out rows
// already stored: the duplicate check reads only the files of the days the
// batch covers (and the files this transaction wrote).
func (a *Appender) flushParquet(ctx context.Context, t pendingTable, rec arrow.RecordBatch) error {
	p := t.rows
	tc := quoteIdent(t.timeCol)
	nullDayTS := "TIMESTAMPTZ '" + nullDay + " 00:00:00+00'"
	var from, to string
	switch {
	case p.bounds.n > 0:
		from = time.UnixMicro(p.bounds.min).UTC().Format("2006-01-02")
		to = time.UnixMicro(p.bounds.max).UTC().Format("2006-01-02")
		if p.hasNullTime {
			from = nullDay
		}
	default:
		from, to = nullDay, nullDay
	}
	existing, err := a.s.tableFiles(ctx, a.conn, t.name, from, to)
	if err != nil {
		return err
	}
	for _, f := range a.files {
		if f.table == t.name && f.day >= from && f.day <= to {
			existing = append(existing, f.tmp)
		}
	}
	where := ""
	if len(existing) > 0 {
		timeFilter := ""
		if p.bounds.n > 0 {
			lo := time.UnixMicro(p.bounds.min).UTC().Format("2006-01-02 15:04:05.999999-07:00")
			hi := time.UnixMicro(p.bounds.max).UTC().Format("2006-01-02 15:04:05.999999-07:00")
			timeFilter = fmt.Sprintf(" AND (e.%[1]s IS NULL OR e.%[1]s BETWEEN TIMESTAMPTZ %[2]s AND TIMESTAMPTZ %[3]s)", tc, sqlString(lo), sqlString(hi))
		}
		where = fmt.Sprintf(` WHERE NOT EXISTS (SELECT 1 FROM read_parquet(%s, union_by_name = true, hive_partitioning = false) e
			WHERE e.%[2]s IS NOT DISTINCT FROM b.%[2]s AND e.tw_hash = b.tw_hash%[3]s)`, sqlList(existing), tc, timeFilter)
	}
	a.flushes++
	dir := filepath.Join(a.tmpDir, t.name, fmt.Sprintf("%06d", a.flushes))
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	q := fmt.Sprintf(`COPY (SELECT b.*, CAST(coalesce(b.%[1]s, %[2]s) AS DATE) AS tw_day FROM %[3]s b%[4]s)
		TO %[5]s (%[6]s, PARTITION_BY (tw_day), FILENAME_PATTERN '{uuid}', RETURN_FILES)`,
		tc, nullDayTS, batchView, where, sqlString(dir), parquetOptions)
	t0 := time.Now()
	res, err := copyRecord(ctx, a.conn, t.name, rec, q)
	a.s.log.Debug("wrote batch", "table", t.name, "rows", p.rows, "files", len(res.files), "took", time.Since(t0))
	if err != nil {
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	for _, f := range res.files {
		a.files = append(a.files, pendingFile{table: t.name, tmp: f, day: dayOf(f)})
	}
	*t.count += res.rows
	a.counts.Duplicates += int64(p.rows) - res.rows
	p.reset()
	return nil
}

// copyResult is what COPY ... RETURN_FILES reports.
type copyResult struct {
	rows  int64
	files []string
}

// placeFiles moves the transaction's files into their table directories
// and adds them to the catalog (in the open transaction). It returns the
// tables whose file lists changed.
func (a *Appender) placeFiles(ctx context.Context) (map[string]bool, error) {
	changed := map[string]bool{}
	if len(a.files) == 0 {
		return changed, nil
	}
	paths := make([]string, len(a.files))
	for i, f := range a.files {
		paths[i] = f.tmp
	}
	counts := map[string]int64{}
	rows, err := a.conn.QueryContext(ctx, `SELECT file_name, num_rows FROM parquet_file_metadata(`+sqlList(paths)+`)`)
	if err != nil {
		return nil, fmt.Errorf("read new files: %w", err)
	}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			rows.Close()
			return nil, err
		}
		counts[name] = n
	}
	rows.Close()
	for _, f := range a.files {
		var t *parquetTable
		for _, pt := range a.s.ptables {
			if pt.name == f.table {
				t = pt
			}
		}
		final := filepath.Join(t.dir(a.s.data), "tw_day="+f.day, filepath.Base(f.tmp))
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(f.tmp, final); err != nil {
			return nil, fmt.Errorf("place data file: %w", err)
		}
		if err := a.s.addFile(ctx, a.conn, f.table, final, f.day, counts[f.tmp]); err != nil {
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
