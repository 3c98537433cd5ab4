// Package storetest is the test suite every store backend passes: the
// contracts of package store, checked through the store.Store interface
// and SQL only.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/store"
)

// Factory opens a new, empty store for one test and registers its cleanup.
type Factory func(t *testing.T) store.Store

// Run runs the whole suite against the backend.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CommitMakesVisible", testCommit},
		{"RollbackDiscards", testRollback},
		{"ExactlyOnceEvents", testExactlyOnceEvents},
		{"ExactlyOnceWithoutEventTime", testNullTime},
		{"ExactlyOnceAccessLogs", testExactlyOnceAccess},
		{"InsightsAndDigests", testInsightsDigests},
		{"EveryFieldQueryable", testFields},
		{"LedgerAndQuarantine", testLedger},
		{"ReadOnlyQueries", testReadOnly},
		{"Retention", testRetention},
		{"Checkpoints", testCheckpoints},
		{"Views", testViews},
		{"InvalidUTF8", testInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

// Event returns a realistic CloudTrail event numbered i.
func Event(i int) event.CloudTrail {
	return event.CloudTrail{
		EventVersion: "1.11",
		UserIdentity: event.UserIdentity{
			Type: "AssumedRole", PrincipalID: "AROAEXAMPLE:alice", ARN: "arn:aws:sts::111122223333:assumed-role/Admin/alice",
			AccountID: "111122223333", AccessKeyID: "ASIAEXAMPLE",
			SessionContext: event.SessionContext{
				Attributes:    event.SessionAttributes{CreationDate: "2026-11-01T09:00:00Z", MFAAuthenticated: "true"},
				SessionIssuer: event.SessionIssuer{Type: "Role", PrincipalID: "AROAEXAMPLE", ARN: "arn:aws:iam::111122223333:role/Admin", AccountID: "111122223333", UserName: "Admin"},
			},
		},
		EventTime:          t0.Add(time.Duration(i) * time.Second),
		EventSource:        "ec2.amazonaws.com",
		EventName:          "DescribeInstances",
		AWSRegion:          "us-east-1",
		SourceIPAddress:    "192.0.2.10",
		UserAgent:          "aws-cli/2.15.0",
		RequestParameters:  `{"instancesSet":{},"filterSet":{}}`,
		RequestID:          fmt.Sprintf("req-%d", i),
		EventID:            fmt.Sprintf("00000000-0000-0000-0000-%012d", i),
		ReadOnly:           event.BoolTrue,
		EventType:          "AwsApiCall",
		ManagementEvent:    event.BoolTrue,
		RecipientAccountID: "111122223333",
		EventCategory:      "Management",
		TLSDetails:         event.TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: "ec2.us-east-1.amazonaws.com"},
		Raw:                fmt.Sprintf(`{"eventID":"%d"}`, i),
		Index:              i,
	}
}

func events(n, from int) *event.Batch {
	b := &event.Batch{Object: event.ObjectRef{Bucket: "trail-bucket", Key: fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/f%d.json.gz", from)}}
	for i := range n {
		b.Events = append(b.Events, Event(from+i))
	}
	return b
}

func appendCommit(t *testing.T, s store.Store, batches ...*event.Batch) {
	t.Helper()
	ctx := context.Background()
	a, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, b := range batches {
		if err := a.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// Scalar runs a query returning one value.
func Scalar[T any](t *testing.T, s store.Store, q string, args ...any) T {
	t.Helper()
	var v T
	rows, err := s.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("%s: no rows (%v)", q, rows.Err())
	}
	if err := rows.Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func count(t *testing.T, s store.Store, table string) int64 {
	t.Helper()
	return Scalar[int64](t, s, "SELECT count(*) FROM "+table)
}

func testCommit(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Append(ctx, events(100, 0)); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "cloudtrail_events"); n != 100 {
		t.Fatalf("after commit: %d events, want 100", n)
	}
	// The appender is reusable after Commit.
	if err := a.Append(ctx, events(10, 100)); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "cloudtrail_events"); n != 110 {
		t.Fatalf("after second commit: %d events, want 110", n)
	}
}

func testRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ctx, events(50, 0)); err != nil {
		t.Fatal(err)
	}
	if err := a.ObjectDone(ctx, store.ObjectStatus{Object: events(1, 0).Object, Kind: event.KindCloudTrail, Records: 50}); err != nil {
		t.Fatal(err)
	}
	if err := a.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Closing without commit also discards.
	if err := a.Append(ctx, events(5, 500)); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "cloudtrail_events"); n != 0 {
		t.Fatalf("after rollback: %d events, want 0", n)
	}
	led, err := s.Ledger(ctx, []string{store.LedgerKey(events(1, 0).Object)})
	if err != nil {
		t.Fatal(err)
	}
	if len(led) != 0 {
		t.Fatalf("ledger kept a rolled-back object: %v", led)
	}
}

