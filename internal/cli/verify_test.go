package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/gen"
	"github.com/trailwatch/trailwatch/internal/integrity/integritytest"
)

// verifyKey is generated once per test binary (slow under -race).
var verifyKey = sync.OnceValues(integritytest.NewKey)

// verifyCase is a bucket copy to verify with trailwatch and, to compare,
// with the AWS CLI's validate-logs.
type verifyCase struct {
	name string
	root string   // one directory per bucket
	keys string   // list-public-keys file
	args []string // trailwatch verify arguments (--local and --public-keys added)
	// cli are the aws cloudtrail validate-logs arguments for the same
	// check; nil when the AWS CLI cannot run it (no sidecars).
	cli []string
	env []string // TW_BUCKET, TW_ORG … for the harness
	// same: trailwatch's output must equal the AWS CLI's. Otherwise every
	// line the AWS CLI prints must appear, in order, in trailwatch's.
	same bool
	// fooled: the AWS CLI accepts what trailwatch rejects (only the header
	// line is compared).
	fooled  bool
	exit    int // trailwatch's exit code
	cliExit int // the AWS CLI's
	wantOut []string
	wantErr []string
}

func writeVerifyFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// syntheticCase copies the shared synthetic signed chain (and a tampered
// overlay) with signature sidecars from its manifest.
func syntheticCase(t *testing.T, name, overlay string, sidecars bool) verifyCase {
	t.Helper()
	src := filepath.Join(shared, "digest/synthetic-signed-chain")
	data, err := os.ReadFile(filepath.Join(src, "manifest.json"))
	if err != nil {
		t.Skip("shared test data not available:", err)
	}
	var m struct {
		Bucket     string           `json:"bucket"`
		TrailARN   string           `json:"trail_arn"`
		PublicKeys []map[string]any `json:"public_keys"`
		Digests    []struct {
			S3Object  string `json:"s3Object"`
			Signature string `json:"x-amz-meta-signature"`
			Algorithm string `json:"x-amz-meta-signature-algorithm"`
		} `json:"digests"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	copyTree(t, filepath.Join(src, "bucket"), root)
	if overlay != "" {
		copyTree(t, filepath.Join(src, overlay), filepath.Join(root, m.Bucket))
	}
	if sidecars {
		for _, d := range m.Digests {
			meta, _ := json.Marshal(map[string]string{"x-amz-meta-signature": d.Signature, "x-amz-meta-signature-algorithm": d.Algorithm})
			writeVerifyFile(t, filepath.Join(root, m.Bucket, d.S3Object)+".metadata.json", meta)
		}
	}
	keys, _ := json.Marshal(map[string]any{"PublicKeyList": m.PublicKeys})
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	writeVerifyFile(t, keysFile, keys)
	args := []string{"--trail-arn", m.TrailARN, "--start-time", "2024-07-31T12:00:00Z", "--end-time", "2024-07-31T16:00:00Z"}
	return verifyCase{name: name, root: root, keys: keysFile, args: args, cli: append(args, "--s3-bucket", m.Bucket),
		env: []string{"TW_BUCKET=" + m.Bucket}}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		var b bytes.Buffer
		if _, err := io.Copy(&b, in); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b.Bytes(), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// chainCase writes a six-hour chain signed with the test key.
func chainCase(t *testing.T, name string, mod func(*integritytest.Options), tamper func(c *integritytest.Chain)) verifyCase {
	t.Helper()
	key, err := verifyKey()
	if err != nil {
		t.Fatal(err)
	}
	o := integritytest.Options{Root: t.TempDir(), Key: key}
	if mod != nil {
		mod(&o)
	}
	c, err := integritytest.Write(o)
	if err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(c)
	}
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	if err := integritytest.WritePublicKeys(keysFile, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), key); err != nil {
		t.Fatal(err)
	}
	args := []string{"--trail-arn", c.ARN, "--start-time", "2026-03-01T00:00:00Z", "--end-time", "2026-03-01T12:00:00Z"}
	return verifyCase{name: name, root: o.Root, keys: keysFile, args: args, cli: append(args, "--s3-bucket", c.Bucket),
		env: []string{"TW_BUCKET=" + c.Bucket}}
}

// demoCase generates a small demo data set (an organization trail) and
// verifies the chain of the account whose logging the attacker stopped.
func demoCase(t *testing.T, name string) verifyCase {
	t.Helper()
	dir := t.TempDir()
	sum, err := gen.Generate(t.Context(), gen.Options{Dir: dir, Hours: 4, Accounts: 1, Events: 1500, AccessLogLines: 20, Attacks: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var acct string
	for _, st := range sum.Stories {
		if st.ID == "cloudtrail-stopped" {
			acct = st.Account
		}
	}
	bucket := "aws-cloudtrail-logs-" + acct + "-demo"
	orgs, err := os.ReadDir(filepath.Join(dir, bucket, "AWSLogs"))
	if err != nil || acct == "" || len(orgs) != 1 {
		t.Fatalf("demo layout: %v %q %v", err, acct, orgs)
	}
	args := []string{"--trail-arn", "arn:aws:cloudtrail:us-east-1:" + acct + ":trail/org-trail", "--account-id", acct,
		"--start-time", "2026-11-01T00:00:00Z", "--end-time", "2026-11-01T06:00:00Z"}
	return verifyCase{name: name, root: dir, keys: filepath.Join(dir, "public-keys.json"),
		args: append(args, "--region", "us-east-1"), cli: args,
		env: []string{"TW_BUCKET=" + bucket, "TW_ORG=" + orgs[0].Name()}}
}

func stopEvent(name string, at time.Time) string {
	return fmt.Sprintf(`{"eventVersion":"1.11","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory"},"eventTime":"%s","eventSource":"cloudtrail.amazonaws.com","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","requestParameters":{"name":"test-trail"},"eventID":"%s-1","recipientAccountId":"111122223333"}`,
		at.Format(time.RFC3339), name, name)
}

func verifyCases(t *testing.T) []verifyCase {
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	var cases []verifyCase
	add := func(c verifyCase, mod func(*verifyCase)) {
		if mod != nil {
			mod(&c)
		}
		cases = append(cases, c)
	}
	add(syntheticCase(t, "synthetic-valid", "", true), func(c *verifyCase) {
		c.same, c.args, c.cli = true, append(c.args, "--verbose"), append(c.cli, "--verbose")
	})
	add(syntheticCase(t, "synthetic-tampered-logfile", "tampered/logfile", true), func(c *verifyCase) {
		c.same, c.exit, c.cliExit = true, 1, 1
		c.wantErr = []string{"INVALID: hash value doesn't match"}
	})
	// The AWS CLI says the digest is invalid; trailwatch also says that
	// the log file it listed is now listed nowhere.
	add(syntheticCase(t, "synthetic-tampered-digest", "tampered/digest", true), func(c *verifyCase) {
		c.exit, c.cliExit = 1, 1
		c.wantErr = []string{"INVALID: signature verification failed", "INVALID: not listed in any digest file"}
	})
	add(syntheticCase(t, "synthetic-no-sidecars", "", false), func(c *verifyCase) {
		c.cli = nil
		c.args = append(c.args, "--verbose")
		c.wantErr = []string{"_20240731T152000Z.json.gz\tUNVERIFIED: no signature"}
		c.wantOut = []string{"2/3 digest files valid, 1/3 digest files UNVERIFIED"}
	})
	add(chainCase(t, "log-file-deleted", nil, func(c *integritytest.Chain) { must(os.Remove(c.Path(c.LogFiles[2][1]))) }), func(c *verifyCase) {
		c.same, c.exit, c.cliExit = true, 1, 1
		c.wantErr = []string{"INVALID: not found"}
	})
	// A deleted digest: both report it; trailwatch also reports its log
	// files, which the AWS CLI skips.
	add(chainCase(t, "digest-deleted", nil, func(c *integritytest.Chain) {
		must(os.Remove(c.Path(c.Digests[3])))
		must(os.Remove(c.Path(c.Digests[3]) + ".metadata.json"))
	}), func(c *verifyCase) {
		c.exit, c.cliExit = 1, 1
		c.wantErr = []string{"json.gz\tINVALID: not found", "INVALID: not listed in any digest file"}
	})
	// A digest replaced with a validly signed one: the AWS CLI accepts it;
	// the next digest's previousDigestHashValue does not.
	add(chainCase(t, "digest-replaced", nil, func(c *integritytest.Chain) {
		data, err := integritytest.ReadGz(c.Path(c.Digests[3]))
		must(err)
		var m map[string]any
		must(json.Unmarshal(data, &m))
		m["logFiles"] = m["logFiles"].([]any)[:1]
		data, _ = json.Marshal(m)
		key, _ := verifyKey()
		must(integritytest.Resign(c, c.Digests[3], data, key, m["digestEndTime"].(string), m["previousDigestSignature"].(string)))
	}), func(c *verifyCase) {
		c.exit, c.cliExit, c.fooled = 1, 0, true
		c.wantErr = []string{"INVALID: hash value doesn't match the previousDigestHashValue of", "INVALID: not listed in any digest file"}
	})
	// Logging stopped: the AWS CLI's gap message, and the new starting
	// digest with the StopLogging and StartLogging events.
	add(chainCase(t, "logging-stopped", func(o *integritytest.Options) {
		o.Restart = map[int]int{3: 2}
		o.Records = func(i, j int) []string {
			switch {
			case i == 2 && j == 1:
				return []string{stopEvent("StopLogging", time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC))}
			case i == 3 && j == 0:
				return []string{stopEvent("StartLogging", time.Date(2026, 3, 1, 5, 25, 0, 0, time.UTC))}
			}
			return nil
		}
	}, nil), func(c *verifyCase) {
		c.wantErr = []string{"No log files were delivered by CloudTrail between", "WARNING: new starting digest", "StopLogging at 2026-03-01T03:00:00Z by arn:aws:iam::111122223333:user/mallory"}
	})
	// The wrong region: the AWS CLI prints "No digests found" and exits 0.
	add(chainCase(t, "wrong-region", nil, nil), func(c *verifyCase) {
		c.args = append(c.args, "--region", "eu-west-1")
		c.cli = append(c.cli, "--region", "eu-west-1")
		c.exit, c.cliExit = 1, 0
		c.wantOut = []string{"No digests found"}
		c.wantErr = []string{"No digests found for trail test-trail in region eu-west-1", "digest files exist for 111122223333/us-east-1/test-trail"}
	})
	// The demo's organization trail: valid, with the AWS CLI's gap message
	// where logging was stopped, and the StopLogging event that explains it.
	add(demoCase(t, "demo-organization-trail"), func(c *verifyCase) {
		c.wantErr = []string{"No log files were delivered by CloudTrail between", "StopLogging at "}
	})
	add(chainCase(t, "json", func(o *integritytest.Options) { o.Hours = 2 }, func(c *integritytest.Chain) {
		must(integritytest.WriteGz(c.Path(c.LogFiles[1][0]), []byte("{}")))
	}), func(c *verifyCase) {
		c.cli, c.exit = nil, 1
		c.args = append([]string{"--format", "json"}, c.args...)
		c.wantOut = []string{`"kind":"log-file-modified"`, `"type":"summary"`}
	})
	return cases
}

// runVerifyCase runs trailwatch verify on a case.
func runVerifyCase(t *testing.T, c verifyCase) (int, string, string) {
	t.Helper()
	args := []string{"verify", "--local", c.root, "--public-keys", c.keys}
	if len(c.args) > 0 && c.args[0] == "--format" {
		args = append([]string{c.args[0], c.args[1]}, append(args, c.args[2:]...)...)
	} else {
		args = append(args, c.args...)
	}
	return run(t, "", args...)
}

// TestVerify runs trailwatch verify on each case and checks its output
// against testdata/verify-<case>.golden, then against the AWS CLI's
// validate-logs on the same copy: the same output where the AWS CLI sees
// everything, and every line of it (in order) where trailwatch reports
// more. The AWS CLI's output is recorded in
// testdata/verify-<case>.awscli.golden (rewritten with -update when the AWS
// CLI is installed), so the comparison runs without it too.
func TestVerify(t *testing.T) {
	for _, c := range verifyCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runVerifyCase(t, c)
			if code != c.exit {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.exit, out, errs)
			}
			for _, w := range c.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.wantErr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			golden(t, "verify-"+c.name, fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, out, errs))
			if c.cli != nil {
				compareAWSCLI(t, c, code, out, errs)
			}
		})
	}
}

// awsCLI runs the installed AWS CLI's validate-logs on a case through
// testdata/awscli_validate.py, or reports why it cannot.
func awsCLI(t *testing.T, c verifyCase) (int, string, string, error) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		return 0, "", "", err
	}
	if err := exec.Command(py, "-c", "import awscli.customizations.cloudtrail.validation").Run(); err != nil {
		return 0, "", "", fmt.Errorf("the AWS CLI (python awscli) is not installed: %w", err)
	}
	script, _ := filepath.Abs("testdata/awscli_validate.py")
	cmd := exec.CommandContext(t.Context(), py, append([]string{script}, c.cli...)...)
	cmd.Env = append(os.Environ(), append(c.env, "TW_ROOT="+c.root, "TW_KEYS="+c.keys)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code, err = ee.ExitCode(), nil
	}
	return code, out.String(), errb.String(), err
}

// compareAWSCLI compares trailwatch's output on a case with the AWS CLI's.
func compareAWSCLI(t *testing.T, c verifyCase, twCode int, twOut, twErr string) {
	t.Helper()
	path := filepath.Join("testdata", "verify-"+c.name+".awscli.golden")
	code, out, errs, err := awsCLI(t, c)
	recorded := ""
	if err == nil {
		recorded = fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, out, errs)
		if *update {
			writeVerifyFile(t, path, []byte(recorded))
		} else if want, rerr := os.ReadFile(path); rerr == nil && string(want) != recorded {
			t.Errorf("the AWS CLI's output changed from %s (go test -update rewrites it):\n%s", path, recorded)
		}
	} else {
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Skipf("AWS CLI not available (%v) and no recorded output", err)
		}
		recorded = string(data)
	}
	cliCode, cliOut, cliErr := parseRecorded(t, recorded)
	if cliCode != c.cliExit {
		t.Errorf("the AWS CLI exits %d, want %d", cliCode, c.cliExit)
	}
	if c.same {
		if twCode != cliCode || twOut != cliOut || twErr != cliErr {
			t.Errorf("differs from the AWS CLI:\n--- trailwatch (exit %d)\n%s%s--- aws cli (exit %d)\n%s%s", twCode, twOut, twErr, cliCode, cliOut, cliErr)
		}
		return
	}
	if c.fooled {
		if h1, h2 := strings.SplitN(cliOut, "\n", 2)[0], strings.SplitN(twOut, "\n", 2)[0]; h1 != h2 {
			t.Errorf("header %q, the AWS CLI's %q", h2, h1)
		}
		if strings.Contains(cliErr, "INVALID") {
			t.Errorf("the AWS CLI was not fooled:\n%s", cliErr)
		}
		return
	}
	for _, p := range [][2]string{{cliOut, twOut}, {cliErr, twErr}} {
		if missing := notSubsequence(p[0], p[1]); missing != "" {
			t.Errorf("trailwatch lacks the AWS CLI's line %q:\n--- trailwatch\n%s--- aws cli\n%s", missing, p[1], p[0])
		}
	}
}

func parseRecorded(t *testing.T, s string) (int, string, string) {
	t.Helper()
	var code int
	head, rest, _ := strings.Cut(s, "\n--- stdout\n")
	if _, err := fmt.Sscanf(head, "exit %d", &code); err != nil {
		t.Fatalf("recorded output: %v", err)
	}
	out, errs, _ := strings.Cut(rest, "--- stderr\n")
	return code, out, errs
}

// notSubsequence returns the first non-blank line of want that does not
// appear in got after the previous one, or "".
func notSubsequence(want, got string) string {
	lines := strings.Split(got, "\n")
	i := 0
	for _, w := range strings.Split(want, "\n") {
		if strings.TrimSpace(w) == "" {
			continue
		}
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			return w
		}
		i++
	}
	return ""
}

func TestVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no trail without --local", []string{"verify", "--start-time", "2026-01-01"}, ExitUsage, "--trail-arn is required"},
		{"no start without --local", []string{"verify", "--trail-arn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}, ExitUsage, "--start-time is required"},
		{"bad ARN", []string{"verify", "--trail-arn", "foo:bar:baz", "--start-time", "2026-01-01"}, ExitUsage, "Invalid trail ARN provided: foo:bar:baz"},
		{"start after end", []string{"verify", "--local", dir, "--start-time", "2026-02-01", "--end-time", "2026-01-01"}, ExitUsage, "start-time must occur before end-time"},
		{"S3 not wired", []string{"verify", "--trail-arn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/t", "--start-time", "2026-01-01"}, ExitFailure, "verifying in S3 needs AWS access"},
		{"csv", []string{"--format", "csv", "verify", "--local", dir}, ExitUsage, "not csv"},
		{"no such dir", []string{"verify", "--local", filepath.Join(dir, "nope")}, ExitUsage, "--local"},
		{"empty dir", []string{"verify", "--local", dir}, ExitUsage, "no AWSLogs/ directory"},
		{"bad keys file", []string{"verify", "--local", dir, "--public-keys", filepath.Join(dir, "nope.json")}, ExitUsage, "--public-keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, errs, tc.code, tc.msg)
			}
		})
	}
}

// TestVerifyLocalLayouts: --local takes a bucket's own content (as
// aws s3 sync writes it) or a directory of buckets.
func TestVerifyLocalLayouts(t *testing.T) {
	key, err := verifyKey()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	c, err := integritytest.Write(integritytest.Options{Root: root, Key: key, Bucket: "my-trail-bucket", Hours: 2})
	if err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	if err := integritytest.WritePublicKeys(keysFile, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), key); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		note string
	}{
		{"directory of buckets", []string{"--local", root}, ""},
		{"bucket content, name from the digests", []string{"--local", c.Dir}, "bucket my-trail-bucket (from the digest files"},
		{"bucket content, name given", []string{"--local", c.Dir, "--s3-bucket", "my-trail-bucket"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, "", append([]string{"verify", "--public-keys", keysFile}, tc.args...)...)
			if code != ExitOK || !strings.Contains(out, "2/2 digest files valid") || !strings.Contains(errs, tc.note) {
				t.Errorf("exit %d\n%s%s", code, out, errs)
			}
		})
	}
}
