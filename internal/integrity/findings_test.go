package integrity

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/integrity/integritytest"
)

type (
	chainOpts = integritytest.Options
	chainT    = integritytest.Chain
)

// newFx writes a six-hour chain (two log files an hour) signed with the test
// key, with the key in a StaticKeys valid for the whole of 2026.
func newFx(t *testing.T, mod func(*chainOpts)) *fx {
	t.Helper()
	key, _ := keys(t)
	o := chainOpts{Root: t.TempDir(), Key: key}
	if mod != nil {
		mod(&o)
	}
	c, err := integritytest.Write(o)
	if err != nil {
		t.Fatal(err)
	}
	f := &fx{root: o.Root, opts: o, c: c, keys: &StaticKeys{}}
	f.keys.Add("", publicKey(o.Key, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
	return f
}

func publicKey(k *rsa.PrivateKey, from, to time.Time) PublicKey {
	return PublicKey{Fingerprint: integritytest.Fingerprint(k), Value: x509.MarshalPKCS1PublicKey(&k.PublicKey), ValidityStartTime: from, ValidityEndTime: to}
}

// findingCase produces one finding (or none) on a six-hour chain.
type findingCase struct {
	name   string
	mod    func(*chainOpts)
	tamper func(t *testing.T, f *fx, req *Request, v *Verifier)
	want   func(c *chainT) []finding
	ok     bool
	check  func(t *testing.T, results []Result, sum *Summary)
	// local: the case is about local copies only (sidecars).
	local bool
}

// findingCases are run on local copies (TestFindings) and on a real S3
// server (TestFindingsS3).
func findingCases() []findingCase {
	base := func(k string) string { return path.Base(k) }
	return []findingCase{
		{name: "valid", want: func(*chainT) []finding { return nil }, ok: true,
			check: func(t *testing.T, _ []Result, sum *Summary) {
				if sum.Digests != (Counts{Valid: 6}) || sum.LogFiles != (Counts{Valid: 12}) {
					t.Errorf("%+v %+v", sum.Digests, sum.LogFiles)
				}
			}},
		{name: "log file modified", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			if err := integritytest.WriteGz(f.c.Path(f.c.LogFiles[2][0]), []byte(`{"Records":[]}`)); err != nil {
				t.Fatal(err)
			}
		}, want: func(c *chainT) []finding { return []finding{{LogFileModified, base(c.LogFiles[2][0])}} }},
		{name: "log file deleted", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) { f.remove(t, f.c.LogFiles[2][1]) },
			want: func(c *chainT) []finding { return []finding{{LogFileDeleted, base(c.LogFiles[2][1])}} }},
		{name: "log file not gzip", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			f.write(t, f.c.LogFiles[1][0], []byte("this is not a log file"))
		}, want: func(c *chainT) []finding { return []finding{{LogFileInvalidFormat, base(c.LogFiles[1][0])}} }},
		{name: "log file truncated", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			data, _ := os.ReadFile(f.c.Path(f.c.LogFiles[1][1]))
			f.write(t, f.c.LogFiles[1][1], data[:len(data)/2])
		}, want: func(c *chainT) []finding { return []finding{{LogFileModified, base(c.LogFiles[1][1])}} }},
		{name: "log file added", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			key := strings.Replace(f.c.LogFiles[3][0], "_CloudTrail_us-east-1_", "_CloudTrail_us-east-1_", 1)
			key = key[:strings.LastIndexByte(key, '_')] + "_FORGEDforgedFORG.json.gz"
			if err := integritytest.WriteGz(f.c.Path(key), []byte(`{"Records":[]}`)); err != nil {
				t.Fatal(err)
			}
		}, want: func(c *chainT) []finding {
			k := c.LogFiles[3][0]
			return []finding{{LogFileUnlisted, base(k[:strings.LastIndexByte(k, '_')] + "_FORGEDforgedFORG.json.gz")}}
		}},
		// The digest is edited (a log file dropped from its list) and keeps
		// its signature: the signature fails; the dropped file is listed
		// nowhere; the other is checked against the untrusted list.
		{name: "digest modified", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			editDigest(t, f, 3, func(m map[string]any) { m["logFiles"] = m["logFiles"].([]any)[:1] })
		}, want: func(c *chainT) []finding {
			return []finding{{DigestModified, base(c.Digests[3])}, {LogFileUnverified, base(c.LogFiles[3][0])}, {LogFileUnlisted, base(c.LogFiles[3][1])}}
		}},
		// An attacker with a signing key replaces a digest and a log file
		// consistently: the AWS CLI accepts it; the next digest's
		// previousDigestHashValue does not.
		{name: "digest replaced with a valid signature", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			lf := f.c.LogFiles[3][0]
			forged := []byte(`{"Records":[]}`)
			if err := integritytest.WriteGz(f.c.Path(lf), forged); err != nil {
				t.Fatal(err)
			}
			data, m := readDigestJSON(t, f, 3)
			m["logFiles"].([]any)[0].(map[string]any)["hashValue"] = hexSHA(forged)
			data = marshal(t, m)
			if err := integritytest.Resign(f.c, f.c.Digests[3], data, f.opts.Key, m["digestEndTime"].(string), m["previousDigestSignature"].(string)); err != nil {
				t.Fatal(err)
			}
		}, want: func(c *chainT) []finding {
			return []finding{{DigestModified, base(c.Digests[3])}, {LogFileUnverified, base(c.LogFiles[3][0])}, {LogFileUnverified, base(c.LogFiles[3][1])}}
		}},
		// A deleted digest: the next one names it; its log files are
		// listed nowhere.
		{name: "digest deleted", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) { f.remove(t, f.c.Digests[3]) },
			want: func(c *chainT) []finding {
				return []finding{{DigestDeleted, base(c.Digests[3])}, {LogFileUnlisted, base(c.LogFiles[3][0])}, {LogFileUnlisted, base(c.LogFiles[3][1])}}
			}},
		// The newest digests deleted: nothing names them, but log files
		// delivered after them show they are due.
		{name: "newest digests deleted", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			f.remove(t, f.c.Digests[5])
			f.remove(t, f.c.Digests[4])
		}, want: func(c *chainT) []finding {
			return []finding{{DigestDeleted, base(c.Digests[4])}, {LogFileUnlisted, base(c.LogFiles[4][0])}, {LogFileUnlisted, base(c.LogFiles[4][1])}}
		}},
		// Moved to another key: the original is missing, the copy names
		// its old location.
		{name: "digest moved", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			moved := strings.Replace(f.c.Digests[3], "T042034Z", "T043034Z", 1)
			if err := os.Rename(f.c.Path(f.c.Digests[3]), f.c.Path(moved)); err != nil {
				t.Fatal(err)
			}
			os.Rename(f.c.Path(f.c.Digests[3])+SidecarSuffix, f.c.Path(moved)+SidecarSuffix)
		}, want: func(c *chainT) []finding {
			moved := strings.Replace(c.Digests[3], "T042034Z", "T043034Z", 1)
			return []finding{{DigestDeleted, base(c.Digests[3])}, {DigestMoved, base(moved)}, {LogFileUnverified, base(c.LogFiles[3][0])}, {LogFileUnverified, base(c.LogFiles[3][1])}}
		}},
		{name: "public key not found", tamper: func(t *testing.T, f *fx, _ *Request, v *Verifier) {
			_, other := keys(t)
			sk := &StaticKeys{}
			sk.Add("", publicKey(other, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
			v.Keys = sk
		}, want: func(c *chainT) []finding {
			var out []finding
			for i := len(c.Digests) - 1; i >= 0; i-- {
				out = append(out, finding{PublicKeyNotFound, base(c.Digests[i])})
				for _, l := range c.LogFiles[i] {
					out = append(out, finding{LogFileUnverified, base(l)})
				}
			}
			return out
		}},
		// The key was valid from 03:00: the digests ending 01:20 is signed
		// outside its validity (02:20 is within the hour of tolerance).
		{name: "public key not valid then", tamper: func(t *testing.T, f *fx, _ *Request, v *Verifier) {
			sk := &StaticKeys{}
			sk.Add("", publicKey(f.opts.Key, time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
			v.Keys = sk
		}, want: func(c *chainT) []finding {
			return []finding{{PublicKeyNotFound, base(c.Digests[0])}, {LogFileUnverified, base(c.LogFiles[0][0])}, {LogFileUnverified, base(c.LogFiles[0][1])}}
		}},
		{name: "metadata without signature", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			f.write(t, f.c.Digests[2]+SidecarSuffix, []byte(`{"signature-algorithm":"SHA256withRSA"}`))
		}, want: func(c *chainT) []finding {
			return []finding{{DigestModified, base(c.Digests[2])}, {LogFileUnverified, base(c.LogFiles[2][0])}, {LogFileUnverified, base(c.LogFiles[2][1])}}
		}},
		{name: "digest not readable", tamper: func(t *testing.T, f *fx, _ *Request, _ *Verifier) {
			if err := integritytest.WriteGz(f.c.Path(f.c.Digests[2]), []byte("{{{")); err != nil {
				t.Fatal(err)
			}
		}, want: func(c *chainT) []finding {
			return []finding{{DigestInvalidFormat, base(c.Digests[2])}, {LogFileUnlisted, base(c.LogFiles[2][0])}, {LogFileUnlisted, base(c.LogFiles[2][1])}}
		}},
		// Logging stopped for two hours: a gap and a new starting digest,
		// explained by the StopLogging and StartLogging events in the logs.
		{name: "logging stopped", mod: func(o *chainOpts) {
			o.Restart = map[int]int{3: 2}
			o.Records = func(i, j int) []string {
				switch {
				case i == 2 && j == 1:
					return []string{stopStart("StopLogging", "test-trail", time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC))}
				case i == 3 && j == 0:
					return []string{stopStart("StartLogging", "test-trail", time.Date(2026, 3, 1, 5, 25, 0, 0, time.UTC))}
				}
				return nil
			}
		}, ok: true, want: func(c *chainT) []finding {
			return []finding{{ChainGap, ""}, {NewStartingDigest, base(c.Digests[3])}}
		}, check: func(t *testing.T, results []Result, sum *Summary) {
			var names []string
			for _, r := range results {
				if r.Kind == NewStartingDigest {
					for _, e := range r.Events {
						names = append(names, e.Name+" "+e.Principal)
					}
				}
				if r.Kind == ChainGap && !strings.HasPrefix(r.Message, "No log files were delivered by CloudTrail between 2026-03-01T03:20:34Z and 2026-03-01T05:20:34Z") {
					t.Errorf("gap message %q", r.Message)
				}
			}
			if want := []string{"StopLogging arn:aws:iam::111122223333:user/mallory", "StartLogging arn:aws:iam::111122223333:user/mallory"}; !slices.Equal(names, want) {
				t.Errorf("events %v, want %v", names, want)
			}
			if sum.Gaps != 1 || sum.Digests != (Counts{Valid: 6}) {
				t.Errorf("gaps %d, digests %+v", sum.Gaps, sum.Digests)
			}
		}},
		// Validation off, logging on: the log files of the gap are listed
		// in no digest.
		{name: "validation off", mod: func(o *chainOpts) {
			o.Restart = map[int]int{3: 2}
			o.LogDuringGap = true
			at := time.Date(2026, 3, 1, 3, 1, 0, 0, time.UTC)
			update := func(v bool, at time.Time) string {
				return fmt.Sprintf(`{"eventTime":"%s","eventSource":"cloudtrail.amazonaws.com","eventName":"UpdateTrail","awsRegion":"us-east-1","userIdentity":{"arn":"arn:aws:iam::111122223333:user/ops"},"requestParameters":{"name":"test-trail","enableLogFileValidation":%t},"recipientAccountId":"111122223333"}`, fmtTime(at), v)
			}
			o.Records = func(i, j int) []string {
				switch {
				case i == 2 && j == 1:
					// Not this trail's, and a failed call: neither explains the gap.
					return []string{update(false, at), stopStart("StopLogging", "other-trail", at),
						strings.Replace(stopStart("StopLogging", "test-trail", at), `"eventSource"`, `"errorCode":"AccessDenied","eventSource"`, 1)}
				case i == 3 && j == 0:
					return []string{update(true, at.Add(2*time.Hour+20*time.Minute))}
				}
				return nil
			}
		}, want: func(c *chainT) []finding {
			return []finding{{ChainGap, ""}, {NewStartingDigest, base(c.Digests[3])}, {LogFileUnlisted, base(c.Gap[3][0])}, {LogFileUnlisted, base(c.Gap[3][1])}}
		}, check: func(t *testing.T, results []Result, _ *Summary) {
			var got []string
			for _, r := range results {
				for _, e := range r.Events {
					got = append(got, e.Name+" "+e.Detail)
				}
			}
			if want := []string{"UpdateTrail enableLogFileValidation=false", "UpdateTrail enableLogFileValidation=true"}; !slices.Equal(got, want) {
				t.Errorf("events %q, want %q", got, want)
			}
		}},
		// A plain download: the newest digest cannot be proven; every other
		// one is, through the signature the next one records.
		{name: "no sidecars", mod: func(o *chainOpts) { o.NoSidecars = true }, ok: true, local: true,
			want: func(c *chainT) []finding {
				return []finding{{DigestUnverified, base(c.Digests[5])}, {LogFileUnverified, base(c.LogFiles[5][0])}, {LogFileUnverified, base(c.LogFiles[5][1])}}
			}, check: func(t *testing.T, _ []Result, sum *Summary) {
				if sum.Digests != (Counts{Valid: 5, Unverified: 1}) {
					t.Errorf("%+v", sum.Digests)
				}
			}},
		{name: "no public keys", tamper: func(_ *testing.T, _ *fx, _ *Request, v *Verifier) { v.Keys = nil }, ok: true,
			want: func(c *chainT) []finding {
				var out []finding
				for i := len(c.Digests) - 1; i >= 0; i-- {
					out = append(out, finding{DigestUnverified, base(c.Digests[i])})
					for _, l := range c.LogFiles[i] {
						out = append(out, finding{LogFileUnverified, base(l)})
					}
				}
				return out
			}},
		{name: "wrong region", tamper: func(_ *testing.T, _ *fx, req *Request, _ *Verifier) { req.Regions = []string{"eu-west-1"} },
			want: func(*chainT) []finding { return []finding{{NoDigests, ""}} }},
		{name: "wrong trail", tamper: func(_ *testing.T, _ *fx, req *Request, _ *Verifier) { req.Trail = "other" },
			want: func(*chainT) []finding { return []finding{{NoDigests, ""}} }},
		// A range in the middle: the walk stops after the first digest
		// starting before it, as the AWS CLI's does, and no log file
		// outside the digests read is reported.
		{name: "range", tamper: func(_ *testing.T, _ *fx, req *Request, _ *Verifier) {
			req.Start = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
			req.End = time.Date(2026, 3, 1, 4, 30, 0, 0, time.UTC)
		}, ok: true, want: func(*chainT) []finding { return nil }, check: func(t *testing.T, _ []Result, sum *Summary) {
			// Listed: 03:20 … 05:20 (end + 1h); walked from 05:20 back to 03:20.
			if sum.Digests != (Counts{Valid: 3}) || !sum.FoundStart.Equal(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)) || !sum.FoundEnd.Equal(time.Date(2026, 3, 1, 4, 30, 0, 0, time.UTC)) {
				t.Errorf("digests %+v, found %v–%v", sum.Digests, sum.FoundStart, sum.FoundEnd)
			}
		}},
	}
}