func testExactlyOnceEvents(t *testing.T, s store.Store) {
	appendCommit(t, s, events(100, 0))
	// The same events again, overlapping new ones, and a duplicate within
	// one batch.
	b := events(100, 50)
	b.Events = append(b.Events, Event(120))
	appendCommit(t, s, events(100, 0), b)
	if n := count(t, s, "cloudtrail_events"); n != 150 {
		t.Fatalf("%d events, want 150 distinct", n)
	}
	// Same eventID in another account is a different event.
	other := events(1, 0)
	other.Events[0].RecipientAccountID = "444455556666"
	appendCommit(t, s, other)
	if n := count(t, s, "cloudtrail_events"); n != 151 {
		t.Fatalf("%d events, want 151 (eventID is unique per recipient account)", n)
	}
	if d := Scalar[int64](t, s, "SELECT count(*) - count(DISTINCT (eventID, recipientAccountId)) FROM cloudtrail_events"); d != 0 {
		t.Fatalf("%d duplicate events stored", d)
	}
}

func testNullTime(t *testing.T, s store.Store) {
	mk := func() *event.Batch {
		b := events(3, 0)
		for i := range b.Events {
			b.Events[i].EventTime = time.Time{}
		}
		b.Events[2].EventID = "" // identified by its raw bytes instead
		return b
	}
	appendCommit(t, s, mk())
	appendCommit(t, s, mk())
	if n := count(t, s, "cloudtrail_events"); n != 3 {
		t.Fatalf("%d events without eventTime, want 3", n)
	}
}

func accessBatch(key string, lines int) *event.Batch {
	b := &event.Batch{Object: event.ObjectRef{Bucket: "log-bucket", Key: key}}
	for i := range lines {
		b.AccessLogs = append(b.AccessLogs, event.AccessLog{
			BucketOwner: "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", Bucket: "amzn-s3-demo-bucket",
			RequestDateTime: "01/Nov/2026:10:00:00 +0000", Time: t0, RemoteIP: "192.0.2.3", Requester: "-",
			RequestID: fmt.Sprintf("3E57427F3EXAMPLE%d", i), Operation: "REST.GET.OBJECT", Key: fmt.Sprintf("k%d", i),
			RequestURI: "GET /k HTTP/1.1", HTTPStatus: 200, BytesSent: 1024, ObjectSize: 2048, TotalTime: 70,
			TurnAroundTime: 10, UserAgent: "curl/8.0", Line: i + 1, Raw: "line",
			Extra: []string{"future-field"},
		})
	}
	return b
}

