// Package store defines how trailwatch persists and queries records: the
// interfaces every storage backend implements, and the contracts they keep
// (checked for every backend by package storetest).
//
// Contracts:
//   - Nothing appended is visible to queries until Commit; Rollback discards
//     it. One write transaction is open at a time.
//   - Exactly once: appending records that are already stored adds nothing.
//     CloudTrail and Insights events are identified by eventID and
//     recipientAccountId (for events from before 2015, which have none, the
//     caller's account; by their raw bytes when they have no eventID),
//     digests by their S3 object, access log records by their source object
//     and line number.
//   - The object ledger says which objects were ingested (or quarantined), in
//     the same transaction as their records, so a crash never leaves an
//     object marked done without its records.
//   - Queries are read-only: one SELECT statement, no access to files,
//     network, extensions or settings.
package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// Appender writes records within one transaction.
type Appender interface {
	// Append adds the batch's records. The batch may be reused after
	// Append returns.
	Append(ctx context.Context, b *event.Batch) error
	// ObjectDone records in the ledger that an object was read to the end.
	ObjectDone(ctx context.Context, o ObjectStatus) error
	// Quarantine records an object (or part of one) that could not be
	// ingested, with the reason.
	Quarantine(ctx context.Context, q Quarantined) error
	// Commit makes everything appended visible, atomically.
	Commit(ctx context.Context) error
	// Rollback discards everything since the last Commit.
	Rollback(ctx context.Context) error
	// Close rolls back anything uncommitted and ends the appender, letting
	// the next writer begin. After Commit or Rollback the appender may be
	// used again; after Close it may not.
	Close() error
}

// ObjectStatus is one row of the object ledger.
type ObjectStatus struct {
	Object  event.ObjectRef
	Kind    event.Kind
	Records int    // records read from the object
	Skipped int    // records skipped as bad
	Error   string // why the object was (partly) quarantined; empty when fully ingested
	// SHA256 is the hex SHA-256 of a CloudTrail log file's uncompressed
	// bytes (what its digest lists), "" for other objects.
	SHA256 string
}

// Quarantined is an object, or part of one, that was not ingested.
type Quarantined struct {
	Object string // the object's URI
	Kind   event.Kind
	Reason string
	Size   int64
	Time   time.Time // when it was quarantined; zero means now
}

// LedgerEntry says what the ledger knows of an object.
type LedgerEntry struct {
	Key     string // the object's canonical key (see LedgerKey)
	Size    int64
	Records int
	Error   string
	SHA256  string // see ObjectStatus.SHA256; "" when not computed
}

// Querier runs read-only SQL.
type Querier interface {
	// Query runs one read-only statement. The caller closes the rows.
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// Store is a storage backend.
type Store interface {
	Querier
	// Begin opens the write transaction. Only one is open at a time;
	// Begin waits for the previous one to end.
	Begin(ctx context.Context) (Appender, error)
	// Ledger returns what the ledger knows of the given canonical keys.
	Ledger(ctx context.Context, keys []string) (map[string]LedgerEntry, error)
	// Checkpoint returns a named checkpoint value ("" when unset).
	Checkpoint(ctx context.Context, name string) (string, error)
	// SetCheckpoint stores a named checkpoint value durably; it must not
	// wait for an open Appender (sources call it from acknowledgements).
	SetCheckpoint(ctx context.Context, name, value string) error
	// Retain deletes records older than the cutoff and returns how many.
	Retain(ctx context.Context, cutoff time.Time) (int64, error)
	// Close flushes and closes the store.
	Close() error
}

// ErrReadOnly is returned (wrapped) when a query is not a single read-only
// statement.
var ErrReadOnly = errors.New("only a single SELECT (or WITH ... SELECT) statement is allowed")

// LedgerKey returns the canonical key of an object: the part of its key
// that AWS made unique, so that the same object ingested from a local copy
// and from S3 is recognised as one. CloudTrail objects are keyed from
// AWSLogs/ on; S3 access log objects by their file name (and date-partition
// path); anything else by its URI.
func LedgerKey(o event.ObjectRef) string {
	ki := event.ClassifyKey(o.Key)
	switch ki.Kind {
	case event.KindCloudTrail, event.KindDigest, event.KindInsight:
		k := o.Key[len(ki.Prefix):]
		return k
	case event.KindAccessLog:
		return o.Key[len(ki.Prefix):]
	}
	return o.URI()
}
