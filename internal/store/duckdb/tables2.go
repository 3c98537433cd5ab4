package duckdb

import (
	"strconv"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/trailwatch/trailwatch/internal/event"
)

// pendingRows is what every table builder shares: the Arrow columns, the
// time range of the pending rows and the hashes seen, for exactly-once
// inserts.
type pendingRows struct {
	table
	bounds      timeBounds
	hasNullTime bool
	seen        map[uint64]struct{}
}

// init gives the rows a duplicate set of their own; an appender replaces it
// by one shared across its builders and the whole transaction.
func (p *pendingRows) init() { p.seen = map[uint64]struct{}{} }

// admit notes a row's identity and time; it returns false for a duplicate
// of a pending row.
func (p *pendingRows) admit(h uint64, t time.Time) bool {
	if _, dup := p.seen[h]; dup {
		return false
	}
	p.seen[h] = struct{}{}
	if t.IsZero() {
		p.hasNullTime = true
	} else {
		p.bounds.add(t.UnixMicro())
	}
	p.rows++
	return true
}

// reset empties the rows after they were written; the duplicate set lives
// on for the rest of the transaction.
func (p *pendingRows) reset() {
	p.table.reset()
	p.bounds = timeBounds{}
	p.hasNullTime = false
}

// accessCols builds rows of s3_access_logs, named as in AWS's documented
// Athena table for S3 server access logs.
type accessCols struct {
	pendingRows
	bucketOwner, bucket, requestDateTime, remoteIP, requester, requestID strCol
	operation, key, requestURI                                           strCol
	httpStatus                                                           *fixedCol
	errorCode                                                            strCol
	bytesSent, objectSize, totalTime, turnAroundTime                     *fixedCol
	referrer, userAgent, versionID, hostID, sigV, cipherSuite, authType  strCol
	endpoint, tlsVersion, accessPointARN, aclRequired, sourceRegion      strCol
	extraElem                                                            strCol
	extra                                                                *listCol
	requestTime                                                          *fixedCol
	raw, sourceObject                                                    strCol
	sourceLine                                                           int32Col
	ingestedAt, twHash                                                   *fixedCol
}

func newAccessCols() *accessCols {
	c := &accessCols{}
	c.init()
	c.httpStatus, c.bytesSent, c.objectSize, c.totalTime, c.turnAroundTime = newInt64Col(), newInt64Col(), newInt64Col(), newInt64Col(), newInt64Col()
	c.requestTime, c.ingestedAt, c.twHash = newTimeCol(), newTimeCol(), newUint64Col()
	c.extra = &listCol{elem: &c.extraElem}
	for _, f := range []struct {
		n string
		c column
	}{
		{"bucketowner", &c.bucketOwner}, {"bucket_name", &c.bucket}, {"requestdatetime", &c.requestDateTime},
		{"remoteip", &c.remoteIP}, {"requester", &c.requester}, {"requestid", &c.requestID},
		{"operation", &c.operation}, {"key", &c.key}, {"request_uri", &c.requestURI},
		{"httpstatus", c.httpStatus}, {"errorcode", &c.errorCode}, {"bytessent", c.bytesSent},
		{"objectsize", c.objectSize}, {"totaltime", c.totalTime}, {"turnaroundtime", c.turnAroundTime},
		{"referrer", &c.referrer}, {"useragent", &c.userAgent}, {"versionid", &c.versionID},
		{"hostid", &c.hostID}, {"sigv", &c.sigV}, {"ciphersuite", &c.cipherSuite},
		{"authtype", &c.authType}, {"endpoint", &c.endpoint}, {"tlsversion", &c.tlsVersion},
		{"accesspointarn", &c.accessPointARN}, {"aclrequired", &c.aclRequired},
		{"sourceregion", &c.sourceRegion}, {"extra", c.extra}, {"requesttime", c.requestTime},
		{"raw", &c.raw}, {"source_object", &c.sourceObject}, {"source_line", &c.sourceLine},
		{"ingested_at", c.ingestedAt}, {"tw_hash", c.twHash},
	} {
		c.add(f.n, f.c)
	}
	return c
}

// accessHash identifies an access log record: its object and line.
func accessHash(ledgerKey string, line int) uint64 {
	var b [20]byte
	h := xxh3.New()
	_, _ = h.WriteString(ledgerKey)
	_, _ = h.Write(strconv.AppendInt(append(b[:0], 0), int64(line), 10))
	return h.Sum64()
}

func (c *accessCols) append(r *event.AccessLog, source, ledgerKey string, now time.Time) bool {
	h := accessHash(ledgerKey, r.Line)
	if !c.admit(h, r.Time) {
		return false
	}
	c.bucketOwner.opt(r.BucketOwner, false)
	c.bucket.opt(r.Bucket, false)
	c.requestDateTime.opt(r.RequestDateTime, false)
	c.remoteIP.opt(r.RemoteIP, false)
	c.requester.opt(r.Requester, false)
	c.requestID.opt(r.RequestID, false)
	c.operation.opt(r.Operation, false)
	c.key.opt(r.Key, false)
	c.requestURI.opt(r.RequestURI, false)
	c.httpStatus.int(r.HTTPStatus)
	c.errorCode.opt(r.ErrorCode, false)
	c.bytesSent.int(r.BytesSent)
	c.objectSize.int(r.ObjectSize)
	c.totalTime.int(r.TotalTime)
	c.turnAroundTime.int(r.TurnAroundTime)
	c.referrer.opt(r.Referrer, false)
	c.userAgent.opt(r.UserAgent, false)
	c.versionID.opt(r.VersionID, false)
	c.hostID.opt(r.HostID, false)
	c.sigV.opt(r.SigV, false)
	c.cipherSuite.opt(r.CipherSuite, false)
	c.authType.opt(r.AuthType, false)
	c.endpoint.opt(r.HostHeader, false)
	c.tlsVersion.opt(r.TLSVersion, false)
	c.accessPointARN.opt(r.AccessPointARN, false)
	c.aclRequired.opt(r.ACLRequired, false)
	c.sourceRegion.opt(r.SourceRegion, false)
	if len(r.Extra) == 0 {
		c.extra.null()
	} else {
		for _, x := range r.Extra {
			c.extraElem.add(x)
		}
		c.extra.end(len(r.Extra))
	}
	c.requestTime.time(r.Time)
	c.raw.add(r.Raw)
	c.sourceObject.add(source)
	c.sourceLine.add(int32(r.Line))
	c.ingestedAt.add(now.UnixMicro())
	c.twHash.add(int64(h))
	return true
}

