//go:build !duckdb_arrow

package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// arrowIngest says which insert path this build uses.
const arrowIngest = false

// insertRecord is the portable path for builds without the duckdb_arrow
// tag: rows go through DuckDB's appender into a temporary staging table,
// and the same statements read from there.
func insertRecord(ctx context.Context, conn *sql.Conn, table string, rec arrow.RecordBatch, stmts []insertStmt) (int64, error) {
	stage := "tw_stage_" + table
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s AS SELECT * FROM %s LIMIT 0`, stage, table)); err != nil {
		return 0, err
	}
	err := conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", stage)
		if err != nil {
			return fmt.Errorf("stage batch: %w", err)
		}
		row := make([]driver.Value, rec.NumCols())
		for r := range int(rec.NumRows()) {
			for c := range int(rec.NumCols()) {
				row[c] = arrowValue(rec.Column(c), r)
			}
			if err := app.AppendRow(row...); err != nil {
				_ = app.Close()
				return fmt.Errorf("stage batch: %w", err)
			}
		}
		return app.Close()
	})
	if err != nil {
		return 0, err
	}
	var total int64
	for _, st := range stmts {
		res, err := conn.ExecContext(ctx, strings.ReplaceAll(st.sql, batchView, stage), st.args...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	_, err = conn.ExecContext(ctx, "DELETE FROM "+stage)
	return total, err
}

// arrowValue converts one value of the builders' Arrow types to what the
// DuckDB appender takes.
func arrowValue(a arrow.Array, i int) driver.Value {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC()
	case *array.Boolean:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Uint64:
		return a.Value(i)
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := make(map[string]any, a.NumField())
		for f := range a.NumField() {
			m[st.Field(f).Name] = arrowValue(a.Field(f), i)
		}
		return m
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			out = append(out, arrowValue(a.ListValues(), int(j)))
		}
		return out
	}
	return nil
}
