package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// testOptions are small options that still exercise every feature.
func testOptions(dir string) Options {
	return Options{
		Dir:            dir,
		Seed:           42,
		Hours:          4,
		Accounts:       3,
		Regions:        []string{"us-east-1", "eu-west-1"},
		Events:         3000,
		AccessLogLines: 1000,
		Attacks:        true,
	}
}

// tree is a generated data set read back for checks.
type tree struct {
	dir     string
	sum     Summary
	records []record
	files   map[string][]byte // bucket/key -> bytes as stored
	digests []digestFile
	sidecar map[string]string // digest bucket/key -> signature
	alLines []alParsed
	insight []map[string]any
}

type record struct {
	file string
	raw  json.RawMessage
	m    map[string]any
	t    time.Time
}

func (r *record) s(path ...string) string {
	var v any = r.m
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

type digestFile struct {
	key string
	raw []byte
	d   map[string]any
}

type alParsed struct {
	key    string
	fields []string
}

var (
	fixtureOnce sync.Once
	fixture     *tree
	fixtureErr  error
)

// attackTree generates (once) the small data set with attacks.
func attackTree(t *testing.T) *tree {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gen-test-*")
		if err != nil {
			fixtureErr = err
			return
		}
		fixture, fixtureErr = generateAndRead(dir, testOptions(dir))
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

func generateAndRead(dir string, opts Options) (*tree, error) {
	sum, err := Generate(context.Background(), opts)
	if err != nil {
		return nil, err
	}
	tr := &tree{dir: dir, sum: sum, files: map[string][]byte{}, sidecar: map[string]string{}}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		tr.files[rel] = b
		return nil
	})
	return tr, err
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// keyOrder lists CloudTrail record keys in the order AWS writes them.
var keyOrder = []string{"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters", "responseElements", "additionalEventData", "requestID", "eventID", "readOnly", "resources", "eventType", "apiVersion", "managementEvent", "recipientAccountId", "sharedEventID", "vpcEndpointId", "vpcEndpointAccountId", "eventCategory", "tlsDetails", "sessionCredentialFromConsole"}

var required = []string{"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "eventType", "managementEvent", "recipientAccountId", "eventCategory"}

// topKeys returns an object's keys in order.
func topKeys(raw []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// tokenize splits an access-log line into fields, keeping [..] and ".."
// (with \" escapes) together.
func tokenize(line string) []string {
	var out []string
	for i := 0; i < len(line); {
		switch line[i] {
		case ' ':
			i++
		case '[':
			j := strings.IndexByte(line[i:], ']')
			out = append(out, line[i:i+j+1])
			i += j + 1
		case '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			out = append(out, line[i:j+1])
			i = j + 1
		default:
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			out = append(out, line[i:i+j])
			i += j
		}
	}
	return out
}

// parseTree decodes and checks every object's format, and loads records.
func parseTree(t *testing.T, tr *tree) {
	t.Helper()
	if tr.records != nil {
		return
	}
	var logFiles, digestN, insightN, alFiles int
	for _, rel := range sortedKeys(tr.files) {
		b := tr.files[rel]
		bucket, key, _ := strings.Cut(rel, "/")
		if !strings.Contains(rel, "/") {
			continue // stories.json, public-keys.json
		}
		if strings.HasSuffix(key, ".metadata.json") {
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			if m["signature-algorithm"] != "SHA256withRSA" {
				t.Errorf("%s: algorithm %q", rel, m["signature-algorithm"])
			}
			tr.sidecar[bucket+"/"+strings.TrimSuffix(key, ".metadata.json")] = m["signature"]
			continue
		}
		ki := event.ClassifyKey(key)
		switch ki.Kind {
		case event.KindCloudTrail:
			logFiles++
			raw := gunzip(t, b)
			if !bytes.HasPrefix(raw, []byte(`{"Records":[{`)) || bytes.ContainsAny(raw, "\n\r") || bytes.Contains(raw, []byte(`": `)) {
				t.Fatalf("%s: not compact one-line Records JSON", rel)
			}
			var f struct{ Records []json.RawMessage }
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			if ki.OrgID == "" || ki.AccountID == "" || ki.Date.IsZero() || !strings.HasPrefix(bucket, "aws-cloudtrail-logs-") {
				t.Fatalf("%s: bad key info %+v", rel, ki)
			}
			var prev time.Time
			for i, rr := range f.Records {
				rec := record{file: rel, raw: rr}
				if err := json.Unmarshal(rr, &rec.m); err != nil {
					t.Fatalf("%s[%d]: %v", rel, i, err)
				}
				var keys []string
				if i%4 == 0 || rec.m["errorCode"] != nil {
					var err error
					if keys, err = topKeys(rr); err != nil {
						t.Fatalf("%s[%d]: %v", rel, i, err)
					}
				}
				for _, k := range required {
					if _, ok := rec.m[k]; !ok {
						t.Fatalf("%s[%d]: missing %s: %s", rel, i, k, rr)
					}
				}
				// Keys in AWS order.
				pos := -1
				for _, k := range keys {
					j := slices.Index(keyOrder, k)
					if j <= pos {
						t.Fatalf("%s[%d]: key %s out of order: %v", rel, i, k, keys)
					}
					pos = j
				}
				var err error
				rec.t, err = time.Parse(time.RFC3339, rec.s("eventTime"))
				if err != nil {
					t.Fatalf("%s[%d]: eventTime: %v", rel, i, err)
				}
				if rec.t.Before(ki.Date.Add(-5*time.Minute)) || !rec.t.Before(ki.Date) {
					t.Fatalf("%s[%d]: eventTime %v outside the file's window", rel, i, rec.t)
				}
				if rec.t.Before(prev) {
					t.Fatalf("%s[%d]: records not sorted by eventTime", rel, i)
				}
				prev = rec.t
				if rec.s("recipientAccountId") != ki.AccountID || rec.s("awsRegion") != ki.Region {
					t.Fatalf("%s[%d]: account/region %s/%s", rel, i, rec.s("recipientAccountId"), rec.s("awsRegion"))
				}
				if _, ok := rec.m["errorMessage"]; ok && rec.s("errorCode") == "" && rec.s("eventName") != "ConsoleLogin" {
					t.Fatalf("%s[%d]: errorMessage without errorCode", rel, i)
				}
				tr.records = append(tr.records, rec)
			}
		case event.KindDigest:
			digestN++
			raw := gunzip(t, b)
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			tr.digests = append(tr.digests, digestFile{key: key, raw: raw, d: d})
			if ki.Trail != "org-trail" {
				t.Errorf("%s: trail %q", rel, ki.Trail)
			}
		case event.KindInsight:
			insightN++
			var f struct{ Records []map[string]any }
			if err := json.Unmarshal(gunzip(t, b), &f); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			tr.insight = append(tr.insight, f.Records...)
		case event.KindAccessLog:
			alFiles++
			if !strings.HasPrefix(bucket, "s3-access-logs-") {
				t.Fatalf("%s: access log in bucket %s", rel, bucket)
			}
			if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
				t.Fatalf("%s: access logs must not be gzip'd", rel)
			}
			partitioned := strings.Count(key, "/") > 2
			if partitioned && (ki.AccountID == "" || ki.Bucket == "" || ki.Region == "") {
				t.Fatalf("%s: partitioned key not recognised: %+v", rel, ki)
			}
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				f := tokenize(sc.Text())
				if len(f) != 27 {
					t.Fatalf("%s: %d fields: %s", rel, len(f), sc.Text())
				}
				if _, err := time.Parse("[02/Jan/2006:15:04:05 -0700]", f[2]); err != nil {
					t.Fatalf("%s: time %q: %v", rel, f[2], err)
				}
				if partitioned && f[1] != ki.Bucket {
					t.Fatalf("%s: bucket %s in %s's log", rel, f[1], ki.Bucket)
				}
				tr.alLines = append(tr.alLines, alParsed{key: rel, fields: f})
			}
		default:
			t.Fatalf("%s: unrecognised key", rel)
		}
	}
	s := tr.sum
	if logFiles != s.LogFiles || digestN != s.DigestFiles || insightN != s.InsightFiles || alFiles != s.AccessLogFiles {
		t.Errorf("file counts: got %d/%d/%d/%d, summary %+v", logFiles, digestN, insightN, alFiles, s)
	}
	if len(tr.records) != s.Events || len(tr.alLines) != s.AccessLogLines || len(tr.insight) != s.InsightEvents {
		t.Errorf("record counts: got %d/%d/%d, summary %d/%d/%d", len(tr.records), len(tr.alLines), len(tr.insight), s.Events, s.AccessLogLines, s.InsightEvents)
	}
}

func TestGenerateLayout(t *testing.T) {
	tr := attackTree(t)
	parseTree(t, tr)
	if tr.sum.LogFiles == 0 || tr.sum.DigestFiles == 0 || tr.sum.AccessLogFiles == 0 || tr.sum.InsightFiles != 1 {
		t.Fatalf("summary: %+v", tr.sum)
	}
	var total int64
	for _, b := range tr.files {
		total += int64(len(b))
	}
	if total != tr.sum.Bytes {
		t.Errorf("Bytes = %d, files hold %d", tr.sum.Bytes, total)
	}
	for _, name := range []string{"stories.json", "public-keys.json"} {
		if _, ok := tr.files[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	small := func(dir string) Options {
		o := testOptions(dir)
		o.Hours, o.Events, o.AccessLogLines, o.Accounts = 2, 1500, 400, 2
		return o
	}
	hashes := func(workers int) map[string]string {
		dir := t.TempDir()
		opts := small(dir)
		opts.Workers = workers
		if _, err := Generate(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, path)
			s := sha256.Sum256(b)
			out[rel] = hex.EncodeToString(s[:])
			return nil
		})
		return out
	}
	a, b := hashes(1), hashes(4)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d vs %d files", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s differs between runs", k)
		}
	}
	// Another seed gives other data.
	var x, y bytes.Buffer
	if err := WriteRecordsFile(context.Background(), &x, 50, 1); err != nil {
		t.Fatal(err)
	}
	if err := WriteRecordsFile(context.Background(), &y, 50, 2); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Error("seeds 1 and 2 give the same records")
	}
}

