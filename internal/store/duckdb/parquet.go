package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// The large tables (CloudTrail events, S3 access logs) live in Parquet
// files under the data directory, one directory per table and UTC day:
//
//	<data>/cloudtrail_events/tw_day=2026-11-01/<uuid>.parquet
//
// The catalog table tw_files lists the committed files; each table is a
// view over exactly those files, re-created in the same transaction that
// changes the list, so readers always see a consistent set. DuckDB writes
// the files (COPY ... TO, from the Arrow batch) at half the CPU of its
// native storage and a fifth of the size, and reads them as fast; the same
// files are what Athena, Trino or Spark query (see the lake package).
//
// Files are written to <data>/_tmp/ first and renamed into place at
// commit; files that are in a table directory but not in the catalog
// (after a crash between rename and commit) are invisible and removed at
// the next open. Files replaced by compaction or dropped by retention go to
// <data>/_trash/ and are deleted a while later, so running queries can
// finish reading them.

// parquetTable describes a Parquet-backed table.
type parquetTable struct {
	name    string
	timeCol string // the record time: partitions, retention, duplicate check
	schema  *arrow.Schema
}

func (t *parquetTable) dir(data string) string { return filepath.Join(data, t.name) }

// schemaFile is a zero-row file that gives the view its columns even when
// the table holds no data yet.
func (t *parquetTable) schemaFile(data string) string {
	return filepath.Join(t.dir(data), "_schema.parquet")
}

// compactAt is how many small files a day may hold before they are merged;
// smallFile is the size under which a file is small.
const (
	compactAt = 16
	smallFile = 64 << 20
)

// trashDelay is how long replaced files are kept for queries still reading them.
const trashDelay = 10 * time.Minute

// parquetOptions are the COPY options for every data file.
// zstd level 1 costs half the CPU of the default level for ~5% more bytes.
// Row groups are cut at 32 MB: at ~3 KB per event, DuckDB's default of
// 122,880 rows would buffer ~370 MB per writer (the byte limit needs
// preserve_insertion_order off, see setup).
const parquetOptions = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 122880, ROW_GROUP_SIZE_BYTES '32MB'"

// pendingFile is a file written in the open transaction, not yet in place.
type pendingFile struct {
	table string
	tmp   string // where it was written
	day   string // YYYY-MM-DD
}

