package event

import (
	"path"
	"strings"
	"time"
)

// KeyInfo is what an object key says about the object, following the key
// layouts AWS documents for CloudTrail and S3 server access logs.
type KeyInfo struct {
	Kind      Kind
	Prefix    string    // the bucket prefix before AWSLogs/ (CloudTrail) or before the log name (access logs)
	OrgID     string    // o-xxxxxxxxxx for organization trails
	AccountID string    // the account the logs belong to (access logs: the source bucket's account, when partitioned)
	Region    string    // the region the logs belong to
	Date      time.Time // the day in the key, or the delivery time when the file name carries it
	Trail     string    // trail name (digest files only)
	Bucket    string    // the source bucket (date-partitioned access logs only)
}

// ClassifyKey interprets an S3 key or a local path. It recognises
//
//	[prefix/]AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>
//	[prefix/]AWSLogs/[o-org/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<file>
//	[prefix/]AWSLogs/[o-org/]<account>/CloudTrail-Insight/<region>/YYYY/MM/DD/<file>
//	[prefix]YYYY-mm-DD-HH-MM-SS-UNIQUE                                  (S3 access logs, simple)
//	[prefix]<account>/<region>/<bucket>/YYYY/MM/DD/YYYY-mm-DD-HH-MM-SS-UNIQUE (partitioned)
//
// and returns KindUnknown for anything else. Content sniffing (package
// parse) decides for files whose names say nothing.
func ClassifyKey(key string) KeyInfo {
	key = strings.ReplaceAll(key, "\\", "/")
	if i := strings.LastIndex(key, "AWSLogs/"); i >= 0 && (i == 0 || key[i-1] == '/') {
		if ki, ok := classifyAWSLogs(key[:i], key[i+len("AWSLogs/"):]); ok {
			return ki
		}
	}
	return classifyAccessLogKey(key)
}

func classifyAWSLogs(prefix, rest string) (KeyInfo, bool) {
	parts := strings.Split(rest, "/")
	ki := KeyInfo{Prefix: prefix}
	if len(parts) > 0 && strings.HasPrefix(parts[0], "o-") {
		ki.OrgID = parts[0]
		parts = parts[1:]
	}
	// <account>/<service>/<region>/YYYY/MM/DD/<file>
	if len(parts) < 7 || !isDigits(parts[0], 12) {
		return ki, false
	}
	ki.AccountID = parts[0]
	switch parts[1] {
	case "CloudTrail":
		ki.Kind = KindCloudTrail
	case "CloudTrail-Digest":
		ki.Kind = KindDigest
	case "CloudTrail-Insight":
		ki.Kind = KindInsight
	default:
		return ki, false
	}
	ki.Region = parts[2]
	if d, err := time.Parse("2006/01/02", parts[3]+"/"+parts[4]+"/"+parts[5]); err == nil {
		ki.Date = d
	}
	file := parts[len(parts)-1]
	if ki.Kind == KindDigest {
		// <acct>_CloudTrail-Digest_<region>_<trail>_<homeRegion>_<YYYYMMDDTHHMMSSZ>.json.gz
		name := strings.TrimSuffix(strings.TrimSuffix(file, ".gz"), ".json")
		f := strings.Split(name, "_")
		if len(f) >= 6 {
			ki.Trail = strings.Join(f[3:len(f)-2], "_")
			if t, err := time.Parse("20060102T150405Z", f[len(f)-1]); err == nil {
				ki.Date = t
			}
		}
	} else {
		// <acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz
		f := strings.Split(file, "_")
		if len(f) >= 5 {
			if t, err := time.Parse("20060102T1504Z", f[3]); err == nil {
				ki.Date = t
			}
		}
	}
	return ki, true
}

// classifyAccessLogKey recognises S3 server access log object names.
func classifyAccessLogKey(key string) KeyInfo {
	base := path.Base(key)
	// [prefix]YYYY-mm-DD-HH-MM-SS-UNIQUE: 19 characters of time, a dash,
	// and an id. A target prefix need not end in "/" ("logs-2026-…"), so
	// the time may start anywhere in the name.
	at := -1
	for i := 0; i+21 <= len(base); i++ {
		if looksLikeLogTime(base[i:]) {
			at = i
			break
		}
	}
	if at < 0 {
		return KeyInfo{}
	}
	t, err := time.Parse("2006-01-02-15-04-05", base[at:at+19])
	if err != nil {
		return KeyInfo{}
	}
	ki := KeyInfo{Kind: KindAccessLog, Date: t, Prefix: key[:len(key)-len(base)+at]}
	// Partitioned: [prefix]<account>/<region>/<bucket>/YYYY/MM/DD/<name>
	dirs := strings.Split(strings.TrimSuffix(ki.Prefix, "/"), "/")
	if n := len(dirs); n >= 6 && isDigits(dirs[n-6], 12) {
		if _, err := time.Parse("2006/01/02", strings.Join(dirs[n-3:], "/")); err == nil {
			ki.AccountID, ki.Region, ki.Bucket = dirs[n-6], dirs[n-5], dirs[n-4]
			ki.Prefix = strings.Join(dirs[:n-6], "/")
			if ki.Prefix != "" {
				ki.Prefix += "/"
			}
		}
	}
	return ki
}

// looksLikeLogTime reports whether s starts with "DDDD-DD-DD-DD-DD-DD-"
// followed by an alphanumeric id.
func looksLikeLogTime(s string) bool {
	if len(s) < 21 {
		return false
	}
	for i := range 20 {
		switch i {
		case 4, 7, 10, 13, 16, 19:
			if s[i] != '-' {
				return false
			}
		default:
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
	}
	for i := 20; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
