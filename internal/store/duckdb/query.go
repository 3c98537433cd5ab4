package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/trailwatch/trailwatch/internal/store"
)

// Query runs one read-only statement: a single SELECT (or WITH ... SELECT,
// or a table-producing expression such as FROM t). Everything else is
// refused with an error wrapping store.ErrReadOnly; the database itself is
// also opened with external access disabled and its configuration locked,
// so even a SELECT cannot touch files, the network or settings.
func (s *Store) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := s.checkReadOnly(ctx, q); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", cleanError(err))
	}
	return rows, nil
}

// checkReadOnly asks DuckDB's own parser how many statements q holds and
// whether each is a SELECT, then prepares it and checks the statement type.
func (s *Store) checkReadOnly(ctx context.Context, q string) error {
	if strings.TrimSpace(q) == "" {
		return fmt.Errorf("%w: the query is empty", store.ErrReadOnly)
	}
	var js string
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)`, q).Scan(&js); err != nil {
		return fmt.Errorf("check query: %w", cleanError(err))
	}
	var parsed struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(js), &parsed); err != nil {
		return fmt.Errorf("check query: %w", err)
	}
	if parsed.Error {
		if parsed.ErrorType == "parser" && !strings.Contains(parsed.ErrorMessage, "Only SELECT") {
			return fmt.Errorf("query: %s", parsed.ErrorMessage)
		}
		return fmt.Errorf("%w (%s)", store.ErrReadOnly, parsed.ErrorMessage)
	}
	if len(parsed.Statements) != 1 {
		return fmt.Errorf("%w: found %d statements", store.ErrReadOnly, len(parsed.Statements))
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("check query: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		st, err := dc.(driver.ConnPrepareContext).PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("query: %w", cleanError(err))
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return fmt.Errorf("check query: unexpected statement type %T", st)
		}
		typ, err := ds.StatementType()
		if err != nil {
			return fmt.Errorf("check query: %w", err)
		}
		if typ != duckdb.STATEMENT_TYPE_SELECT {
			return fmt.Errorf("%w: the statement is not a SELECT", store.ErrReadOnly)
		}
		return nil
	})
}

// cleanError drops DuckDB's multi-line caret diagrams from an error,
// keeping its first line.
func cleanError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i > 0 {
		return fmt.Errorf("%s", strings.TrimSpace(msg[:i]))
	}
	return err
}