func TestDigestsVerify(t *testing.T) {
	tr := attackTree(t)
	parseTree(t, tr)
	var pk struct {
		PublicKeyList []struct{ Value, Fingerprint, ValidityStartTime, ValidityEndTime string } `json:"publicKeyList"`
	}
	if err := json.Unmarshal(tr.files["public-keys.json"], &pk); err != nil || len(pk.PublicKeyList) != 1 {
		t.Fatalf("public-keys.json: %v %+v", err, pk)
	}
	der, err := base64.StdEncoding.DecodeString(pk.PublicKeyList[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	fp := md5.Sum(der)
	if hex.EncodeToString(fp[:]) != pk.PublicKeyList[0].Fingerprint {
		t.Fatal("fingerprint is not md5(PKCS#1 DER)")
	}
	trail := ""
	for k := range tr.files {
		if strings.HasPrefix(k, "aws-cloudtrail-logs-") {
			trail, _, _ = strings.Cut(k, "/")
			break
		}
	}
	type chainKey struct{ acct, region string }
	chains := map[chainKey][]digestFile{}
	covered := map[string]int{}
	for _, d := range tr.digests {
		str := func(k string) string { s, _ := d.d[k].(string); return s }
		if str("digestS3Object") != d.key || str("digestS3Bucket") != trail || str("digestPublicKeyFingerprint") != pk.PublicKeyList[0].Fingerprint || str("digestSignatureAlgorithm") != "SHA256withRSA" {
			t.Fatalf("%s: header %v", d.key, d.d)
		}
		sig := tr.sidecar[trail+"/"+d.key]
		prev := str("previousDigestSignature")
		if prev == "" {
			prev = "null"
		}
		sum := sha256.Sum256(d.raw)
		sts := str("digestEndTime") + "\n" + trail + "/" + d.key + "\n" + hex.EncodeToString(sum[:]) + "\n" + prev
		h := sha256.Sum256([]byte(sts))
		sb, _ := hex.DecodeString(sig)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sb); err != nil {
			t.Fatalf("%s: signature: %v", d.key, err)
		}
		for _, lf := range d.d["logFiles"].([]any) {
			m := lf.(map[string]any)
			obj := m["s3Object"].(string)
			b, ok := tr.files[trail+"/"+obj]
			if !ok {
				t.Fatalf("%s lists missing %s", d.key, obj)
			}
			s := sha256.Sum256(gunzip(t, b))
			if hex.EncodeToString(s[:]) != m["hashValue"] || m["hashAlgorithm"] != "SHA-256" {
				t.Fatalf("%s: hash of %s", d.key, obj)
			}
			covered[obj]++
		}
		ki := event.ClassifyKey(d.key)
		chains[chainKey{ki.AccountID, ki.Region}] = append(chains[chainKey{ki.AccountID, ki.Region}], d)
	}
	gapAcct := ""
	for _, s := range tr.sum.Stories {
		if s.ID == "cloudtrail-stopped" {
			gapAcct = s.Account
		}
	}
	for k, ds := range chains {
		slices.SortFunc(ds, func(a, b digestFile) int {
			return strings.Compare(a.d["digestEndTime"].(string), b.d["digestEndTime"].(string))
		})
		starts := 0
		for i, d := range ds {
			if d.d["previousDigestS3Object"] == nil {
				starts++
				continue
			}
			if i == 0 {
				t.Fatalf("%v: first digest has a previous digest", k)
			}
			p := ds[i-1]
			ps := sha256.Sum256(p.raw)
			if d.d["previousDigestS3Object"] != p.key || d.d["previousDigestHashValue"] != hex.EncodeToString(ps[:]) || d.d["previousDigestSignature"] != tr.sidecar[trail+"/"+p.key] || d.d["digestStartTime"] != p.d["digestEndTime"] {
				t.Fatalf("%s: broken link to %s", d.key, p.key)
			}
		}
		want := 1
		if k.acct == gapAcct {
			want = 2
		}
		if starts != want {
			t.Errorf("%v: %d starting digests, want %d", k, starts, want)
		}
	}
	for rel := range tr.files {
		bucket, key, _ := strings.Cut(rel, "/")
		ki := event.ClassifyKey(key)
		if bucket != trail || ki.Kind != event.KindCloudTrail || ki.AccountID == gapAcct {
			continue
		}
		if covered[key] != 1 {
			t.Errorf("%s is in %d digests", key, covered[key])
		}
	}
}

func TestStories(t *testing.T) {
	tr := attackTree(t)
	parseTree(t, tr)
	var stories []Story
	if err := json.Unmarshal(tr.files["stories.json"], &stories); err != nil {
		t.Fatal(err)
	}
	if len(stories) != 7 || !slices.IsSortedFunc(stories, func(a, b Story) int { return a.Start.Compare(b.Start) }) {
		t.Fatalf("stories: %d, sorted %v", len(stories), stories)
	}
	by := map[string]Story{}
	for _, s := range stories {
		by[s.ID] = s
		if !strings.HasPrefix(s.SourceIP, "203.0.113.") || s.Actor == "" || s.End.Before(s.Start) || len(s.EventNames) == 0 {
			t.Errorf("story %s: %+v", s.ID, s)
		}
		// Every story event name is in the data, by the actor, in the window.
		for _, name := range s.EventNames {
			found := false
			for i := range tr.records {
				r := &tr.records[i]
				if r.s("eventName") == name && r.s("userIdentity", "arn") == s.Actor && !r.t.Before(s.Start) && !r.t.After(s.End) {
					found = true
					break
				}
			}
			if !found && name != "AssumeRole" {
				t.Errorf("story %s: no %s by %s", s.ID, name, s.Actor)
			}
		}
	}
	recs := func(pred func(r *record) bool) []*record {
		var out []*record
		for i := range tr.records {
			if pred(&tr.records[i]) {
				out = append(out, &tr.records[i])
			}
		}
		return out
	}

	t.Run("recon", func(t *testing.T) {
		s := by["ci-key-recon"]
		rs := recs(func(r *record) bool {
			return r.s("userIdentity", "arn") == s.Actor && r.s("sourceIPAddress") == s.SourceIP
		})
		slices.SortStableFunc(rs, func(a, b *record) int { return a.t.Compare(b.t) })
		if len(rs) == 0 || rs[0].s("eventName") != "GetCallerIdentity" {
			t.Fatal("recon does not start with GetCallerIdentity")
		}
		denied := 0
		regions := map[string]bool{}
		for _, r := range rs {
			if r.s("errorCode") != "" && r.t.Sub(s.Start) <= 5*time.Minute {
				denied++
				regions[r.s("awsRegion")] = true
			}
		}
		if denied < 30 || len(regions) < 8 {
			t.Errorf("%d denied calls in 5 minutes over %d regions", denied, len(regions))
		}
		if len(tr.insight) != 2 || tr.insight[0]["insightDetails"].(map[string]any)["state"] != "Start" || tr.insight[1]["insightDetails"].(map[string]any)["insightType"] != "ApiErrorRateInsight" {
			t.Errorf("insight: %v", tr.insight)
		}
	})
	t.Run("backdoor", func(t *testing.T) {
		s := by["iam-backdoor-key"]
		ck := recs(func(r *record) bool {
			return r.s("eventName") == "CreateAccessKey" && r.s("userIdentity", "arn") == s.Actor
		})
		if len(ck) != 1 || strings.HasSuffix(s.Actor, "/"+ck[0].s("requestParameters", "userName")) {
			t.Fatalf("CreateAccessKey for another user: %v", ck)
		}
		ap := recs(func(r *record) bool {
			return r.s("eventName") == "AttachUserPolicy" && r.s("requestParameters", "policyArn") == adminPolicy && r.s("userIdentity", "arn") == s.Actor
		})
		if len(ap) != 1 {
			t.Fatal("no AttachUserPolicy AdministratorAccess")
		}
	})
	t.Run("stopped", func(t *testing.T) {
		s := by["cloudtrail-stopped"]
		stop := recs(func(r *record) bool { return r.s("eventName") == "StopLogging" })
		start := recs(func(r *record) bool { return r.s("eventName") == "StartLogging" })
		if len(stop) != 1 || len(start) != 1 || stop[0].s("userIdentity", "arn") != s.Actor {
			t.Fatalf("StopLogging %d, StartLogging %d", len(stop), len(start))
		}
		inGap := func(r *record) bool { return r.t.After(stop[0].t) && r.t.Before(start[0].t) }
		if n := len(recs(func(r *record) bool { return inGap(r) && r.s("recipientAccountId") == s.Account })); n != 0 {
			t.Errorf("%d events of the stopped account during the gap", n)
		}
		if n := len(recs(func(r *record) bool { return inGap(r) && r.s("recipientAccountId") != s.Account })); n == 0 {
			t.Errorf("other accounts have no events during the gap")
		}
	})
	t.Run("root", func(t *testing.T) {
		s := by["root-login-no-mfa"]
		rs := recs(func(r *record) bool {
			return r.s("userIdentity", "type") == "Root" && r.s("sourceIPAddress") == s.SourceIP
		})
		slices.SortStableFunc(rs, func(a, b *record) int { return a.t.Compare(b.t) })
		if len(rs) < 4 || rs[0].s("eventName") != "ConsoleLogin" || rs[0].s("additionalEventData", "MFAUsed") != "No" || rs[0].s("responseElements", "ConsoleLogin") != "Success" {
			t.Fatalf("root story: %d events", len(rs))
		}
		benign := recs(func(r *record) bool {
			return r.s("eventName") == "ConsoleLogin" && r.s("userIdentity", "type") == "Root" && r.s("additionalEventData", "MFAUsed") == "Yes"
		})
		if len(benign) != 1 {
			t.Errorf("want one benign root login with MFA, got %d", len(benign))
		}
	})
	t.Run("security-group", func(t *testing.T) {
		s := by["sg-open-world"]
		rs := recs(func(r *record) bool {
			return r.s("eventName") == "AuthorizeSecurityGroupIngress" && r.s("userIdentity", "arn") == s.Actor
		})
		if len(rs) != 1 {
			t.Fatalf("%d AuthorizeSecurityGroupIngress", len(rs))
		}
		raw := string(rs[0].raw)
		for _, want := range []string{`"fromPort":22`, `"fromPort":3389`, `"cidrIp":"0.0.0.0/0"`, `"cidrIpv6":"::/0"`} {
			if !strings.Contains(raw, want) {
				t.Errorf("missing %s", want)
			}
		}
		legit := recs(func(r *record) bool {
			return r.s("eventName") == "AuthorizeSecurityGroupIngress" && r.s("userIdentity", "arn") != s.Actor
		})
		for _, r := range legit {
			if strings.Contains(string(r.raw), "0.0.0.0/0") {
				t.Errorf("benign security group change opens to the world")
			}
		}
	})
	t.Run("bucket-public", func(t *testing.T) {
		s := by["s3-bucket-public"]
		raw := ""
		for _, r := range recs(func(r *record) bool { return r.s("userIdentity", "arn") == s.Actor && r.s("errorCode") == "" }) {
			raw += string(r.raw)
		}
		for _, want := range []string{`"eventName":"PutBucketPolicy"`, `"Principal":"*"`, `"eventName":"PutBucketPublicAccessBlock"`, `"BlockPublicAcls":false`, `"eventName":"PutBucketAcl"`, `groups/global/AllUsers`} {
			if !strings.Contains(raw, want) {
				t.Errorf("missing %s", want)
			}
		}
	})
	t.Run("exfil", func(t *testing.T) {
		s := by["s3-bulk-exfil"]
		gets := recs(func(r *record) bool {
			return r.s("eventName") == "GetObject" && r.s("userIdentity", "arn") == s.Actor && r.s("sourceIPAddress") == s.SourceIP
		})
		slices.SortStableFunc(gets, func(a, b *record) int { return a.t.Compare(b.t) })
		if len(gets) < 500 || gets[len(gets)-1].t.Sub(gets[0].t) > 10*time.Minute {
			t.Fatalf("%d GetObject", len(gets))
		}
		for _, g := range gets[:3] {
			if g.s("eventCategory") != "Data" || g.m["managementEvent"] != false || g.s("additionalEventData", "x-amz-id-2") == "" {
				t.Errorf("not a data event: %s", g.raw)
			}
		}
		lines := map[string][]string{}
		for _, l := range tr.alLines {
			lines[l.fields[5]] = l.fields
		}
		for _, g := range gets {
			f, ok := lines[g.s("requestID")]
			if !ok {
				t.Fatalf("no access log line for %s", g.s("requestID"))
			}
			if f[1] != g.s("requestParameters", "bucketName") || f[3] != s.SourceIP || f[4] != s.Actor || f[6] != "REST.GET.OBJECT" || f[9] != "200" || f[7] != keyField(g.s("requestParameters", "key")) || len(f[11]) < 7 || f[18] != g.s("additionalEventData", "x-amz-id-2") {
				t.Fatalf("access log line does not match: %v", f)
			}
		}
	})
}

func TestNoAttacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := testOptions(dir)
	opts.Attacks = false
	opts.Hours, opts.Events, opts.AccessLogLines = 2, 800, 400
	opts.NoDigests = true
	tr, err := generateAndRead(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	parseTree(t, tr)
	if tr.sum.DigestFiles != 0 || tr.sum.InsightFiles != 0 || len(tr.sum.Stories) != 0 {
		t.Fatalf("summary: %+v", tr.sum)
	}
	if s := strings.TrimSpace(string(tr.files["stories.json"])); s != "[]" {
		t.Errorf("stories.json = %s", s)
	}
	for _, r := range tr.records {
		if strings.HasPrefix(r.s("sourceIPAddress"), "203.0.113.") {
			t.Fatalf("attacker address without attacks: %s", r.raw)
		}
	}
	for _, l := range tr.alLines {
		if strings.HasPrefix(l.fields[3], "203.0.113.") {
			t.Fatalf("attacker address without attacks: %v", l.fields)
		}
	}
}

func TestEventMix(t *testing.T) {
	tr := attackTree(t)
	parseTree(t, tr)
	var size, errs, data, benign int
	names := map[string]bool{}
	types := map[string]bool{}
	for i := range tr.records {
		r := &tr.records[i]
		if strings.HasPrefix(r.s("sourceIPAddress"), "203.0.113.") {
			continue
		}
		benign++
		size += len(r.raw)
		if r.s("errorCode") != "" {
			errs++
		}
		if r.s("eventCategory") == "Data" {
			data++
			if r.m["managementEvent"] != false {
				t.Fatalf("data event with managementEvent: %s", r.raw)
			}
		}
		names[r.s("eventSource")+":"+r.s("eventName")] = true
		types[r.s("userIdentity", "type")] = true
		switch r.s("userIdentity", "type") {
		case "AssumedRole":
			if !strings.HasPrefix(r.s("userIdentity", "accessKeyId"), "ASIA") && r.s("eventName") != "ConsoleLogin" {
				t.Fatalf("assumed role without a session key: %s", r.raw)
			}
		case "IAMUser":
			if k := r.s("userIdentity", "accessKeyId"); k != "" && !strings.HasPrefix(k, "AKIA") && !strings.HasPrefix(k, "ASIA") {
				t.Fatalf("bad key id: %s", r.raw)
			}
		}
		if strings.Contains(r.s("userAgent"), "%s") || strings.Contains(r.s("userAgent"), "%!") {
			t.Fatalf("unformatted user agent: %s", r.s("userAgent"))
		}
	}
	avg := float64(size) / float64(benign)
	rate := float64(errs) / float64(benign)
	t.Logf("%d benign events, average %.0f bytes, %.2f%% errors, %.1f%% data events, %d APIs", benign, avg, 100*rate, 100*float64(data)/float64(benign), len(names))
	if avg < 1000 || avg > 2000 {
		t.Errorf("average event size %.0f bytes", avg)
	}
	if rate < 0.015 || rate > 0.045 {
		t.Errorf("error rate %.3f", rate)
	}
	if len(names) < 70 {
		t.Errorf("only %d distinct APIs", len(names))
	}
	for _, ty := range []string{"IAMUser", "AssumedRole", "AWSService", "Root"} {
		if !types[ty] {
			t.Errorf("no %s identities", ty)
		}
	}
}

func TestWriteRecordsFile(t *testing.T) {
	for _, n := range []int{0, 1, 2500} {
		var a, b bytes.Buffer
		if err := WriteRecordsFile(context.Background(), &a, n, 7); err != nil {
			t.Fatal(err)
		}
		if err := WriteRecordsFile(context.Background(), &b, n, 7); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("n=%d: not deterministic", n)
		}
		var f struct{ Records []map[string]any }
		if err := json.Unmarshal(a.Bytes(), &f); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(f.Records) != n {
			t.Fatalf("got %d records, want %d", len(f.Records), n)
		}
		prev := ""
		for _, r := range f.Records {
			ts := r["eventTime"].(string)
			if ts < prev {
				t.Fatalf("records out of order")
			}
			prev = ts
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteRecordsFile(ctx, io.Discard, 10, 1); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestSetDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want func(o Options) bool
	}{
		{"zero", Options{}, func(o Options) bool {
			return o.Hours == 24 && o.Accounts == 3 && o.Events == 50000 && o.AccessLogLines == 20000 && o.Digests && !o.Attacks &&
				o.Start.Equal(DefaultStart()) && slices.Equal(o.Regions, DefaultRegions()) && o.Workers > 0 && o.GzipLevel != 0
		}},
		{"no digests", Options{NoDigests: true}, func(o Options) bool { return !o.Digests }},
		{"start truncated", Options{Start: time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))}, func(o Options) bool {
			return o.Start.Equal(time.Date(2025, 3, 4, 4, 0, 0, 0, time.UTC))
		}},
		{"kept", Options{Hours: 2, Accounts: 1, Regions: []string{"eu-west-1"}, Events: 10}, func(o Options) bool {
			return o.Hours == 2 && o.Accounts == 1 && o.Regions[0] == "eu-west-1" && o.Events == 10
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.in
			o.SetDefaults()
			if !tt.want(o) {
				t.Errorf("got %+v", o)
			}
		})
	}
}

