package cloudtrail

// Robustness: bad, odd and hostile input through Parser.Parse.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/trailwatch/trailwatch/internal/event"
)

// rec returns a compact, realistic record whose eventID is "E<n>".
func rec(n int) string {
	return fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"alice","sessionContext":{"attributes":{"creationDate":"2024-07-31T12:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-07-31T13:10:%02dZ","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"aws-cli/2.15.0 Python/3.11","requestParameters":{"bucketName":"b","key":"k/%d","x-amz-id":[1,2.5,-3e2,true,false,null,"\"q\" \\ \u00e9"]},"responseElements":null,"requestID":"R%d","eventID":"E%d","readOnly":true,"resources":[{"ARN":"arn:aws:s3:::b/k","type":"AWS::S3::Object"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"b.s3.amazonaws.com"}}`, n%60, n, n, n)
}

// recordsFile wraps records into a delivered log file and returns the end
// offset of each record.
func recordsFile(recs ...string) ([]byte, []int) {
	var b bytes.Buffer
	var ends []int
	b.WriteString(`{"Records":[`)
	for i, r := range recs {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(r)
		ends = append(ends, b.Len())
	}
	b.WriteString("]}\n")
	return b.Bytes(), ends
}

func eventIDs(recs []event.CloudTrail) []string {
	var ids []string
	for _, e := range recs {
		ids = append(ids, e.EventID)
	}
	return ids
}

func skipped(t testing.TB, err error) *event.SkippedError {
	t.Helper()
	var se *event.SkippedError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *event.SkippedError", err, err)
	}
	return se
}

func TestRobustNotCloudTrail(t *testing.T) {
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i>>3)
	}
	garbage[0] = 0x8f
	for _, c := range []struct {
		name, in string
		notCT    bool // a *NotCloudTrailError (else any error)
	}{
		{"empty", "", true},
		{"whitespace only", " \n\t\r\n  ", true},
		{"BOM only", "\xef\xbb\xbf", true},
		{"binary garbage", string(garbage), true},
		{"NUL bytes", "\x00\x00\x00\x00", true},
		{"gzip magic (still compressed)", "\x1f\x8b\x08\x00\x00\x00\x00\x00", true},
		{"object that is not CloudTrail", `{"foo":1}`, true},
		{"array of numbers", `[1,2,3]`, true},
		{"JSON string", `"string"`, true},
		{"JSON number", `42`, true},
		{"JSON null", `null`, true},
		{"JSON true", `true`, true},
		{"empty object", `{}`, true},
		{"array of empty objects", `[{},{}]`, true},
		{"S3 access log line", `79a59df900b949e5 awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" -`, true},
		{"garbage starting with a brace", "{\x00\x01\x02 not json at all", false},
		{"garbage starting with a bracket", "[\x00\x01 not json", false},
		{"unterminated string", `{"Records":[{"eventName":"abc`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := parseBytes(t, []byte(c.in))
			if n := len(r.records()) + len(r.Digests); n != 0 {
				t.Errorf("got %d records", n)
			}
			var nc *NotCloudTrailError
			switch {
			case r.Err == nil:
				t.Errorf("no error")
			case c.notCT && !errors.As(r.Err, &nc):
				t.Errorf("err = %v (%T), want *NotCloudTrailError", r.Err, r.Err)
			}
		})
	}
	t.Run("empty Records is a valid empty log file", func(t *testing.T) {
		for _, in := range []string{`{"Records":[]}`, `{"Records": [ ] }` + "\n", `[]`} {
			r := parseBytes(t, []byte(in))
			if r.Err != nil || len(r.records()) != 0 {
				t.Errorf("%s: %d records, err %v", in, len(r.records()), r.Err)
			}
		}
	})
}

// TestRobustTruncated cuts small files at every byte offset: no panic, the
// records that end before the cut are emitted (equal to a full parse), and
// the error says the input ended early.
func TestRobustTruncated(t *testing.T) {
	compact, compactEnds := recordsFile(rec(0), rec(1), rec(2))
	pretty := readFile(t, filepath.Join(sharedTestdata, "cloudtrail/aws-docs/log-file-examples-07.json"))
	var prettyEnds []int
	for _, m := range rawRecords(t, pretty) {
		prettyEnds = append(prettyEnds, bytes.Index(pretty, m)+len(m))
	}
	for _, c := range []struct {
		name string
		data []byte
		ends []int
	}{
		{"compact", compact, compactEnds},
		{"pretty Insights", pretty, prettyEnds},
	} {
		full := parseBytes(t, c.data)
		if full.Err != nil || len(full.records()) != len(c.ends) {
			t.Fatalf("%s: full parse: %d records, %v", c.name, len(full.records()), full.Err)
		}
		complete := len(bytes.TrimRight(c.data, " \n"))
		for _, bufSize := range []int{0, 64} {
			t.Run(fmt.Sprintf("%s/buffer %d", c.name, bufSize), func(t *testing.T) {
				// The default parser is reused (its 4 MiB buffer carries
				// over); a 64-byte one is fresh, so that it stays small
				// and every record straddles refills.
				p := NewParser(Options{BufferSize: bufSize})
				for cut := 0; cut <= len(c.data); cut++ {
					if bufSize != 0 {
						p = NewParser(Options{BufferSize: bufSize})
					}
					r := parseWith(t, p, bytes.NewReader(c.data[:cut]))
					want := 0
					for _, end := range c.ends {
						if end <= cut {
							want++
						}
					}
					got := r.records()
					if len(got) != want || (want > 0 && !reflect.DeepEqual(got, full.records()[:want])) {
						t.Fatalf("cut %d: got %d records %v, want the first %d of the full parse", cut, len(got), eventIDs(got), want)
					}
					msg := fmt.Sprint(r.Err)
					switch {
					case cut >= complete:
						if r.Err != nil {
							t.Fatalf("cut %d (complete): %v", cut, r.Err)
						}
					case len(bytes.TrimSpace(c.data[:cut])) == 0:
						var nc *NotCloudTrailError
						if !errors.As(r.Err, &nc) {
							t.Fatalf("cut %d (blank): err %v", cut, r.Err)
						}
					case !strings.Contains(msg, "truncated") && !strings.Contains(msg, "unexpected end"):
						t.Fatalf("cut %d: error %q does not say the input is truncated", cut, msg)
					}
				}
			})
		}
	}
}