func TestFindings(t *testing.T) {
	for _, tc := range findingCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFx(t, tc.mod)
			v, req := f.verifier(), f.request()
			if tc.tamper != nil {
				tc.tamper(t, f, &req, v)
			}
			results, sum := runVerify(t, v, req)
			checkFindings(t, tc, f, results, sum)
		})
	}
}

// checkFindings compares a run's results with the case's expectations.
func checkFindings(t *testing.T, tc findingCase, f *fx, results []Result, sum *Summary) {
	t.Helper()
	if got, want := findings(results), tc.want(f.c); !slices.Equal(got, want) {
		t.Errorf("findings:\n got %v\nwant %v", got, want)
		for _, r := range results {
			t.Log(r.Message, r.Detail)
		}
	}
	if sum.OK() != tc.ok {
		t.Errorf("OK() = %v, want %v (invalid %d)", sum.OK(), tc.ok, sum.Invalid)
	}
	if tc.check != nil {
		tc.check(t, results, sum)
	}
}

// TestOpenRange verifies everything in the copy when no start is given,
// without following the oldest digest's link out of the copy.
func TestOpenRange(t *testing.T) {
	f := newFx(t, func(o *chainOpts) { o.Start = time.Date(2026, 3, 1, 2, 20, 34, 0, time.UTC); o.Hours = 4 })
	// The copy starts with the second digest of the chain.
	f.remove(t, f.c.Digests[0])
	for _, l := range f.c.LogFiles[0] {
		f.remove(t, l)
	}
	results, sum := runVerify(t, f.verifier(), Request{Bucket: f.c.Bucket, End: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)})
	if got := findings(results); len(got) != 0 || sum.Digests != (Counts{Valid: 3}) || !sum.OK() {
		t.Errorf("findings %v, digests %+v", got, sum.Digests)
	}
	if want := keyTime(f.c.Digests[1]).Add(-time.Hour); !sum.Start.Equal(want) {
		t.Errorf("start %v, want %v", sum.Start, want)
	}
}

