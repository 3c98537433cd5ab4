package cli

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/detect"
	"github.com/trailwatch/trailwatch/internal/gen"
	"github.com/trailwatch/trailwatch/internal/integrity"
	"github.com/trailwatch/trailwatch/internal/integrity/integritytest"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
	"github.com/trailwatch/trailwatch/internal/testsrv"
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
		{"bad end time", []string{"verify", "--trail-arn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/t", "--start-time", "2026-01-01", "--end-time", "soon"}, ExitUsage, "--end-time"},
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

// runWith runs a command line on a root command that has the download
// command (until root.go registers it).
func runWith(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	root := a.rootCommand()
	if c, _, err := root.Find([]string{"download"}); err != nil || c == root {
		root.AddCommand(a.downloadCommand())
	}
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(t.Context())
	code := ExitOK
	if err != nil {
		code = ExitFailure
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		fmt.Fprintln(&errb, "trailwatch: "+err.Error())
	}
	return code, out.String(), errb.String()
}

// s3Setup starts a real S3-compatible server and a CloudTrail stand-in
// (ListPublicKeys, DescribeTrails) and uploads root (one directory per
// bucket) with the sidecars' metadata as the objects' x-amz-meta-*.
func s3Setup(t *testing.T, root string, ct *integritytest.CloudTrail) {
	t.Helper()
	srv := testsrv.StartS3(t)
	testsrv.Env(t, srv, nil)
	hs := httptest.NewServer(ct)
	t.Cleanup(hs.Close)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", hs.URL)
	ctx := t.Context()
	sess, err := awsapi.New(ctx, awsapi.Config{S3PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	b := sess.S3("")
	names, err := integritytest.Buckets(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := b.CreateBucket(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	err = integritytest.Objects(root, 8, func(bucket, key string, data []byte, meta map[string]string) error {
		return b.Put(ctx, bucket, key, bytes.NewReader(data), meta)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVerifyS3 verifies a tampered chain directly in S3 (bucket and prefix
// from DescribeTrails, keys from ListPublicKeys, signatures from the
// objects' metadata) and checks that it prints exactly what --local prints
// for the same copy; then downloads the bucket with trailwatch download
// and verifies the download with --local, again with the same output.
func TestVerifyS3(t *testing.T) {
	var c *integritytest.Chain
	vc := chainCase(t, "s3", func(o *integritytest.Options) { o.Prefix = "team" }, func(ch *integritytest.Chain) {
		c = ch
		// A modified log file and a deleted digest.
		if err := integritytest.WriteGz(ch.Path(ch.LogFiles[1][0]), []byte(`{"Records":[]}`)); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(ch.Path(ch.Digests[3])); err != nil {
			t.Fatal(err)
		}
		os.Remove(ch.Path(ch.Digests[3]) + ".metadata.json")
	})
	key, err := verifyKey()
	if err != nil {
		t.Fatal(err)
	}
	// A second, untouched trail in its own bucket.
	clean, err := integritytest.Write(integritytest.Options{Root: vc.root, Key: key, Bucket: "clean-bucket", Trail: "clean-trail", Account: "444455556666", Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	ct := &integritytest.CloudTrail{Keys: []*rsa.PrivateKey{key}, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		Trails: []integritytest.TrailInfo{{ARN: c.ARN, Name: c.Trail, HomeRegion: "us-east-1", Bucket: c.Bucket, Prefix: "team"},
			{ARN: clean.ARN, Name: clean.Trail, HomeRegion: "eu-west-1", Bucket: clean.Bucket}}}
	s3Setup(t, vc.root, ct)
	rng := []string{"--start-time", "2026-03-01T00:00:00Z", "--end-time", "2026-03-01T12:00:00Z"}

	lcode, lout, lerr := run(t, "", append([]string{"verify", "--local", vc.root, "--public-keys", vc.keys, "--trail-arn", c.ARN, "--s3-prefix", "team"}, rng...)...)
	code, out, errs := run(t, "", append([]string{"verify", "--trail-arn", c.ARN, "--s3-path-style"}, rng...)...)
	if code != 1 || lcode != 1 {
		t.Errorf("exit %d (local %d), want 1\n%s%s", code, lcode, out, errs)
	}
	if out != lout || errs != lerr {
		t.Errorf("S3 output differs from --local:\n--- S3 stdout\n%s--- local stdout\n%s--- S3 stderr\n%s--- local stderr\n%s", out, lout, errs, lerr)
	}
	for _, w := range []string{"INVALID: hash value doesn't match", "INVALID: not found"} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	calls := strings.Join(ct.Calls(), ",")
	if !strings.Contains(calls, "DescribeTrails us-east-1") || !strings.Contains(calls, "ListPublicKeys us-east-1") {
		t.Errorf("CloudTrail calls: %s", calls)
	}

	// The real AWS CLI on the same S3 server and CloudTrail stand-in: every
	// line it prints, trailwatch prints, in order.
	t.Run("aws cli", func(t *testing.T) {
		awsBin, err := exec.LookPath("aws")
		if err != nil {
			t.Skip("the AWS CLI is not installed")
		}
		cfg := filepath.Join(t.TempDir(), "config")
		writeVerifyFile(t, cfg, []byte("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"))
		for _, verbose := range []bool{false, true} {
			args := append([]string{"cloudtrail", "validate-logs", "--trail-arn", c.ARN}, rng...)
			twArgs := append([]string{"verify", "--trail-arn", c.ARN, "--s3-path-style"}, rng...)
			if verbose {
				args, twArgs = append(args, "--verbose"), append(twArgs, "--verbose")
			}
			cmd := exec.CommandContext(t.Context(), awsBin, args...)
			cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+cfg)
			var cout, cerr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &cout, &cerr
			ccode := 0
			if err := cmd.Run(); err != nil {
				ee, ok := err.(*exec.ExitError)
				if !ok {
					t.Fatal(err)
				}
				ccode = ee.ExitCode()
			}
			twCode, twOut, twErr := run(t, "", twArgs...)
			if ccode != 1 || twCode != 1 || !strings.Contains(cout.String(), "Results requested for") || !strings.Contains(cerr.String(), "INVALID: hash value doesn't match") {
				t.Fatalf("exit %d, the AWS CLI's %d\n--- aws stdout\n%s--- aws stderr\n%s", twCode, ccode, cout.String(), cerr.String())
			}
			for _, p := range [][2]string{{cout.String(), twOut}, {cerr.String(), twErr}} {
				if missing := notSubsequence(p[0], p[1]); missing != "" {
					t.Errorf("verbose=%v: trailwatch lacks the AWS CLI's line %q:\n--- trailwatch\n%s--- aws cli\n%s", verbose, missing, p[1], p[0])
				}
			}
			// On the untouched trail (another account and region), the
			// same output, byte for byte.
			args = append([]string{"cloudtrail", "validate-logs", "--trail-arn", clean.ARN}, args[4:]...)
			twArgs = append([]string{"verify", "--trail-arn", clean.ARN}, twArgs[3:]...)
			cmd = exec.CommandContext(t.Context(), awsBin, args...)
			cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+cfg)
			cout.Reset()
			cerr.Reset()
			cmd.Stdout, cmd.Stderr = &cout, &cerr
			if err := cmd.Run(); err != nil {
				t.Fatalf("aws cli on the clean trail: %v\n%s%s", err, cout.String(), cerr.String())
			}
			twCode, twOut, twErr = run(t, "", twArgs...)
			if twCode != 0 || twOut != cout.String() || twErr != cerr.String() {
				t.Errorf("verbose=%v: clean trail differs from the AWS CLI:\n--- trailwatch (exit %d)\n%s%s--- aws cli\n%s%s", verbose, twCode, twOut, twErr, cout.String(), cerr.String())
			}
		}
	})

	// JSON output through S3 too.
	code, jout, _ := run(t, "", append([]string{"--format", "json", "verify", "--trail-arn", c.ARN, "--s3-path-style", "--s3-bucket", c.Bucket, "--s3-prefix", "team"}, rng...)...)
	if code != 1 || !strings.Contains(jout, `"kind":"log-file-modified"`) || !strings.Contains(jout, `"kind":"digest-deleted"`) {
		t.Errorf("json: exit %d\n%s", code, jout)
	}

	// Download, then verify the copy.
	dir := t.TempDir()
	code, dout, derr := runWith(t, "download", "s3://"+c.Bucket+"/team/", dir, "--s3-path-style", "--start-time", "2026-03-01", "--end-time", "2026-03-01T12:00:00Z")
	if code != 0 {
		t.Fatalf("download: exit %d\n%s%s", code, dout, derr)
	}
	if want := fmt.Sprintf("Downloaded %d objects", 5+6*2); !strings.Contains(dout, want) || !strings.Contains(dout, " 5 with signature metadata") {
		t.Errorf("download output %q, want %q and 5 sidecars", dout, want)
	}
	if _, err := os.Stat(filepath.Join(dir, c.Bucket, filepath.FromSlash(c.Digests[2])+".metadata.json")); err != nil {
		t.Errorf("no sidecar: %v", err)
	}
	dcode, dvout, dverr := run(t, "", append([]string{"verify", "--local", dir, "--public-keys", vc.keys, "--trail-arn", c.ARN, "--s3-prefix", "team"}, rng...)...)
	if dcode != 1 || dvout != out || dverr != errs {
		t.Errorf("verify of the download: exit %d\n--- stdout\n%s--- stderr\n%s", dcode, dvout, dverr)
	}
	// Again: everything is there already.
	if code, dout, _ := runWith(t, "download", "s3://"+c.Bucket+"/team", dir, "--s3-path-style"); code != 0 || !strings.Contains(dout, "Downloaded 0 objects") || !strings.Contains(dout, "17 already there") {
		t.Errorf("second download: exit %d: %s", code, dout)
	}

	// An unknown trail: the lookup fails and says what to do.
	code, _, errs = run(t, "", append([]string{"verify", "--trail-arn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/nope", "--s3-path-style"}, rng...)...)
	if code != 1 || !strings.Contains(errs, "cloudtrail:DescribeTrails") || !strings.Contains(errs, "--s3-bucket") {
		t.Errorf("unknown trail: exit %d: %s", code, errs)
	}
	// The wrong region: no digests is a failure, not "valid".
	code, out, errs = run(t, "", append([]string{"verify", "--trail-arn", c.ARN, "--s3-path-style", "--region", "eu-west-1"}, rng...)...)
	if code != 1 || !strings.Contains(errs, "No digests found") {
		t.Errorf("wrong region: exit %d\n%s%s", code, out, errs)
	}
}

// TestVerifyStatus: the collector's integrity monitor writes
// integrity_status and integrity_findings; verify --status prints them and
// exits 1 when a chain is invalid.
func TestVerifyStatus(t *testing.T) {
	var c *integritytest.Chain
	vc := chainCase(t, "status", nil, func(ch *integritytest.Chain) {
		c = ch
		if err := integritytest.WriteGz(ch.Path(ch.LogFiles[2][1]), []byte(`{"Records":[]}`)); err != nil {
			t.Fatal(err)
		}
	})
	db := filepath.Join(t.TempDir(), "tw.duckdb")
	if code, _, errs := run(t, "", "--db", db, "verify", "--status"); code != 1 || !strings.Contains(errs, "no database") && !strings.Contains(errs, "no integrity status") {
		t.Errorf("before: exit %d: %s", code, errs)
	}
	mustRun(t, 0, "--db", db, "ingest", vc.root)
	ctx := t.Context()
	st, err := duckdb.Open(ctx, db, duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var keys integrity.StaticKeys
	if err := keys.LoadFile(vc.keys); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return c.Ends[len(c.Ends)-1].Add(time.Hour) }
	var alerts []detect.Finding
	m := integrity.NewMonitor(integrity.MonitorOptions{DB: st.DB(), Checkpoints: st, Keys: &keys, Now: now, Settle: -1,
		Emit: func(f detect.Finding) { alerts = append(alerts, f) }})
	if _, err := m.Check(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if len(alerts) != 1 || alerts[0].RuleID != "trailwatch-integrity-log-file-modified" {
		t.Errorf("alerts %+v", alerts)
	}
	code, out, errs := run(t, "", "--db", db, "verify", "--status", "--verbose")
	if code != 1 || !strings.Contains(out, "invalid") || !strings.Contains(out, "test-trail") || !strings.Contains(out, "log-file-modified") ||
		!strings.Contains(errs, "1 trail chain(s) invalid or overdue") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "", "--db", db, "--format", "json", "verify", "--status")
	if code != 1 || !strings.Contains(out, `"status":"invalid"`) || !strings.Contains(out, `"logs_valid":11`) {
		t.Errorf("json: exit %d\n%s", code, out)
	}
}

// TestDownloadUsage: bad download arguments are usage errors, before any
// AWS call.
func TestDownloadUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"not an s3 URL", []string{"download", "bucket", dir}, "is not an s3://bucket[/prefix] URL"},
		{"no bucket", []string{"download", "s3://", dir}, "names no bucket"},
		{"bad start", []string{"download", "s3://b", dir, "--start-time", "yesterday-ish"}, "--start-time"},
		{"start after end", []string{"download", "s3://b", dir, "--start-time", "2026-02-01", "--end-time", "2026-01-01"}, "start-time must occur before end-time"},
		{"workers", []string{"download", "s3://b", dir, "--workers", "0"}, "--workers"},
		{"one argument", []string{"download", "s3://b"}, "accepts 2 arg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runWith(t, tc.args...)
			if code == 0 || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d, stderr %q; want %q", code, errs, tc.msg)
			}
		})
	}
}
