package cloudtrail

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/trailwatch/trailwatch/internal/event"
)

// digestJSON mirrors the digest file structure documented in "CloudTrail
// digest file structure".
type digestJSON struct {
	AWSAccountID                string          `json:"awsAccountId"`
	DigestStartTime             string          `json:"digestStartTime"`
	DigestEndTime               string          `json:"digestEndTime"`
	DigestS3Bucket              string          `json:"digestS3Bucket"`
	DigestS3Object              string          `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string          `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string          `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string         `json:"newestEventTime"`
	OldestEventTime             *string         `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string         `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string         `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string         `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string         `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string         `json:"previousDigestSignature"`
	LogFiles                    []digestLogJSON `json:"logFiles"`
}

type digestLogJSON struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

var digestKeys = map[string]bool{
	"awsAccountId": true, "digestStartTime": true, "digestEndTime": true, "digestS3Bucket": true,
	"digestS3Object": true, "digestPublicKeyFingerprint": true, "digestSignatureAlgorithm": true,
	"newestEventTime": true, "oldestEventTime": true, "previousDigestS3Bucket": true,
	"previousDigestS3Object": true, "previousDigestHashValue": true, "previousDigestHashAlgorithm": true,
	"previousDigestSignature": true, "logFiles": true,
}

// digest parses the digest object at buf[start:end] into the batch.
func (p *Parser) digest(start, end int) error {
	s := &p.rp.s
	raw := s.buf[start:end]
	var dj digestJSON
	if err := json.Unmarshal(raw, &dj); err != nil {
		p.recordError(start, fmt.Sprintf("digest file: %v", err))
		return nil
	}
	// The chain hashes the whole uncompressed file; when the digest began
	// the stream, that is everything up to its end.
	hashed := raw
	if s.base == 0 {
		hashed = s.buf[:end]
	}
	sum := sha256.Sum256(hashed)
	d := event.Digest{
		AWSAccountID:               dj.AWSAccountID,
		DigestS3Bucket:             dj.DigestS3Bucket,
		DigestS3Object:             dj.DigestS3Object,
		DigestPublicKeyFingerprint: dj.DigestPublicKeyFingerprint,
		DigestSignatureAlgorithm:   dj.DigestSignatureAlgorithm,
		SHA256:                     hex.EncodeToString(sum[:]),
		Raw:                        bytesToString(raw),
	}
	d.DigestStartTime, _ = parseTime(dj.DigestStartTime)
	d.DigestEndTime, _ = parseTime(dj.DigestEndTime)
	d.NewestEventTime, _ = parseTime(deref(dj.NewestEventTime))
	d.OldestEventTime, _ = parseTime(deref(dj.OldestEventTime))
	d.PreviousDigestS3Bucket = deref(dj.PreviousDigestS3Bucket)
	d.PreviousDigestS3Object = deref(dj.PreviousDigestS3Object)
	d.PreviousDigestHashValue = deref(dj.PreviousDigestHashValue)
	d.PreviousDigestHashAlgorithm = deref(dj.PreviousDigestHashAlgorithm)
	d.PreviousDigestSignature = deref(dj.PreviousDigestSignature)
	for _, lf := range dj.LogFiles {
		l := event.DigestLogFile{S3Bucket: lf.S3Bucket, S3Object: lf.S3Object, HashValue: lf.HashValue, HashAlgorithm: lf.HashAlgorithm}
		l.NewestEventTime, _ = parseTime(lf.NewestEventTime)
		l.OldestEventTime, _ = parseTime(lf.OldestEventTime)
		d.LogFiles = append(d.LogFiles, l)
	}
	// Keep unknown top-level members.
	p.rp.unmapped.begin()
	_, _ = s.object(start, func(k []byte, _ bool, v int) (int, error) {
		j, err := s.skip(v)
		if err == nil && !digestKeys[string(k)] {
			p.rp.unmapped.add(nil, string(k), s.buf[v:j])
		}
		return j, err
	})
	d.Unmapped = p.rp.unmapped.finish(s)
	p.batch.Digests = append(p.batch.Digests, d)
	p.index++
	p.good++
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
