package integrity

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// SignatureAlgorithm is the only digest signature algorithm CloudTrail uses.
const SignatureAlgorithm = "SHA256withRSA"

// StringToSign returns the data CloudTrail signs for a digest file:
// digestEndTime, digestS3Bucket/digestS3Object, the hex SHA-256 of the
// uncompressed digest and previousDigestSignature ("null" when empty, for a
// starting digest), joined by newlines. endTime must be the digestEndTime
// text as written in the digest.
func StringToSign(endTime, bucket, key, digestSHA256, previousSignature string) string {
	if previousSignature == "" {
		previousSignature = "null"
	}
	return endTime + "\n" + bucket + "/" + key + "\n" + digestSHA256 + "\n" + previousSignature
}

// Digest is a parsed digest file with what verification needs beyond
// event.Digest: the digestEndTime text that was signed and which of the
// required members were present.
type Digest struct {
	event.Digest
	// EndTimeText is digestEndTime exactly as written (it is signed as is).
	EndTimeText string
	// Starting reports a starting digest: previousDigestS3Bucket or
	// previousDigestS3Object is null or absent.
	Starting bool
}

// digestJSON mirrors "CloudTrail digest file structure". Pointers tell null
// and absent members from empty ones; required members are checked through
// present.
type digestJSON struct {
	AWSAccountID                string          `json:"awsAccountId"`
	DigestStartTime             *string         `json:"digestStartTime"`
	DigestEndTime               *string         `json:"digestEndTime"`
	DigestS3Bucket              *string         `json:"digestS3Bucket"`
	DigestS3Object              *string         `json:"digestS3Object"`
	DigestPublicKeyFingerprint  *string         `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    *string         `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string         `json:"newestEventTime"`
	OldestEventTime             *string         `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string         `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string         `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string         `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string         `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     json.RawMessage `json:"previousDigestSignature"`
	LogFiles                    []struct {
		S3Bucket        string  `json:"s3Bucket"`
		S3Object        string  `json:"s3Object"`
		HashValue       string  `json:"hashValue"`
		HashAlgorithm   string  `json:"hashAlgorithm"`
		NewestEventTime *string `json:"newestEventTime"`
		OldestEventTime *string `json:"oldestEventTime"`
	} `json:"logFiles"`
}

// ErrInvalidDigestFormat says a digest file is not gzip'd JSON with the
// members validation needs (the AWS CLI's "invalid format").
var ErrInvalidDigestFormat = errors.New("invalid format")

// ParseDigest parses an uncompressed digest file. It fails (wrapping
// ErrInvalidDigestFormat) unless the file is a JSON object with
// digestPublicKeyFingerprint, digestS3Bucket, digestS3Object,
// previousDigestSignature (null allowed), digestEndTime and digestStartTime,
// the members the AWS CLI requires. Digest.SHA256 is the hash of data.
func ParseDigest(data []byte) (*Digest, error) {
	var dj digestJSON
	if err := json.Unmarshal(data, &dj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDigestFormat, err)
	}
	var missing []string
	req := func(name string, p *string) string {
		if p == nil {
			missing = append(missing, name)
			return ""
		}
		return *p
	}
	d := &Digest{}
	d.DigestPublicKeyFingerprint = req("digestPublicKeyFingerprint", dj.DigestPublicKeyFingerprint)
	d.DigestS3Bucket = req("digestS3Bucket", dj.DigestS3Bucket)
	d.DigestS3Object = req("digestS3Object", dj.DigestS3Object)
	d.EndTimeText = req("digestEndTime", dj.DigestEndTime)
	start := req("digestStartTime", dj.DigestStartTime)
	if dj.PreviousDigestSignature == nil {
		missing = append(missing, "previousDigestSignature")
	} else if s := bytes.TrimSpace(dj.PreviousDigestSignature); !bytes.Equal(s, []byte("null")) {
		if err := json.Unmarshal(s, &d.PreviousDigestSignature); err != nil {
			return nil, fmt.Errorf("%w: previousDigestSignature: %v", ErrInvalidDigestFormat, err)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: no %s", ErrInvalidDigestFormat, strings.Join(missing, ", "))
	}
	var err error
	if d.DigestEndTime, err = parseTime(d.EndTimeText); err != nil {
		return nil, fmt.Errorf("%w: digestEndTime: %v", ErrInvalidDigestFormat, err)
	}
	if d.DigestStartTime, err = parseTime(start); err != nil {
		return nil, fmt.Errorf("%w: digestStartTime: %v", ErrInvalidDigestFormat, err)
	}
	sum := sha256.Sum256(data)
	d.SHA256 = hex.EncodeToString(sum[:])
	d.AWSAccountID = dj.AWSAccountID
	d.DigestSignatureAlgorithm = deref(dj.DigestSignatureAlgorithm)
	d.NewestEventTime, _ = parseTime(deref(dj.NewestEventTime))
	d.OldestEventTime, _ = parseTime(deref(dj.OldestEventTime))
	d.PreviousDigestS3Bucket = deref(dj.PreviousDigestS3Bucket)
	d.PreviousDigestS3Object = deref(dj.PreviousDigestS3Object)
	d.PreviousDigestHashValue = deref(dj.PreviousDigestHashValue)
	d.PreviousDigestHashAlgorithm = deref(dj.PreviousDigestHashAlgorithm)
	d.Starting = dj.PreviousDigestS3Bucket == nil || dj.PreviousDigestS3Object == nil
	d.LogFiles = make([]event.DigestLogFile, len(dj.LogFiles))
	for i, lf := range dj.LogFiles {
		l := event.DigestLogFile{S3Bucket: lf.S3Bucket, S3Object: lf.S3Object, HashValue: lf.HashValue, HashAlgorithm: lf.HashAlgorithm}
		l.NewestEventTime, _ = parseTime(deref(lf.NewestEventTime))
		l.OldestEventTime, _ = parseTime(deref(lf.OldestEventTime))
		d.LogFiles[i] = l
	}
	return d, nil
}

// StringToSign returns the digest's string to sign (see StringToSign).
func (d *Digest) StringToSign() string {
	return StringToSign(d.EndTimeText, d.DigestS3Bucket, d.DigestS3Object, d.SHA256, d.PreviousDigestSignature)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// parseTime reads the ISO 8601 times digests use ("2015-08-17T15:01:31Z";
// fractional seconds and offsets are accepted). The empty string is the
// zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unparseable time %q", s)
}

// signatureError says why a signature does not verify; its text follows the
// AWS CLI's message after "INVALID: ".
type signatureError struct {
	kind Kind
	msg  string
}

func (e *signatureError) Error() string { return e.msg }

// VerifySignature checks a hex signature over stringToSign with an RSA
// public key given as DER (PKCS#1 RSAPublicKey, or SubjectPublicKeyInfo).
// The error texts are the AWS CLI's: "Unable to load PKCS #1 key with
// fingerprint …", "signature verification failed", or the hex decoding
// error ("Odd-length string", "Non-hexadecimal digit found").
func VerifySignature(der []byte, fingerprint, stringToSign, signatureHex string) error {
	pub, err := ParsePublicKey(der)
	if err != nil {
		return &signatureError{PublicKeyNotFound, "Unable to load PKCS #1 key with fingerprint " + fingerprint}
	}
	sig, err := decodeHex(signatureHex)
	if err != nil {
		return &signatureError{DigestModified, err.Error()}
	}
	h := sha256.Sum256([]byte(stringToSign))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
		return &signatureError{DigestModified, "signature verification failed"}
	}
	return nil
}

// decodeHex decodes like Python's binascii.unhexlify, with its messages.
func decodeHex(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, errors.New("Odd-length string")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("Non-hexadecimal digit found")
	}
	return b, nil
}

// ParsePublicKey parses a CloudTrail public key: DER PKCS#1 RSAPublicKey as
// ListPublicKeys documents, a DER SubjectPublicKeyInfo (one of the AWS
// documentation's examples is one), or either of them base64-encoded once
// more.
func ParsePublicKey(der []byte) (*rsa.PublicKey, error) {
	parse := func(b []byte) (*rsa.PublicKey, error) {
		if k, err := x509.ParsePKCS1PublicKey(b); err == nil {
			return k, nil
		}
		k, err := x509.ParsePKIXPublicKey(b)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("not an RSA key: %T", k)
		}
		return rk, nil
	}
	k, err := parse(der)
	if err == nil {
		return k, nil
	}
	if b, err2 := base64.StdEncoding.DecodeString(strings.TrimSpace(string(der))); err2 == nil {
		if k, err2 := parse(b); err2 == nil {
			return k, nil
		}
	}
	return nil, err
}

// DigestKey is what a digest file's key says.
type DigestKey struct {
	Prefix     string    // key prefix before AWSLogs/, without the trailing "/"
	OrgID      string    // o-… for organization trails
	Account    string    // the account the digest covers
	Region     string    // the region it covers (the "source region")
	Trail      string    // trail name
	HomeRegion string    // the trail's home region
	Time       time.Time // the digest's end time, from the name
	Stamp      string    // the name's YYYYMMDDTHHMMSSZ
	Backfill   bool      // a backfill digest (…_backfill.json.gz)
}

// ParseDigestKey interprets a digest key:
//
//	[prefix/]AWSLogs/[o-org/]<acct>/CloudTrail-Digest/<region>/YYYY/MM/DD/
//	    <acct>_CloudTrail-Digest_<region>_<trail>_<homeRegion>_<YYYYMMDDTHHMMSSZ>[_backfill].json.gz
func ParseDigestKey(key string) (DigestKey, bool) {
	var dk DigestKey
	i := strings.LastIndex(key, "AWSLogs/")
	if i < 0 || (i > 0 && key[i-1] != '/') {
		return dk, false
	}
	dk.Prefix = strings.TrimSuffix(key[:i], "/")
	parts := strings.Split(key[i+len("AWSLogs/"):], "/")
	if len(parts) > 0 && strings.HasPrefix(parts[0], "o-") {
		dk.OrgID, parts = parts[0], parts[1:]
	}
	if len(parts) != 7 || parts[1] != "CloudTrail-Digest" || !isAccount(parts[0]) {
		return dk, false
	}
	dk.Account, dk.Region = parts[0], parts[2]
	name, ok := strings.CutSuffix(parts[6], ".json.gz")
	if !ok {
		return dk, false
	}
	name, dk.Backfill = strings.CutSuffix(name, "_backfill")
	head := dk.Account + "_CloudTrail-Digest_" + dk.Region + "_"
	rest, ok := strings.CutPrefix(name, head)
	if !ok {
		return dk, false
	}
	// <trail>_<homeRegion>_<stamp>: trail names may hold "_", regions not.
	j := strings.LastIndexByte(rest, '_')
	if j < 0 {
		return dk, false
	}
	dk.Stamp = rest[j+1:]
	t, err := time.Parse("20060102T150405Z", dk.Stamp)
	if err != nil {
		return dk, false
	}
	dk.Time = t
	rest = rest[:j]
	if j = strings.LastIndexByte(rest, '_'); j <= 0 {
		return dk, false
	}
	dk.Trail, dk.HomeRegion = rest[:j], rest[j+1:]
	return dk, true
}

// isAccount reports whether s is a 12-digit account id.
func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// awsLogsPrefix returns "[prefix/]AWSLogs/[org/]".
func awsLogsPrefix(prefix, org string) string {
	p := "AWSLogs/"
	if prefix != "" {
		p = prefix + "/" + p
	}
	if org != "" {
		p += org + "/"
	}
	return p
}

// DigestKeyFor returns the key CloudTrail gives the digest of trail (in
// homeRegion) for account and region that ends at end, as the AWS CLI
// computes it.
func DigestKeyFor(prefix, org, account, region, trail, homeRegion string, end time.Time, backfill bool) string {
	end = end.UTC()
	k := awsLogsPrefix(prefix, org) + account + "/CloudTrail-Digest/" + region + "/" + end.Format("2006/01/02") + "/" +
		account + "_CloudTrail-Digest_" + region + "_" + trail + "_" + homeRegion + "_" + end.Format("20060102T150405Z")
	if backfill {
		k += "_backfill"
	}
	return k + ".json.gz"
}

// logFileTime returns the delivery time in a CloudTrail log file's name
// (<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz), to the
// minute.
func logFileTime(key string) (time.Time, bool) {
	name := key[strings.LastIndexByte(key, '/')+1:]
	f := strings.SplitN(name, "_", 5)
	if len(f) < 5 || f[1] != "CloudTrail" {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T1504Z", f[3])
	return t, err == nil
}

// ParseTrailARN splits arn:<partition>:cloudtrail:<region>:<account>:trail/<name>.
func ParseTrailARN(arn string) (region, account, name string, err error) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "cloudtrail" || f[3] == "" || !isAccount(f[4]) ||
		!strings.HasPrefix(f[5], "trail/") || len(f[5]) == len("trail/") {
		return "", "", "", fmt.Errorf("Invalid trail ARN provided: %s", arn)
	}
	return f[3], f[4], strings.TrimPrefix(f[5], "trail/"), nil
}
