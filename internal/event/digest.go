package event

import "time"

// Digest is one CloudTrail digest file: the hourly, signed list of the log
// files a trail delivered, chained to the previous digest.
type Digest struct {
	AWSAccountID                string
	DigestStartTime             time.Time
	DigestEndTime               time.Time
	DigestS3Bucket              string
	DigestS3Object              string
	DigestPublicKeyFingerprint  string
	DigestSignatureAlgorithm    string
	NewestEventTime             time.Time // zero when the digest lists no events
	OldestEventTime             time.Time
	PreviousDigestS3Bucket      string
	PreviousDigestS3Object      string
	PreviousDigestHashValue     string
	PreviousDigestHashAlgorithm string
	PreviousDigestSignature     string
	LogFiles                    []DigestLogFile

	// Signature and SignatureAlgorithm come from the object's
	// x-amz-meta-signature and x-amz-meta-signature-algorithm metadata
	// when the object was read from S3 (or a sidecar); empty otherwise.
	Signature          string
	SignatureAlgorithm string
	// SHA256 is the hex SHA-256 of the uncompressed digest file: the value
	// the next digest's previousDigestHashValue must equal.
	SHA256 string
	// Unmapped holds unknown top-level fields as a JSON object.
	Unmapped RawJSON
	// Raw is the digest file's JSON text.
	Raw string
}

// DigestLogFile is one entry of a digest's logFiles list.
type DigestLogFile struct {
	S3Bucket        string
	S3Object        string
	HashValue       string
	HashAlgorithm   string
	NewestEventTime time.Time
	OldestEventTime time.Time
}
