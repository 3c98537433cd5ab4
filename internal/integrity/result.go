package integrity

import (
	"time"
)

// Type says what a Result is about.
type Type string

// The result types.
const (
	TypeDigest  Type = "digest" // a digest file
	TypeLogFile Type = "log"    // a log file
	TypeChain   Type = "chain"  // a stretch of a chain (a gap) or a whole scope
)

// Status is the outcome of one check.
type Status string

// The statuses. Invalid means evidence of tampering or loss: the command
// exits 1. Unverified and Warning are reported and do not fail the run.
const (
	Valid      Status = "valid"      // proven: signature (digest) or hash (log file) verified
	Invalid    Status = "invalid"    // modified, deleted, moved, unlisted, unreadable
	Unverified Status = "unverified" // consistent, but not proven (no signature, or listed only by an invalid digest)
	Warning    Status = "warning"    // the chain restarted: logging or validation was off for a while
)

// Kind names a finding.
type Kind string

// The findings. Each Result that is not Valid carries one.
const (
	// LogFileModified: the log file's SHA-256 differs from its digest's hashValue.
	LogFileModified Kind = "log-file-modified"
	// LogFileDeleted: a digest lists the log file and it does not exist.
	LogFileDeleted Kind = "log-file-deleted"
	// LogFileInvalidFormat: the log file is not gzip.
	LogFileInvalidFormat Kind = "log-file-invalid-format"
	// LogFileUnlisted: the log file is in the bucket, but no digest lists it.
	LogFileUnlisted Kind = "log-file-unlisted"
	// LogFileUnverified: the hash matches, but only digests that are invalid
	// or not proven list the file.
	LogFileUnverified Kind = "log-file-unverified"
	// DigestModified: the signature does not verify, or the digest does not
	// match the previousDigestHashValue or previousDigestSignature of the
	// digest after it.
	DigestModified Kind = "digest-modified"
	// DigestDeleted: the next digest names it, or log files after the
	// newest digest show one is due, and it does not exist.
	DigestDeleted Kind = "digest-deleted"
	// DigestMoved: the digest is not at the location it names
	// (digestS3Bucket/digestS3Object).
	DigestMoved Kind = "digest-moved"
	// DigestInvalidFormat: not gzip'd JSON with the required members.
	DigestInvalidFormat Kind = "digest-invalid-format"
	// DigestUnverified: no signature to check (a local copy without
	// metadata sidecar, for the newest digest of a chain) or no public keys.
	DigestUnverified Kind = "digest-unverified"
	// PublicKeyNotFound: no public key with the digest's fingerprint valid
	// at its time, or the key cannot be loaded.
	PublicKeyNotFound Kind = "public-key-not-found"
	// ChainGap: no digest between two chains (the AWS CLI's "No log files
	// were delivered by CloudTrail between …").
	ChainGap Kind = "chain-gap"
	// NewStartingDigest: a starting digest after older digests: log file
	// validation or logging was turned off and on.
	NewStartingDigest Kind = "new-starting-digest"
	// DigestOverdue: a chain's next hourly digest has not arrived within
	// the grace period (Validator.Overdue): deleted, or logging or
	// validation stopped.
	DigestOverdue Kind = "digest-overdue"
	// NoDigests: no digest files where digests were expected.
	NoDigests Kind = "no-digests"
	// ReadFailed: the object could not be read (other than not found).
	ReadFailed Kind = "read-error"
)

// Result is the outcome for one digest file or log file, or a finding about
// a stretch of a chain. Verifier emits Results in the AWS CLI's order.
type Result struct {
	Type     Type   `json:"type"`
	Status   Status `json:"status"`
	Kind     Kind   `json:"kind,omitempty"` // empty when Valid
	Bucket   string `json:"bucket,omitempty"`
	Key      string `json:"key,omitempty"`
	Backfill bool   `json:"backfill,omitempty"` // a backfill digest, or a log file one lists
	Account  string `json:"account,omitempty"`
	Region   string `json:"region,omitempty"`
	Trail    string `json:"trail,omitempty"`
	// Time is the digest's end time, the log file's delivery time (from
	// its name), or the start of a gap.
	Time time.Time `json:"time,omitzero"`
	// End is the end of a gap.
	End time.Time `json:"end,omitzero"`
	// Message is the line the AWS CLI prints for this result
	// ("Digest file\ts3://…\tvalid"), or a line in its style for what the
	// CLI does not report.
	Message string `json:"message"`
	// Detail explains a finding in words.
	Detail string `json:"detail,omitempty"`
	// Related names the object that revealed the finding (the digest after
	// a modified one, the digest listing a log file).
	Related string `json:"related,omitempty"`
	// Events are the trail events that explain a chain break.
	Events []TrailEvent `json:"events,omitempty"`
	// Counted reports whether the result counts in the AWS CLI's
	// "x/y … files valid" ratios (see Summary).
	Counted bool `json:"-"`
}

