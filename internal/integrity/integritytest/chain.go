// Package integritytest writes CloudTrail digest chains signed with a key
// of the caller's, laid out as a local copy of a trail's bucket, for tests
// and benchmarks of package integrity. Tests tamper with what it writes to
// produce each finding.
package integritytest

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// NewKey returns a fresh RSA-2048 signing key.
func NewKey() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
}

// Fingerprint returns the key's fingerprint as CloudTrail computes it: the
// hex MD5 of the PKCS#1 DER public key.
func Fingerprint(key *rsa.PrivateKey) string {
	s := md5.Sum(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	return hex.EncodeToString(s[:])
}

// WritePublicKeys writes key's public key valid from–to in the format of
// `aws cloudtrail list-public-keys` (AWS CLI v1: epoch seconds).
func WritePublicKeys(path string, from, to time.Time, keys ...*rsa.PrivateKey) error {
	type pk struct {
		ValidityStartTime string
		ValidityEndTime   string
		Value             string
		Fingerprint       string
	}
	var list []pk
	for _, k := range keys {
		list = append(list, pk{
			ValidityStartTime: strconv.FormatInt(from.Unix(), 10) + ".0",
			ValidityEndTime:   strconv.FormatInt(to.Unix(), 10) + ".0",
			Value:             base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&k.PublicKey)),
			Fingerprint:       Fingerprint(k),
		})
	}
	data, err := json.MarshalIndent(map[string]any{"PublicKeyList": list}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// Sign returns the hex SHA256withRSA signature of s.
func Sign(key *rsa.PrivateKey, s string) (string, error) {
	h := sha256.Sum256([]byte(s))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sig), nil
}

// Options describe a chain. Zero fields take the defaults in brackets.
type Options struct {
	Root          string    // the chain goes to Root/<Bucket>/… (required)
	Bucket        string    // [trail-bucket]
	Prefix        string    // key prefix before AWSLogs/ [none]
	OrgID         string    // organization id for an organization trail [none]
	Account       string    // [111122223333]
	Region        string    // the region the chain covers [us-east-1]
	Trail         string    // [test-trail]
	HomeRegion    string    // [Region]
	Start         time.Time // start of the first digest [2026-03-01T00:20:34Z]
	Hours         int       // digests written [6]
	FilesPerHour  int       // log files listed per digest [2]; -1 for none
	EventsPerFile int       // events per log file [3]
	Key           *rsa.PrivateKey
	// Restart makes digest i a starting digest after n hours without
	// digests (n may be 0): logging was stopped and started.
	Restart map[int]int
	// LogDuringGap writes log files (listed in no digest) in the hours of
	// a Restart gap: validation was off, logging on.
	LogDuringGap bool
	// NoSidecars leaves out the <digest>.metadata.json signature sidecars
	// (a plain download).
	NoSidecars bool
	// Records returns extra JSON records for log file j of hour i (not
	// for the files of a gap).
	Records func(i, j int) []string
	Seed    uint64
}

// Chain is what Write wrote.
type Chain struct {
	Dir      string     // Root/<Bucket>
	Bucket   string     // bucket name
	Digests  []string   // digest keys, oldest first
	LogFiles [][]string // the log file keys each digest lists
	Gap      [][]string // log files written during gaps (LogDuringGap), listed in no digest
	Ends     []time.Time
	Trail    string
	ARN      string // the trail's ARN
}

// Path returns the local file of key.
func (c *Chain) Path(key string) string { return filepath.Join(c.Dir, filepath.FromSlash(key)) }

func (o *Options) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Bucket, "trail-bucket")
	def(&o.Account, "111122223333")
	def(&o.Region, "us-east-1")
	def(&o.Trail, "test-trail")
	def(&o.HomeRegion, o.Region)
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 3, 1, 0, 20, 34, 0, time.UTC)
	}
	if o.Hours == 0 {
		o.Hours = 6
	}
	if o.FilesPerHour == 0 {
		o.FilesPerHour = 2
	}
	if o.FilesPerHour < 0 {
		o.FilesPerHour = 0
	}
	if o.EventsPerFile <= 0 {
		o.EventsPerFile = 3
	}
}

func (o *Options) base() string {
	p := "AWSLogs/"
	if o.Prefix != "" {
		p = o.Prefix + "/" + p
	}
	if o.OrgID != "" {
		p += o.OrgID + "/"
	}
	return p + o.Account + "/"
}

