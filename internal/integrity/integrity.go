// Package integrity validates CloudTrail log file integrity the way
// `aws cloudtrail validate-logs` does, and reports more than it does.
//
// CloudTrail delivers, every hour and for every account and region of a
// trail with log file validation on, a digest file that lists the log files
// delivered in that hour with the SHA-256 of each (over its uncompressed
// bytes), and that is chained to the previous digest by that digest's
// location, SHA-256 and signature. The digest is signed with RSA PKCS#1 v1.5
// over SHA-256 of
//
//	digestEndTime + "\n" + digestS3Bucket + "/" + digestS3Object + "\n" +
//	hex(SHA-256(uncompressed digest)) + "\n" + previousDigestSignature
//
// (the literal "null" for a starting digest); the signature is the hex value
// of the object's x-amz-meta-signature metadata, and the key is the regional
// public key (CloudTrail ListPublicKeys) whose fingerprint the digest names.
//
// Verifier walks each chain from the newest digest backwards, as the AWS CLI
// does and in the same order, so its results can be printed with the CLI's
// messages. Beyond the CLI it checks previousDigestHashValue and
// previousDigestSignature against the previous digest, still checks the log
// files of a digest that is invalid, reports log files that no digest lists
// and digests missing at the head of a chain, explains chain restarts with
// the StopLogging/StartLogging/UpdateTrail events when a TrailEvents source
// is given, and treats "no digests at all" as an error.
//
// The work is pipelined: digests are fetched by a bounded pool as soon as
// they are listed, the log files a digest lists are queued for hashing as
// soon as the digest is read, and hashing (gzip inflate + SHA-256, streamed
// in constant memory per worker) runs on its own bounded pool, so a run is
// bound by inflate and SHA-256 throughput rather than by round trips.
//
// Storage is reached through small interfaces: Buckets and Bucket (list and
// get objects with their user metadata; PrefixLister optionally) and
// PublicKeys (ListPublicKeys). LocalBuckets and StaticKeys implement them
// for a downloaded copy of a bucket (signatures from <digest>.metadata.json
// sidecars, keys from the output of `aws cloudtrail list-public-keys`); the
// AWS adapter (package awsapi) implements them for S3 and CloudTrail.
// TrailEvents finds the events that explain a chain restart; BucketTrailEvents
// reads them from the bucket's own log files, the store will answer from
// what it ingested.
//
// Without a digest's signature (a plain download), the signature the next
// digest records as previousDigestSignature is used: a signature proves
// itself wherever it was read, so only the newest digest of each chain is
// left unverified.
//
// Validator checks one digest at a time for a collector that receives
// digests as they are delivered, and reports chains whose next digest is
// overdue.
package integrity

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"
)

// ErrNotFound is returned (wrapped) by Bucket.Get for an object that does not
// exist (S3 NoSuchKey) and by Buckets.Bucket for an unknown bucket.
var ErrNotFound = errors.New("not found")

// ObjectInfo describes one listed object.
type ObjectInfo struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// Bucket reads the objects of one S3 bucket, or of a local copy of it.
type Bucket interface {
	// List yields the objects whose keys start with prefix and sort after
	// startAfter (byte order), in key order, as S3 ListObjectsV2 with
	// Prefix and StartAfter does. The consumer may stop early.
	List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error]
	// Get opens an object. metadata holds the object's user metadata with
	// lower-case keys and without the x-amz-meta- prefix ("signature",
	// "signature-algorithm"). A nil map means the store does not keep
	// metadata for the object (a local copy without a sidecar); an empty
	// map means the object has none. A missing object is an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key string) (body io.ReadCloser, metadata map[string]string, err error)
}

// Buckets opens buckets by name: a digest chain can move to another bucket
// when the trail's bucket changes, and digests name the bucket of each log
// file.
type Buckets interface {
	Bucket(ctx context.Context, name string) (Bucket, error)
}

// PrefixLister is implemented by buckets that can list the next path
// segments under a prefix (S3 ListObjectsV2 with Delimiter "/": the common
// prefixes, each ending in "/"). The verifier uses it to find the accounts,
// regions and organization of a trail's logs without listing every object;
// buckets without it are listed in full instead.
type PrefixLister interface {
	Prefixes(ctx context.Context, prefix string) ([]string, error)
}

// PublicKey is one CloudTrail public key, as ListPublicKeys returns it.
type PublicKey struct {
	Fingerprint       string
	Value             []byte // DER: PKCS#1 RSAPublicKey (a SubjectPublicKeyInfo is accepted too)
	ValidityStartTime time.Time
	ValidityEndTime   time.Time
}

// PublicKeys returns the public keys CloudTrail used in a region to sign
// digest files between start and end (CloudTrail ListPublicKeys, all pages,
// called in that region).
type PublicKeys interface {
	PublicKeys(ctx context.Context, region string, start, end time.Time) ([]PublicKey, error)
}

// TrailEvent is a CloudTrail management event that explains a break in a
// digest chain: StopLogging, StartLogging, UpdateTrail, DeleteTrail or
// CreateTrail.
type TrailEvent struct {
	Time      time.Time `json:"time"`
	Name      string    `json:"eventName"`
	Account   string    `json:"account,omitempty"`
	Region    string    `json:"region,omitempty"`
	Principal string    `json:"principal,omitempty"`
	SourceIP  string    `json:"sourceIPAddress,omitempty"`
	EventID   string    `json:"eventID,omitempty"`
	Trail     string    `json:"trail,omitempty"`  // requestParameters.name: the trail's name or ARN
	Detail    string    `json:"detail,omitempty"` // e.g. "enableLogFileValidation=false" for UpdateTrail
	Source    string    `json:"source,omitempty"` // where the event was found (s3://… or a store)
}

// TrailEventQuery asks for the trail events around a chain break.
type TrailEventQuery struct {
	Bucket     string // the trail's bucket
	Prefix     string // its key prefix ("" for none)
	OrgID      string // organization id for organization trails
	Account    string // the account whose chain broke
	Trail      string // trail name
	HomeRegion string // the trail's home region, where its API calls are recorded
	From, To   time.Time
}

// TrailEvents finds trail events (see TrailEvent). The store implements it
// once events are ingested; BucketTrailEvents scans the bucket's log files.
type TrailEvents interface {
	TrailEvents(ctx context.Context, q TrailEventQuery) ([]TrailEvent, error)
}