// Object returns s3://bucket/key, or "" when the result names no object.
func (r *Result) Object() string {
	if r.Key == "" {
		return ""
	}
	return "s3://" + r.Bucket + "/" + r.Key
}

// Counts tallies results of one type.
type Counts struct {
	Valid      int `json:"valid"`
	Invalid    int `json:"invalid"`
	Unverified int `json:"unverified"`
}

// Total returns all counted results.
func (c Counts) Total() int { return c.Valid + c.Invalid + c.Unverified }

func (c *Counts) add(s Status) {
	switch s {
	case Valid:
		c.Valid++
	case Invalid:
		c.Invalid++
	case Unverified:
		c.Unverified++
	}
}

// Summary is the outcome of a run, as the AWS CLI summarizes it.
type Summary struct {
	// Start and End are the requested range.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// FoundStart and FoundEnd bound the valid digests found (clipped to the
	// requested range); zero when none.
	FoundStart time.Time `json:"foundStart,omitzero"`
	FoundEnd   time.Time `json:"foundEnd,omitzero"`
	// Digests and BackfillDigests count digest files, LogFiles the log
	// files digests list.
	Digests         Counts `json:"digests"`
	BackfillDigests Counts `json:"backfillDigests"`
	LogFiles        Counts `json:"logFiles"`
	// Unlisted counts log files that no digest lists.
	Unlisted int `json:"unlistedLogFiles"`
	// Gaps counts chain restarts; Findings counts every result that is not
	// valid, Invalid those that are invalid.
	Gaps     int `json:"gaps"`
	Findings int `json:"findings"`
	Invalid  int `json:"invalid"`
	// Scopes lists the chains verified (account/region/trail).
	Scopes []Scope `json:"scopes,omitempty"`
	// SignaturesChecked is false when no public keys were available.
	SignaturesChecked bool `json:"signaturesChecked"`
}

// OK reports whether nothing invalid was found and some digest was found.
func (s *Summary) OK() bool {
	return s.Invalid == 0 && s.Digests.Total()+s.BackfillDigests.Total() > 0
}

// add counts one result.
func (s *Summary) add(r *Result) {
	if r.Status != Valid {
		s.Findings++
	}
	if r.Status == Invalid {
		s.Invalid++
	}
	switch {
	case r.Kind == ChainGap:
		s.Gaps++
	case r.Kind == LogFileUnlisted:
		s.Unlisted++
	case !r.Counted:
	case r.Type == TypeDigest && r.Backfill:
		s.BackfillDigests.add(r.Status)
	case r.Type == TypeDigest:
		s.Digests.add(r.Status)
	case r.Type == TypeLogFile:
		s.LogFiles.add(r.Status)
	}
}

// Scope is one chain: a trail's digests for one account and region.
type Scope struct {
	Bucket     string `json:"bucket"`
	Prefix     string `json:"prefix,omitempty"`
	OrgID      string `json:"organization,omitempty"`
	Account    string `json:"account"`
	Region     string `json:"region"`
	Trail      string `json:"trail"`
	HomeRegion string `json:"homeRegion"`
}

// Messages in the AWS CLI's words.

func digestMsg(backfill bool, bucket, key, status string) string {
	p := ""
	if backfill {
		p = "(backfill) "
	}
	return p + "Digest file\ts3://" + bucket + "/" + key + "\t" + status
}

func logMsg(bucket, key, status string) string {
	return "Log file\ts3://" + bucket + "/" + key + "\t" + status
}

// DisplayTime formats a time as the AWS CLI prints it.
func DisplayTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
