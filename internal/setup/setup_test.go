package setup

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenParams are the setups the golden files show.
var goldenParams = map[string]Params{
	// one account, CloudTrail → SNS → SQS, a new KMS key
	"single": {Account: "111122223333", Region: "us-east-1", Bucket: "trail-logs-111122223333", ExternalID: "tw-6f1c2e"},
	// an organization trail with a prefix, S3 → SQS, a collector in a log archive account
	"org": {Account: "111122223333", Region: "eu-west-1", Bucket: "org-trail-logs", BucketAccount: "444455556666", Prefix: "/central/",
		OrganizationID: "o-a1b2c3d4e5", Notify: NotifyS3, QueueAccount: "777788889999", ExternalID: "tw-org",
		KMSKeyARN: "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab", AccessLogs: true, ObjectLockDays: 365},
}

func TestGoldenDocuments(t *testing.T) {
	for name, p := range goldenParams {
		if err := p.Normalize(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, d := range Documents() {
			t.Run(name+"/"+d.Name, func(t *testing.T) {
				got := d.Render(&p)
				if !json.Valid(got) {
					t.Fatalf("not valid JSON:\n%s", got)
				}
				path := filepath.Join("testdata", "setup-"+name+"-"+d.File)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/setup -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the golden file (go test ./internal/setup -update to accept):\n%s", path, got)
				}
			})
		}
	}
}

type stmt struct {
	Sid       string
	Effect    string
	Principal json.RawMessage
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

func list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func statements(t *testing.T, pol *Policy) []stmt {
	t.Helper()
	var doc struct {
		Version   string
		Statement []stmt
	}
	if err := json.Unmarshal([]byte(pol.JSON()), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != PolicyVersion {
		t.Fatalf("version %q", doc.Version)
	}
	return doc.Statement
}

// TestMinimal: no wildcard beyond what each job needs.
func TestMinimal(t *testing.T) {
	for name, p := range goldenParams {
		if err := p.Normalize(); err != nil {
			t.Fatal(err)
		}
		docs := map[string]*Policy{"bucket": p.BucketPolicy(), "topic": p.TopicPolicy(), "queue": p.QueuePolicy(), "key": p.KeyPolicy(),
			"trust": p.TrustPolicy(), "collector": p.CollectorPolicy(), "access-log": p.AccessLogBucketPolicy(), "audit": p.AuditPolicy()}
		for doc, pol := range docs {
			for _, s := range statements(t, pol) {
				where := name + " " + doc + " " + s.Sid
				if s.Effect == "Deny" {
					continue
				}
				for _, a := range list(s.Action) {
					if doc == "audit" && !slices.ContainsFunc([]string{":Get", ":List", ":Describe"}, func(v string) bool { return strings.Contains(a, v) }) {
						t.Errorf("%s: audit action %s is not read-only", where, a)
					}
					if strings.Contains(a, "*") && !(doc == "key" && (s.Sid == "EnableIAMPolicies" && a == "kms:*" || a == "kms:GenerateDataKey*")) {
						t.Errorf("%s: wildcard action %s", where, a)
					}
				}
				for _, r := range list(s.Resource) {
					if r == "*" && doc != "key" && doc != "audit" && !(s.Sid == "ValidateDigests" && slices.Equal(list(s.Action), []string{"cloudtrail:ListPublicKeys"})) { // a key policy's resource is the key itself; an audit reads everything; ListPublicKeys has no resource-level permissions
						t.Errorf("%s: Resource *", where)
					}
					if strings.HasSuffix(r, ":::"+p.Bucket+"/*") && doc != "bucket" {
						t.Errorf("%s: whole bucket %s", where, r)
					}
				}
				if string(s.Principal) == `"*"` {
					if _, ok := s.Condition["StringEquals"]["aws:PrincipalOrgID"]; !ok {
						t.Errorf("%s: Principal * without aws:PrincipalOrgID", where)
					}
				}
				if strings.Contains(string(s.Principal), "cloudtrail.amazonaws.com") || strings.Contains(string(s.Principal), "sns.amazonaws.com") ||
					strings.Contains(string(s.Principal), "s3.amazonaws.com") {
					if s.Condition["StringEquals"]["aws:SourceArn"] == nil && s.Condition["ArnEquals"]["aws:SourceArn"] == nil && s.Condition["ArnLike"]["aws:SourceArn"] == nil {
						t.Errorf("%s: service principal without aws:SourceArn", where)
					}
				}
			}
		}
	}
}

func TestCollectorPolicy(t *testing.T) {
	p := goldenParams["org"]
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	got := map[string]stmt{}
	for _, s := range statements(t, p.CollectorPolicy()) {
		got[s.Sid] = s
	}
	if a := list(got["ConsumeNotifications"].Action); !slices.Equal(a, []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}) {
		t.Errorf("sqs actions %v", a)
	}
	if r := list(got["ConsumeNotifications"].Resource); !slices.Equal(r, []string{"arn:aws:sqs:eu-west-1:777788889999:trailwatch-cloudtrail"}) {
		t.Errorf("queue %v", r)
	}
	if r := list(got["ReadLogFiles"].Resource); !slices.Equal(r, []string{"arn:aws:s3:::org-trail-logs/central/AWSLogs/111122223333/*", "arn:aws:s3:::org-trail-logs/central/AWSLogs/o-a1b2c3d4e5/*"}) {
		t.Errorf("read %v", r)
	}
	if c := list(got["ListLogFiles"].Condition["StringLike"]["s3:prefix"]); len(c) != 3 || c[0] != "central/AWSLogs/" {
		t.Errorf("list prefix %v", c)
	}
	if c := list(got["DecryptLogFiles"].Condition["StringEquals"]["kms:ViaService"]); !slices.Equal(c, []string{"s3.eu-west-1.amazonaws.com"}) {
		t.Errorf("via %v", c)
	}
	trust := statements(t, p.TrustPolicy())[0]
	if c := list(trust.Condition["StringEquals"]["sts:ExternalId"]); !slices.Equal(c, []string{"tw-org"}) || !strings.Contains(string(trust.Principal), "arn:aws:iam::777788889999:root") {
		t.Errorf("trust %+v", trust)
	}
	// the organization's members read their own prefix only
	bp := p.BucketPolicy().JSON()
	if !strings.Contains(bp, `"arn:aws:s3:::org-trail-logs/central/AWSLogs/o-a1b2c3d4e5/${aws:PrincipalAccount}/*"`) {
		t.Errorf("member prefix missing:\n%s", bp)
	}
	// Terraform must not interpolate the IAM policy variable
	if tf := string(p.Terraform()); !strings.Contains(tf, "$${aws:PrincipalAccount}") {
		t.Error("terraform does not escape ${aws:PrincipalAccount}")
	}
}

func TestTemplatesReferenceNewKey(t *testing.T) {
	p := goldenParams["single"]
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"cloudformation": p.CloudFormation(), "terraform": p.Terraform()} {
		if bytes.Contains(doc, []byte(keyPlaceholder)) {
			t.Errorf("%s: placeholder left", name)
		}
	}
	if !bytes.Contains(p.CloudFormation(), []byte(`"Fn::GetAtt": [`)) || !bytes.Contains(p.Terraform(), []byte("${aws_kms_key.trail.arn}")) {
		t.Error("templates do not reference the key they create")
	}
}

func TestNormalizeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Params
		want []string
	}{
		{"empty", Params{}, []string{"account", "region", "bucket"}},
		{"bad account", Params{Account: "12", Region: "us-east-1", Bucket: "b-b-b"}, []string{`account "12"`}},
		{"bad org", Params{Account: "111122223333", Region: "us-east-1", Bucket: "bucket", OrganizationID: "org"}, []string{"organization ID"}},
		{"bad notify", Params{Account: "111122223333", Region: "us-east-1", Bucket: "bucket", Notify: "email"}, []string{"notify"}},
		{"bad key", Params{Account: "111122223333", Region: "us-east-1", Bucket: "bucket", KMSKeyARN: "alias/x"}, []string{"KMS key"}},
		{"bad trail arn", Params{TrailARNs: []string{"arn:aws:s3:::x"}, Bucket: "bucket"}, []string{"not a trail ARN"}},
		{"same bucket", Params{Account: "111122223333", Region: "us-east-1", Bucket: "logs", AccessLogBucket: "logs"}, []string{"must not be the trail bucket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Normalize()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tc.name == "empty" && strings.Count(err.Error(), "\n") != 2 {
				t.Errorf("one error per missing flag, not the values derived from them:\n%v", err)
			}
		})
	}
}

func TestPartition(t *testing.T) {
	p := Params{Account: "111122223333", Region: "cn-north-1", Bucket: "logs-cn"}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	if p.TrailARN() != "arn:aws-cn:cloudtrail:cn-north-1:111122223333:trail/trailwatch" || p.BucketARN() != "arn:aws-cn:s3:::logs-cn" {
		t.Errorf("%s %s", p.TrailARN(), p.BucketARN())
	}
	if !strings.Contains(p.KeyPolicy().Compact(), `"kms:ViaService":"s3.cn-north-1.amazonaws.com.cn"`) {
		t.Errorf("key policy %s", p.KeyPolicy().Compact())
	}
}
