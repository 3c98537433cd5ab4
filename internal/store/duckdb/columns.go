package duckdb

import (
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The builders below fill Arrow buffers directly from Go slices: an append
// is a slice append, with no per-value interface calls. finish hands the
// slices to Arrow without copying; reset truncates them for the next batch,
// so it must only be called once DuckDB is done reading (the INSERT
// returned).

// column is one Arrow column under construction.
type column interface {
	finish() arrow.ArrayData
	dataType() arrow.DataType
	size() int // bytes held, for flush thresholds
	reset()
}

// validity is an Arrow validity bitmap.
type validity struct {
	bits  []byte
	n     int
	nulls int
}

func (v *validity) add(ok bool) {
	if v.n&7 == 0 {
		v.bits = append(v.bits, 0)
	}
	if ok {
		v.bits[v.n>>3] |= 1 << (v.n & 7)
	} else {
		v.nulls++
	}
	v.n++
}

func (v *validity) buffer() *memory.Buffer {
	if v.nulls == 0 {
		return nil
	}
	return memory.NewBufferBytes(v.bits)
}

func (v *validity) reset() { *v = validity{bits: v.bits[:0]} }

// strCol is a UTF-8 string column.
type strCol struct {
	v    validity
	offs []int32
	data []byte
}

func (c *strCol) add(s string) {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	// Invalid UTF-8 must never reach the files: DuckDB writes it to Parquet
	// without complaint and then refuses to read the table back.
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	c.data = append(c.data, s...)
	c.offs = append(c.offs, int32(len(c.data)))
	c.v.add(true)
}

func (c *strCol) null() {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	c.offs = append(c.offs, int32(len(c.data)))
	c.v.add(false)
}

// opt adds s, or NULL when s is empty and not marked present-but-empty.
func (c *strCol) opt(s string, present bool) {
	if s == "" && !present {
		c.null()
		return
	}
	c.add(s)
}

func (c *strCol) dataType() arrow.DataType { return arrow.BinaryTypes.String }
func (c *strCol) size() int                { return len(c.data) + 4*len(c.offs) }
func (c *strCol) finish() arrow.ArrayData {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	return array.NewData(c.dataType(), c.v.n, []*memory.Buffer{
		c.v.buffer(),
		memory.NewBufferBytes(int32Bytes(c.offs)),
		memory.NewBufferBytes(c.data),
	}, nil, c.v.nulls, 0)
}
func (c *strCol) reset() {
	c.v.reset()
	c.offs = shrink(c.offs)
	c.data = shrink(c.data)
}

// shrink empties s for reuse; when append's doubling left it far larger
// than what was used, it gives the excess back (a batch's columns keep
// similar sizes, so the next one rarely grows it again).
func shrink[T any](s []T) []T {
	if used := len(s); cap(s) > used+used/4+1024 {
		return make([]T, 0, used+used/4+1024)
	}
	return s[:0]
}

func int32Bytes(s []int32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 4*len(s))
}

func int64Bytes(s []int64) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 8*len(s))
}

// fixedCol is a column of 64-bit values: timestamps, integers.
type fixedCol struct {
	typ  arrow.DataType
	v    validity
	vals []int64
}

func (c *fixedCol) add(x int64) { c.vals = append(c.vals, x); c.v.add(true) }
func (c *fixedCol) null()       { c.vals = append(c.vals, 0); c.v.add(false) }

// time adds t as microseconds, or NULL for the zero time.
func (c *fixedCol) time(t time.Time) {
	if t.IsZero() {
		c.null()
		return
	}
	c.add(t.UnixMicro())
}

// int adds x, or NULL for negative values (S3 access logs' "-").
func (c *fixedCol) int(x int64) {
	if x < 0 {
		c.null()
		return
	}
	c.add(x)
}

func (c *fixedCol) dataType() arrow.DataType { return c.typ }
func (c *fixedCol) size() int                { return 8 * len(c.vals) }
func (c *fixedCol) finish() arrow.ArrayData {
	return array.NewData(c.typ, c.v.n, []*memory.Buffer{c.v.buffer(), memory.NewBufferBytes(int64Bytes(c.vals))}, nil, c.v.nulls, 0)
}
func (c *fixedCol) reset() { c.v.reset(); c.vals = shrink(c.vals) }

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

func newTimeCol() *fixedCol   { return &fixedCol{typ: tsType} }
func newInt64Col() *fixedCol  { return &fixedCol{typ: arrow.PrimitiveTypes.Int64} }
func newUint64Col() *fixedCol { return &fixedCol{typ: arrow.PrimitiveTypes.Uint64} }

// boolCol is a nullable boolean column.
type boolCol struct {
	v    validity
	bits validity // reuses the bitmap logic for the values
}

func (c *boolCol) add(b bool) { c.bits.add(b); c.v.add(true) }
func (c *boolCol) null()      { c.bits.add(false); c.v.add(false) }

