package integrity

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// finding is what a test expects: a kind and the object's file name (or
// the message's start for results without an object).
type finding struct {
	kind Kind
	name string
}

func (f finding) String() string { return string(f.kind) + " " + f.name }

// run verifies root (one directory per bucket) and returns every result.
func runVerify(t *testing.T, v *Verifier, req Request) ([]Result, *Summary) {
	t.Helper()
	var results []Result
	sum, err := v.Verify(t.Context(), req, func(r *Result) error {
		results = append(results, *r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return results, sum
}

// findings lists the results that are not valid.
func findings(results []Result) []finding {
	var out []finding
	for _, r := range results {
		if r.Status == Valid {
			continue
		}
		name := path.Base(r.Key)
		if r.Key == "" {
			name = ""
		}
		out = append(out, finding{r.Kind, name})
	}
	return out
}

// manifest is the synthetic chain's manifest.json.
type manifest struct {
	Bucket     string `json:"bucket"`
	TrailARN   string `json:"trail_arn"`
	PublicKeys []struct {
		Fingerprint, Value                 string
		ValidityStartTime, ValidityEndTime string
	} `json:"public_keys"`
	Digests []struct {
		S3Object     string `json:"s3Object"`
		Signature    string `json:"x-amz-meta-signature"`
		Algorithm    string `json:"x-amz-meta-signature-algorithm"`
		SHA256       string `json:"uncompressed_sha256"`
		StringToSign string `json:"string_to_sign"`
		Starting     bool   `json:"is_starting_digest"`
		LogFiles     int    `json:"log_file_count"`
	} `json:"digests"`
	LogFiles []struct {
		S3Object string `json:"s3Object"`
		SHA256   string `json:"uncompressed_sha256"`
	} `json:"log_files"`
}

const synthetic = testdata + "/synthetic-signed-chain"

// syntheticCopy copies the synthetic chain's bucket, overlays a tampered
// copy, and writes the signature sidecars from the manifest.
func syntheticCopy(t *testing.T, overlay string, sidecars bool) (string, *manifest, *StaticKeys) {
	t.Helper()
	var m manifest
	readJSON(t, "synthetic-signed-chain/manifest.json", &m)
	root := t.TempDir()
	copyDir(t, filepath.Join(synthetic, "bucket"), root)
	bdir := filepath.Join(root, m.Bucket)
	if overlay != "" {
		copyDir(t, filepath.Join(synthetic, overlay), bdir)
	}
	if sidecars {
		for _, d := range m.Digests {
			meta, _ := json.Marshal(map[string]string{"x-amz-meta-signature": d.Signature, "x-amz-meta-signature-algorithm": d.Algorithm})
			if err := os.WriteFile(filepath.Join(bdir, d.S3Object)+SidecarSuffix, meta, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	keysJSON, _ := json.Marshal(map[string]any{"PublicKeyList": m.PublicKeys})
	keys, err := ReadPublicKeys(keysJSON)
	if err != nil {
		t.Fatal(err)
	}
	var sk StaticKeys
	sk.Add("", keys...)
	return root, &m, &sk
}

func TestSyntheticManifestVectors(t *testing.T) {
	root, m, sk := syntheticCopy(t, "", true)
	b := LocalBucket{Dir: filepath.Join(root, m.Bucket)}
	pk, _ := sk.PublicKeys(t.Context(), "us-east-1", time.Date(2024, 7, 31, 0, 0, 0, 0, time.UTC), time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC))
	if len(pk) != 1 {
		t.Fatalf("%d keys", len(pk))
	}
	for _, md := range m.Digests {
		body, meta, err := b.Get(t.Context(), md.S3Object)
		if err != nil {
			t.Fatal(err)
		}
		d, err := readDigest(body)
		body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if d.SHA256 != md.SHA256 || d.StringToSign() != md.StringToSign || d.Starting != md.Starting || len(d.LogFiles) != md.LogFiles {
			t.Errorf("%s: sha %s, starting %v, %d log files, string to sign:\n%s", path.Base(md.S3Object), d.SHA256, d.Starting, len(d.LogFiles), d.StringToSign())
		}
		if meta["signature"] != md.Signature {
			t.Errorf("sidecar signature %q", meta["signature"])
		}
		if err := VerifySignature(pk[0].Value, pk[0].Fingerprint, d.StringToSign(), meta["signature"]); err != nil {
			t.Errorf("%s: %v", path.Base(md.S3Object), err)
		}
	}
	h := newHasher()
	for _, lf := range m.LogFiles {
		body, _, err := b.Get(t.Context(), lf.S3Object)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := h.sum(body)
		body.Close()
		if err != nil || sum != lf.SHA256 {
			t.Errorf("%s: %s, %v", path.Base(lf.S3Object), sum, err)
		}
	}
}

func TestSyntheticChainOutcomes(t *testing.T) {
	const (
		d1, d2, d3 = "111122223333_CloudTrail-Digest_us-east-1_synthetic-trail_us-east-1_20240731T132000Z.json.gz",
			"111122223333_CloudTrail-Digest_us-east-1_synthetic-trail_us-east-1_20240731T142000Z.json.gz",
			"111122223333_CloudTrail-Digest_us-east-1_synthetic-trail_us-east-1_20240731T152000Z.json.gz"
		l1, l3 = "111122223333_CloudTrail_us-east-1_20240731T1310Z_SyntheticAAAA0001.json.gz",
			"111122223333_CloudTrail_us-east-1_20240731T1410Z_SyntheticAAAA0003.json.gz"
	)
	tests := []struct {
		name     string
		overlay  string
		sidecars bool
		want     []finding
		digests  Counts
		logs     Counts
		ok       bool
	}{
		{"bucket: all valid", "", true, nil, Counts{Valid: 3}, Counts{Valid: 3}, true},
		{"tampered log file", "tampered/logfile", true, []finding{{LogFileModified, l1}}, Counts{Valid: 3}, Counts{Valid: 2, Invalid: 1}, false},
		// The digest's logFiles were emptied: its signature fails, and the
		// log file it listed is now listed nowhere (the AWS CLI cannot say).
		{"tampered digest", "tampered/digest", true, []finding{{DigestModified, d2}, {LogFileUnlisted, l3}}, Counts{Valid: 2, Invalid: 1}, Counts{Valid: 2}, false},
		// Without sidecars each digest is proven by the signature the next
		// one records; only the newest stays unverified.
		{"no sidecars", "", false, []finding{{DigestUnverified, d3}}, Counts{Valid: 2, Unverified: 1}, Counts{Valid: 3}, true},
		{"no sidecars, tampered digest", "tampered/digest", false, []finding{{DigestUnverified, d3}, {DigestModified, d2}, {LogFileUnlisted, l3}}, Counts{Valid: 1, Invalid: 1, Unverified: 1}, Counts{Valid: 2}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, m, sk := syntheticCopy(t, tc.overlay, tc.sidecars)
			home, acct, trail, err := ParseTrailARN(m.TrailARN)
			if err != nil {
				t.Fatal(err)
			}
			v := &Verifier{Buckets: LocalBuckets{Root: root}, Keys: sk}
			results, sum := runVerify(t, v, Request{Bucket: m.Bucket, Trail: trail, HomeRegion: home, Accounts: []string{acct},
				Start: time.Date(2024, 7, 31, 12, 0, 0, 0, time.UTC), End: time.Date(2024, 7, 31, 16, 0, 0, 0, time.UTC)})
			if got := findings(results); !slices.Equal(got, tc.want) {
				t.Errorf("findings %v, want %v", got, tc.want)
			}
			if sum.Digests != tc.digests || sum.LogFiles != tc.logs || sum.OK() != tc.ok {
				t.Errorf("digests %+v, logs %+v, ok %v", sum.Digests, sum.LogFiles, sum.OK())
			}
			// The AWS CLI's order: newest digest first, each followed by
			// its log files.
			if results[0].Type != TypeDigest || path.Base(results[0].Key) != d3 {
				t.Errorf("first result %s", results[0].Message)
			}
		})
	}
}

// fx is a generated chain in a temporary directory.
type fx struct {
	root string
	opts chainOpts
	c    *chainT
	keys *StaticKeys
}

func (f *fx) verifier() *Verifier {
	return &Verifier{Buckets: LocalBuckets{Root: f.root}, Keys: f.keys, Events: BucketTrailEvents{Buckets: LocalBuckets{Root: f.root}}}
}

func (f *fx) request() Request {
	return Request{Bucket: f.c.Bucket, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fx) remove(t *testing.T, key string) {
	t.Helper()
	if err := os.Remove(f.c.Path(key)); err != nil {
		t.Fatal(err)
	}
	os.Remove(f.c.Path(key) + SidecarSuffix)
}

func (f *fx) write(t *testing.T, key string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(f.c.Path(key)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.c.Path(key), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func stopStart(name, trail string, at time.Time) string {
	return fmt.Sprintf(`{"eventVersion":"1.11","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory"},"eventTime":"%s","eventSource":"cloudtrail.amazonaws.com","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","requestParameters":{"name":"arn:aws:cloudtrail:us-east-1:111122223333:trail/%s"},"responseElements":null,"eventID":"e-%s","recipientAccountId":"111122223333"}`,
		fmtTime(at), name, trail, name)
}
