package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// ReadJSONBaseline loads CloudTrail files into a new DuckDB database the
// way a DuckDB user would: read_json over the files, one row per element of
// Records, every field in a column (types inferred by DuckDB), committed to
// dbPath. It exists for the benchmark's comparison; it opens its own
// database with file access, unlike Store.
func ReadJSONBaseline(ctx context.Context, glob, dbPath string, threads int) (int64, error) {
	q := url.Values{}
	q.Set("autoinstall_known_extensions", "false")
	q.Set("autoload_known_extensions", "false")
	if threads > 0 {
		q.Set("threads", strconv.Itoa(threads))
	}
	connector, err := duckdb.NewConnector(dbPath+"?"+q.Encode(), nil)
	if err != nil {
		return 0, fmt.Errorf("open baseline database: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE cloudtrail AS
		SELECT unnest(r, recursive := false) FROM (
			SELECT unnest(Records) AS r FROM read_json(?, format = 'auto', union_by_name = true, maximum_object_size = 1073741824))`, glob)
	if err != nil {
		return 0, fmt.Errorf("read_json: %w", err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM cloudtrail`).Scan(&n); err != nil {
		return 0, err
	}
	_, err = db.ExecContext(ctx, `CHECKPOINT`)
	return n, err
}
