//go:build duckdb_arrow

package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// arrowIngest says which insert path this build uses.
const arrowIngest = true

// BuildTags are the build tags this binary needs to be rebuilt the same way.
const BuildTags = "duckdb_arrow"

// insertRecord runs each statement over the record, exposed to DuckDB as
// a view through the Arrow C data interface (no copy on the Go side). It
// returns the rows inserted.
//
// Arrow views are visible to every connection of the database, so each
// registration gets a name of its own: writers on other connections must
// never read (and consume) this stream.
func insertRecord(ctx context.Context, conn *sql.Conn, _ string, rec arrow.RecordBatch, stmts []insertStmt) (int64, error) {
	var total int64
	err := conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		for _, st := range stmts {
			// A stream is read once: register it anew for every statement.
			rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
			if err != nil {
				return err
			}
			name := batchView + "_" + randomID()
			release, err := ar.RegisterView(rdr, name)
			if err != nil {
				rdr.Release()
				return fmt.Errorf("register batch: %w", err)
			}
			res, err := dc.(driver.ExecerContext).ExecContext(ctx, strings.ReplaceAll(st.sql, batchView, name), namedArgs(st.args))
			release()
			rdr.Release()
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	return total, err
}

func namedArgs(args []any) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

// copyRecord runs a COPY ... RETURN_FILES statement reading the record as
// the view batchView.
func copyRecord(ctx context.Context, conn *sql.Conn, _ string, rec arrow.RecordBatch, q string) (copyResult, error) {
	var res copyResult
	err := conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
		if err != nil {
			return err
		}
		defer rdr.Release()
		name := batchView + "_" + randomID() // see insertRecord
		release, err := ar.RegisterView(rdr, name)
		if err != nil {
			return fmt.Errorf("register batch: %w", err)
		}
		defer release()
		rows, err := dc.(driver.QueryerContext).QueryContext(ctx, strings.ReplaceAll(q, batchView, name), nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanCopyResult(rows, &res)
	})
	return res, err
}