// dayOf extracts the day from a ".../tw_day=YYYY-MM-DD/..." path.
func dayOf(path string) string {
	for _, part := range strings.Split(filepath.ToSlash(path), "/") {
		if d, ok := strings.CutPrefix(part, "tw_day="); ok {
			return d
		}
	}
	return ""
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = sqlString(p)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// viewSQL defines a table's view over its committed files. All files of a
// table have the schema of its _schema.parquet (union_by_name would read
// every footer at each query's bind: +110 ms on 10M events); a future
// schema change rewrites old files.
func (s *Store) viewSQL(ctx context.Context, q queryer, t *parquetTable) (string, error) {
	files, err := s.tableFiles(ctx, q, t.name, "", "")
	if err != nil {
		return "", err
	}
	files = append([]string{t.schemaFile(s.data)}, files...)
	return fmt.Sprintf(`CREATE OR REPLACE VIEW %s AS SELECT * EXCLUDE (tw_hash) FROM read_parquet(%s, union_by_name = false, hive_partitioning = false)`,
		t.name, sqlList(files)), nil
}

// queryer is what both *sql.DB and *sql.Conn offer.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// tableFiles lists a table's committed files (absolute paths), optionally
// only the days from..to (inclusive, YYYY-MM-DD).
func (s *Store) tableFiles(ctx context.Context, q queryer, table, from, to string) ([]string, error) {
	query := `SELECT path FROM tw_files WHERE tbl = ?`
	args := []any{table}
	if from != "" {
		query += ` AND day BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)`
		args = append(args, from, to)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY day, path`, args...)
	if err != nil {
		return nil, fmt.Errorf("list files of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, filepath.Join(s.data, p))
	}
	return out, rows.Err()
}

// initParquet creates the table directories and schema files, and the
// views when they do not exist.
func (s *Store) initParquet(ctx context.Context, conn *sql.Conn) error {
	for _, t := range s.ptables {
		if err := os.MkdirAll(t.dir(s.data), 0o755); err != nil {
			return err
		}
		if _, err := os.Stat(t.schemaFile(s.data)); err != nil {
			if err := writeSchemaFile(ctx, conn, t, t.schemaFile(s.data)); err != nil {
				return fmt.Errorf("create %s: %w", t.name, err)
			}
		}
		view, err := s.viewSQL(ctx, conn, t)
		if err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, view); err != nil {
			return fmt.Errorf("create view %s: %w", t.name, err)
		}
	}
	return nil
}

// writeSchemaFile writes a zero-row Parquet file with the table's columns.
func writeSchemaFile(ctx context.Context, conn *sql.Conn, t *parquetTable, path string) error {
	var cols []string
	for _, f := range t.schema.Fields() {
		typ := sqlType(f.Type)
		if o, ok := columnTypes[f.Name]; ok {
			typ = o
		}
		cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", typ, quoteIdent(f.Name)))
	}
	tmp := path + ".tmp"
	q := fmt.Sprintf(`COPY (SELECT %s LIMIT 0) TO %s (%s)`, strings.Join(cols, ", "), sqlString(tmp), parquetOptions)
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// cleanData removes what a crash may have left: temporary files, files
// that never made it into the catalog, and trash old enough to go.
func (s *Store) cleanData(ctx context.Context) error {
	if err := os.RemoveAll(filepath.Join(s.data, "_tmp")); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, t := range s.ptables {
		files, err := s.tableFiles(ctx, s.db, t.name, "", "")
		if err != nil {
			return err
		}
		for _, f := range files {
			known[f] = true
		}
		err = filepath.WalkDir(t.dir(s.data), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".parquet") || path == t.schemaFile(s.data) {
				return err
			}
			if !known[path] {
				s.log.Info("removing a data file that is not in the catalog (left by an interrupted commit)", "file", path)
				return os.Remove(path)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.purgeTrash(true)
	return nil
}

// trash moves replaced files aside; purgeTrash deletes them later.
func (s *Store) trash(paths []string) {
	dir := filepath.Join(s.data, "_trash")
	_ = os.MkdirAll(dir, 0o755)
	stamp := s.opts.Now().Unix()
	for _, p := range paths {
		dst := filepath.Join(dir, fmt.Sprintf("%d-%s-%s", stamp, dayOf(p), filepath.Base(p)))
		if err := os.Rename(p, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("move replaced data file to trash", "file", p, "err", err)
		}
	}
}

// purgeTrash deletes trashed files older than trashDelay (all with force).
func (s *Store) purgeTrash(force bool) {
	dir := filepath.Join(s.data, "_trash")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	cutoff := s.opts.Now().Add(-trashDelay).Unix()
	for _, e := range entries {
		var stamp int64
		if _, err := fmt.Sscanf(e.Name(), "%d-", &stamp); err == nil && (force || stamp < cutoff) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// compact merges, for each day that has accumulated compactAt small files
// (under smallFile bytes), those files into one, in its own transaction.
// Big files are never rewritten and nothing is sorted, so every row is
// rewritten a bounded number of times, in constant memory. Days written in
// the commit that just happened are left for later unless they hold many
// small files. It returns how many merges it made.
func (s *Store) compact(ctx context.Context, conn *sql.Conn, t *parquetTable, skipDays map[string]bool) (int, error) {
	rows, err := conn.QueryContext(ctx, `SELECT strftime(day, '%Y-%m-%d'), list(path ORDER BY path), sum(rows)
		FROM tw_files WHERE tbl = ? AND bytes < ? GROUP BY day HAVING count(*) >= ? ORDER BY day`, t.name, smallFile, compactAt)
	if err != nil {
		return 0, fmt.Errorf("plan compaction of %s: %w", t.name, err)
	}
	type merge struct {
		day   string
		files []string
		rows  int64
	}
	var merges []merge
	for rows.Next() {
		var m merge
		var list []any
		if err := rows.Scan(&m.day, &list, &m.rows); err != nil {
			rows.Close()
			return 0, err
		}
		for _, p := range list {
			m.files = append(m.files, filepath.Join(s.data, p.(string)))
		}
		if !skipDays[m.day] || len(m.files) >= 4*compactAt {
			merges = append(merges, m)
		}
	}
	rows.Close()
	for _, m := range merges {
		if _, err := s.rewriteFiles(ctx, conn, t, m.day, m.files, m.rows, ""); err != nil {
			return 0, fmt.Errorf("merge %s day %s: %w", t.name, m.day, err)
		}
	}
	return len(merges), nil
}

// rewriteDay replaces all files of one day by one file, keeping only rows
// matching keep (a SQL condition; "" keeps all). It returns the number of
// rows dropped.
func (s *Store) rewriteDay(ctx context.Context, conn *sql.Conn, t *parquetTable, day, keep string) (int64, error) {
	old, err := s.tableFiles(ctx, conn, t.name, day, day)
	if err != nil || len(old) == 0 {
		return 0, err
	}
	var before int64
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(sum(rows), 0) FROM tw_files WHERE tbl = ? AND day = CAST(? AS DATE)`, t.name, day).Scan(&before); err != nil {
		return 0, err
	}
	dropped, err := s.rewriteFiles(ctx, conn, t, day, old, before, keep)
	if err != nil {
		return 0, fmt.Errorf("rewrite %s day %s: %w", t.name, day, err)
	}
	return dropped, nil
}

// rewriteFiles replaces files of one day (holding before rows) by one file
// with the rows matching keep, streaming (no sort, constant memory). The
// catalog and the view change in one transaction; the old files go to the
// trash. It returns the number of rows dropped.
func (s *Store) rewriteFiles(ctx context.Context, conn *sql.Conn, t *parquetTable, day string, old []string, before int64, keep string) (int64, error) {
	if keep == "FALSE" { // drop them all: no need to read them
		if err := s.swapFiles(ctx, conn, t, old, "", day, fileStats{}); err != nil {
			return 0, err
		}
		s.trash(old)
		return before, nil
	}
	tmpDir := filepath.Join(s.data, "_tmp", "rewrite-"+randomID())
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmpDir)
	where := ""
	if keep != "" {
		where = " WHERE " + keep
	}
	tmp := filepath.Join(tmpDir, randomID()+".parquet")
	q := fmt.Sprintf(`COPY (SELECT * FROM read_parquet(%s, union_by_name = false, hive_partitioning = false)%s) TO %s (%s)`,
		sqlList(old), where, sqlString(tmp), parquetOptions)
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return 0, err
	}
	stats, err := readFileStats(ctx, conn, []string{tmp}, t.timeCol)
	if err != nil {
		return 0, err
	}
	st := stats[tmp]
	var final string
	if st.rows > 0 {
		final = filepath.Join(t.dir(s.data), "tw_day="+day, filepath.Base(tmp))
		if err := os.Rename(tmp, final); err != nil {
			return 0, err
		}
	}
	if err := s.swapFiles(ctx, conn, t, old, final, day, st); err != nil {
		if final != "" {
			_ = os.Remove(final)
		}
		return 0, err
	}
	s.trash(old)
	return before - st.rows, nil
}

