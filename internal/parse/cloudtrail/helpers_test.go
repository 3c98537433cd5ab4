package cloudtrail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// sharedTestdata is the project's shared test data, relative to this
// package's directory (/work/main/internal/parse/cloudtrail →
// /work/shared/testdata).
const sharedTestdata = "../../../../shared/testdata"

// result is everything one Parse call produced, cloned out of the parser's
// buffers.
type result struct {
	Events   []event.CloudTrail
	Insights []event.CloudTrail
	Digests  []event.Digest
	Batches  int
	Err      error
}

// records returns events and insights together, in input order.
func (r *result) records() []event.CloudTrail {
	all := append(slices.Clone(r.Events), r.Insights...)
	slices.SortStableFunc(all, func(a, b event.CloudTrail) int { return a.Index - b.Index })
	return all
}

// parseReader runs one Parse over rd and clones every emitted batch.
func parseReader(t testing.TB, rd io.Reader, opts Options) result {
	t.Helper()
	return parseWith(t, NewParser(opts), rd)
}

// parseWith is parseReader with a given (possibly reused) Parser.
func parseWith(t testing.TB, p *Parser, rd io.Reader) result {
	t.Helper()
	var batch event.Batch
	var r result
	r.Err = p.Parse(context.Background(), rd, &batch, func(b *event.Batch) error {
		c := b.Clone()
		r.Batches++
		r.Events = append(r.Events, c.Events...)
		r.Insights = append(r.Insights, c.Insights...)
		r.Digests = append(r.Digests, c.Digests...)
		return nil
	})
	if batch.Len() != 0 {
		t.Errorf("batch not reset after Parse: %d records left", batch.Len())
	}
	return r
}

func parseBytes(t testing.TB, data []byte) result {
	t.Helper()
	return parseReader(t, bytes.NewReader(data), Options{})
}

// checkInvariants asserts what must hold for every emitted record, whatever
// the input: nested documents and Raw are valid JSON, Unmapped is a JSON
// object, and Index is set.
func checkInvariants(t testing.TB, e *event.CloudTrail) {
	t.Helper()
	for name, v := range map[string]event.RawJSON{
		"RequestParameters":              e.RequestParameters,
		"ResponseElements":               e.ResponseElements,
		"AdditionalEventData":            e.AdditionalEventData,
		"ServiceEventDetails":            e.ServiceEventDetails,
		"EdgeDeviceDetails":              e.EdgeDeviceDetails,
		"InsightDetails":                 e.InsightDetails,
		"WebIDFederationData.Attributes": e.UserIdentity.SessionContext.WebIDFederationData.Attributes,
		"Unmapped":                       e.Unmapped,
	} {
		if v != "" && !json.Valid([]byte(v)) {
			t.Errorf("record %d: %s is not valid JSON: %.200q", e.Index, name, v)
		}
	}
	if e.Unmapped != "" && !strings.HasPrefix(string(e.Unmapped), "{") {
		t.Errorf("record %d: Unmapped is not an object: %.200q", e.Index, e.Unmapped)
	}
	if !json.Valid([]byte(e.Raw)) {
		t.Errorf("record %d: Raw is not valid JSON: %.200q", e.Index, e.Raw)
	}
	if e.Index < 0 {
		t.Errorf("negative Index %d", e.Index)
	}
}

// ---------------------------------------------------------------------------
// JSON helpers

// decode unmarshals JSON text into a generic value (numbers as float64).
func decode(t testing.TB, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("invalid JSON %.200q: %v", s, err)
	}
	return v
}

// norm converts a Go value to its generic JSON form, so that values from our
// structs compare equal to values decoded from a peer's JSON.
func norm(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// at returns the value at a dotted path of a decoded JSON document.
func at(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// rawAt returns the value at a dotted path of a RawJSON field, or nil.
func rawAt(t testing.TB, raw event.RawJSON, path string) any {
	v, _ := at(decode(t, string(raw)), path)
	return v
}

// flatten turns nested objects into dotted keys (arrays and scalars are
// leaves). Keys in leaves (full dotted paths) are kept whole.
func flatten(prefix string, v any, out map[string]any, leaves map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok || leaves[prefix] {
		out[prefix] = v
		return
	}
	for k, c := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		flatten(key, c, out, leaves)
	}
}

func flat(v any) map[string]any {
	out := map[string]any{}
	flatten("", v, out, nil)
	return out
}

// prune drops null values, empty objects and empty arrays, recursively.
func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range x {
			c = prune(c)
			if c == nil {
				continue
			}
			out[k] = c
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(x) == 0 {
			return nil
		}
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = prune(c)
		}
		return out
	}
	return v
}