func TestRobustBadRecordInArray(t *testing.T) {
	for _, c := range []struct {
		name, bad, reason string
	}{
		{"raw control character in a string", "{\"eventVersion\":\"1.0\",\"eventName\":\"a\nb\"}", "control character"},
		{"invalid literal", `{"eventVersion":"1.0","readOnly":tru}`, "invalid literal"},
		{"invalid number", `{"eventVersion":"1.0","requestParameters":{"n":01}}`, "invalid JSON"},
		{"missing colon", `{"eventVersion" "1.0"}`, "expected ':'"},
		{"trailing comma", `{"eventVersion":"1.0",}`, "expected object key"},
		{"invalid escape in a field", `{"eventVersion":"1.0","eventName":"a\qb"}`, "invalid escape"},
		{"invalid escape in a nested document", `{"eventVersion":"1.0","requestParameters":{"k":"a\qb"}}`, "invalid escape"},
		{"invalid \\u escape in a nested document", `{"eventVersion":"1.0","requestParameters":{"k":"\u12G4"}}`, "escape"},
		{"invalid escape in an unknown field", `{"eventVersion":"1.0","newField":"\x41"}`, "invalid escape"},
		{"invalid escape in a key", `{"eventVersion":"1.0","a\qb":1}`, "invalid escape"},
		{"a number, not an object", `5`, "not an object"},
		{"a string, not an object", `"x"`, "not an object"},
		{"an array, not an object", `[1,{"eventVersion":"1.0"}]`, "not an object"},
		{"empty object", `{}`, "empty object"},
		{"object that is not a record", `{"foo":1,"bar":[1]}`, "not a CloudTrail record"},
		{"record fields all null", `{"eventVersion":null,"eventName":null}`, "not a CloudTrail record"},
		{"nesting deeper than the limit", `{"eventVersion":"1.0","requestParameters":` + strings.Repeat(`{"a":`, 600) + `1` + strings.Repeat(`}`, 600) + `}`, "nesting"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, _ := recordsFile(rec(0), c.bad, rec(2))
			for _, bufSize := range []int{0, 64} {
				r := parseReader(t, bytes.NewReader(data), Options{BufferSize: bufSize})
				got := r.records()
				if ids := eventIDs(got); !reflect.DeepEqual(ids, []string{"E0", "E2"}) {
					t.Fatalf("buffer %d: records %v, want E0 and E2", bufSize, ids)
				}
				if got[0].Index != 0 || got[1].Index != 2 {
					t.Errorf("indexes %d, %d; want 0, 2", got[0].Index, got[1].Index)
				}
				for i := range got {
					checkInvariants(t, &got[i])
				}
				se := skipped(t, r.Err)
				if se.Skipped != 1 || se.Errors[0].Index != 1 || !strings.Contains(se.Errors[0].Reason, c.reason) {
					t.Errorf("buffer %d: SkippedError %+v, want record 1: ...%s...", bufSize, se, c.reason)
				}
				if !strings.Contains(se.Error(), "record 1") {
					t.Errorf("error %q does not name record 1", se.Error())
				}
			}
		})
	}
	t.Run("many bad records: the first ten are listed", func(t *testing.T) {
		recs := []string{rec(0)}
		for range 25 {
			recs = append(recs, `{"eventVersion":tru}`)
		}
		recs = append(recs, rec(26))
		data, _ := recordsFile(recs...)
		r := parseBytes(t, data)
		if ids := eventIDs(r.records()); !reflect.DeepEqual(ids, []string{"E0", "E26"}) {
			t.Fatalf("records %v", ids)
		}
		se := skipped(t, r.Err)
		if se.Skipped != 25 || len(se.Errors) != event.MaxRecordErrors || se.Errors[9].Index != 10 || !strings.HasSuffix(se.Error(), "; ...") {
			t.Errorf("SkippedError %v", se)
		}
	})
}

