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

// BuildTags are the build tags this binary needs to be rebuilt the same way.
const BuildTags = ""

// stage is the portable path for builds without the duckdb_arrow tag: the
// record goes through DuckDB's row appender into a temporary table named
// like the batch view would be, for the statements to read.
func stage(ctx context.Context, conn *sql.Conn, rec arrow.RecordBatch) (string, error) {
	name := batchView + "_stage_" + randomID()
	cols := make([]string, rec.NumCols())
	for i, f := range rec.Schema().Fields() {
		cols[i] = quoteIdent(f.Name) + " " + sqlType(f.Type)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE TEMP TABLE %s (%s)`, name, strings.Join(cols, ", "))); err != nil {
		return "", fmt.Errorf("stage batch: %w", err)
	}
	err := conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", name)
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
	return name, err
}

func dropStage(ctx context.Context, conn *sql.Conn, name string) {
	_, _ = conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+name)
}

// insertRecord runs each statement over the staged record and returns the
// rows inserted.
func insertRecord(ctx context.Context, conn *sql.Conn, _ string, rec arrow.RecordBatch, stmts []insertStmt) (int64, error) {
	name, err := stage(ctx, conn, rec)
	if err != nil {
		return 0, err
	}
	defer dropStage(ctx, conn, name)
	var total int64
	for _, st := range stmts {
		res, err := conn.ExecContext(ctx, strings.ReplaceAll(st.sql, batchView, name), st.args...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// copyRecord runs a COPY ... RETURN_FILES statement over the staged record.
func copyRecord(ctx context.Context, conn *sql.Conn, _ string, rec arrow.RecordBatch, q string) (copyResult, error) {
	var res copyResult
	name, err := stage(ctx, conn, rec)
	if err != nil {
		return res, err
	}
	defer dropStage(ctx, conn, name)
	err = conn.Raw(func(dc any) error {
		rows, err := dc.(driver.QueryerContext).QueryContext(ctx, strings.ReplaceAll(q, batchView, name), nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanCopyResult(rows, &res)
	})
	return res, err
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