func testExactlyOnceAccess(t *testing.T, s store.Store) {
	appendCommit(t, s, accessBatch("logs/2026-11-01-10-00-00-ABCDEF0123456789", 10))
	appendCommit(t, s, accessBatch("logs/2026-11-01-10-00-00-ABCDEF0123456789", 10))
	// The same object read from a local copy is the same object.
	appendCommit(t, s, accessBatch("/tmp/download/logs/2026-11-01-10-00-00-ABCDEF0123456789", 10))
	if n := count(t, s, "s3_access_logs"); n != 10 {
		t.Fatalf("%d access log records, want 10", n)
	}
	appendCommit(t, s, accessBatch("logs/2026-11-01-10-05-00-ABCDEF0123456780", 5))
	if n := count(t, s, "s3_access_logs"); n != 15 {
		t.Fatalf("%d access log records, want 15", n)
	}
	if got := Scalar[string](t, s, "SELECT extra[1] FROM s3_access_logs LIMIT 1"); got != "future-field" {
		t.Fatalf("extra fields: %q", got)
	}
	if got := Scalar[int64](t, s, "SELECT sum(bytessent) FROM s3_access_logs WHERE httpstatus = '200'"); got != 15*1024 {
		t.Fatalf("typed numbers: sum(bytessent) = %d", got)
	}
}

func testInsightsDigests(t *testing.T, s store.Store) {
	b := events(2, 0)
	ins := Event(9)
	ins.EventType, ins.EventCategory = "AwsCloudTrailInsight", "Insight"
	ins.InsightDetails = `{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight"}`
	b.Insights = append(b.Insights, ins)
	b.Digests = append(b.Digests, event.Digest{
		AWSAccountID: "111122223333", DigestStartTime: t0, DigestEndTime: t0.Add(time.Hour),
		DigestS3Bucket: "trail-bucket", DigestS3Object: "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/d.json.gz",
		DigestSignatureAlgorithm: "SHA256withRSA", PreviousDigestSignature: "",
		LogFiles: []event.DigestLogFile{{S3Bucket: "trail-bucket", S3Object: "a.json.gz", HashValue: "00", HashAlgorithm: "SHA-256", NewestEventTime: t0, OldestEventTime: t0}},
		SHA256:   "ab", Raw: "{}",
	})
	appendCommit(t, s, b)
	appendCommit(t, s, b)
	if n := count(t, s, "cloudtrail_insights"); n != 1 {
		t.Fatalf("%d insights, want 1", n)
	}
	if got := Scalar[string](t, s, "SELECT insightDetails->>'$.insightType' FROM cloudtrail_insights"); got != "ApiCallRateInsight" {
		t.Fatalf("insightType %q", got)
	}
	if n := count(t, s, "cloudtrail_digests"); n != 1 {
		t.Fatalf("%d digests, want 1", n)
	}
	if got := Scalar[string](t, s, "SELECT logFiles[1].s3Object FROM cloudtrail_digests"); got != "a.json.gz" {
		t.Fatalf("logFiles[1].s3Object = %q", got)
	}
	if n := count(t, s, "cloudtrail_events"); n != 2 {
		t.Fatalf("%d events, want 2", n)
	}
}