func TestRobustDeepNesting(t *testing.T) {
	const depth = 10000
	for _, c := range []struct {
		name string
		in   string
		want []string // event IDs kept
	}{
		{"arrays at top level", strings.Repeat("[", depth) + strings.Repeat("]", depth), nil},
		{"objects at top level", strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth), nil},
		{"unclosed arrays", strings.Repeat("[", depth), nil},
		{"in requestParameters", `{"Records":[` + rec(0) + `,{"eventVersion":"1.0","requestParameters":` + strings.Repeat(`[`, depth) + strings.Repeat(`]`, depth) + `},` + rec(2) + `]}`, []string{"E0", "E2"}},
		{"in an unknown field", `{"Records":[` + rec(0) + `,{"eventVersion":"1.0","x":` + strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`, depth) + `},` + rec(2) + `]}`, []string{"E0", "E2"}},
		{"as a Records element", `{"Records":[` + rec(0) + `,` + strings.Repeat(`[`, depth) + strings.Repeat(`]`, depth) + `,` + rec(2) + `]}`, []string{"E0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := parseBytes(t, []byte(c.in))
			if r.Err == nil {
				t.Errorf("no error")
			}
			if ids := eventIDs(r.records()); !reflect.DeepEqual(ids, c.want) {
				t.Errorf("records %v, want %v", ids, c.want)
			}
			if !strings.Contains(fmt.Sprint(r.Err), "nesting deeper") && !strings.Contains(fmt.Sprint(r.Err), "truncated") && !strings.Contains(fmt.Sprint(r.Err), "not a CloudTrail") {
				t.Errorf("error %v does not say why", r.Err)
			}
		})
	}
}

func TestRobustHugeString(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB input")
	}
	huge := strings.Repeat("abcdefghij", 5<<20) // 50 MiB
	data, _ := recordsFile(rec(0), `{"eventVersion":"1.08","eventID":"BIG","userAgent":"`+huge+`","requestParameters":{"policy":"`+huge[:1<<20]+`"}}`, rec(2))
	t.Run("default max record size", func(t *testing.T) {
		r := parseBytes(t, data)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if ids := eventIDs(r.records()); !reflect.DeepEqual(ids, []string{"E0", "BIG", "E2"}) {
			t.Fatalf("records %v", ids)
		}
		if e := r.records()[1]; e.UserAgent != huge || len(e.RequestParameters) != 1<<20+13 {
			t.Errorf("huge field: got %d bytes of userAgent, %d of requestParameters", len(e.UserAgent), len(e.RequestParameters))
		}
	})
	t.Run("above MaxRecordBytes", func(t *testing.T) {
		r := parseReader(t, bytes.NewReader(data), Options{MaxRecordBytes: 16 << 20})
		if r.Err == nil || !strings.Contains(r.Err.Error(), "larger than 16 MiB") {
			t.Fatalf("err = %v, want a clear size error", r.Err)
		}
		if ids := eventIDs(r.records()); !reflect.DeepEqual(ids, []string{"E0"}) {
			t.Errorf("records %v, want E0 (before the huge one)", ids)
		}
	})
}

func TestRobustJSONLines(t *testing.T) {
	for _, c := range []struct {
		name, broken string
	}{
		{"invalid character, brackets balanced", `{"eventVersion":"1.08","eventName":x}`},
		{"truncated line (unbalanced)", `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"`},
		{"truncated inside a string", `{"eventVersion":"1.08","eventName":"GetOb`},
		{"truncated line, first key not a record key", `{"awsRegionX":"us-east-1","userIdentity":{"type":"IAMUser"`},
		{"plain text", `this is not json`},
		{"raw control character", "{\"eventVersion\":\"1.08\",\"eventName\":\"a\tb\"}"},
		{"stray closing brackets", `}]}`},
		{"an object that is not a record", `{"hello":"world"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := rec(0) + "\n" + c.broken + "\n" + rec(2) + "\n" + rec(3) + "\n"
			for _, bufSize := range []int{0, 64} {
				r := parseReader(t, strings.NewReader(in), Options{BufferSize: bufSize})
				if ids := eventIDs(r.records()); !reflect.DeepEqual(ids, []string{"E0", "E2", "E3"}) {
					t.Fatalf("buffer %d: records %v (err %v), want E0 E2 E3", bufSize, ids, r.Err)
				}
				for i, e := range r.records() {
					checkRoundTrip(t, &e, []byte(strings.Split(in, "\n")[[]int{0, 2, 3}[i]]))
				}
				se := skipped(t, r.Err)
				if se.Skipped != 1 || se.Errors[0].Index != 1 {
					t.Errorf("buffer %d: SkippedError %v, want one error for record 1", bufSize, se)
				}
			}
		})
	}
	t.Run("CRLF line ends and blank lines", func(t *testing.T) {
		in := rec(0) + "\r\n\r\n" + rec(1) + "\r\n"
		r := parseBytes(t, []byte(in))
		if r.Err != nil || len(r.records()) != 2 || r.records()[1].Raw != rec(1) {
			t.Fatalf("%d records, %v", len(r.records()), r.Err)
		}
	})
}

func TestRobustConcatenated(t *testing.T) {
	pretty := func(s string) string {
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(s), "", "    "); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, c := range []struct {
		name, in string
		raws     []string
	}{
		{"pretty objects, newline separated", pretty(rec(0)) + "\n" + pretty(rec(1)) + "\n", []string{pretty(rec(0)), pretty(rec(1))}},
		{"pretty objects, no separator", pretty(rec(0)) + pretty(rec(1)), []string{pretty(rec(0)), pretty(rec(1))}},
		{"compact objects, space separated", rec(0) + " " + rec(1) + "\t" + rec(2), []string{rec(0), rec(1), rec(2)}},
		{"Records files back to back", `{"Records":[` + rec(0) + `]}{"Records":[` + rec(1) + "]}\n" + pretty(`{"Records":[`+rec(2)+`]}`), []string{rec(0), rec(1), string(rawRecords(t, []byte(pretty(`{"Records":[`+rec(2)+`]}`)))[0])}},
		{"bare array of records", "[\n" + pretty(rec(0)) + ",\n" + rec(1) + "\n]\n", []string{pretty(rec(0)), rec(1)}},
		{"Records not the first member", `{"version":1,"Records":[` + rec(0) + `,` + rec(1) + `],"tail":{"x":[1]}}`, []string{rec(0), rec(1)}},
		{"Records first, members after it", `{"Records":[` + rec(0) + `],"x":{"y":[1,{"z":null}]},"n":1.5e3}`, []string{rec(0)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, bufSize := range []int{0, 64} {
				r := parseReader(t, strings.NewReader(c.in), Options{BufferSize: bufSize})
				if r.Err != nil {
					t.Fatalf("buffer %d: %v", bufSize, r.Err)
				}
				got := r.records()
				if len(got) != len(c.raws) {
					t.Fatalf("buffer %d: %d records, want %d", bufSize, len(got), len(c.raws))
				}
				for i := range got {
					if got[i].Index != i {
						t.Errorf("record %d has Index %d", i, got[i].Index)
					}
					checkInvariants(t, &got[i])
					checkRoundTrip(t, &got[i], []byte(c.raws[i]))
				}
			}
		})
	}
}

func TestRobustLookupEvents(t *testing.T) {
	// aws cloudtrail lookup-events output: the record is a JSON string.
	var events []map[string]any
	for i := range 3 {
		events = append(events, map[string]any{
			"EventId": fmt.Sprintf("E%d", i), "EventName": "GetObject", "ReadOnly": "true",
			"Resources":       []any{map[string]any{"ResourceType": "AWS::S3::Object", "ResourceName": "k"}},
			"CloudTrailEvent": rec(i),
		})
	}
	out, _ := json.MarshalIndent(map[string]any{"Events": events, "NextToken": "abc"}, "", "  ")
	for _, bufSize := range []int{0, 64} {
		r := parseReader(t, bytes.NewReader(out), Options{BufferSize: bufSize})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got := r.records()
		if len(got) != 3 {
			t.Fatalf("%d records", len(got))
		}
		for i := range got {
			checkInvariants(t, &got[i])
			checkRoundTrip(t, &got[i], []byte(rec(i)))
		}
	}
	t.Run("element without CloudTrailEvent, and a bad embedded record", func(t *testing.T) {
		in := `{"Events":[{"EventId":"x"},{"CloudTrailEvent":"{\"eventVersion\":tru}"},{"CloudTrailEvent":` + string(mustJSON(t, rec(2))) + `}]}`
		r := parseBytes(t, []byte(in))
		if ids := eventIDs(r.records()); !reflect.DeepEqual(ids, []string{"E2"}) {
			t.Fatalf("records %v", ids)
		}
		if se := skipped(t, r.Err); se.Skipped != 2 {
			t.Errorf("SkippedError %v", se)
		}
	})
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRobustEventBridge(t *testing.T) {
	detail := rec(7)
	in := `{"version":"0","id":"6f2b2e0a-0000-0000-0000-000000000000","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"111122223333","time":"2024-07-31T13:10:07Z","region":"us-east-1","resources":[],"detail":` + detail + `}`
	for _, c := range []struct{ name, in string }{
		{"compact", in},
		{"two envelopes as JSON lines", in + "\n" + strings.Replace(in, `"E7"`, `"E8"`, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := parseBytes(t, []byte(c.in))
			if r.Err != nil || len(r.records()) == 0 {
				t.Fatalf("%d records, %v", len(r.records()), r.Err)
			}
			e := &r.records()[0]
			checkInvariants(t, e)
			checkRoundTrip(t, e, []byte(detail))
		})
	}
}

func TestRobustBOM(t *testing.T) {
	for _, in := range [][]byte{
		readFile(t, filepath.Join(sharedTestdata, "cloudtrail/aws-docs/log-file-examples-00.json")),
		readFile(t, filepath.Join(sharedTestdata, "cloudtrail/aws-docs/console-signin-events-01.json")),
		[]byte(rec(0) + "\n" + rec(1)),
	} {
		plain := parseBytes(t, in)
		bom := parseBytes(t, append([]byte("\xef\xbb\xbf"), in...))
		if plain.Err != nil || bom.Err != nil || len(plain.records()) == 0 || !reflect.DeepEqual(plain.records(), bom.records()) {
			t.Errorf("with BOM: %d records (%v), without: %d (%v)", len(bom.records()), bom.Err, len(plain.records()), plain.Err)
		}
	}
}

func TestRobustEscapes(t *testing.T) {
	for _, c := range []struct {
		name, lit string // a JSON string literal, as in the file
	}{
		{"plain", `"GetObject"`},
		{"\\u escape of ASCII", `"Get\u004fbject"`},
		{"all short escapes", `"\"\\\/\b\f\n\r\t"`},
		{"upper-case hex", `"\u00E9\u00e9"`},
		{"surrogate pair", `"smile \ud83d\ude00!"`},
		{"upper-case surrogate pair", `"\uD83D\uDE00"`},
		{"lone high surrogate", `"a\ud800b"`},
		{"lone low surrogate", `"a\udc00b"`},
		{"high surrogate then a non-surrogate escape", `"\ud800\u0041"`},
		{"high surrogate then another high surrogate", `"\ud800\ud800\udc00"`},
		{"high surrogate at the end", `"ab\ud83d"`},
		{"escaped NUL", `"a\u0000b"`},
		{"raw UTF-8", `"日本語 🤖"`},
		{"invalid UTF-8 bytes", "\"a\xff\xfeb\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want string
			if err := json.Unmarshal([]byte(c.lit), &want); err != nil {
				t.Fatal(err)
			}
			decoded := want
			if !utf8.ValidString(c.lit) {
				// Unlike encoding/json, which replaces them with U+FFFD,
				// we keep invalid UTF-8 bytes as they are (no copy).
				want = c.lit[1 : len(c.lit)-1]
			}
			in := `{"eventVersion":"1.08","eventName":` + c.lit + `,"userIdentity":{"userName":` + c.lit + `},"requestParameters":{"k":` + c.lit + `},` + c.lit + `:` + c.lit + `}`
			for _, bufSize := range []int{0, 64} {
				r := parseReader(t, strings.NewReader(in), Options{BufferSize: bufSize})
				if r.Err != nil || len(r.records()) != 1 {
					t.Fatalf("%d records, %v", len(r.records()), r.Err)
				}
				e := &r.records()[0]
				checkInvariants(t, e)
				// Decoded as encoding/json decodes them (invalid
				// surrogates become U+FFFD).
				if e.EventName != want || e.UserIdentity.UserName != want {
					t.Errorf("got %q / %q, want %q", e.EventName, e.UserIdentity.UserName, want)
				}
				// Kept documents keep the escapes as written.
				if string(e.RequestParameters) != `{"k":`+c.lit+`}` {
					t.Errorf("requestParameters %q", e.RequestParameters)
				}
				// An unknown key with escapes is kept under its decoded name
				// (decoding Unmapped gives what decoding the input gives).
				if um := decode(t, string(e.Unmapped)); !reflect.DeepEqual(um, map[string]any{decoded: decoded}) {
					t.Errorf("Unmapped %q, want {%q: %q}", e.Unmapped, decoded, decoded)
				}
			}
		})
	}
	t.Run("escaped known key", func(t *testing.T) {
		r := parseBytes(t, []byte(`{"\u0065ventVersion":"1.0","event\u004eame":"X"}`))
		if len(r.records()) != 1 || r.records()[0].EventName != "X" || r.records()[0].Unmapped != "" {
			t.Fatalf("%+v %v", r.records(), r.Err)
		}
	})
}

func TestRobustDuplicateKeys(t *testing.T) {
	// The last occurrence wins, as with encoding/json.
	in := `{"eventVersion":"1.0","eventName":"A","eventName":"B","userIdentity":{"type":"X"},"userIdentity":{"arn":"arn:aws:iam::1:user/b"},"readOnly":true,"readOnly":false,"requestParameters":{"a":1},"requestParameters":{"b":2},"x":1,"x":2}`
	r := parseBytes(t, []byte(in))
	if r.Err != nil || len(r.records()) != 1 {
		t.Fatalf("%d records, %v", len(r.records()), r.Err)
	}
	e := &r.records()[0]
	checkInvariants(t, e)
	if e.EventName != "B" || e.ReadOnly != event.BoolFalse || e.RequestParameters != `{"b":2}` {
		t.Errorf("eventName %q readOnly %v requestParameters %s", e.EventName, e.ReadOnly, e.RequestParameters)
	}
	// Two userIdentity objects merge (both members are kept).
	if e.UserIdentity.Type != "X" || e.UserIdentity.ARN != "arn:aws:iam::1:user/b" {
		t.Errorf("userIdentity %+v", e.UserIdentity)
	}
	// Unknown duplicates are all kept; decoding them is last-wins too.
	if e.Unmapped != `{"x":1,"x":2}` {
		t.Errorf("Unmapped %s", e.Unmapped)
	}
	var want map[string]any
	_ = json.Unmarshal([]byte(in), &want)
	if got := decode(t, string(e.Unmapped)).(map[string]any)["x"]; got != want["x"] {
		t.Errorf("x = %v, want %v", got, want["x"])
	}
}

func TestRobustUnknownFields(t *testing.T) {
	// An unknown member at every level of the record, with values of every
	// JSON type.
	in := `{"eventVersion":"1.11","zTop":{"n":[1,{"m":null}],"s":"\"q\""},
	"userIdentity":{"type":"AssumedRole","zUI":1.5e-3,
		"sessionContext":{"zSC":true,"attributes":{"creationDate":"2024-01-01T00:00:00Z","zAttr":"a"},
			"sessionIssuer":{"type":"Role","zSI":[]},"webIdFederationData":{"federatedProvider":"p","attributes":{"k":"v"},"zWeb":{}},
			"sourceIdentity":"si","zSC2":"b"},
		"onBehalfOf":{"userId":"u","zOBO":false},"inScopeOf":{"issuerType":"AWS::Lambda::Function","zISO":-1}},
	"eventTime":"2024-01-01T00:00:01Z","eventName":"X",
	"resources":[{"ARN":"arn:1","zRes0":"r0"},{"ARN":"arn:2"},{"type":"T","zRes2":{"deep":[1]}}],
	"addendum":{"reason":"DELIVERY_DELAY","zAdd":"c"},"tlsDetails":{"tlsVersion":"TLSv1.3","zTLS":0},
	"zLast":"\u00e9"}`
	want := `{"zTop":{"n":[1,{"m":null}],"s":"\"q\""},
	"userIdentity":{"zUI":1.5e-3,"sessionContext":{"zSC":true,"attributes":{"zAttr":"a"},"sessionIssuer":{"zSI":[]},"webIdFederationData":{"zWeb":{}},"zSC2":"b"},
		"onBehalfOf":{"zOBO":false},"inScopeOf":{"zISO":-1}},
	"resources":{"0":{"zRes0":"r0"},"2":{"zRes2":{"deep":[1]}}},
	"addendum":{"zAdd":"c"},"tlsDetails":{"zTLS":0},"zLast":"é"}`
	for _, bufSize := range []int{0, 64} {
		r := parseReader(t, strings.NewReader(in), Options{BufferSize: bufSize})
		if r.Err != nil || len(r.records()) != 1 {
			t.Fatalf("%d records, %v", len(r.records()), r.Err)
		}
		e := &r.records()[0]
		checkInvariants(t, e)
		if !reflect.DeepEqual(decode(t, string(e.Unmapped)), decode(t, want)) {
			t.Errorf("Unmapped:\n got %s\nwant %s", e.Unmapped, want)
		}
		checkRoundTrip(t, e, []byte(in))
	}
}

func TestRobustWrongTypes(t *testing.T) {
	// A value of the wrong JSON type is never dropped: it goes to
	// Unmapped at its path (null, which carries nothing, is dropped).
	for _, c := range []struct {
		name, members, unmapped string
	}{
		{"eventName number", `"eventName":5`, `{"eventName":5}`},
		{"eventName object", `"eventName":{"a":1}`, `{"eventName":{"a":1}}`},
		{"userIdentity string", `"userIdentity":"x"`, `{"userIdentity":"x"}`},
		{"userIdentity array", `"userIdentity":[1]`, `{"userIdentity":[1]}`},
		{"resources object", `"resources":{}`, `{"resources":{}}`},
		{"resources string", `"resources":"arn:x"`, `{"resources":"arn:x"}`},
		{"resources element not an object", `"resources":[5,{"ARN":"a"},"s"]`, `{"resources":{"0":5,"2":"s"}}`},
		{"resources member of the wrong type", `"resources":[{"ARN":5,"type":["t"],"accountId":null}]`, `{"resources":{"0":{"ARN":5,"type":["t"]}}}`},
		{"eventTime number", `"eventTime":1722431400`, `{"eventTime":1722431400}`},
		{"eventTime not a time", `"eventTime":"yesterday"`, `{"eventTime":"yesterday"}`},
		{"readOnly string", `"readOnly":"maybe"`, `{"readOnly":"maybe"}`},
		{"readOnly number", `"readOnly":1`, `{"readOnly":1}`},
		{"managementEvent object", `"managementEvent":{}`, `{"managementEvent":{}}`},
		{"tlsDetails array", `"tlsDetails":[]`, `{"tlsDetails":[]}`},
		{"addendum string", `"addendum":"late"`, `{"addendum":"late"}`},
		{"sessionContext number", `"userIdentity":{"sessionContext":5}`, `{"userIdentity":{"sessionContext":5}}`},
		{"sessionIssuer arn number", `"userIdentity":{"sessionContext":{"sessionIssuer":{"arn":7}}}`, `{"userIdentity":{"sessionContext":{"sessionIssuer":{"arn":7}}}}`},
		{"mfaAuthenticated boolean", `"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":false}}}`, `{"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":false}}}}`},
		{"tlsVersion number", `"tlsDetails":{"tlsVersion":1.3}`, `{"tlsDetails":{"tlsVersion":1.3}}`},
		{"empty key", `"":5,"userIdentity":{"":[""]}`, `{"":5,"userIdentity":{"":[""]}}`},
		{"null resources element", `"resources":[null,{"ARN":"a","x":null}]`, ``},
		{"nulls everywhere", `"eventName":null,"userIdentity":null,"resources":null,"readOnly":null,"tlsDetails":{"tlsVersion":null},"resources":[{"ARN":null}]`, ``},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := `{"eventVersion":"1.08","eventID":"W",` + c.members + `}`
			r := parseBytes(t, []byte(in))
			if r.Err != nil || len(r.records()) != 1 {
				t.Fatalf("%d records, %v", len(r.records()), r.Err)
			}
			e := &r.records()[0]
			checkInvariants(t, e)
			if c.unmapped == "" {
				if e.Unmapped != "" {
					t.Errorf("Unmapped %s, want none", e.Unmapped)
				}
			} else if e.Unmapped == "" || !reflect.DeepEqual(decode(t, string(e.Unmapped)), decode(t, c.unmapped)) {
				t.Errorf("Unmapped %s, want %s", e.Unmapped, c.unmapped)
			}
			if e.Raw != in {
				t.Errorf("Raw %q", e.Raw)
			}
		})
	}
	t.Run("nested documents of any type are kept as they are", func(t *testing.T) {
		in := `{"eventVersion":"1.08","requestParameters":"a string","responseElements":[1,2],"additionalEventData":true,"serviceEventDetails":42,"insightDetails":{"state":"Start"}}`
		r := parseBytes(t, []byte(in))
		if len(r.records()) != 1 {
			t.Fatalf("%d records, %v", len(r.records()), r.Err)
		}
		e := &r.records()[0]
		checkInvariants(t, e)
		if e.RequestParameters != `"a string"` || e.ResponseElements != `[1,2]` || e.AdditionalEventData != `true` || e.ServiceEventDetails != `42` || len(r.Insights) != 1 {
			t.Errorf("%+v", e)
		}
	})
}