// mergeInto deep-merges src into dst. An object merged into an array is
// keyed by element index ({"resources":{"1":{"x":..}}} → resources[1].x),
// the way Unmapped records members of list elements.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			switch d := dst[k].(type) {
			case map[string]any:
				mergeInto(d, sm)
				continue
			case []any:
				if mergeIndexed(d, sm) {
					continue
				}
			}
		}
		dst[k] = v
	}
}

func mergeIndexed(dst []any, src map[string]any) bool {
	for k := range src {
		var i int
		if _, err := fmt.Sscan(k, &i); err != nil || i < 0 || i >= len(dst) || fmt.Sprint(i) != k {
			return false
		}
	}
	for k, v := range src {
		var i int
		fmt.Sscan(k, &i)
		dm, dok := dst[i].(map[string]any)
		sm, sok := v.(map[string]any)
		if dok && sok {
			mergeInto(dm, sm)
		} else {
			dst[i] = v
		}
	}
	return true
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ---------------------------------------------------------------------------
// The AWS view of a parsed record

// ctView renders a parsed record back into the CloudTrail record shape
// (AWS field names, as in the "CloudTrail record contents" reference) from
// our fields, then merges Unmapped back in. For any record whose fields all
// had their documented JSON types, prune(ctView(e)) must equal
// prune(normalizeInput(input)): nothing was dropped, renamed or altered.
func ctView(t testing.TB, e *event.CloudTrail) map[string]any {
	t.Helper()
	m := map[string]any{}
	str := func(dst map[string]any, key, v string, f event.Field) {
		if v != "" || e.Empty.Has(f) {
			dst[key] = v
		}
	}
	raw := func(dst map[string]any, key string, v event.RawJSON) {
		if v != "" {
			dst[key] = decode(t, string(v))
		}
	}
	boolean := func(dst map[string]any, key string, v event.OptBool) {
		if v.Valid() {
			dst[key] = v.True()
		}
	}
	str(m, "eventVersion", e.EventVersion, event.FEventVersion)
	if !e.EventTime.IsZero() {
		m["eventTime"] = e.EventTime.UTC().Format(time.RFC3339Nano)
	}
	str(m, "eventSource", e.EventSource, event.FEventSource)
	str(m, "eventName", e.EventName, event.FEventName)
	str(m, "awsRegion", e.AWSRegion, event.FAWSRegion)
	str(m, "sourceIPAddress", e.SourceIPAddress, event.FSourceIPAddress)
	str(m, "userAgent", e.UserAgent, event.FUserAgent)
	str(m, "errorCode", e.ErrorCode, event.FErrorCode)
	str(m, "errorMessage", e.ErrorMessage, event.FErrorMessage)
	raw(m, "requestParameters", e.RequestParameters)
	raw(m, "responseElements", e.ResponseElements)
	raw(m, "additionalEventData", e.AdditionalEventData)
	str(m, "requestID", e.RequestID, event.FRequestID)
	str(m, "eventID", e.EventID, event.FEventID)
	str(m, "eventType", e.EventType, event.FEventType)
	str(m, "apiVersion", e.APIVersion, event.FAPIVersion)
	boolean(m, "readOnly", e.ReadOnly)
	str(m, "recipientAccountId", e.RecipientAccountID, event.FRecipientAccountID)
	raw(m, "serviceEventDetails", e.ServiceEventDetails)
	str(m, "sharedEventID", e.SharedEventID, event.FSharedEventID)
	str(m, "vpcEndpointId", e.VPCEndpointID, event.FVPCEndpointID)
	str(m, "vpcEndpointAccountId", e.VPCEndpointAccountID, event.FVPCEndpointAccountID)
	str(m, "eventCategory", e.EventCategory, event.FEventCategory)
	boolean(m, "managementEvent", e.ManagementEvent)
	boolean(m, "sessionCredentialFromConsole", e.SessionCredentialFromConsole)
	raw(m, "edgeDeviceDetails", e.EdgeDeviceDetails)
	raw(m, "insightDetails", e.InsightDetails)

	u := &e.UserIdentity
	ui := map[string]any{}
	str(ui, "type", u.Type, event.FUIType)
	str(ui, "principalId", u.PrincipalID, event.FUIPrincipalID)
	str(ui, "arn", u.ARN, event.FUIARN)
	str(ui, "accountId", u.AccountID, event.FUIAccountID)
	str(ui, "accessKeyId", u.AccessKeyID, event.FUIAccessKeyID)
	str(ui, "userName", u.UserName, event.FUIUserName)
	str(ui, "invokedBy", u.InvokedBy, event.FUIInvokedBy)
	str(ui, "identityProvider", u.IdentityProvider, event.FUIIdentityProvider)
	str(ui, "credentialId", u.CredentialID, event.FUICredentialID)
	obo := map[string]any{}
	str(obo, "userId", u.OnBehalfOf.UserID, event.FOBOUserID)
	str(obo, "identityStoreArn", u.OnBehalfOf.IdentityStoreARN, event.FOBOIdentityStoreARN)
	ui["onBehalfOf"] = obo
	iso := map[string]any{}
	str(iso, "sourceArn", u.InScopeOf.SourceARN, event.FISOSourceARN)
	str(iso, "sourceAccount", u.InScopeOf.SourceAccount, event.FISOSourceAccount)
	str(iso, "issuerType", u.InScopeOf.IssuerType, event.FISOIssuerType)
	str(iso, "credentialsIssuedTo", u.InScopeOf.CredentialsIssuedTo, event.FISOCredentialsIssuedTo)
	ui["inScopeOf"] = iso
	sc := &u.SessionContext
	scm := map[string]any{}
	attr := map[string]any{}
	str(attr, "creationDate", sc.Attributes.CreationDate, event.FSCCreationDate)
	str(attr, "mfaAuthenticated", sc.Attributes.MFAAuthenticated, event.FSCMFAAuthenticated)
	scm["attributes"] = attr
	si := map[string]any{}
	str(si, "type", sc.SessionIssuer.Type, event.FSIType)
	str(si, "principalId", sc.SessionIssuer.PrincipalID, event.FSIPrincipalID)
	str(si, "arn", sc.SessionIssuer.ARN, event.FSIARN)
	str(si, "accountId", sc.SessionIssuer.AccountID, event.FSIAccountID)
	str(si, "userName", sc.SessionIssuer.UserName, event.FSIUserName)
	scm["sessionIssuer"] = si
	web := map[string]any{}
	str(web, "federatedProvider", sc.WebIDFederationData.FederatedProvider, event.FWebFederatedProvider)
	raw(web, "attributes", sc.WebIDFederationData.Attributes)
	scm["webIdFederationData"] = web
	str(scm, "sourceIdentity", sc.SourceIdentity, event.FSCSourceIdentity)
	str(scm, "ec2RoleDelivery", sc.EC2RoleDelivery, event.FSCEC2RoleDelivery)
	str(scm, "assumedRoot", sc.AssumedRoot, event.FSCAssumedRoot)
	ui["sessionContext"] = scm
	m["userIdentity"] = ui

	if e.Resources != nil {
		res := []any{}
		for _, r := range e.Resources {
			rm := map[string]any{}
			for k, v := range map[string]string{"ARN": r.ARN, "ARNPrefix": r.ARNPrefix, "accountId": r.AccountID, "type": r.Type} {
				if v != "" {
					rm[k] = v
				}
			}
			res = append(res, rm)
		}
		m["resources"] = res
	}
	add := map[string]any{}
	str(add, "reason", e.Addendum.Reason, event.FAddReason)
	str(add, "updatedFields", e.Addendum.UpdatedFields, event.FAddUpdatedFields)
	str(add, "originalRequestID", e.Addendum.OriginalRequestID, event.FAddOriginalRequestID)
	str(add, "originalEventID", e.Addendum.OriginalEventID, event.FAddOriginalEventID)
	m["addendum"] = add
	tls := map[string]any{}
	str(tls, "tlsVersion", e.TLSDetails.TLSVersion, event.FTLSVersion)
	str(tls, "cipherSuite", e.TLSDetails.CipherSuite, event.FTLSCipherSuite)
	str(tls, "clientProvidedHostHeader", e.TLSDetails.ClientProvidedHostHeader, event.FTLSClientProvidedHostHeader)
	m["tlsDetails"] = tls

	if e.Unmapped != "" {
		um, ok := decode(t, string(e.Unmapped)).(map[string]any)
		if !ok {
			t.Fatalf("Unmapped is not an object: %q", e.Unmapped)
		}
		mergeInto(m, um)
	}
	return m
}

// normalizeInput applies to a decoded input record the documented,
// lossless normalisations our parser makes, so that it can be compared with
// ctView: resources[].arn and .arnPrefix are stored as ARN/ARNPrefix (both
// spellings exist in real logs), the string booleans "true"/"false" of
// readOnly/managementEvent/sessionCredentialFromConsole become booleans, a
// boolean assumedRoot is kept as its text, and eventTime is re-rendered in
// UTC.
func normalizeInput(t testing.TB, in map[string]any) map[string]any {
	t.Helper()
	if rs, ok := in["resources"].([]any); ok {
		for _, r := range rs {
			if rm, ok := r.(map[string]any); ok {
				for from, to := range map[string]string{"arn": "ARN", "arnPrefix": "ARNPrefix"} {
					if v, ok := rm[from]; ok {
						delete(rm, from)
						rm[to] = v
					}
				}
			}
		}
	}
	for _, k := range []string{"readOnly", "managementEvent", "sessionCredentialFromConsole"} {
		if s, ok := in[k].(string); ok && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false")) {
			in[k] = strings.EqualFold(s, "true")
		}
	}
	if sc, ok := at(in, "userIdentity.sessionContext"); ok {
		if scm, ok := sc.(map[string]any); ok {
			if b, ok := scm["assumedRoot"].(bool); ok {
				scm["assumedRoot"] = fmt.Sprint(b)
			}
		}
	}
	if s, ok := in["eventTime"].(string); ok {
		if ts, ok := parseTime(s); ok {
			in["eventTime"] = ts.UTC().Format(time.RFC3339Nano)
		}
	}
	return in
}