// opt adds a three-state boolean: 0 NULL, 1 false, 2 true.
func (c *boolCol) opt(b uint8) {
	if b == 0 {
		c.null()
		return
	}
	c.add(b == 2)
}

func (c *boolCol) dataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (c *boolCol) size() int                { return len(c.bits.bits) }
func (c *boolCol) finish() arrow.ArrayData {
	return array.NewData(c.dataType(), c.v.n, []*memory.Buffer{c.v.buffer(), memory.NewBufferBytes(c.bits.bits)}, nil, c.v.nulls, 0)
}
func (c *boolCol) reset() { c.v.reset(); c.bits.reset() }

// int32Col is an INTEGER column.
type int32Col struct {
	v    validity
	vals []int32
}

func (c *int32Col) add(x int32)              { c.vals = append(c.vals, x); c.v.add(true) }
func (c *int32Col) dataType() arrow.DataType { return arrow.PrimitiveTypes.Int32 }
func (c *int32Col) size() int                { return 4 * len(c.vals) }
func (c *int32Col) finish() arrow.ArrayData {
	return array.NewData(c.dataType(), c.v.n, []*memory.Buffer{c.v.buffer(), memory.NewBufferBytes(int32Bytes(c.vals))}, nil, c.v.nulls, 0)
}
func (c *int32Col) reset() { c.v.reset(); c.vals = c.vals[:0] }

// structCol is a STRUCT column; the caller appends to every child for
// every row (NULL children under a NULL struct).
type structCol struct {
	v      validity
	names  []string
	fields []column
}

func newStruct(kv ...any) *structCol {
	s := &structCol{}
	for i := 0; i < len(kv); i += 2 {
		s.names = append(s.names, kv[i].(string))
		s.fields = append(s.fields, kv[i+1].(column))
	}
	return s
}

func (c *structCol) dataType() arrow.DataType {
	fs := make([]arrow.Field, len(c.names))
	for i, n := range c.names {
		fs[i] = arrow.Field{Name: n, Type: c.fields[i].dataType(), Nullable: true}
	}
	return arrow.StructOf(fs...)
}

func (c *structCol) size() int {
	n := len(c.v.bits)
	for _, f := range c.fields {
		n += f.size()
	}
	return n
}

func (c *structCol) finish() arrow.ArrayData {
	children := make([]arrow.ArrayData, len(c.fields))
	for i, f := range c.fields {
		children[i] = f.finish()
	}
	return array.NewData(c.dataType(), c.v.n, []*memory.Buffer{c.v.buffer()}, children, c.v.nulls, 0)
}

func (c *structCol) reset() {
	c.v.reset()
	for _, f := range c.fields {
		f.reset()
	}
}

// listCol is a LIST column; the caller appends the elements to elem and
// then calls end (or null).
type listCol struct {
	v    validity
	offs []int32
	elem column
	n    int32 // elements so far
}

func (c *listCol) end(count int) {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	c.n += int32(count)
	c.offs = append(c.offs, c.n)
	c.v.add(true)
}

func (c *listCol) null() {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	c.offs = append(c.offs, c.n)
	c.v.add(false)
}

func (c *listCol) dataType() arrow.DataType {
	return arrow.ListOfField(arrow.Field{Name: "element", Type: c.elem.dataType(), Nullable: true})
}
func (c *listCol) size() int { return 4*len(c.offs) + c.elem.size() }
func (c *listCol) finish() arrow.ArrayData {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	return array.NewData(c.dataType(), c.v.n, []*memory.Buffer{c.v.buffer(), memory.NewBufferBytes(int32Bytes(c.offs))},
		[]arrow.ArrayData{c.elem.finish()}, c.v.nulls, 0)
}
func (c *listCol) reset() {
	c.v.reset()
	c.offs = c.offs[:0]
	c.n = 0
	c.elem.reset()
}

// table is an ordered set of named columns that becomes one Arrow record.
type table struct {
	names []string
	cols  []column
	rows  int
}

func (t *table) add(name string, c column) {
	t.names = append(t.names, name)
	t.cols = append(t.cols, c)
}

func (t *table) schema() *arrow.Schema {
	fs := make([]arrow.Field, len(t.names))
	for i, n := range t.names {
		fs[i] = arrow.Field{Name: n, Type: t.cols[i].dataType(), Nullable: true}
	}
	return arrow.NewSchema(fs, nil)
}

func (t *table) size() int {
	n := 0
	for _, c := range t.cols {
		n += c.size()
	}
	return n
}

// record finishes the columns into an Arrow record that aliases them;
// call reset once the record has been consumed.
func (t *table) record() arrow.RecordBatch {
	arrs := make([]arrow.Array, len(t.cols))
	for i, c := range t.cols {
		arrs[i] = array.MakeFromData(c.finish())
	}
	return array.NewRecordBatch(t.schema(), arrs, int64(t.rows))
}

// reset empties every column, keeping capacity.
func (t *table) reset() {
	for _, c := range t.cols {
		c.reset()
	}
	t.rows = 0
}
