// Package posturetest serves recorded AWS control-plane responses for
// tests of the posture audit: a well-configured account (clean), one with
// every misconfiguration the audit finds (misconfigured), one whose calls
// are denied (denied), and an organization's credentials (org) whose
// AssumeRole into 111122223333 and 444455556666 lead to the first two. It
// imports no AWS SDK: the SDK clients under test talk to it over HTTP on
// 127.0.0.1.
package posturetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Now returns the time the recorded responses were taken at.
func Now() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }

// controlPlane is a local AWS control plane: one HTTP server on 127.0.0.1
// that speaks each service's protocol as the real SDK clients send it
// (CloudTrail and KMS: AWS JSON 1.1 with X-Amz-Target; SQS: AWS JSON 1.0;
// STS and SNS: query with XML responses; S3: REST-XML, path style; S3
// Control: REST-XML under /v20180820 with x-amz-account-id) and answers
// with the recorded responses in testdata/audit-<access key>/:
//
//	<service>-<operation>[-<region or trail name>].<ext>   200
//	s3-<bucket>-<subresource>.<ext>                          200
//	...<name>.<status>.<ext>                                 an error response
//
// The access key of the request's signature names the account directory,
// so one server serves several accounts.
type controlPlane struct {
	t      testing.TB
	root   string
	mu     sync.Mutex
	served map[string]bool   // files served
	calls  map[string]string // "service:Operation" → the region of the last call
}

// Start starts the control plane for the test.
func Start(t testing.TB) *Server {
	_, file, _, _ := runtime.Caller(0)
	cp := &controlPlane{t: t, root: filepath.Join(filepath.Dir(file), "testdata"), served: map[string]bool{}, calls: map[string]string{}}
	srv := httptest.NewServer(cp)
	t.Cleanup(srv.Close)
	return &Server{Server: srv, cp: cp}
}

// RequireAllServed makes the test fail, when it ends, if a recorded
// response of an account it used was never asked for (so none is stale).
func (s *Server) RequireAllServed() { s.cp.t.Cleanup(s.cp.checkAllServed) }

// Server is a running control plane.
type Server struct {
	*httptest.Server
	cp *controlPlane
}

