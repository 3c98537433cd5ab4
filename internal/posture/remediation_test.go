package posture

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestRemediationsRunInAWSCLI runs every AWS CLI command of every
// remediation of the misconfigured accounts through the real AWS CLI,
// against a local endpoint: each must pass the CLI's parsing and its
// validation against the service model, and send its request.
func TestRemediationsRunInAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		skipNoCLI(t, err)
	}
	if err := exec.Command("python3", "-c", "import awscli").Run(); err != nil {
		skipNoCLI(t, err)
	}
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if op == "" {
			_ = r.ParseForm()
			op = r.PostForm.Get("Action")
		}
		if op == "" {
			op = r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
		}
		mu.Lock()
		requests = append(requests, op)
		mu.Unlock()
		switch {
		case r.Header.Get("X-Amz-Target") != "":
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_, _ = w.Write([]byte(`{"KeyMetadata":{"KeyId":"k","Arn":"arn:aws:kms:us-east-1:111122223333:key/k"}}`))
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()

	// every command of every finding of the test accounts, once
	var lines []string
	seen := map[string]bool{}
	collect := func(fs []Finding) {
		for _, f := range fs {
			for _, l := range strings.Split(f.Remediation, "\n") {
				l = strings.TrimSpace(l)
				if cmd, ok := strings.CutPrefix(l, "KEY_ARN=$("); ok {
					l = strings.TrimSuffix(cmd, ")")
				}
				if i := strings.Index(l, "  # "); i > 0 {
					l = l[:i]
				}
				if strings.HasPrefix(l, "aws ") && !seen[l] {
					seen[l] = true
					lines = append(lines, l)
				}
			}
		}
	}
	pub := true
	for _, m := range []func(a *Account){
		func(a *Account) {}, // a clean account has none
		func(a *Account) {
			a.Trails[0].LogFileValidation, a.Trails[0].IncludeGlobalServiceEvents, a.Trails[0].IsMultiRegion = false, false, false
			a.Trails[0].CloudWatchLogsGroupARN = ""
			st := a.Trails[0].Status
			st.LatestDeliveryError, st.LatestDigestDeliveryError, st.LatestNotificationError = "AccessDenied", "AccessDenied", "AuthorizationError"
			yes := true
			a.Trails[0].Selectors = SummarizeBasic([]BasicSelector{{ReadWriteType: "WriteOnly", IncludeManagementEvents: &yes}})
			a.Topics[topicARN].Subscriptions = nil
			a.Topics[topicARN].Policy = `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"SNS:Publish"}]}`
			k := a.Keys[keyARN]
			k.RotationEnabled, k.State, k.Policy = false, "PendingDeletion", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}`
			b := a.Buckets[bucket]
			b.PolicyPublic, b.PublicAccess, b.Versioning, b.MFADelete, b.ObjectLock, b.Logging, b.Lifecycle = &pub, nil, "Suspended", "", false, nil, nil
			b.Grants = append(b.Grants, Grant{URI: AllUsersURI, Permission: "READ"})
			b.Policy = `{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"}]}`
			a.PublicAccessBlock = nil
			a.Queues[queueARN].ManagedSSE = false
			a.Queues[queueARN].Policy = `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*"}]}`
			a.AllBuckets = true
			a.Buckets["app-data"] = &Bucket{Name: "app-data", Region: "eu-west-1", Account: acct}
		},
		func(a *Account) { a.Trails, a.RegionTrails = nil, map[string][]string{} },
		func(a *Account) {
			a.Trails[0].KMSKeyID = ""
			a.Trails[0].SNSTopicARN = ""
			a.Trails[0].Status.IsLogging = false
		},
		func(a *Account) {
			a.Trails[0].Status.LatestDeliveryError = "InsufficientEncryptionPolicyException: KMS"
			a.Keys[keyARN].State = "Disabled"
		},
		func(a *Account) { a.Trails[0].Status.LatestDeliveryTime = testNow.AddDate(0, 0, -3) },
	} {
		a := cleanAccount(t)
		m(a)
		collect(evaluate(a))
	}
	if len(lines) < 30 {
		t.Fatalf("only %d commands", len(lines))
	}

	script, err := filepath.Abs(filepath.Join("testdata", "audit-run-cli.py"))
	if err != nil {
		t.Fatal(err)
	}
	// the file a remediation reads (written by the trailwatch command before it)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "queue-attributes.json"), []byte(`{"Policy":"{}"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TRAILWATCH_ENDPOINT="+srv.URL, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_MAX_ATTEMPTS=1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	n, done := 0, 0
	for sc.Scan() {
		var res struct {
			Line string
			RC   int
		}
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		mu.Lock()
		sent := len(requests) > n
		n = len(requests)
		mu.Unlock()
		if !sent {
			t.Errorf("the AWS CLI sent nothing (exit %d) for:\n%s", res.RC, res.Line)
		}
		done++
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if done != len(lines) {
		t.Errorf("%d of %d commands ran", done, len(lines))
	}
	t.Logf("%d commands accepted by the AWS CLI", done)
}

func skipNoCLI(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("TRAILWATCH_REQUIRE_SERVERS") != "" {
		t.Fatalf("the AWS CLI (python3 -m awscli) is needed: %v", err)
	}
	t.Skipf("the AWS CLI (python3 -m awscli) is not installed: %v", err)
}