func testFields(t *testing.T, s store.Store) {
	e := Event(1)
	e.ErrorCode, e.ErrorMessage = "AccessDenied", "User: x is not authorized"
	e.Empty.Add(event.FUIUserName) // userName present as ""
	e.Resources = []event.Resource{{ARN: "arn:aws:s3:::b", Type: "AWS::S3::Bucket"}, {ARNPrefix: "arn:aws:s3:::b/", AccountID: "111122223333", Type: "AWS::S3::Object"}}
	e.UserIdentity.OnBehalfOf = event.OnBehalfOf{UserID: "u-1", IdentityStoreARN: "arn:aws:identitystore::111122223333:identitystore/d-1"}
	e.UserIdentity.SessionContext.SourceIdentity = "alice@example.com"
	e.UserIdentity.SessionContext.EC2RoleDelivery = "2.0"
	e.UserIdentity.SessionContext.WebIDFederationData = event.WebIDFederationData{FederatedProvider: "accounts.google.com", Attributes: `{"aud":"x"}`}
	e.AdditionalEventData, e.ServiceEventDetails, e.EdgeDeviceDetails = `{"MFAUsed":"No"}`, `{"x":1}`, `{"type":"outposts"}`
	e.SharedEventID, e.VPCEndpointID, e.VPCEndpointAccountID = "shared-1", "vpce-1", "444455556666"
	e.SessionCredentialFromConsole = event.BoolTrue
	e.Addendum = event.Addendum{Reason: "DELIVERY_DELAY", OriginalEventID: "orig"}
	e.Unmapped = `{"newField":{"a":1}}`
	e.APIVersion = "2016-11-15"
	e.Raw = `{"the":"raw event"}`
	appendCommit(t, s, &event.Batch{Object: event.ObjectRef{Key: "/data/f.json"}, Events: []event.CloudTrail{e}})
	checks := []struct{ expr, want string }{
		{"userIdentity.arn", e.UserIdentity.ARN},
		{"userIdentity.type", "AssumedRole"},
		{"userIdentity.userName", ""},
		{"coalesce(userIdentity.invokedBy, 'NULL')", "NULL"},
		{"userIdentity.sessionContext.attributes.mfaAuthenticated", "true"},
		{"userIdentity.sessionContext.sessionIssuer.userName", "Admin"},
		{"userIdentity.sessionContext.sourceIdentity", "alice@example.com"},
		{"userIdentity.sessionContext.ec2RoleDelivery", "2.0"},
		{"userIdentity.sessionContext.webIdFederationData.attributes->>'$.aud'", "x"},
		{"userIdentity.onBehalfOf.userId", "u-1"},
		{"strftime(eventTime AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')", "2026-11-01T10:00:01Z"},
		{"errorCode", "AccessDenied"},
		{"requestParameters->>'$.filterSet'", "{}"},
		{"additionalEventData->>'$.MFAUsed'", "No"},
		{"serviceEventDetails->>'$.x'", "1"},
		{"edgeDeviceDetails->>'$.type'", "outposts"},
		{"resources[1].ARN", "arn:aws:s3:::b"},
		{"resources[2].ARNPrefix", "arn:aws:s3:::b/"},
		{"CAST(len(resources) AS VARCHAR)", "2"},
		{"CAST(readOnly AS VARCHAR)", "true"},
		{"CAST(managementEvent AS VARCHAR)", "true"},
		{"CAST(sessionCredentialFromConsole AS VARCHAR)", "true"},
		{"sharedEventID || vpcEndpointId || vpcEndpointAccountId", "shared-1vpce-1444455556666"},
		{"addendum.reason || addendum.originalEventID", "DELIVERY_DELAYorig"},
		{"tlsDetails.tlsVersion || ' ' || tlsDetails.clientProvidedHostHeader", "TLSv1.3 ec2.us-east-1.amazonaws.com"},
		{"apiVersion", "2016-11-15"},
		{"unmapped->>'$.newField.a'", "1"},
		{"raw", `{"the":"raw event"}`},
		{"source_object", "/data/f.json"},
		{"CAST(source_index AS VARCHAR)", "1"},
		{"CAST(ingested_at IS NOT NULL AS VARCHAR)", "true"},
		{"principal(userIdentity)", e.UserIdentity.ARN},
		{"principal_name(userIdentity)", "Admin"},
	}
	for _, c := range checks {
		if got := Scalar[string](t, s, "SELECT "+c.expr+" FROM cloudtrail_events"); got != c.want {
			t.Errorf("%s = %q, want %q", c.expr, got, c.want)
		}
	}
	// Struct members absent in the event are NULL structs, not structs of NULLs.
	if got := Scalar[bool](t, s, "SELECT userIdentity.inScopeOf IS NULL FROM cloudtrail_events"); !got {
		t.Error("userIdentity.inScopeOf should be NULL when absent")
	}
	// Athena's lower-case spelling works too.
	if got := Scalar[string](t, s, "SELECT useridentity.sessioncontext.sessionissuer.arn FROM cloudtrail_events"); got == "" {
		t.Error("case-insensitive struct access failed")
	}
}