// TestLayouts verifies organization trails with a prefix, several accounts,
// several trails in one place, and a chain that moves between buckets.
func TestLayouts(t *testing.T) {
	key, _ := keys(t)
	root := t.TempDir()
	write := func(o chainOpts) *chainT {
		o.Root, o.Key = root, key
		c, err := integritytest.Write(o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	org := chainOpts{Prefix: "logs/ct", OrgID: "o-abc123def4", Account: "111122223333", Trail: "org-trail", Hours: 3}
	write(org)
	org.Account = "444455556666"
	write(org)
	org.Region, org.HomeRegion = "eu-west-1", "us-east-1"
	write(org)
	// Another trail delivering to the same account and region.
	org.Trail, org.Seed = "team-trail", 7
	write(org)
	sk := &StaticKeys{}
	sk.Add("", publicKey(key, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
	v := &Verifier{Buckets: LocalBuckets{Root: root}, Keys: sk}
	tests := []struct {
		name    string
		req     Request
		digests int
		scopes  int
	}{
		{"everything", Request{}, 12, 4},
		{"one trail, all accounts and regions", Request{Trail: "org-trail", HomeRegion: "us-east-1"}, 9, 3},
		{"one account", Request{Trail: "org-trail", Accounts: []string{"444455556666"}}, 6, 2},
		{"one region", Request{Regions: []string{"eu-west-1"}}, 6, 2},
		{"organization named", Request{OrgID: "o-abc123def4", Trail: "team-trail"}, 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Bucket, req.Prefix, req.End = "trail-bucket", "logs/ct", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
			results, sum := runVerify(t, v, req)
			if got := findings(results); len(got) > 0 || sum.Digests.Valid != tc.digests || len(sum.Scopes) != tc.scopes {
				t.Errorf("findings %v, digests %+v, scopes %v", got, sum.Digests, sum.Scopes)
			}
		})
	}
}

// TestBackfillDigest verifies a backfill digest (a separate chain,
// reported with the AWS CLI's "(backfill)" prefix, its key looked up at its
// generation time).
func TestBackfillDigest(t *testing.T) {
	f := newFx(t, func(o *chainOpts) { o.Hours = 2 })
	end := f.c.Ends[1].Add(-30 * time.Minute)
	bkey := strings.Replace(f.opts.DigestKey(end), ".json.gz", "_backfill.json.gz", 1)
	_, m := readDigestJSON(t, f, 1)
	m["digestS3Object"] = bkey
	m["digestEndTime"] = fmtTime(end)
	m["digestStartTime"] = fmtTime(end.Add(-time.Hour))
	m["logFiles"] = m["logFiles"].([]any)[:1]
	for _, k := range []string{"previousDigestS3Bucket", "previousDigestS3Object", "previousDigestHashValue", "previousDigestHashAlgorithm", "previousDigestSignature"} {
		m[k] = nil
	}
	if err := integritytest.Resign(f.c, bkey, marshal(t, m), f.opts.Key, fmtTime(end), ""); err != nil {
		t.Fatal(err)
	}
	f.write(t, bkey+SidecarSuffix, bytes.Replace(readFile(t, f.c.Path(bkey)+SidecarSuffix), []byte(`}`), []byte(`,"backfill-generation-timestamp":"2026-03-05T10:00:00Z"}`), 1))
	results, sum := runVerify(t, f.verifier(), f.request())
	if got := findings(results); len(got) > 0 || sum.BackfillDigests != (Counts{Valid: 1}) || sum.Digests != (Counts{Valid: 2}) || sum.LogFiles.Valid != 5 {
		t.Errorf("findings %v, backfill %+v, digests %+v, logs %+v", got, sum.BackfillDigests, sum.Digests, sum.LogFiles)
	}
	var msgs []string
	for _, r := range results {
		if r.Backfill && r.Type == TypeDigest {
			msgs = append(msgs, r.Message)
		}
	}
	if want := "(backfill) Digest file\ts3://trail-bucket/" + bkey + "\tvalid"; len(msgs) != 1 || msgs[0] != want {
		t.Errorf("backfill messages %q", msgs)
	}
	// Without its generation timestamp a backfill digest is invalid, as the
	// AWS CLI says.
	f.write(t, bkey+SidecarSuffix, readFile(t, f.c.Path(f.c.Digests[0])+SidecarSuffix))
	results, _ = runVerify(t, f.verifier(), f.request())
	if got := findings(results); len(got) == 0 || got[0] != (finding{DigestInvalidFormat, path.Base(bkey)}) {
		t.Errorf("findings %v", got)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readDigestJSON reads digest i of the fixture as a generic object.
func readDigestJSON(t *testing.T, f *fx, i int) ([]byte, map[string]any) {
	t.Helper()
	data, err := integritytest.ReadGz(f.c.Path(f.c.Digests[i]))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return data, m
}

// editDigest rewrites digest i with an edit, keeping its signature.
func editDigest(t *testing.T, f *fx, i int, edit func(map[string]any)) {
	t.Helper()
	_, m := readDigestJSON(t, f, i)
	edit(m)
	if err := integritytest.WriteGz(f.c.Path(f.c.Digests[i]), marshal(t, m)); err != nil {
		t.Fatal(err)
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSHA(b []byte) string { return hex.EncodeToString(sha256Sum(b)) }
