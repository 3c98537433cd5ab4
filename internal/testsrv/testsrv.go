// Package testsrv starts real S3- and SQS/SNS-compatible servers on
// 127.0.0.1 for tests, and stops them when the test ends: VersityGW (S3,
// built from the Go module proxy) and fauxqs (SQS and SNS, from npm).
// .ci/run installs both into <repo>/.cache/tools; TRAILWATCH_TOOLS points
// elsewhere. Without them a test is skipped, unless
// TRAILWATCH_REQUIRE_SERVERS=1 (as in CI), which makes it fail.
package testsrv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Credentials the servers accept.
const (
	AccessKey = "trailwatch-test"
	SecretKey = "trailwatch-test-secret"
	Region    = "us-east-1"
)

// S3 is a running S3-compatible server.
type S3 struct {
	URL string // http://127.0.0.1:<port>
	Dir string // where it keeps buckets (one directory per bucket)
}

// SQS is a running SQS/SNS-compatible server.
type SQS struct {
	URL string
}

// toolsDir finds <repo>/.cache/tools or TRAILWATCH_TOOLS.
func toolsDir() string {
	if d := os.Getenv("TRAILWATCH_TOOLS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", ".cache", "tools")
}

func missing(t testing.TB, what string) {
	t.Helper()
	msg := fmt.Sprintf("%s not found in %s: run .ci/run (or see it for the install commands)", what, toolsDir())
	if os.Getenv("TRAILWATCH_REQUIRE_SERVERS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// freePort returns a port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs cmd until the test ends; the returned channel closes when the
// process exits.
func start(t testing.TB, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	return exited
}

func waitTCP(t testing.TB, addr string, cmd *exec.Cmd, exited <-chan struct{}, logs *strings.Builder) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before listening on %s:\n%s", cmd.Path, addr, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not start listening on %s:\n%s", cmd.Path, addr, logs.String())
}

// lockedBuilder is a strings.Builder safe for a process's output.
type lockedWriter struct{ b *strings.Builder }

func (w lockedWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

// StartS3 starts VersityGW (posix backend) in a temporary directory.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := filepath.Join(toolsDir(), "bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		missing(t, "versitygw")
	}
	dir, meta := t.TempDir(), t.TempDir() // metadata kept outside the buckets
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var logs strings.Builder
	cmd := exec.Command(bin, "--access", AccessKey, "--secret", SecretKey, "--region", Region, "--port", addr, "--quiet", "posix", "--sidecar", meta, dir)
	cmd.Stdout, cmd.Stderr = lockedWriter{&logs}, lockedWriter{&logs}
	exited := start(t, cmd)
	waitTCP(t, addr, cmd, exited, &logs)
	return &S3{URL: "http://" + addr, Dir: dir}
}

// StartSQS starts fauxqs bound to 127.0.0.1.
func StartSQS(t testing.TB) *SQS {
	t.Helper()
	pkg := filepath.Join(toolsDir(), "node_modules", "fauxqs")
	if _, err := os.Stat(filepath.Join(pkg, "package.json")); err != nil {
		missing(t, "fauxqs")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node")
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(node, filepath.Join(filepath.Dir(file), "fauxqs.mjs"))
	cmd.Env = append(os.Environ(), "FAUXQS_DIR="+pkg, "FAUXQS_DEFAULT_REGION="+Region)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd.Stderr = lockedWriter{&logs}
	exited := start(t, cmd)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m struct {
				Address string `json:"address"`
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Address != "" {
				ready <- m.Address
			}
		}
	}()
	select {
	case addr := <-ready:
		return &SQS{URL: addr}
	case <-exited:
		t.Fatalf("fauxqs exited:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("fauxqs did not start:\n%s", logs.String())
	}
	return nil
}

// Env sets the environment the AWS SDK reads so that clients reach these
// servers with the test credentials (either server may be nil).
func Env(t testing.TB, s3 *S3, sqs *SQS) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	if s3 != nil {
		t.Setenv("AWS_ENDPOINT_URL_S3", s3.URL)
	}
	if sqs != nil {
		t.Setenv("AWS_ENDPOINT_URL_SQS", sqs.URL)
		t.Setenv("AWS_ENDPOINT_URL_SNS", sqs.URL)
		t.Setenv("AWS_ENDPOINT_URL_STS", sqs.URL)
	}
}