// checkRoundTrip asserts that our parse of rawRecord (the input record's
// exact bytes) loses nothing: Raw is the input, and the AWS view of our
// fields plus Unmapped equals the input record.
func checkRoundTrip(t testing.TB, e *event.CloudTrail, rawRecord []byte) {
	t.Helper()
	if e.Raw != string(rawRecord) {
		t.Errorf("Raw differs from the input record:\n got %.300q\nwant %.300q", e.Raw, rawRecord)
	}
	in, ok := decode(t, string(rawRecord)).(map[string]any)
	if !ok {
		t.Fatalf("input record is not an object")
	}
	want := prune(normalizeInput(t, in))
	got := prune(ctView(t, e))
	if !reflect.DeepEqual(got, want) {
		gf, wf := flat(got), flat(want)
		for k, w := range wf {
			if g, ok := gf[k]; !ok || !reflect.DeepEqual(g, w) {
				t.Errorf("round trip: %s: got %.200s, want %.200s", k, jsonString(gf[k]), jsonString(w))
			}
		}
		for k, g := range gf {
			if _, ok := wf[k]; !ok {
				t.Errorf("round trip: %s: got %.200s, not in the input", k, jsonString(g))
			}
		}
	}
	// The nested documents are kept as valid JSON equal to the input's.
	for key, v := range map[string]event.RawJSON{
		"requestParameters":   e.RequestParameters,
		"responseElements":    e.ResponseElements,
		"additionalEventData": e.AdditionalEventData,
		"serviceEventDetails": e.ServiceEventDetails,
		"insightDetails":      e.InsightDetails,
	} {
		iv, present := in[key]
		if !present || iv == nil {
			if v != "" {
				t.Errorf("%s: got %.100q for an absent or null input", key, v)
			}
			continue
		}
		if !json.Valid([]byte(v)) {
			t.Errorf("%s: not valid JSON: %.200q", key, v)
			continue
		}
		if !reflect.DeepEqual(decode(t, string(v)), iv) {
			t.Errorf("%s: content differs from the input:\n got %.300s\nwant %.300s", key, v, jsonString(iv))
		}
	}
}

// rawRecords splits a {"Records":[...]} document into the exact bytes of
// each record (encoding/json keeps a RawMessage's source bytes verbatim).
func rawRecords(t testing.TB, data []byte) []json.RawMessage {
	t.Helper()
	var f struct{ Records []json.RawMessage }
	if err := json.Unmarshal(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), &f); err != nil {
		t.Fatalf("test input: %v", err)
	}
	return f.Records
}
