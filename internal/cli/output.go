package cli

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// resultWriter renders rows as a table, JSON lines or CSV.
type resultWriter struct {
	w       io.Writer
	format  string
	maxRows int // stop after this many rows (0 = all)
	width   int // table cells are cut to this many characters (0 = no limit)
}

// write renders all rows and returns how many were written.
func (o resultWriter) write(rows *sql.Rows) (int, error) {
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var table [][]string
	var cw *csv.Writer
	var enc *json.Encoder
	switch o.format {
	case "csv":
		cw = csv.NewWriter(o.w)
		if err := cw.Write(cols); err != nil {
			return 0, err
		}
	case "json":
		enc = json.NewEncoder(o.w)
		enc.SetEscapeHTML(false)
	}
	n := 0
	for rows.Next() {
		if o.maxRows > 0 && n >= o.maxRows {
			break
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
		switch o.format {
		case "csv":
			rec := make([]string, len(vals))
			for i, v := range vals {
				rec[i] = cell(v)
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
		case "json":
			obj := make(orderedObject, len(cols))
			for i, c := range cols {
				obj[i] = kv{c, jsonValue(vals[i])}
			}
			if err := enc.Encode(obj); err != nil {
				return n, err
			}
		default:
			rec := make([]string, len(vals))
			for i, v := range vals {
				rec[i] = cut(strings.ReplaceAll(cell(v), "\n", " "), o.width)
			}
			table = append(table, rec)
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	switch o.format {
	case "csv":
		cw.Flush()
		return n, cw.Error()
	case "json":
		return n, nil
	}
	return n, writeTable(o.w, cols, table)
}

func cut(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// writeTable prints aligned columns.
func writeTable(w io.Writer, cols []string, rows [][]string) error {
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = utf8.RuneCountInString(c)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		b.WriteByte('\n')
	}
	line(cols)
	sep := make([]string, len(cols))
	for i := range cols {
		sep[i] = strings.Repeat("-", widths[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell renders one value for a table or CSV.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case map[string]any, []any:
		b, err := json.Marshal(jsonValue(v))
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

// jsonValue converts database values to what JSON output should show.
func jsonValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(v)
	case *big.Int:
		return json.Number(v.String())
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = jsonValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jsonValue(x)
		}
		return out
	case fmt.Stringer:
		return v.String()
	}
	return v
}

// orderedObject marshals as a JSON object keeping the column order.
type orderedObject []kv

type kv struct {
	k string
	v any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}
