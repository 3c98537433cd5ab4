package integritytest

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TrailInfo is a trail the CloudTrail stand-in describes.
type TrailInfo struct {
	ARN, Name, HomeRegion, Bucket, Prefix string
}

// CloudTrail is an http.Handler speaking the AWS JSON 1.1 protocol of
// CloudTrail (X-Amz-Target CloudTrail_20131101.<Operation>, as the SDK
// sends it, or with the com.amazonaws.cloudtrail.v20131101. namespace) for
// ListPublicKeys (one key per page, to exercise paging) and
// DescribeTrails, so the real SDK client can talk to it. Serve it with
// httptest.NewServer (127.0.0.1) and point AWS_ENDPOINT_URL_CLOUDTRAIL at
// it.
type CloudTrail struct {
	Keys       []*rsa.PrivateKey
	From, To   time.Time // the keys' validity
	Trails     []TrailInfo
	mu         sync.Mutex
	calls      []string    // "Operation region"
	FailListPK atomic.Bool // answer ListPublicKeys with an AccessDeniedException
}

// Calls returns the operations served, as "Operation region".
func (c *CloudTrail) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// ServeHTTP answers one JSON 1.1 call.
func (c *CloudTrail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	region := ""
	// Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260301/us-east-1/cloudtrail/aws4_request, …
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		if f := strings.Split(cred, "/"); len(f) > 2 {
			region = f[2]
		}
	}
	c.mu.Lock()
	c.calls = append(c.calls, op+" "+region)
	c.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(status int, code, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(strings.TrimPrefix(target, "com.amazonaws.cloudtrail.v20131101."), "CloudTrail_20131101.") {
		fail(400, "UnknownOperationException", "unexpected "+r.Method+" "+target)
		return
	}
	switch op {
	case "ListPublicKeys":
		if c.FailListPK.Load() {
			fail(400, "AccessDeniedException", "User is not authorized to perform: cloudtrail:ListPublicKeys")
			return
		}
		var in struct{ NextToken string }
		_ = json.Unmarshal(body, &in)
		i, _ := strconv.Atoi(in.NextToken)
		out := map[string]any{"PublicKeyList": []any{}}
		if i < len(c.Keys) {
			k := c.Keys[i]
			out["PublicKeyList"] = []any{map[string]any{
				"Value":             x509.MarshalPKCS1PublicKey(&k.PublicKey), // []byte: base64 in JSON, a blob
				"ValidityStartTime": c.From.Unix(),
				"ValidityEndTime":   c.To.Unix(),
				"Fingerprint":       Fingerprint(k),
			}}
			if i+1 < len(c.Keys) {
				out["NextToken"] = strconv.Itoa(i + 1)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	case "DescribeTrails":
		var in struct {
			TrailNameList []string `json:"trailNameList"`
		}
		_ = json.Unmarshal(body, &in)
		if len(in.TrailNameList) == 0 { // every trail (the AWS CLI asks so)
			in.TrailNameList = []string{""}
		}
		list := []any{}
		for _, t := range c.Trails {
			for _, n := range in.TrailNameList {
				if n == t.ARN || n == t.Name || n == "" {
					m := map[string]any{"Name": t.Name, "TrailARN": t.ARN, "HomeRegion": t.HomeRegion, "S3BucketName": t.Bucket,
						"LogFileValidationEnabled": true, "IsOrganizationTrail": false}
					if t.Prefix != "" {
						m["S3KeyPrefix"] = t.Prefix
					}
					list = append(list, m)
				}
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"trailList": list})
	default:
		fail(400, "UnknownOperationException", op)
	}
}
