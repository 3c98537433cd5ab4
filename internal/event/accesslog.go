package event

import "time"

// AccessLog is one Amazon S3 server access log record, in the documented
// field order. String fields are empty where the log has "-"; integer
// fields hold NullInt there.
type AccessLog struct {
	BucketOwner     string
	Bucket          string
	RequestDateTime string    // as logged, e.g. "06/Feb/2019:00:00:38 +0000"
	Time            time.Time // RequestDateTime parsed; zero if unparseable
	RemoteIP        string
	Requester       string
	RequestID       string
	Operation       string
	Key             string
	RequestURI      string
	HTTPStatus      int64
	ErrorCode       string
	BytesSent       int64
	ObjectSize      int64
	TotalTime       int64 // milliseconds
	TurnAroundTime  int64 // milliseconds
	Referrer        string
	UserAgent       string
	VersionID       string
	HostID          string
	SigV            string
	CipherSuite     string
	AuthType        string
	HostHeader      string // the "endpoint" column of AWS's Athena table
	TLSVersion      string
	AccessPointARN  string
	ACLRequired     string
	SourceRegion    string
	// Extra holds fields after the last documented one, as logged; S3 may
	// append new fields at any time.
	Extra []string
	// Line is the 1-based line number within the source object.
	Line int
	// Raw is the line as logged, without the line terminator.
	Raw string
}
