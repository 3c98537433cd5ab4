package integrity

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

const testdata = "../../../shared/testdata/digest"

// readJSON reads a file of the shared test data, skipping when absent.
func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Skip("shared test data not available:", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// cliVectors is aws-cli-validate-logs-test-vectors.json.
type cliVectors struct {
	StringToSign struct {
		DigestData struct {
			DigestEndTime, DigestS3Bucket, DigestS3Object string
		} `json:"digest_data"`
		Inflated string `json:"inflated_digest_bytes_utf8"`
		Expected string `json:"expected_string_to_sign"`
	} `json:"string_to_sign_known_answer"`
	ValidKey struct {
		B64 string `json:"base64_pkcs1_der"`
	} `json:"valid_test_key"`
	ErrorCases []struct {
		Test       string `json:"test"`
		Bucket     string `json:"bucket"`
		Key        string `json:"key"`
		PublicKey  string `json:"public_key_b64"`
		DigestData struct {
			Fingerprint string `json:"digestPublicKeyFingerprint"`
			Signature   string `json:"_signature"`
		} `json:"digest_data"`
		Expected string `json:"expected_error"`
	} `json:"error_cases"`
	KeyNames struct {
		Standard, Backfill string
		Date               string   `json:"extract_digest_key_date_expected"`
		NotBackfill        []string `json:"is_backfill_digest_key_false_cases"`
		ARNValid           string   `json:"trail_arn_valid"`
		ARNInvalid         []string `json:"trail_arn_invalid"`
	} `json:"digest_key_names"`
	Hashes []struct {
		Content string `json:"uncompressed_content"`
		Hash    string `json:"hashValue_sha256"`
	} `json:"log_file_hash_vectors"`
}

func TestStringToSignKnownAnswer(t *testing.T) {
	var v cliVectors
	readJSON(t, "aws-cli-validate-logs-test-vectors.json", &v)
	sa := v.StringToSign
	d, err := ParseDigest([]byte(`{"digestEndTime":"2015-08-16T23:05:50Z","digestStartTime":"2015-08-16T22:05:50Z","digestS3Bucket":"b","digestS3Object":"c","digestPublicKeyFingerprint":"f","previousDigestSignature":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Starting || d.PreviousDigestSignature != "" {
		t.Errorf("a digest with null previous members is a starting digest: %+v", d)
	}
	// The AWS CLI's unit test signs the digest bytes "abc" with end time "a".
	sha := hex.EncodeToString(sha256Sum([]byte(sa.Inflated)))
	got := StringToSign(sa.DigestData.DigestEndTime, sa.DigestData.DigestS3Bucket, sa.DigestData.DigestS3Object, sha, d.PreviousDigestSignature)
	if got != sa.Expected {
		t.Errorf("string to sign %q, want %q", got, sa.Expected)
	}
}

func TestVerifySignatureCLIErrors(t *testing.T) {
	var v cliVectors
	readJSON(t, "aws-cli-validate-logs-test-vectors.json", &v)
	for _, c := range v.ErrorCases {
		t.Run(c.Test, func(t *testing.T) {
			key := c.PublicKey
			if key == "<valid_test_key>" {
				key = v.ValidKey.B64
			}
			der, err := base64.StdEncoding.DecodeString(key)
			if err != nil {
				t.Fatal(err)
			}
			verr := VerifySignature(der, c.DigestData.Fingerprint, "anything", c.DigestData.Signature)
			if verr == nil {
				t.Fatal("verified")
			}
			if got := digestMsg(false, c.Bucket, c.Key, "INVALID: "+verr.Error()); got != c.Expected {
				t.Errorf("message %q, want %q", got, c.Expected)
			}
		})
	}
	// binascii.unhexlify's messages, as the AWS CLI reports a bad signature.
	der, _ := base64.StdEncoding.DecodeString(v.ValidKey.B64)
	for sig, want := range map[string]string{"abc": "Odd-length string", "zz": "Non-hexadecimal digit found"} {
		if err := VerifySignature(der, "f", "x", sig); err == nil || err.Error() != want {
			t.Errorf("signature %q: %v, want %q", sig, err, want)
		}
	}
}

func TestParsePublicKeyForms(t *testing.T) {
	var keys struct {
		List []struct{ Value, Fingerprint string } `json:"publicKeyList"`
	}
	readJSON(t, "aws-docs/list-public-keys-output-example.json", &keys)
	for _, k := range keys.List {
		der, _ := base64.StdEncoding.DecodeString(k.Value)
		if fp := md5.Sum(der); hex.EncodeToString(fp[:]) != k.Fingerprint {
			t.Errorf("fingerprint %s is not md5 of the DER value", k.Fingerprint)
		}
		// PKCS#1, and the documentation's SubjectPublicKeyInfo example.
		if _, err := ParsePublicKey(der); err != nil {
			t.Errorf("key %s: %v", k.Fingerprint, err)
		}
		// A value base64-encoded twice still loads.
		if _, err := ParsePublicKey([]byte(k.Value)); err != nil {
			t.Errorf("key %s as base64 text: %v", k.Fingerprint, err)
		}
	}
	if _, err := ParsePublicKey([]byte("a\n")); err == nil {
		t.Error("garbage loaded as a key")
	}
}

func TestReadPublicKeys(t *testing.T) {
	tests := []struct {
		name, file string
		n          int
		start      time.Time
	}{
		{"AWS docs (v1 epoch strings, lower-case list)", "aws-docs/list-public-keys-output-example.json", 3, time.Unix(1436317441, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(testdata, tc.file))
			if err != nil {
				t.Skip(err)
			}
			keys, err := ReadPublicKeys(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != tc.n || !keys[0].ValidityStartTime.Equal(tc.start) {
				t.Errorf("got %d keys, first valid from %v", len(keys), keys[0].ValidityStartTime)
			}
		})
	}
	inline := []struct {
		name, json string
		start      time.Time
		err        bool
	}{
		{"v2 ISO times", `{"PublicKeyList":[{"Value":"YQ==","Fingerprint":"f","ValidityStartTime":"2024-07-01T00:00:00+00:00","ValidityEndTime":"2024-09-01T00:00:00+00:00"}]}`, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), false},
		{"epoch numbers", `{"PublicKeyList":[{"Value":"YQ==","Fingerprint":"f","ValidityStartTime":1436317441.5,"ValidityEndTime":1438909441}]}`, time.Unix(1436317441, 5e8), false},
		{"bare array, Z times", `[{"Value":"YQ==","Fingerprint":"f","ValidityStartTime":"2024-07-01T00:00:00Z"}]`, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), false},
		{"no keys", `{"PublicKeyList":[]}`, time.Time{}, true},
		{"no fingerprint", `{"PublicKeyList":[{"Value":"YQ=="}]}`, time.Time{}, true},
		{"not base64", `{"PublicKeyList":[{"Value":"%%","Fingerprint":"f"}]}`, time.Time{}, true},
		{"bad time", `{"PublicKeyList":[{"Value":"YQ==","Fingerprint":"f","ValidityStartTime":"soon"}]}`, time.Time{}, true},
	}
	for _, tc := range inline {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ReadPublicKeys([]byte(tc.json))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if err == nil && !keys[0].ValidityStartTime.Equal(tc.start) {
				t.Errorf("start %v, want %v", keys[0].ValidityStartTime, tc.start)
			}
		})
	}
}

func TestStaticKeysRegionsAndRange(t *testing.T) {
	var s StaticKeys
	jul := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	s.Add("", PublicKey{Fingerprint: "any", ValidityStartTime: jul, ValidityEndTime: jul.AddDate(0, 1, 0)})
	s.Add("eu-west-1", PublicKey{Fingerprint: "eu"})
	got := func(region string, at time.Time) string {
		keys, _ := s.PublicKeys(t.Context(), region, at, at.Add(time.Hour))
		var fps []string
		for _, k := range keys {
			fps = append(fps, k.Fingerprint)
		}
		return strings.Join(fps, ",")
	}
	for _, tc := range []struct {
		region string
		at     time.Time
		want   string
	}{
		{"us-east-1", jul.AddDate(0, 0, 3), "any"},
		{"eu-west-1", jul.AddDate(0, 0, 3), "eu,any"},
		{"us-east-1", jul.AddDate(0, 2, 0), ""},
	} {
		if g := got(tc.region, tc.at); g != tc.want {
			t.Errorf("%s at %v: %q, want %q", tc.region, tc.at, g, tc.want)
		}
	}
}

func TestParseDigestDocumented(t *testing.T) {
	tests := []struct {
		file     string
		logs     int
		starting bool
	}{
		{"aws-docs/sample-digest.json", 1, false},
		{"aws-docs/sample-digest-empty-logfiles.json", 0, false},
		{"elastic-integrations/digest-12-logfiles.json", 12, false},
		{"elastic-integrations/digest-3-logfiles.json", 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(testdata, tc.file))
			if err != nil {
				t.Skip(err)
			}
			d, err := ParseDigest(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.LogFiles) != tc.logs || d.Starting != tc.starting || d.DigestEndTime.IsZero() {
				t.Errorf("%d log files, starting %v, end %v", len(d.LogFiles), d.Starting, d.DigestEndTime)
			}
			if got := hex.EncodeToString(sha256Sum(data)); got != d.SHA256 {
				t.Errorf("SHA256 %s is not the hash of the file %s", d.SHA256, got)
			}
			// The string to sign, as the documentation lays it out.
			lines := strings.Split(d.StringToSign(), "\n")
			if len(lines) != 4 || lines[0] != d.EndTimeText || lines[1] != d.DigestS3Bucket+"/"+d.DigestS3Object || lines[2] != d.SHA256 || lines[3] != d.PreviousDigestSignature {
				t.Errorf("string to sign %q", d.StringToSign())
			}
		})
	}
}

func TestParseDigestStartingPanther(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdata, "panther-go/cloudtrail-digest-logs-first-record.input.json"))
	if err != nil {
		t.Skip(err)
	}
	d, err := ParseDigest(bytes.TrimSpace(data))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Starting || !strings.HasSuffix(d.StringToSign(), "\nnull") {
		t.Errorf("starting digest: starting=%v, string to sign ends %q", d.Starting, d.StringToSign()[len(d.StringToSign())-8:])
	}
}

func TestParseDigestInvalidFormat(t *testing.T) {
	full := `{"digestStartTime":"2015-08-17T14:01:31Z","digestEndTime":"2015-08-17T15:01:31Z","digestS3Bucket":"b","digestS3Object":"k","digestPublicKeyFingerprint":"f","previousDigestSignature":"ab"}`
	tests := []struct {
		name, data string
	}{
		{"aws-cli invalid payload", "{{{"},
		{"not an object", `[1]`},
		{"no fingerprint", strings.Replace(full, `"digestPublicKeyFingerprint":"f",`, "", 1)},
		{"no previousDigestSignature", strings.Replace(full, `,"previousDigestSignature":"ab"`, "", 1)},
		{"no end time", strings.Replace(full, `"digestEndTime":"2015-08-17T15:01:31Z",`, "", 1)},
		{"bad end time", strings.Replace(full, `2015-08-17T15:01:31Z`, "yesterday", 1)},
		{"signature not a string", strings.Replace(full, `"ab"`, `12`, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseDigest([]byte(tc.data)); !errors.Is(err, ErrInvalidDigestFormat) {
				t.Errorf("err = %v, want invalid format", err)
			}
		})
	}
	if _, err := ParseDigest([]byte(full)); err != nil {
		t.Errorf("complete digest: %v", err)
	}
}

func TestDocumentedStringToSignLayout(t *testing.T) {
	// The documentation's example is mangled (an extra wrapped line and a
	// "$" inside the previous signature); its first three lines still show
	// the layout: end time, bucket/key, hex SHA-256.
	data, err := os.ReadFile(filepath.Join(testdata, "aws-docs/data-to-sign-string-example.txt"))
	if err != nil {
		t.Skip(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if _, err := time.Parse(time.RFC3339, lines[0]); err != nil {
		t.Errorf("line 1 is not digestEndTime: %q", lines[0])
	}
	bucket, key, _ := strings.Cut(lines[1], "/")
	if got := StringToSign(lines[0], bucket, key, lines[2], "prev"); !strings.HasPrefix(string(data), strings.TrimSuffix(got, "prev")) {
		t.Errorf("layout differs:\n%s\n%s", got, data)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(lines[2]) {
		t.Errorf("line 3 is not a hex SHA-256: %q", lines[2])
	}
}

func TestParseDigestKey(t *testing.T) {
	var v cliVectors
	readJSON(t, "aws-cli-validate-logs-test-vectors.json", &v)
	kn := v.KeyNames
	tests := []struct {
		key      string
		ok       bool
		backfill bool
		want     DigestKey
	}{
		{kn.Standard, true, false, DigestKey{Account: "123456789012", Region: "us-east-1", Trail: "foo", HomeRegion: "us-east-1", Stamp: kn.Date}},
		{kn.Backfill, true, true, DigestKey{Account: "123456789012", Region: "us-east-1", Trail: "foo", HomeRegion: "us-east-1", Stamp: kn.Date}},
		{"pre/fix/AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/2024/01/02/111122223333_CloudTrail-Digest_eu-west-1_my_trail_us-east-1_20240102T030405Z.json.gz", true, false,
			DigestKey{Prefix: "pre/fix", OrgID: "o-abc123", Account: "111122223333", Region: "eu-west-1", Trail: "my_trail", HomeRegion: "us-east-1", Stamp: "20240102T030405Z"}},
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0305Z_abc.json.gz", false, false, DigestKey{}},
		{"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/111122223333_CloudTrail-Digest_eu-west-1_t_us-east-1_20240102T030405Z.json.gz", false, false, DigestKey{}},
	}
	for _, name := range kn.NotBackfill {
		tests = append(tests, struct {
			key      string
			ok       bool
			backfill bool
			want     DigestKey
		}{name, false, false, DigestKey{}})
	}
	for _, tc := range tests {
		dk, ok := ParseDigestKey(tc.key)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v", tc.key, ok)
			continue
		}
		if !ok {
			continue
		}
		dk.Time = time.Time{}
		tc.want.Backfill = tc.backfill
		if dk != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.key, dk, tc.want)
		}
		if back := DigestKeyFor(dk.Prefix, dk.OrgID, dk.Account, dk.Region, dk.Trail, dk.HomeRegion, mustTime(t, dk.Stamp), dk.Backfill); back != tc.key {
			t.Errorf("DigestKeyFor = %s, want %s", back, tc.key)
		}
	}
	if _, _, name, err := ParseTrailARN(kn.ARNValid); err != nil || name != "foo" {
		t.Errorf("ParseTrailARN(%s) = %s, %v", kn.ARNValid, name, err)
	}
	for _, arn := range kn.ARNInvalid {
		if _, _, _, err := ParseTrailARN(arn); err == nil || err.Error() != "Invalid trail ARN provided: "+arn {
			t.Errorf("ParseTrailARN(%s) = %v", arn, err)
		}
	}
}

func mustTime(t *testing.T, stamp string) time.Time {
	t.Helper()
	tm, err := time.Parse("20060102T150405Z", stamp)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestLogFileHashes(t *testing.T) {
	var v cliVectors
	readJSON(t, "aws-cli-validate-logs-test-vectors.json", &v)
	gz := func(s string, members int) []byte {
		var b bytes.Buffer
		for range members {
			zw := gzip.NewWriter(&b)
			zw.Write([]byte(s))
			zw.Close()
		}
		return b.Bytes()
	}
	h := newHasher()
	for _, vec := range v.Hashes {
		for _, tc := range []struct {
			name string
			data []byte
			err  error
		}{
			{"gzip", gz(vec.Content, 1), nil},
			{"stored uncompressed", []byte(vec.Content), errNotGzip},
		} {
			sum, err := h.sum(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.err) || err == nil && sum != vec.Hash || errors.Is(err, errNotGzip) && sum != vec.Hash {
				t.Errorf("%s %q: %s, %v; want %s", tc.name, vec.Content, sum, err, vec.Hash)
			}
		}
	}
	// What the AWS CLI misses: a second gzip member changes the content.
	if sum, err := h.sum(bytes.NewReader(gz("{}", 2))); err != nil || sum == v.Hashes[0].Hash {
		t.Errorf("two members: %s, %v", sum, err)
	}
	full := gz(strings.Repeat(`{"a":1}`, 1000), 1)
	if _, err := h.sum(bytes.NewReader(full[:len(full)/2])); !errors.Is(err, errTruncated) {
		t.Errorf("truncated: %v", err)
	}
	bad := bytes.Clone(full)
	bad[len(bad)-6] ^= 0xff // the CRC
	if _, err := h.sum(bytes.NewReader(bad)); !errors.Is(err, errFormat) {
		t.Errorf("bad checksum: %v", err)
	}
	// Bytes appended after the gzip stream (the AWS CLI ignores them).
	if _, err := h.sum(bytes.NewReader(append(bytes.Clone(full), "some appended garbage"...))); !errors.Is(err, errFormat) {
		t.Errorf("trailing garbage: %v", err)
	}
	if _, err := h.sum(bytes.NewReader(append(bytes.Clone(full), "x"...))); err == nil {
		t.Error("a trailing byte went unnoticed")
	}
}