// Calls lists the operations asked for so far, sorted, as
// "service:Operation"; AssumeRole as "sts:AssumeRole:<role ARN>:<external
// ID>", S3 calls as "s3:<subresource>" (S3 Control "s3:s3control:<path>",
// ListBuckets "s3:ListBuckets").
func (s *Server) Calls() []string {
	s.cp.mu.Lock()
	defer s.cp.mu.Unlock()
	out := make([]string, 0, len(s.cp.calls))
	for c := range s.cp.calls {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// scope reads access key, region and service from the SigV4 Authorization header.
func scope(r *http.Request) (key, region, service string, ok bool) {
	auth := r.Header.Get("Authorization")
	_, cred, found := strings.Cut(auth, "Credential=")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !found {
		return "", "", "", false
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return "", "", "", false
	}
	return parts[0], parts[2], parts[3], true
}

// ServeHTTP answers one request from the recorded responses.
func (cp *controlPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, region, service, ok := scope(r)
	if !ok {
		cp.fail(w, "request not signed with SigV4: %q", r.Header.Get("Authorization"))
		return
	}
	dir := filepath.Join(cp.root, "audit-"+key)
	body, _ := io.ReadAll(r.Body)
	var names []string
	var op string
	jsonProto := func(version, targetPrefix string) bool {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-"+version {
			cp.fail(w, "%s: Content-Type %q, want application/x-amz-json-%s", service, ct, version)
			return false
		}
		target := r.Header.Get("X-Amz-Target")
		if !strings.HasPrefix(target, targetPrefix) || r.Method != http.MethodPost {
			cp.fail(w, "%s: X-Amz-Target %q, method %s", service, target, r.Method)
			return false
		}
		op = target[strings.LastIndex(target, ".")+1:]
		return true
	}
	switch service {
	case "cloudtrail", "kms":
		prefix := map[string]string{"cloudtrail": "CloudTrail_20131101.", "kms": "TrentService."}[service]
		if !jsonProto("1.1", prefix) {
			return
		}
		var in struct{ Name, TrailName, KeyId string }
		if err := json.Unmarshal(body, &in); err != nil {
			cp.fail(w, "%s %s: body %q: %v", service, op, body, err)
			return
		}
		if n := in.Name + in.TrailName; n != "" {
			names = append(names, service+"-"+op+"-"+n[strings.LastIndex(n, "/")+1:])
		}
		names = append(names, service+"-"+op+"-"+region, service+"-"+op)
	case "sqs":
		if !jsonProto("1.0", "AmazonSQS.") {
			return
		}
		names = append(names, "sqs-"+op)
	case "sts", "sns":
		form, err := url.ParseQuery(string(body))
		if err != nil || r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			cp.fail(w, "%s: not a query request: %s %q", service, r.Method, body)
			return
		}
		op = form.Get("Action")
		if op == "AssumeRole" { // sts-AssumeRole-<account of the role>: its credentials name the account directory
			role := form.Get("RoleArn")
			names = append(names, "sts-AssumeRole-"+strings.Split(role+"::::", ":")[4])
			op += ":" + role + ":" + form.Get("ExternalId")
		}
		names = append(names, service+"-"+op)
	case "s3":
		if rest, ok := strings.CutPrefix(r.URL.Path, "/v20180820/configuration/"); ok { // S3 Control
			if r.Header.Get("X-Amz-Account-Id") == "" || strings.Count(r.Host, ".") > 3 {
				cp.fail(w, "s3control: account header %q, host %q", r.Header.Get("X-Amz-Account-Id"), r.Host)
				return
			}
			op = "s3control:" + rest
			names = append(names, "s3control-"+rest)
			break
		}
		bucket := strings.Trim(r.URL.Path, "/")
		if bucket == "" {
			op = "ListBuckets"
			names = append(names, "s3-ListBuckets")
			break
		}
		q := r.URL.Query()
		sub := ""
		for k := range q {
			if k != "x-id" {
				sub = k
			}
		}
		op = sub
		names = append(names, "s3-"+bucket+"-"+sub)
	default:
		cp.fail(w, "unexpected service %q", service)
		return
	}
	cp.mu.Lock()
	cp.calls[service+":"+op] = region
	cp.mu.Unlock()
	for _, n := range names {
		matches, _ := filepath.Glob(filepath.Join(dir, n+".*"))
		for _, m := range matches {
			rest := strings.TrimPrefix(filepath.Base(m), n+".")
			status := http.StatusOK
			if code, ext, ok := strings.Cut(rest, "."); ok {
				if c, err := strconv.Atoi(code); err == nil {
					status, rest = c, ext
				} else {
					continue
				}
			}
			data, err := os.ReadFile(m)
			if err != nil {
				cp.fail(w, "%v", err)
				return
			}
			cp.mu.Lock()
			cp.served[m] = true
			cp.mu.Unlock()
			switch {
			case rest == "xml":
				w.Header().Set("Content-Type", "text/xml")
			case service == "sqs":
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			case service == "s3":
				w.Header().Set("Content-Type", "application/json")
			default:
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			}
			w.Header().Set("X-Amzn-Requestid", "6f7e1a2b-0000-4000-8000-000000000000")
			w.WriteHeader(status)
			_, _ = w.Write(data)
			return
		}
	}
	cp.fail(w, "no recorded response for %s %s in %s (tried %v)", r.Method, r.URL, dir, names)
}

func (cp *controlPlane) fail(w http.ResponseWriter, format string, args ...any) {
	cp.t.Errorf("control plane: "+format, args...)
	w.WriteHeader(http.StatusNotImplemented)
}

// checkAllServed reports the recorded responses never asked for.
func (cp *controlPlane) checkAllServed() {
	used := map[string]bool{}
	for m := range cp.served {
		used[filepath.Base(filepath.Dir(m))] = true
	}
	for dir := range used {
		files, _ := filepath.Glob(filepath.Join(cp.root, dir, "*"))
		for _, f := range files {
			if !cp.served[f] {
				cp.t.Errorf("recorded response %s was never asked for", f)
			}
		}
	}
}