// DigestKey returns the key of the digest of o's chain ending at end.
func (o Options) DigestKey(end time.Time) string {
	o.defaults()
	return o.base() + "CloudTrail-Digest/" + o.Region + "/" + end.Format("2006/01/02") + "/" +
		o.Account + "_CloudTrail-Digest_" + o.Region + "_" + o.Trail + "_" + o.HomeRegion + "_" + end.Format("20060102T150405Z") + ".json.gz"
}

// logFile is one log file to write.
type logFile struct {
	key  string
	sha  string
	t    time.Time
	oldT time.Time
}

// Write writes the chain: the log files (gzip'd), the digests (gzip'd,
// chained and signed) and their sidecars.
func Write(o Options) (*Chain, error) {
	o.defaults()
	if o.Root == "" || o.Key == nil {
		return nil, fmt.Errorf("integritytest: Root and Key are required")
	}
	c := &Chain{Dir: filepath.Join(o.Root, o.Bucket), Bucket: o.Bucket, Trail: o.Trail,
		ARN: "arn:aws:cloudtrail:" + o.HomeRegion + ":" + o.Account + ":trail/" + o.Trail}
	// Digest windows, skipping gap hours.
	type hour struct {
		start, end time.Time
		starting   bool
		gap        []time.Time // hour starts skipped before this digest
	}
	var hours []hour
	t := o.Start
	for i := range o.Hours {
		var h hour
		if n, ok := o.Restart[i]; ok {
			for range n {
				h.gap = append(h.gap, t)
				t = t.Add(time.Hour)
			}
			h.starting = true
		}
		h.start, h.end = t, t.Add(time.Hour)
		h.starting = h.starting || i == 0
		hours = append(hours, h)
		t = h.end
	}
	// Log files, in parallel.
	files := make([][]logFile, len(hours))
	gapFiles := make([][]logFile, len(hours))
	type job struct {
		i, j  int
		t     time.Time
		isGap bool
	}
	var jobs []job
	for i, h := range hours {
		files[i] = make([]logFile, o.FilesPerHour)
		for j := range o.FilesPerHour {
			jobs = append(jobs, job{i, j, h.start.Add(time.Duration(j+1) * time.Hour / time.Duration(o.FilesPerHour+1)), false})
		}
		if o.LogDuringGap {
			for _, gs := range h.gap {
				gapFiles[i] = append(gapFiles[i], logFile{})
				jobs = append(jobs, job{i, len(gapFiles[i]) - 1, gs.Add(30 * time.Minute), true})
			}
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan job)
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var gz bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
			for jb := range next {
				lf, err := writeLog(&o, c, zw, &gz, jb.i, jb.j, jb.t, !jb.isGap)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if jb.isGap {
					gapFiles[jb.i][jb.j] = lf
				} else {
					files[jb.i][jb.j] = lf
				}
				mu.Unlock()
			}
		})
	}
	for _, jb := range jobs {
		next <- jb
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	// Digests, in order: each names the previous one's hash and signature.
	var prevKey, prevSHA, prevSig string
	for i, h := range hours {
		if h.starting {
			prevKey, prevSHA, prevSig = "", "", ""
		}
		key := o.DigestKey(h.end)
		data := digestJSON(&o, h.start, h.end, key, files[i], prevKey, prevSHA, prevSig)
		sum := sha256.Sum256(data)
		sha := hex.EncodeToString(sum[:])
		prev := prevSig
		if prev == "" {
			prev = "null"
		}
		sig, err := Sign(o.Key, h.end.Format("2006-01-02T15:04:05Z")+"\n"+o.Bucket+"/"+key+"\n"+sha+"\n"+prev)
		if err != nil {
			return nil, err
		}
		if err := writeGz(c.Path(key), data); err != nil {
			return nil, err
		}
		if !o.NoSidecars {
			meta := `{"signature":"` + sig + `","signature-algorithm":"SHA256withRSA"}` + "\n"
			if err := os.WriteFile(c.Path(key)+".metadata.json", []byte(meta), 0o644); err != nil {
				return nil, err
			}
		}
		c.Digests = append(c.Digests, key)
		c.Ends = append(c.Ends, h.end)
		var keys []string
		for _, f := range files[i] {
			keys = append(keys, f.key)
		}
		c.LogFiles = append(c.LogFiles, keys)
		var gk []string
		for _, f := range gapFiles[i] {
			gk = append(gk, f.key)
		}
		c.Gap = append(c.Gap, gk)
		prevKey, prevSHA, prevSig = key, sha, sig
	}
	return c, nil
}