// digestCols builds rows of cloudtrail_digests.
type digestCols struct {
	pendingRows
	account                                       strCol
	start, end                                    *fixedCol
	bucket, object, fingerprint, algorithm        strCol
	newest, oldest                                *fixedCol
	prevBucket, prevObject, prevHash, prevHashAlg strCol
	prevSignature                                 strCol
	lfBucket, lfObject, lfHash, lfHashAlg         strCol
	lfNewest, lfOldest                            *fixedCol
	lfElem                                        *structCol
	logFiles                                      *listCol
	signature, signatureAlgorithm, sha256         strCol
	unmapped, raw, sourceObject                   strCol
	ingestedAt, twHash                            *fixedCol
}

func newDigestCols() *digestCols {
	c := &digestCols{}
	c.init()
	c.start, c.end, c.newest, c.oldest = newTimeCol(), newTimeCol(), newTimeCol(), newTimeCol()
	c.lfNewest, c.lfOldest, c.ingestedAt, c.twHash = newTimeCol(), newTimeCol(), newTimeCol(), newUint64Col()
	c.lfElem = newStruct("s3Bucket", &c.lfBucket, "s3Object", &c.lfObject, "hashValue", &c.lfHash,
		"hashAlgorithm", &c.lfHashAlg, "newestEventTime", c.lfNewest, "oldestEventTime", c.lfOldest)
	c.logFiles = &listCol{elem: c.lfElem}
	for _, f := range []struct {
		n string
		c column
	}{
		{"awsAccountId", &c.account}, {"digestStartTime", c.start}, {"digestEndTime", c.end},
		{"digestS3Bucket", &c.bucket}, {"digestS3Object", &c.object},
		{"digestPublicKeyFingerprint", &c.fingerprint}, {"digestSignatureAlgorithm", &c.algorithm},
		{"newestEventTime", c.newest}, {"oldestEventTime", c.oldest},
		{"previousDigestS3Bucket", &c.prevBucket}, {"previousDigestS3Object", &c.prevObject},
		{"previousDigestHashValue", &c.prevHash}, {"previousDigestHashAlgorithm", &c.prevHashAlg},
		{"previousDigestSignature", &c.prevSignature}, {"logFiles", c.logFiles},
		{"signature", &c.signature}, {"signatureAlgorithm", &c.signatureAlgorithm}, {"sha256", &c.sha256},
		{"unmapped", &c.unmapped}, {"raw", &c.raw}, {"source_object", &c.sourceObject},
		{"ingested_at", c.ingestedAt}, {"tw_hash", c.twHash},
	} {
		c.add(f.n, f.c)
	}
	return c
}

func (c *digestCols) append(d *event.Digest, source string, now time.Time) bool {
	h := xxh3.HashString(d.DigestS3Bucket + "/" + d.DigestS3Object)
	if d.DigestS3Object == "" {
		h = xxh3.HashString(d.Raw)
	}
	if !c.admit(h, d.DigestEndTime) {
		return false
	}
	c.account.opt(d.AWSAccountID, false)
	c.start.time(d.DigestStartTime)
	c.end.time(d.DigestEndTime)
	c.bucket.opt(d.DigestS3Bucket, false)
	c.object.opt(d.DigestS3Object, false)
	c.fingerprint.opt(d.DigestPublicKeyFingerprint, false)
	c.algorithm.opt(d.DigestSignatureAlgorithm, false)
	c.newest.time(d.NewestEventTime)
	c.oldest.time(d.OldestEventTime)
	c.prevBucket.opt(d.PreviousDigestS3Bucket, false)
	c.prevObject.opt(d.PreviousDigestS3Object, false)
	c.prevHash.opt(d.PreviousDigestHashValue, false)
	c.prevHashAlg.opt(d.PreviousDigestHashAlgorithm, false)
	c.prevSignature.opt(d.PreviousDigestSignature, false)
	for i := range d.LogFiles {
		l := &d.LogFiles[i]
		c.lfBucket.opt(l.S3Bucket, false)
		c.lfObject.opt(l.S3Object, false)
		c.lfHash.opt(l.HashValue, false)
		c.lfHashAlg.opt(l.HashAlgorithm, false)
		c.lfNewest.time(l.NewestEventTime)
		c.lfOldest.time(l.OldestEventTime)
		c.lfElem.v.add(true)
	}
	c.logFiles.end(len(d.LogFiles))
	c.signature.opt(d.Signature, false)
	c.signatureAlgorithm.opt(d.SignatureAlgorithm, false)
	c.sha256.opt(d.SHA256, false)
	c.unmapped.opt(string(d.Unmapped), false)
	c.raw.add(d.Raw)
	c.sourceObject.add(source)
	c.ingestedAt.add(now.UnixMicro())
	c.twHash.add(int64(h))
	return true
}
