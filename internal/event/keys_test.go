package event

import (
	"testing"
	"time"
)

func TestClassifyKey(t *testing.T) {
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2026, 11, 1, 10, 5, 15, 0, time.UTC)
	for _, tc := range []struct {
		key  string
		want KeyInfo
	}{
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T1005Z_abc.json.gz",
			KeyInfo{Kind: KindCloudTrail, AccountID: "111122223333", Region: "us-east-1", Date: time.Date(2026, 11, 1, 10, 5, 0, 0, time.UTC)}},
		{"logs/AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/2026/11/01/111122223333_CloudTrail-Digest_eu-west-1_main_us-east-1_20261101T100000Z.json.gz",
			KeyInfo{Kind: KindDigest, Prefix: "logs/", OrgID: "o-abc123", AccountID: "111122223333", Region: "eu-west-1", Trail: "main"}},
		// S3 server access logs: the target prefix may or may not end in "/".
		{"s3-access/2026-11-01-10-05-15-1B63CA8BA8716534", KeyInfo{Kind: KindAccessLog, Prefix: "s3-access/", Date: at}},
		{"2026-11-01-10-05-15-1B63CA8BA8716534", KeyInfo{Kind: KindAccessLog, Date: at}},
		{"logs-2026-11-01-10-05-15-1B63CA8BA8716534", KeyInfo{Kind: KindAccessLog, Prefix: "logs-", Date: at}},
		{"a/b/logs-2026-11-01-10-05-15-1B63CA8BA8716534", KeyInfo{Kind: KindAccessLog, Prefix: "a/b/logs-", Date: at}},
		{"logs/111122223333/us-east-1/my-bucket/2026/11/01/2026-11-01-10-05-15-1B63CA8BA8716534",
			KeyInfo{Kind: KindAccessLog, Prefix: "logs/", AccountID: "111122223333", Region: "us-east-1", Bucket: "my-bucket", Date: at}},
		// Not logs.
		{"AWSLogs/111122223333/Config/ConfigWritabilityCheckFile", KeyInfo{}},
		{"reports/2026-11-01.csv", KeyInfo{}},
		{"x-2026-11-01-10-05-15-bad.name", KeyInfo{}},
	} {
		got := ClassifyKey(tc.key)
		if tc.want.Kind == KindDigest {
			tc.want.Date = got.Date // the digest's end time; checked by the integrity tests
			if got.Date.Before(day) {
				t.Errorf("%s: date %v", tc.key, got.Date)
			}
		}
		if got != tc.want {
			t.Errorf("ClassifyKey(%q)\n got %+v\nwant %+v", tc.key, got, tc.want)
		}
	}
}
