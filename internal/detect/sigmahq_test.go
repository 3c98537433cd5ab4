package detect

import (
	"path/filepath"
	"testing"
)

const sigmaHQDir = "../../../shared/testdata/sigma/cloudtrail"

// TestSigmaHQRulesLoad loads the 57 SigmaHQ CloudTrail rules: all compile
// without errors and are evaluated, and all but the four whose conditions
// name no fixed eventName or eventSource are found through the index.
func TestSigmaHQRulesLoad(t *testing.T) {
	rules, err := LoadPaths([]string{sigmaHQDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 57 {
		t.Fatalf("%d rules, want 57", len(rules))
	}
	for _, r := range rules {
		if !r.OK() {
			t.Errorf("%s: %v", r.Source, r.Problems)
		}
	}
	eng, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := eng.Stats()
	if st.Rules != 57 || st.Skipped != 0 || st.Indexed != 53 {
		t.Errorf("stats %+v, want 57 rules, 0 skipped, 53 indexed", st)
	}
}

// TestSigmaHQGaps checks the nine SigmaHQ rules sigma-go v0.6.6 cannot
// evaluate correctly (errorCode: null, |fieldref, and * inside contains),
// on events that must and must not match.
func TestSigmaHQGaps(t *testing.T) {
	cases := []struct {
		file   string
		fire   string
		noFire string
	}{
		{"aws_cloudtrail_bucket_deleted.yml",
			`{"eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","requestParameters":{"bucketName":"b"}}`,
			`{"eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","errorCode":"BucketNotEmpty"}`},
		{"aws_cloudtrail_ssm_malicious_usage.yml",
			`{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand"}`,
			`{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","errorCode":"AccessDeniedException"}`},
		{"aws_cloudtrail_guardduty_detector_deleted_or_updated.yml",
			`{"eventSource":"guardduty.amazonaws.com","eventName":"DeleteDetector"}`,
			`{"eventSource":"guardduty.amazonaws.com","eventName":"DeleteDetector","errorCode":"AccessDenied"}`},
		{"aws_cloudtrail_vpc_flow_logs_deleted.yml",
			`{"eventSource":"ec2.amazonaws.com","eventName":"DeleteFlowLogs"}`,
			`{"eventSource":"ec2.amazonaws.com","eventName":"DeleteFlowLogs","errorCode":"Client.UnauthorizedOperation"}`},
		{"aws_update_login_profile.yml",
			`{"eventSource":"iam.amazonaws.com","eventName":"UpdateLoginProfile","userIdentity":{"arn":"arn:aws:iam::1:user/mallory"},"requestParameters":{"userName":"alice"}}`,
			`{"eventSource":"iam.amazonaws.com","eventName":"UpdateLoginProfile","userIdentity":{"arn":"alice"},"requestParameters":{"userName":"alice"}}`},
		{"aws_ec2_vm_export_failure.yml",
			`{"eventSource":"ec2.amazonaws.com","eventName":"CreateInstanceExportTask","responseElements":{"exportTask":{"state":"active"}}}`,
			`{"eventSource":"ec2.amazonaws.com","eventName":"CreateInstanceExportTask","errorCode":"InvalidParameter","errorMessage":"bad"}`},
		{"aws_new_lambda_layer_attached.yml",
			`{"eventSource":"lambda.amazonaws.com","eventName":"UpdateFunctionConfiguration20150331v2","requestParameters":{"functionName":"f","layers":["arn:aws:lambda:us-east-1:999999999999:layer:x:1"]}}`,
			`{"eventSource":"lambda.amazonaws.com","eventName":"UpdateFunctionConfiguration20150331v2","requestParameters":{"functionName":"f","timeout":30}}`},
		{"aws_rds_change_master_password.yml",
			`{"eventSource":"rds.amazonaws.com","eventName":"ModifyDBInstance","responseElements":{"pendingModifiedValues":{"masterUserPassword":"****"}}}`,
			`{"eventSource":"rds.amazonaws.com","eventName":"ModifyDBInstance","responseElements":{"pendingModifiedValues":{}}}`},
		{"aws_iam_s3browser_templated_s3_bucket_policy_creation.yml",
			`{"eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","userAgent":"S3 Browser 11.5.7 https://s3browser.com","requestParameters":{"userName":"u","policyName":"p","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::<YOUR-BUCKET-NAME>/*\"]}]}"}}`,
			`{"eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","userAgent":"S3 Browser 11.5.7 https://s3browser.com","requestParameters":{"userName":"u","policyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::real-bucket/*\"]}]}"}}`},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			rules, err := LoadPaths([]string{filepath.Join(sigmaHQDir, c.file)})
			if err != nil || len(rules) != 1 {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				ev   string
				want bool
			}{{c.fire, true}, {c.noFire, false}} {
				n := 0
				eng, err := NewEngine(rules, Options{MinLevel: LevelInformational, OnFinding: func(Finding) { n++ }})
				if err != nil {
					t.Fatal(err)
				}
				if err := feed(eng, Test{Events: []string{tc.ev}}); err != nil {
					t.Fatal(err)
				}
				if (n > 0) != tc.want {
					t.Errorf("fired %v, want %v on %s", n > 0, tc.want, tc.ev)
				}
			}
		})
	}
}