func TestRobustEmptyStrings(t *testing.T) {
	// Every string field present with "": values empty, each in Empty,
	// and nothing else in Empty.
	in := `{"eventVersion":"","eventSource":"","eventName":"","awsRegion":"","sourceIPAddress":"","userAgent":"","errorCode":"","errorMessage":"",
	"requestID":"","eventID":"","eventType":"","apiVersion":"","recipientAccountId":"","sharedEventID":"","vpcEndpointId":"","vpcEndpointAccountId":"","eventCategory":"",
	"userIdentity":{"type":"","principalId":"","arn":"","accountId":"","accessKeyId":"","userName":"","invokedBy":"","identityProvider":"","credentialId":"",
		"onBehalfOf":{"userId":"","identityStoreArn":""},"inScopeOf":{"sourceArn":"","sourceAccount":"","issuerType":"","credentialsIssuedTo":""},
		"sessionContext":{"attributes":{"creationDate":"","mfaAuthenticated":""},"sessionIssuer":{"type":"","principalId":"","arn":"","accountId":"","userName":""},
			"webIdFederationData":{"federatedProvider":""},"sourceIdentity":"","ec2RoleDelivery":"","assumedRoot":""}},
	"addendum":{"reason":"","updatedFields":"","originalRequestID":"","originalEventID":""},
	"tlsDetails":{"tlsVersion":"","cipherSuite":"","clientProvidedHostHeader":""},
	"eventTime":"2024-01-01T00:00:00Z"}`
	r := parseBytes(t, []byte(in))
	if r.Err != nil || len(r.records()) != 1 {
		t.Fatalf("%d records, %v", len(r.records()), r.Err)
	}
	e := &r.records()[0]
	for f := range event.Field(event.FTLSClientProvidedHostHeader + 1) {
		if !e.Empty.Has(f) {
			t.Errorf("field %d not in Empty", f)
		}
	}
	if e.Empty != event.FieldSet(1)<<(event.FTLSClientProvidedHostHeader+1)-1 {
		t.Errorf("Empty %b has extra bits", e.Empty)
	}
	checkRoundTrip(t, e, []byte(in))

	t.Run("absent and null are not empty", func(t *testing.T) {
		r := parseBytes(t, []byte(`{"eventVersion":"1.0","eventName":null,"userIdentity":{"arn":null}}`))
		if e := r.records()[0]; e.Empty != 0 || e.EventName != "" || e.Unmapped != "" {
			t.Errorf("Empty %b EventName %q Unmapped %s", e.Empty, e.EventName, e.Unmapped)
		}
	})
	t.Run("some empty", func(t *testing.T) {
		r := parseBytes(t, []byte(`{"eventVersion":"1.0","errorCode":"","userIdentity":{"userName":"","arn":"a"}}`))
		e := r.records()[0]
		var want event.FieldSet
		want.Add(event.FErrorCode)
		want.Add(event.FUIUserName)
		if e.Empty != want {
			t.Errorf("Empty %b, want %b", e.Empty, want)
		}
	})
}