func testLedger(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := events(3, 0)
	a, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Append(ctx, b); err != nil {
		t.Fatal(err)
	}
	b.Object.Size = 1234
	if err := a.ObjectDone(ctx, store.ObjectStatus{Object: b.Object, Kind: event.KindCloudTrail, Records: 3}); err != nil {
		t.Fatal(err)
	}
	bad := event.ObjectRef{Key: "/data/garbage.json.gz", Size: 10}
	if err := a.ObjectDone(ctx, store.ObjectStatus{Object: bad, Kind: event.KindUnknown, Error: "gzip: invalid header"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Quarantine(ctx, store.Quarantined{Object: bad.URI(), Reason: "gzip: invalid header", Size: 10}); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	key := store.LedgerKey(b.Object)
	if key != "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/f0.json.gz" {
		t.Fatalf("ledger key %q", key)
	}
	led, err := s.Ledger(ctx, []string{key, bad.URI(), "never-seen"})
	if err != nil {
		t.Fatal(err)
	}
	if e := led[key]; e.Size != 1234 || e.Records != 3 || e.Error != "" {
		t.Fatalf("ledger entry %+v", e)
	}
	if e := led[bad.URI()]; e.Error == "" {
		t.Fatalf("quarantined object's ledger entry has no error: %+v", e)
	}
	if _, ok := led["never-seen"]; ok {
		t.Fatal("ledger invented an entry")
	}
	if got := Scalar[string](t, s, "SELECT reason FROM quarantine WHERE object = ?", bad.URI()); !strings.Contains(got, "gzip") {
		t.Fatalf("quarantine reason %q", got)
	}
}

func testReadOnly(t *testing.T, s store.Store) {
	appendCommit(t, s, events(3, 0))
	ctx := context.Background()
	refused := []string{
		"DELETE FROM cloudtrail_events",
		"DROP TABLE cloudtrail_events",
		"INSERT INTO quarantine VALUES ('x','x','x',1,now())",
		"UPDATE cloudtrail_events SET eventName = 'x'",
		"CREATE TABLE x AS SELECT 1",
		"COPY cloudtrail_events TO '/tmp/trailwatch-leak.csv'",
		"ATTACH '/tmp/trailwatch-other.db' AS other",
		"INSTALL httpfs",
		"LOAD json",
		"PRAGMA database_list",
		"SET threads = 1",
		"RESET threads",
		"CALL pragma_database_size()",
		"SELECT 1; DELETE FROM cloudtrail_events",
		"SELECT 1; SELECT 2",
		"EXPORT DATABASE '/tmp/trailwatch-export'",
		"CHECKPOINT",
		"DETACH memory",
		"",
	}
	for _, q := range refused {
		rows, err := s.Query(ctx, q)
		if err == nil {
			rows.Close()
			t.Errorf("%q was allowed", q)
			continue
		}
		if !errors.Is(err, store.ErrReadOnly) && q != "" {
			t.Logf("%q refused with: %v", q, err)
		}
	}
	// SELECTs that reach for files, the network or settings fail too.
	failing := []string{
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_text('/etc/hostname')",
		"SELECT * FROM glob('/etc/*')",
		"SELECT * FROM read_json('https://example.com/x.json')",
		"SELECT * FROM read_parquet('/tmp/x.parquet')",
	}
	for _, q := range failing {
		rows, err := s.Query(ctx, q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err == nil {
			t.Errorf("%q succeeded", q)
		}
	}
	if n := count(t, s, "cloudtrail_events"); n != 3 {
		t.Fatalf("hostile queries changed the data: %d events", n)
	}
	// Ordinary analytic SQL works.
	for _, q := range []string{
		"WITH x AS (SELECT eventName FROM cloudtrail_events) SELECT count(*) FROM x",
		"FROM cloudtrail_events SELECT count(*)",
		"SELECT eventName, count(*) FROM cloudtrail_events GROUP BY ALL ORDER BY 2 DESC LIMIT 10",
		"SELECT * FROM cloudtrail_events WHERE eventName = ?",
	} {
		args := []any{}
		if strings.Contains(q, "?") {
			args = append(args, "DescribeInstances")
		}
		rows, err := s.Query(ctx, q, args...)
		if err != nil {
			t.Errorf("%q: %v", q, err)
			continue
		}
		rows.Close()
	}
}

func testRetention(t *testing.T, s store.Store) {
	appendCommit(t, s, events(100, 0), accessBatch("logs/2026-11-01-10-00-00-ABCDEF0123456789", 4))
	n, err := s.Retain(context.Background(), t0.Add(50*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n != 54 {
		t.Fatalf("retention deleted %d rows, want 54", n)
	}
	if got := count(t, s, "cloudtrail_events"); got != 50 {
		t.Fatalf("%d events left, want 50", got)
	}
}

func testCheckpoints(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Checkpoints can be written while an appender is open.
	a, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Append(ctx, events(3, 0)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.SetCheckpoint(ctx, "during", "x") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SetCheckpoint waited for the open appender")
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Checkpoint(ctx, "poll/bucket"); err != nil || v != "" {
		t.Fatalf("unset checkpoint = %q, %v", v, err)
	}
	for _, v := range []string{"a", "b"} {
		if err := s.SetCheckpoint(ctx, "poll/bucket", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Checkpoint(ctx, "poll/bucket"); err != nil || got != v {
			t.Fatalf("checkpoint = %q, %v; want %q", got, err, v)
		}
	}
}

func testViews(t *testing.T, s store.Store) {
	b := events(5, 0)
	login := Event(7)
	login.EventSource, login.EventName, login.EventType = "signin.amazonaws.com", "ConsoleLogin", "AwsConsoleSignIn"
	login.UserIdentity = event.UserIdentity{Type: "Root", ARN: "arn:aws:iam::111122223333:root", AccountID: "111122223333"}
	login.ResponseElements, login.AdditionalEventData = `{"ConsoleLogin":"Success"}`, `{"MFAUsed":"No"}`
	b.Events = append(b.Events, login)
	appendCommit(t, s, b)
	if got := Scalar[string](t, s, "SELECT outcome || '/' || mfa_used || '/' || user_name FROM console_logins"); got != "Success/No/root" {
		t.Fatalf("console_logins: %q", got)
	}
	if got := Scalar[int64](t, s, "SELECT count(*) FROM root_activity"); got != 1 {
		t.Fatalf("root_activity: %d", got)
	}
	if got := Scalar[int64](t, s, "SELECT count(*) FROM events WHERE user_name = 'Admin'"); got != 5 {
		t.Fatalf("events view: %d", got)
	}
}

// testInvalidUTF8: one record with invalid UTF-8 must not make a table
// unreadable (DuckDB writes such strings to Parquet and then refuses to read
// them back); the bytes are replaced by U+FFFD.
func testInvalidUTF8(t *testing.T, s store.Store) {
	e := Event(1)
	e.UserAgent = "bad \xff\xfe agent"
	e.Raw = `{"userAgent":"bad \xff\xfe agent"}`
	b := &event.Batch{Object: event.ObjectRef{Key: "/data/bad-\xff.json"}, Events: []event.CloudTrail{e, Event(2)}}
	a := accessBatch("logs/2026-11-01-10-00-00-ABCDEF0123456789", 1)
	a.AccessLogs[0].Key, a.AccessLogs[0].Raw = "k\xff", "line \xff"
	appendCommit(t, s, b, a)
	if got := Scalar[string](t, s, "SELECT userAgent FROM cloudtrail_events WHERE eventID = ?", e.EventID); got != "bad \uFFFD agent" {
		t.Errorf("userAgent = %q", got)
	}
	if got := Scalar[int64](t, s, "SELECT count(*) FROM cloudtrail_events WHERE raw IS NOT NULL AND source_object IS NOT NULL"); got != 2 {
		t.Errorf("%d events readable, want 2", got)
	}
	if got := Scalar[string](t, s, "SELECT key FROM s3_access_logs"); got != "k\uFFFD" {
		t.Errorf("access log key = %q", got)
	}
}