// writeLog writes one log file delivered at t.
func writeLog(o *Options, c *Chain, zw *gzip.Writer, gz *bytes.Buffer, i, j int, t time.Time, records bool) (logFile, error) {
	seq := uint64(i)<<20 | uint64(j)
	if !records {
		seq |= 1 << 40 // gap files get names of their own
	}
	r := mrand.New(mrand.NewPCG(o.Seed, seq))
	uniq := make([]byte, 16)
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for k := range uniq {
		uniq[k] = alnum[r.IntN(len(alnum))]
	}
	key := o.base() + "CloudTrail/" + o.Region + "/" + t.Format("2006/01/02") + "/" +
		o.Account + "_CloudTrail_" + o.Region + "_" + t.Format("20060102T1504Z") + "_" + string(uniq) + ".json.gz"
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	oldest := t.Add(-5 * time.Minute)
	for e := range o.EventsPerFile {
		if e > 0 {
			b.WriteByte(',')
		}
		writeEvent(&b, r, o, oldest.Add(time.Duration(e)*time.Second))
	}
	if o.Records != nil && records {
		for _, rec := range o.Records(i, j) {
			b.WriteByte(',') // after at least one event
			b.WriteString(rec)
		}
	}
	b.WriteString("]}")
	data := []byte(b.String())
	sum := sha256.Sum256(data)
	gz.Reset()
	zw.Reset(gz)
	if _, err := zw.Write(data); err != nil {
		return logFile{}, err
	}
	if err := zw.Close(); err != nil {
		return logFile{}, err
	}
	p := c.Path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return logFile{}, err
	}
	if err := os.WriteFile(p, gz.Bytes(), 0o644); err != nil {
		return logFile{}, err
	}
	return logFile{key: key, sha: hex.EncodeToString(sum[:]), t: t, oldT: oldest}, nil
}

// writeEvent writes a realistic-size management event (~1.4 KB).
func writeEvent(b *strings.Builder, r *mrand.Rand, o *Options, t time.Time) {
	id := func(n int) string {
		const hexd = "0123456789abcdef"
		s := make([]byte, n)
		for i := range s {
			s[i] = hexd[r.IntN(16)]
		}
		return string(s)
	}
	names := []string{"DescribeInstances", "GetObject", "AssumeRole", "ListBuckets", "PutObject", "GetCallerIdentity", "DescribeSecurityGroups"}
	users := []string{"alice", "bob", "carol", "ci-deploy", "backup"}
	u := users[r.IntN(len(users))]
	fmt.Fprintf(b, `{"eventVersion":"1.11","userIdentity":{"type":"IAMUser","principalId":"AIDA%s","arn":"arn:aws:iam::%s:user/%s","accountId":"%s","accessKeyId":"AKIA%s","userName":"%s","sessionContext":{"attributes":{"creationDate":"%s","mfaAuthenticated":"false"}}},`,
		strings.ToUpper(id(16)), o.Account, u, o.Account, strings.ToUpper(id(16)), u, t.Add(-time.Hour).Format(time.RFC3339))
	fmt.Fprintf(b, `"eventTime":"%s","eventSource":"ec2.amazonaws.com","eventName":"%s","awsRegion":"%s","sourceIPAddress":"198.51.100.%d","userAgent":"aws-cli/2.15.%d Python/3.11.6 Linux/6.1.0 exe/x86_64.debian.12 prompt/off command/ec2.describe-instances",`,
		t.Format("2006-01-02T15:04:05Z"), names[r.IntN(len(names))], o.Region, r.IntN(250), r.IntN(40))
	fmt.Fprintf(b, `"requestParameters":{"instancesSet":{"items":[{"instanceId":"i-%s"}]},"filterSet":{},"includeAllInstances":false,"maxResults":%d},"responseElements":null,`, id(17), 5+r.IntN(995))
	fmt.Fprintf(b, `"requestID":"%s-%s-%s-%s-%s","eventID":"%s-%s-%s-%s-%s","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"%s","eventCategory":"Management",`,
		id(8), id(4), id(4), id(4), id(12), id(8), id(4), id(4), id(4), id(12), o.Account)
	fmt.Fprintf(b, `"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.%s.amazonaws.com"}}`, o.Region)
}