func TestRobustNulls(t *testing.T) {
	in := `{"eventVersion":"1.08","eventTime":null,"eventName":"X","requestParameters":null,"responseElements":null,"additionalEventData":null,"serviceEventDetails":null,"readOnly":null,"managementEvent":null,"resources":null,"userIdentity":{"type":"Root","sessionContext":null,"onBehalfOf":null},"addendum":null,"tlsDetails":null,"insightDetails":null,"edgeDeviceDetails":null}`
	r := parseBytes(t, []byte(in))
	if r.Err != nil || len(r.Events) != 1 {
		t.Fatalf("%d events, %v", len(r.Events), r.Err)
	}
	e := &r.Events[0]
	if e.RequestParameters != "" || e.ResponseElements != "" || e.ReadOnly.Valid() || e.ManagementEvent.Valid() || e.Resources != nil || !e.EventTime.IsZero() || e.Unmapped != "" || e.Empty != 0 {
		t.Errorf("%+v", e)
	}
	checkRoundTrip(t, e, []byte(in))
}

func TestRobustDigest(t *testing.T) {
	dir := filepath.Join(sharedTestdata, "digest")
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	files := []string{
		"aws-docs/sample-digest.json",
		"aws-docs/sample-digest-empty-logfiles.json",
		"elastic-integrations/digest-12-logfiles.json",
		"elastic-integrations/digest-3-logfiles.json",
		"panther-go/cloudtrail-digest-logs.input.json",
		"panther-go/cloudtrail-digest-logs-first-record.input.json",
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data := readFile(t, filepath.Join(dir, f))
			for _, in := range [][]byte{data, bytes.TrimSpace(data), append([]byte(" \n"), data...)} {
				for _, bufSize := range []int{0, 64} {
					r := parseReader(t, bytes.NewReader(in), Options{BufferSize: bufSize})
					if r.Err != nil || len(r.Digests) != 1 || len(r.records()) != 0 {
						t.Fatalf("%d digests, %d records, %v", len(r.Digests), len(r.records()), r.Err)
					}
					d := &r.Digests[0]
					// The SHA-256 of the whole file, as the next digest's
					// previousDigestHashValue hashes it.
					if d.SHA256 != sum(in) {
						t.Errorf("buffer %d, %d bytes: SHA256 %s, want %s", bufSize, len(in), d.SHA256, sum(in))
					}
					var raw map[string]any
					_ = json.Unmarshal(data, &raw)
					if got := prune(norm(digestView(d))); !reflect.DeepEqual(got, prune(raw)) {
						t.Errorf("digest view differs:\n got %s\nwant %s", jsonString(got), jsonString(prune(raw)))
					}
					if !json.Valid([]byte(d.Raw)) || d.Raw != string(bytes.TrimSpace(data)) {
						t.Errorf("Raw %.100q", d.Raw)
					}
				}
			}
		})
	}
	t.Run("synthetic signed chain", func(t *testing.T) {
		var m struct {
			Digests []struct {
				S3Object           string `json:"s3Object"`
				UncompressedSHA256 string `json:"uncompressed_sha256"`
			}
			Bucket string
		}
		if err := json.Unmarshal(readFile(t, filepath.Join(dir, "synthetic-signed-chain/manifest.json")), &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Digests) < 3 {
			t.Fatalf("%d digests in the manifest", len(m.Digests))
		}
		prev := ""
		for i, md := range m.Digests {
			f, err := os.Open(filepath.Join(dir, "synthetic-signed-chain/bucket", m.Bucket, md.S3Object))
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			r := parseReader(t, zr, Options{})
			f.Close()
			if r.Err != nil || len(r.Digests) != 1 {
				t.Fatalf("%s: %d digests, %v", md.S3Object, len(r.Digests), r.Err)
			}
			d := &r.Digests[0]
			if d.SHA256 != md.UncompressedSHA256 {
				t.Errorf("digest %d: SHA256 %s, manifest %s", i, d.SHA256, md.UncompressedSHA256)
			}
			if i > 0 && d.PreviousDigestHashValue != prev {
				t.Errorf("digest %d: previousDigestHashValue %s, previous SHA256 %s", i, d.PreviousDigestHashValue, prev)
			}
			if i == 0 && (d.PreviousDigestHashValue != "" || d.PreviousDigestSignature != "") {
				t.Errorf("starting digest has previous* fields: %+v", d)
			}
			prev = d.SHA256
		}
	})
	t.Run("digest among records", func(t *testing.T) {
		digest := bytes.TrimSpace(readFile(t, filepath.Join(dir, "aws-docs/sample-digest.json")))
		in := rec(0) + "\n" + string(digest) + "\n" + rec(2)
		r := parseBytes(t, []byte(in))
		if r.Err != nil || len(r.Digests) != 1 || len(r.records()) != 2 {
			t.Fatalf("%d digests, %d records, %v", len(r.Digests), len(r.records()), r.Err)
		}
		// Not the start of the stream: the digest object's own bytes.
		if r.Digests[0].SHA256 != sum(digest) || r.records()[1].Index != 2 {
			t.Errorf("SHA256 %s, want %s", r.Digests[0].SHA256, sum(digest))
		}
		// After a value that yields no record, likewise.
		r = parseBytes(t, []byte("[]\n"+string(digest)+"\n"))
		if len(r.Digests) != 1 || r.Digests[0].SHA256 != sum(digest) {
			t.Errorf("after []: %d digests, SHA256 %v, want %s", len(r.Digests), r.Digests, sum(digest))
		}
	})
	t.Run("unknown members are kept", func(t *testing.T) {
		r := parseBytes(t, []byte(`{"digestStartTime":"2024-01-01T00:00:00Z","logFiles":[],"newField":{"a":[1]}}`))
		if len(r.Digests) != 1 || !reflect.DeepEqual(decode(t, string(r.Digests[0].Unmapped)), decode(t, `{"newField":{"a":[1]}}`)) {
			t.Errorf("%+v %v", r.Digests, r.Err)
		}
	})
	t.Run("digest with wrong types is skipped and named", func(t *testing.T) {
		r := parseBytes(t, []byte(`{"digestStartTime":5,"logFiles":"x"}`))
		if len(r.Digests) != 0 || !strings.Contains(fmt.Sprint(r.Err), "digest") {
			t.Errorf("%d digests, %v", len(r.Digests), r.Err)
		}
	})
}