// swapFiles replaces files in the catalog and the view, in one transaction.
func (s *Store) swapFiles(ctx context.Context, conn *sql.Conn, t *parquetTable, old []string, added, day string, st fileStats) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	rel := make([]string, len(old))
	for i, p := range old {
		rel[i] = s.rel(p)
	}
	for len(rel) > 0 {
		n := min(len(rel), 500)
		args := []any{t.name}
		for _, r := range rel[:n] {
			args = append(args, r)
		}
		if _, err = conn.ExecContext(ctx, `DELETE FROM tw_files WHERE tbl = ? AND path IN (`+placeholders(n)+`)`, args...); err != nil {
			return err
		}
		rel = rel[n:]
	}
	if added != "" {
		if err = s.addFile(ctx, conn, t.name, added, day, st); err != nil {
			return err
		}
	}
	view, err := s.viewSQL(ctx, conn, t)
	if err != nil {
		return err
	}
	if _, err = conn.ExecContext(ctx, view); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

func (s *Store) addFile(ctx context.Context, q queryer, table, path, day string, st fileStats) error {
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	_, err := q.ExecContext(ctx, `INSERT INTO tw_files VALUES (?, ?, CAST(? AS DATE), ?, ?, ?, ?, ?)`,
		table, s.rel(path), day, st.rows, size, st.min, st.max, s.opts.Now().UTC())
	return err
}

// ptable returns the Parquet-backed table named name.
func (s *Store) ptable(name string) *parquetTable {
	for _, t := range s.ptables {
		if t.name == name {
			return t
		}
	}
	return nil
}

// overlappingFiles lists a table's committed files of the days from..to
// whose time range overlaps lo..hi (and, with nulls, the files of records
// without a time).
func (s *Store) overlappingFiles(ctx context.Context, q queryer, table, from, to string, lo, hi time.Time, nulls bool) ([]string, error) {
	query := `SELECT path FROM tw_files WHERE tbl = ? AND day BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
		AND (min_time IS NULL OR (max_time >= ? AND min_time <= ?)`
	if nulls {
		query += ` OR day = DATE '` + nullDay + `'`
	}
	query += `) ORDER BY day, path`
	if lo.IsZero() {
		lo, hi = time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC()
	}
	rows, err := q.QueryContext(ctx, query, table, from, to, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("list files of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, filepath.Join(s.data, p))
	}
	return out, rows.Err()
}

// rel returns a data file's path relative to the data directory.
func (s *Store) rel(p string) string {
	r, err := filepath.Rel(s.data, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// retainParquet drops a table's rows older than cutoff: whole days by
// catalog change, the boundary day by rewriting it. Rows without a time
// are kept until they were ingested before the cutoff.
func (s *Store) retainParquet(ctx context.Context, conn *sql.Conn, t *parquetTable, cutoff time.Time) (int64, error) {
	cutoff = cutoff.UTC()
	cutDay := cutoff.Format("2006-01-02")
	rows, err := conn.QueryContext(ctx, `SELECT DISTINCT strftime(day, '%Y-%m-%d') FROM tw_files WHERE tbl = ? AND day <= CAST(? AS DATE) ORDER BY 1`, t.name, cutDay) // includes the null-time day
	if err != nil {
		return 0, err
	}
	var days []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return 0, err
		}
		days = append(days, d)
	}
	rows.Close()
	var total int64
	ts := "TIMESTAMPTZ " + sqlString(cutoff.Format("2006-01-02 15:04:05.999999-07:00"))
	for _, d := range days {
		keep := "FALSE"
		switch {
		case d == nullDay:
			keep = "ingested_at >= " + ts
		case d == cutDay:
			keep = quoteIdent(t.timeCol) + " >= " + ts
		}
		n, err := s.rewriteDay(ctx, conn, t, d, keep)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// nullDay is the partition of records without a time.
const nullDay = "1970-01-01"
