package duckdb

import (
	"database/sql/driver"
	"fmt"
	"io"
)

// scanCopyResult reads the (Count, Files) row of COPY ... RETURN_FILES.
func scanCopyResult(rows driver.Rows, res *copyResult) error {
	vals := make([]driver.Value, len(rows.Columns()))
	for {
		err := rows.Next(vals)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch n := vals[0].(type) {
		case int64:
			res.rows += n
		case uint64:
			res.rows += int64(n)
		default:
			return fmt.Errorf("COPY returned a count of type %T", vals[0])
		}
		if len(vals) > 1 {
			list, _ := vals[1].([]any)
			for _, f := range list {
				if s, ok := f.(string); ok {
					res.files = append(res.files, s)
				}
			}
		}
	}
}
