package event

import (
	"fmt"
	"strings"
)

// RecordError says why one record of an object could not be parsed.
type RecordError struct {
	Line   int    // 1-based line number, 0 when the format has no lines
	Index  int    // 0-based record index within the object, -1 when unknown
	Offset int64  // byte offset in the uncompressed stream, -1 when unknown
	Reason string // what was wrong, as a sentence fragment
}

func (e RecordError) String() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	case e.Index >= 0:
		return fmt.Sprintf("record %d: %s", e.Index, e.Reason)
	case e.Offset >= 0:
		return fmt.Sprintf("offset %d: %s", e.Offset, e.Reason)
	}
	return e.Reason
}

// MaxRecordErrors bounds how many RecordErrors a SkippedError keeps.
const MaxRecordErrors = 10

// SkippedError reports that a parser skipped bad records of an object while
// keeping every good record around them. Parsers return it after the whole
// object was read.
type SkippedError struct {
	Skipped int           // records skipped
	Errors  []RecordError // the first MaxRecordErrors of them
}

// Add records one skipped record.
func (e *SkippedError) Add(re RecordError) {
	e.Skipped++
	if len(e.Errors) < MaxRecordErrors {
		e.Errors = append(e.Errors, re)
	}
}

// Err returns e as an error, or nil when nothing was skipped.
func (e *SkippedError) Err() error {
	if e == nil || e.Skipped == 0 {
		return nil
	}
	return e
}

func (e *SkippedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bad record(s) skipped", e.Skipped)
	for i, re := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(re.String())
	}
	if e.Skipped > len(e.Errors) {
		b.WriteString("; ...")
	}
	return b.String()
}
