package cloudtrail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	// The chain hashes the whole uncompressed file: when the digest is the
	// stream's only value (nothing before it; the bytes before it are kept
	// in the buffer for the first value) and only whitespace follows, hash
	// every byte; otherwise the object's own bytes.
	whole := false
	if p.index == 0 && s.base == 0 && onlySpace(bytes.TrimPrefix(s.buf[:start], []byte("\xef\xbb\xbf"))) {
		var err error
		if whole, err = p.onlySpaceFollows(end); err != nil {
			return err
		}
	}
	raw := s.buf[start:end] // after the read-ahead, which may move the buffer
	var dj digestJSON
	if err := json.Unmarshal(raw, &dj); err != nil {
		p.recordError(start, fmt.Sprintf("digest file: %v", err))
		return nil
	}
	hashed := raw
	if whole {
		hashed = s.buf
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

// onlySpaceFollows reports whether only whitespace follows buffer index i
// up to the end of input, reading ahead as needed. Call it only while
// s.base == 0 and the batch is empty: the buffer is kept from 0, so
// indexes stay valid.
func (p *Parser) onlySpaceFollows(i int) (bool, error) {
	s := &p.rp.s
	for {
		if i = s.ws(i); i < len(s.buf) {
			return false, nil
		}
		if _, err := p.fill(0); errors.Is(err, errShort) {
			return true, nil
		} else if err != nil {
			return false, err
		}
	}
}

// onlySpace reports whether b is JSON whitespace only.
func onlySpace(b []byte) bool {
	return len(bytes.Trim(b, " \t\r\n")) == 0
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