// digestJSON renders a digest file.
func digestJSON(o *Options, start, end time.Time, key string, files []logFile, prevKey, prevSHA, prevSig string) []byte {
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
	type lf struct {
		S3Bucket        string `json:"s3Bucket"`
		S3Object        string `json:"s3Object"`
		HashValue       string `json:"hashValue"`
		HashAlgorithm   string `json:"hashAlgorithm"`
		NewestEventTime string `json:"newestEventTime"`
		OldestEventTime string `json:"oldestEventTime"`
	}
	type dj struct {
		AWSAccountID                string  `json:"awsAccountId"`
		DigestStartTime             string  `json:"digestStartTime"`
		DigestEndTime               string  `json:"digestEndTime"`
		DigestS3Bucket              string  `json:"digestS3Bucket"`
		DigestS3Object              string  `json:"digestS3Object"`
		DigestPublicKeyFingerprint  string  `json:"digestPublicKeyFingerprint"`
		DigestSignatureAlgorithm    string  `json:"digestSignatureAlgorithm"`
		NewestEventTime             *string `json:"newestEventTime"`
		OldestEventTime             *string `json:"oldestEventTime"`
		PreviousDigestS3Bucket      *string `json:"previousDigestS3Bucket"`
		PreviousDigestS3Object      *string `json:"previousDigestS3Object"`
		PreviousDigestHashValue     *string `json:"previousDigestHashValue"`
		PreviousDigestHashAlgorithm *string `json:"previousDigestHashAlgorithm"`
		PreviousDigestSignature     *string `json:"previousDigestSignature"`
		LogFiles                    []lf    `json:"logFiles"`
	}
	d := dj{AWSAccountID: o.Account, DigestStartTime: ts(start), DigestEndTime: ts(end), DigestS3Bucket: o.Bucket, DigestS3Object: key,
		DigestPublicKeyFingerprint: Fingerprint(o.Key), DigestSignatureAlgorithm: "SHA256withRSA", LogFiles: []lf{}}
	if len(files) > 0 {
		n, old := ts(files[len(files)-1].t), ts(files[0].oldT)
		d.NewestEventTime, d.OldestEventTime = &n, &old
	}
	if prevKey != "" {
		algo := "SHA-256"
		d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, d.PreviousDigestHashValue = &o.Bucket, &prevKey, &prevSHA
		d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature = &algo, &prevSig
	}
	for _, f := range files {
		d.LogFiles = append(d.LogFiles, lf{S3Bucket: o.Bucket, S3Object: f.key, HashValue: f.sha, HashAlgorithm: "SHA-256",
			NewestEventTime: ts(f.t), OldestEventTime: ts(f.oldT)})
	}
	data, _ := json.Marshal(d)
	return data
}

// writeGz writes data gzip'd to path, creating directories.
func writeGz(path string, data []byte) error {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// WriteGz writes data gzip'd to path (to tamper with a copy).
func WriteGz(path string, data []byte) error { return writeGz(path, data) }

// ReadGz reads a gzip'd file.
func ReadGz(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(zr)
	return b.Bytes(), err
}

// Resign rewrites the digest key of c with data (uncompressed JSON) and a
// valid signature by key over it, keeping previousSignature as the digest's
// previousDigestSignature ("" for a starting digest): what an attacker
// holding a signing key would do.
func Resign(c *Chain, digestKey string, data []byte, key *rsa.PrivateKey, endTime, previousSignature string) error {
	sum := sha256.Sum256(data)
	prev := previousSignature
	if prev == "" {
		prev = "null"
	}
	sig, err := Sign(key, endTime+"\n"+c.Bucket+"/"+digestKey+"\n"+hex.EncodeToString(sum[:])+"\n"+prev)
	if err != nil {
		return err
	}
	if err := writeGz(c.Path(digestKey), data); err != nil {
		return err
	}
	meta := `{"signature":"` + sig + `","signature-algorithm":"SHA256withRSA"}` + "\n"
	return os.WriteFile(c.Path(digestKey)+".metadata.json", []byte(meta), 0o644)
}