func TestSmallOrganization(t *testing.T) {
	// One member account, a home region other than us-east-1: stories wrap
	// onto the accounts there are and global events still go to us-east-1.
	t.Parallel()
	dir := t.TempDir()
	opts := Options{Dir: dir, Seed: 3, Hours: 2, Accounts: 1, Regions: []string{"eu-west-1"}, Events: 600, AccessLogLines: 200, Attacks: true}
	tr, err := generateAndRead(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	parseTree(t, tr)
	if len(tr.sum.Stories) != 7 {
		t.Errorf("%d stories", len(tr.sum.Stories))
	}
	for _, r := range tr.records {
		if r.s("eventSource") == "iam.amazonaws.com" && r.s("awsRegion") != "us-east-1" {
			t.Fatalf("IAM event in %s", r.s("awsRegion"))
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := Generate(context.Background(), Options{}); err == nil {
		t.Error("empty Dir: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Options{Dir: t.TempDir(), Hours: 1, Events: 100}); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "ctl \x01\x1f", "unicode é ☃ 😀", "sep \u2028 \u2029", "bad \xff utf8"}
	for _, s := range tests {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: round trip %q, want %q", s, back, wantBack)
		}
	}
}

func TestTimeFormats(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		sec := int64(r.Uint64N(uint64(200 * 365 * 86400)))
		tm := time.Unix(sec, 0).UTC()
		if got, want := isoTime(sec), tm.Format("2006-01-02T15:04:05Z"); got != want {
			t.Fatalf("isoTime(%d) = %s, want %s", sec, got, want)
		}
		if got, want := string(appendCLF(nil, sec)), tm.Format("[02/Jan/2006:15:04:05 +0000]"); got != want {
			t.Fatalf("appendCLF(%d) = %s, want %s", sec, got, want)
		}
		if got, want := javaDate(sec), tm.Format("Jan 2, 2006, 3:04:05 PM"); got != want {
			t.Fatalf("javaDate(%d) = %s, want %s", sec, got, want)
		}
	}
}

func TestAccessLogLine(t *testing.T) {
	rec := alRec{owner: "abc", bucket: "b", t: 0, remoteIP: "192.0.2.1", requester: "-", reqID: "ID", op: "REST.GET.OBJECT",
		key: keyField("a b/c+d.txt"), uri: "GET /" + uriEscapePath("a b/c+d.txt") + " HTTP/1.1", status: 200, bytesSent: 10, objSize: 10,
		total: 5, turn: 2, referrer: "-", ua: `Mozilla/5.0 ("quoted") \ slash`}
	line := strings.TrimSuffix(string(appendAccessLine(nil, &rec)), "\n")
	f := tokenize(line)
	if len(f) != 27 {
		t.Fatalf("%d fields: %s", len(f), line)
	}
	if f[7] != "a+b/c%2Bd.txt" || f[8] != `"GET /a%20b/c%2Bd.txt HTTP/1.1"` || f[16] != `"Mozilla/5.0 (\"quoted\") \\ slash"` {
		t.Errorf("fields: %q", f)
	}
}

// BenchmarkGenerate writes a million CloudTrail events (plus the default
// access logs, digests and stories) and reports the generation rate.
func BenchmarkGenerate(b *testing.B) {
	for range b.N {
		dir := b.TempDir()
		start := time.Now()
		sum, err := Generate(context.Background(), Options{Dir: dir, Events: 1_000_000, Attacks: true})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start).Seconds()
		b.ReportMetric(float64(sum.Events)/el, "events/s")
		b.ReportMetric(float64(sum.Bytes)/float64(sum.Events), "bytes/event")
		b.ReportMetric(float64(sum.LogFiles), "logfiles")
		b.ReportMetric(float64(sum.DigestFiles), "digests")
	}
}

// BenchmarkWriteRecordsFile measures raw record rendering.
func BenchmarkWriteRecordsFile(b *testing.B) {
	var n countingWriter
	for range b.N {
		if err := WriteRecordsFile(context.Background(), &n, 100_000, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(n)/float64(100_000*b.N), "bytes/event")
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
