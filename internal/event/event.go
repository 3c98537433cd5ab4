// Package event defines trailwatch's domain types: CloudTrail events and
// Insight events, CloudTrail digest files, Amazon S3 server access log
// records, and references to the objects (files or S3 objects) they come from.
//
// The types are plain data. Parsers fill them, stores persist them, rules read
// them. Strings produced by the parsers may alias the parser's input buffer:
// a record handed to a callback is valid only until the callback returns (the
// bufio.Scanner convention); call Clone to keep one.
package event

import (
	"strings"
	"time"
)

// Kind says what a log object or record is.
type Kind uint8

// The kinds of log objects trailwatch understands.
const (
	KindUnknown    Kind = iota // not recognised
	KindCloudTrail             // CloudTrail log file: {"Records":[...]}
	KindDigest                 // CloudTrail digest file (CloudTrail-Digest/)
	KindInsight                // CloudTrail Insights file (CloudTrail-Insight/)
	KindAccessLog              // Amazon S3 server access log object
)

var kindNames = [...]string{"unknown", "cloudtrail", "digest", "insight", "s3access"}

// String returns the kind's name as used in configuration and metrics.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind returns the Kind named s (as printed by String), or KindUnknown.
func ParseKind(s string) Kind {
	for i, n := range kindNames {
		if strings.EqualFold(s, n) {
			return Kind(i)
		}
	}
	return KindUnknown
}

// ObjectRef identifies a log object: an S3 object, a local file or stdin.
type ObjectRef struct {
	Bucket       string    // S3 bucket; empty for local files
	Key          string    // S3 key, or the local path
	Size         int64     // bytes as stored (compressed), when known
	ETag         string    // S3 ETag, when known
	VersionID    string    // S3 version id, when known
	LastModified time.Time // S3 LastModified or file mtime, when known
}

// URI returns the object's identity as stored with every record:
// s3://bucket/key for S3 objects and the path for local files.
func (o ObjectRef) URI() string {
	if o.Bucket == "" {
		return o.Key
	}
	return "s3://" + o.Bucket + "/" + o.Key
}

// OptBool is a JSON boolean that may be absent.
type OptBool uint8

// The values of an OptBool.
const (
	BoolNull  OptBool = iota // absent or null
	BoolFalse                // false
	BoolTrue                 // true
)

// Valid reports whether the value was present.
func (b OptBool) Valid() bool { return b != BoolNull }

// True reports whether the value was present and true.
func (b OptBool) True() bool { return b == BoolTrue }

// MakeOptBool returns the OptBool for v.
func MakeOptBool(v bool) OptBool {
	if v {
		return BoolTrue
	}
	return BoolFalse
}

// NullInt marks an absent integer field (S3 access logs write "-").
const NullInt int64 = -1

// Batch carries the records parsed from one object, or from one part of a
// large object. Parsers reuse a Batch after the callback that received it
// returns.
type Batch struct {
	Object     ObjectRef
	Events     []CloudTrail // management, data and network activity events
	Insights   []CloudTrail // CloudTrail Insights events
	Digests    []Digest
	AccessLogs []AccessLog
}

// Len returns the number of records in the batch.
func (b *Batch) Len() int {
	return len(b.Events) + len(b.Insights) + len(b.Digests) + len(b.AccessLogs)
}

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Events)
	clear(b.Insights)
	clear(b.Digests)
	clear(b.AccessLogs)
	b.Events = b.Events[:0]
	b.Insights = b.Insights[:0]
	b.Digests = b.Digests[:0]
	b.AccessLogs = b.AccessLogs[:0]
}

// Clone returns a deep copy of the batch that does not alias parser buffers.
func (b *Batch) Clone() *Batch {
	c := &Batch{Object: b.Object}
	for i := range b.Events {
		c.Events = append(c.Events, b.Events[i].Clone())
	}
	for i := range b.Insights {
		c.Insights = append(c.Insights, b.Insights[i].Clone())
	}
	for i := range b.Digests {
		c.Digests = append(c.Digests, b.Digests[i].Clone())
	}
	for i := range b.AccessLogs {
		c.AccessLogs = append(c.AccessLogs, b.AccessLogs[i].Clone())
	}
	return c
}
