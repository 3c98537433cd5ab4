package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPeersThroughTheStore ingests Elastic's CloudTrail pipeline test inputs
// with the real command line and checks, with SQL, that the stored columns
// carry the values Elastic's expected output has — and that raw is the
// event exactly as delivered (event.original). The parser-level peer tests
// (internal/parse/cloudtrail) compare many more fields; this one proves the
// store keeps them.
func TestPeersThroughTheStore(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join(shared, "peers/elastic-cloudtrail/integrations/*.log"))
	if err != nil || len(inputs) == 0 {
		t.Skip("peer test data not available")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in + "-expected.json")
			if err != nil {
				t.Fatal(err)
			}
			var exp struct {
				Expected []map[string]any `json:"expected"`
			}
			if err := json.Unmarshal(data, &exp); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(t.TempDir(), "tw.duckdb")
			mustRun(t, ExitOK, "--db", db, "ingest", "--progress", "never", in)
			checked := 0
			for _, e := range exp.Expected {
				id, _ := get(e, "event.id").(string)
				original, _ := get(e, "event.original").(string)
				if id == "" || get(e, "aws.cloudtrail.flattened.digest") != nil {
					continue
				}
				// The raw event must be stored byte for byte (two of Elastic's
				// cases share an eventID, so it also picks the row).
				where := `eventID = ` + sqlQuote(id)
				if original != "" {
					where += ` AND raw = ` + sqlQuote(original)
				}
				out := mustRun(t, ExitOK, "--db", db, "--format", "json", "query",
					`SELECT eventName, eventSource, sourceIPAddress, userIdentity.arn AS arn, userIdentity.type AS type,
						userAgent, errorCode, errorMessage, awsRegion, recipientAccountId, raw
					 FROM cloudtrail_events WHERE `+where)
				var got map[string]any
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("event %s not stored as delivered (%v): %q", id, err, out)
				}
				for col, path := range map[string]string{
					"eventName":       "event.action",
					"eventSource":     "event.provider",
					"sourceIPAddress": "source.address",
					"arn":             "aws.cloudtrail.user_identity.arn",
					"type":            "aws.cloudtrail.user_identity.type",
					"userAgent":       "user_agent.original",
					"errorCode":       "aws.cloudtrail.error_code",
					"errorMessage":    "aws.cloudtrail.error_message",
					"awsRegion":       "cloud.region",
				} {
					want := get(e, path)
					if want == nil {
						continue
					}
					if got[col] != want {
						t.Errorf("event %s: %s = %v, Elastic has %s = %v", id, col, got[col], path, want)
					}
				}
				checked++
			}
			if checked == 0 && !strings.Contains(in, "digest") {
				t.Errorf("no event of %s was checked", in)
			}
		})
	}
}

// get walks a dotted path through nested maps.
func get(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