// errReader returns data, then err (data and error in the same call when
// together is set).
type errReader struct {
	data     []byte
	err      error
	together bool
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 && r.together {
		return n, r.err
	}
	return n, nil
}

func TestRobustReadError(t *testing.T) {
	var recs []string
	for i := range 40 {
		recs = append(recs, rec(i))
	}
	data, ends := recordsFile(recs...)
	boom := errors.New("connection reset by peer")
	for _, cut := range []int{0, 1, 100, ends[0], ends[0] + 1, ends[9] - 1, ends[20] + 2, len(data) / 2, ends[39], len(data) - 1, len(data)} {
		for _, together := range []bool{false, true} {
			for _, opts := range []Options{{}, {BufferSize: 64}, {BufferSize: 1000, BatchSize: 3}} {
				name := fmt.Sprintf("cut %d together %v buffer %d", cut, together, opts.BufferSize)
				rd := &errReader{data: data[:cut], err: boom, together: together}
				r := parseReader(t, rd, opts)
				if !errors.Is(r.Err, boom) {
					t.Errorf("%s: err = %v, want the read error", name, r.Err)
				}
				want := 0
				for _, end := range ends {
					if end <= cut {
						want++
					}
				}
				got := r.records()
				// Records complete before the failure are kept (a record
				// is complete once its closing brace was read).
				if len(got) != want {
					t.Errorf("%s: %d records, want %d", name, len(got), want)
				}
				for i := range got {
					if got[i].EventID != fmt.Sprintf("E%d", i) || got[i].Raw != recs[i] {
						t.Errorf("%s: record %d is %s", name, i, got[i].EventID)
					}
				}
			}
		}
	}
	t.Run("iotest readers", func(t *testing.T) {
		full := parseBytes(t, data)
		for name, rd := range map[string]io.Reader{
			"one byte":  iotest.OneByteReader(bytes.NewReader(data)),
			"half":      iotest.HalfReader(bytes.NewReader(data)),
			"data+EOF":  iotest.DataErrReader(bytes.NewReader(data)),
			"timeout":   iotest.TimeoutReader(bytes.NewReader(data)),
			"err early": iotest.ErrReader(boom),
		} {
			r := parseReader(t, rd, Options{BufferSize: 256})
			switch name {
			case "timeout":
				if !errors.Is(r.Err, iotest.ErrTimeout) || len(r.records()) >= len(recs) {
					t.Errorf("%s: %d records, %v", name, len(r.records()), r.Err)
				}
			case "err early":
				if !errors.Is(r.Err, boom) || len(r.records()) != 0 {
					t.Errorf("%s: %d records, %v", name, len(r.records()), r.Err)
				}
			default:
				if r.Err != nil || !reflect.DeepEqual(r.records(), full.records()) {
					t.Errorf("%s: %d records, %v", name, len(r.records()), r.Err)
				}
			}
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var batch event.Batch
		err := NewParser(Options{BufferSize: 64}).Parse(ctx, bytes.NewReader(data), &batch, func(*event.Batch) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("emit error stops parsing", func(t *testing.T) {
		stop := errors.New("stop")
		var batch event.Batch
		calls := 0
		err := NewParser(Options{BatchSize: 5}).Parse(context.Background(), bytes.NewReader(data), &batch, func(*event.Batch) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("err = %v after %d calls", err, calls)
		}
	})
}

// tinyBufferInputs are the inputs compared between buffer sizes.
func tinyBufferInputs(t *testing.T) map[string][]byte {
	in := map[string][]byte{}
	for _, pattern := range []string{"cloudtrail/*/*", "digest/*/*.json", "peers/elastic-cloudtrail/*/*.log"} {
		files, _ := filepath.Glob(filepath.Join(sharedTestdata, pattern))
		for _, f := range files {
			if !strings.HasSuffix(f, "README.md") {
				in[f] = readFile(t, f)
			}
		}
	}
	sek, _ := filepath.Glob(filepath.Join(sharedTestdata, "peers/sekoia-cloudtrail/*.json"))
	var lines []string
	for _, f := range sek {
		var c struct{ Input struct{ Message string } }
		_ = json.Unmarshal(readFile(t, f), &c)
		lines = append(lines, c.Input.Message)
	}
	in["sekoia messages concatenated"] = []byte(strings.Join(lines, "\n"))
	var recs []string
	for i := range 30 {
		recs = append(recs, rec(i))
	}
	in["JSON lines"] = []byte(strings.Join(recs, "\n"))
	in["JSON lines with a broken line"] = []byte(rec(0) + "\n{\"eventVersion\":\"1\",\"x\":[\n" + rec(2))
	return in
}

// TestRobustTinyBuffer: with a 64-byte initial buffer every record
// straddles refills; the results must equal those of the default buffer.
func TestRobustTinyBuffer(t *testing.T) {
	for name, data := range tinyBufferInputs(t) {
		t.Run(strings.TrimPrefix(name, sharedTestdata+"/"), func(t *testing.T) {
			want := parseBytes(t, data)
			for _, opts := range []Options{{BufferSize: 64}, {BufferSize: 1}, {BufferSize: 64, BatchSize: 1}, {BatchSize: 2}} {
				for rname, rd := range map[string]io.Reader{"reader": bytes.NewReader(data), "one byte": iotest.OneByteReader(bytes.NewReader(data))} {
					got := parseReader(t, rd, opts)
					if fmt.Sprint(got.Err) != fmt.Sprint(want.Err) && !sameSkipped(got.Err, want.Err) {
						t.Errorf("%+v %s: err %v, want %v", opts, rname, got.Err, want.Err)
					}
					if !reflect.DeepEqual(got.Events, want.Events) || !reflect.DeepEqual(got.Insights, want.Insights) || !reflect.DeepEqual(got.Digests, want.Digests) {
						t.Errorf("%+v %s: records differ: %d/%d/%d vs %d/%d/%d", opts, rname,
							len(got.Events), len(got.Insights), len(got.Digests), len(want.Events), len(want.Insights), len(want.Digests))
					}
				}
			}
		})
	}
}

// sameSkipped reports whether two errors skipped the same records (error
// offsets may be worded the same; this also accepts identical record lists).
func sameSkipped(a, b error) bool {
	var sa, sb *event.SkippedError
	if !errors.As(a, &sa) || !errors.As(b, &sb) || sa.Skipped != sb.Skipped {
		return false
	}
	for i := range sa.Errors {
		if sa.Errors[i].Index != sb.Errors[i].Index {
			return false
		}
	}
	return true
}
