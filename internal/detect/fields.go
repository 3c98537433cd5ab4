package detect

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// logKind says which records a rule applies to.
type logKind uint8

const (
	logCloudTrail logKind = iota // CloudTrail management, data and network activity events
	logInsight                   // CloudTrail Insights events
	logAccess                    // S3 server access log records
	numLogKinds
)

var logKindNames = [...]string{"cloudtrail", "cloudtrail_insights", "s3_server_access"}

func (k logKind) String() string { return logKindNames[k] }

// vkind is the JSON type of a field value.
type vkind uint8

const (
	vStr vkind = iota
	vNum
	vBool
	vNull // present, JSON null
	vObj  // object or array; s holds its JSON text
)

// value is one value of a field in a record. Numbers carry both their text
// and their value.
type value struct {
	s    string
	n    float64
	kind vkind
}

// docID names a JSON document held as text in a CloudTrail record.
type docID uint8

const (
	docRequest docID = iota
	docResponse
	docAdditional
	docServiceEvent
	docEdge
	docInsight
	docWebAttributes
	docUnmapped
	numDocs
)

func (r *record) rawDoc(d docID) event.RawJSON {
	e := r.ct
	switch d {
	case docRequest:
		return e.RequestParameters
	case docResponse:
		return e.ResponseElements
	case docAdditional:
		return e.AdditionalEventData
	case docServiceEvent:
		return e.ServiceEventDetails
	case docEdge:
		return e.EdgeDeviceDetails
	case docInsight:
		return e.InsightDetails
	case docWebAttributes:
		return e.UserIdentity.SessionContext.WebIDFederationData.Attributes
	}
	return e.Unmapped
}

// docState caches one decoded document for the record being evaluated.
type docState struct {
	decoded  bool
	v        any
	textDone bool
	text     string
}

// record is the record under evaluation with its lazily decoded
// documents. One is reused per worker call; it must not outlive it.
type record struct {
	kind logKind
	ct   *event.CloudTrail
	al   *event.AccessLog
	docs [numDocs]docState
	buf  []value // scratch for field values
	tmp  []byte  // scratch for group keys
	vtmp []byte  // scratch for correlation values
}

func (r *record) reset(kind logKind, ct *event.CloudTrail, al *event.AccessLog) {
	r.kind, r.ct, r.al = kind, ct, al
	for i := range r.docs {
		if r.docs[i].decoded || r.docs[i].textDone {
			r.docs[i] = docState{}
		}
	}
}

// time returns the record's event time.
func (r *record) time() time.Time {
	if r.kind == logAccess {
		return r.al.Time
	}
	return r.ct.EventTime
}

// doc returns the decoded document (nil when absent or invalid).
func (r *record) doc(d docID) any {
	st := &r.docs[d]
	if !st.decoded {
		st.decoded = true
		if raw := r.rawDoc(d); raw != "" {
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.UseNumber()
			var v any
			if dec.Decode(&v) == nil {
				st.v = v
			}
		}
	}
	return st.v
}

// docText returns a document as text with JSON string escapes decoded, so
// that a JSON policy held in a string reads as the policy: contains
// '"s3:GetObject"' matches requestParameters of PutUserPolicy.
func (r *record) docText(d docID) string {
	st := &r.docs[d]
	if !st.textDone {
		st.textDone = true
		st.text = unescapeJSONText(string(r.rawDoc(d)))
	}
	return st.text
}

// unescapeJSONText decodes the escapes of every JSON string in s, leaving
// the rest of the text as it is.
func unescapeJSONText(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if n, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					b.WriteRune(rune(n))
					i += 4
					continue
				}
			}
			b.WriteString(`\u`)
		default: // " \ /
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// fieldKind says how a field is read.
type fieldKind uint8

const (
	fkCTString  fieldKind = iota // a string field of event.CloudTrail
	fkCTBool                     // an OptBool field
	fkCTTime                     // eventTime
	fkDocWhole                   // a whole JSON document, as decoded text
	fkDocPath                    // a path inside a JSON document
	fkResources                  // a field of every element of resources
	fkALString                   // a string field of event.AccessLog
	fkALInt                      // an integer field of event.AccessLog
	fkALTime                     // requesttime
	fkUnknown                    // not a field of this log source
)

// field is a resolved field reference.
type field struct {
	name  string // as written in the rule
	canon string // canonical name ("" for document paths and unknown fields)
	kind  fieldKind
	ct    func(*event.CloudTrail) string
	set   event.Field // presence bit for present-but-empty strings
	bool  func(*event.CloudTrail) event.OptBool
	doc   docID
	path  []string
	res   func(*event.Resource) string
	al    func(*event.AccessLog) string
	ali   func(*event.AccessLog) int64
	// fallback is the Unmapped path to read when a typed field is absent
	// (a value of an unexpected JSON type is kept there by the parser).
	fallback []string
}

type ctStringField struct {
	get func(*event.CloudTrail) string
	set event.Field
}

// ctFields maps lower-cased CloudTrail field names to their accessors.
var ctFields = map[string]ctStringField{
	"eventversion":         {func(e *event.CloudTrail) string { return e.EventVersion }, event.FEventVersion},
	"eventsource":          {func(e *event.CloudTrail) string { return e.EventSource }, event.FEventSource},
	"eventname":            {func(e *event.CloudTrail) string { return e.EventName }, event.FEventName},
	"awsregion":            {func(e *event.CloudTrail) string { return e.AWSRegion }, event.FAWSRegion},
	"sourceipaddress":      {func(e *event.CloudTrail) string { return e.SourceIPAddress }, event.FSourceIPAddress},
	"useragent":            {func(e *event.CloudTrail) string { return e.UserAgent }, event.FUserAgent},
	"errorcode":            {func(e *event.CloudTrail) string { return e.ErrorCode }, event.FErrorCode},
	"errormessage":         {func(e *event.CloudTrail) string { return e.ErrorMessage }, event.FErrorMessage},
	"requestid":            {func(e *event.CloudTrail) string { return e.RequestID }, event.FRequestID},
	"eventid":              {func(e *event.CloudTrail) string { return e.EventID }, event.FEventID},
	"eventtype":            {func(e *event.CloudTrail) string { return e.EventType }, event.FEventType},
	"apiversion":           {func(e *event.CloudTrail) string { return e.APIVersion }, event.FAPIVersion},
	"recipientaccountid":   {func(e *event.CloudTrail) string { return e.RecipientAccountID }, event.FRecipientAccountID},
	"sharedeventid":        {func(e *event.CloudTrail) string { return e.SharedEventID }, event.FSharedEventID},
	"vpcendpointid":        {func(e *event.CloudTrail) string { return e.VPCEndpointID }, event.FVPCEndpointID},
	"vpcendpointaccountid": {func(e *event.CloudTrail) string { return e.VPCEndpointAccountID }, event.FVPCEndpointAccountID},
	"eventcategory":        {func(e *event.CloudTrail) string { return e.EventCategory }, event.FEventCategory},

	"useridentity.type":             {func(e *event.CloudTrail) string { return e.UserIdentity.Type }, event.FUIType},
	"useridentity.principalid":      {func(e *event.CloudTrail) string { return e.UserIdentity.PrincipalID }, event.FUIPrincipalID},
	"useridentity.arn":              {func(e *event.CloudTrail) string { return e.UserIdentity.ARN }, event.FUIARN},
	"useridentity.accountid":        {func(e *event.CloudTrail) string { return e.UserIdentity.AccountID }, event.FUIAccountID},
	"useridentity.accesskeyid":      {func(e *event.CloudTrail) string { return e.UserIdentity.AccessKeyID }, event.FUIAccessKeyID},
	"useridentity.username":         {func(e *event.CloudTrail) string { return e.UserIdentity.UserName }, event.FUIUserName},
	"useridentity.invokedby":        {func(e *event.CloudTrail) string { return e.UserIdentity.InvokedBy }, event.FUIInvokedBy},
	"useridentity.identityprovider": {func(e *event.CloudTrail) string { return e.UserIdentity.IdentityProvider }, event.FUIIdentityProvider},
	"useridentity.credentialid":     {func(e *event.CloudTrail) string { return e.UserIdentity.CredentialID }, event.FUICredentialID},
	"useridentity.onbehalfof.userid": {func(e *event.CloudTrail) string { return e.UserIdentity.OnBehalfOf.UserID },
		event.FOBOUserID},
	"useridentity.onbehalfof.identitystorearn": {func(e *event.CloudTrail) string { return e.UserIdentity.OnBehalfOf.IdentityStoreARN },
		event.FOBOIdentityStoreARN},
	"useridentity.inscopeof.sourcearn": {func(e *event.CloudTrail) string { return e.UserIdentity.InScopeOf.SourceARN },
		event.FISOSourceARN},
	"useridentity.inscopeof.sourceaccount": {func(e *event.CloudTrail) string { return e.UserIdentity.InScopeOf.SourceAccount },
		event.FISOSourceAccount},
	"useridentity.inscopeof.issuertype": {func(e *event.CloudTrail) string { return e.UserIdentity.InScopeOf.IssuerType },
		event.FISOIssuerType},
	"useridentity.inscopeof.credentialsissuedto": {func(e *event.CloudTrail) string { return e.UserIdentity.InScopeOf.CredentialsIssuedTo },
		event.FISOCredentialsIssuedTo},
	"useridentity.sessioncontext.attributes.creationdate": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.Attributes.CreationDate
	}, event.FSCCreationDate},
	"useridentity.sessioncontext.attributes.mfaauthenticated": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.Attributes.MFAAuthenticated
	}, event.FSCMFAAuthenticated},
	"useridentity.sessioncontext.sessionissuer.type": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.SessionIssuer.Type
	}, event.FSIType},
	"useridentity.sessioncontext.sessionissuer.principalid": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.SessionIssuer.PrincipalID
	}, event.FSIPrincipalID},
	"useridentity.sessioncontext.sessionissuer.arn": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.SessionIssuer.ARN
	}, event.FSIARN},
	"useridentity.sessioncontext.sessionissuer.accountid": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.SessionIssuer.AccountID
	}, event.FSIAccountID},
	"useridentity.sessioncontext.sessionissuer.username": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.SessionIssuer.UserName
	}, event.FSIUserName},
	"useridentity.sessioncontext.webidfederationdata.federatedprovider": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.WebIDFederationData.FederatedProvider
	}, event.FWebFederatedProvider},
	"useridentity.sessioncontext.sourceidentity": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.SourceIdentity
	}, event.FSCSourceIdentity},
	"useridentity.sessioncontext.ec2roledelivery": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.EC2RoleDelivery
	}, event.FSCEC2RoleDelivery},
	"useridentity.sessioncontext.assumedroot": {func(e *event.CloudTrail) string {
		return e.UserIdentity.SessionContext.AssumedRoot
	}, event.FSCAssumedRoot},

	"addendum.reason":                     {func(e *event.CloudTrail) string { return e.Addendum.Reason }, event.FAddReason},
	"addendum.updatedfields":              {func(e *event.CloudTrail) string { return e.Addendum.UpdatedFields }, event.FAddUpdatedFields},
	"addendum.originalrequestid":          {func(e *event.CloudTrail) string { return e.Addendum.OriginalRequestID }, event.FAddOriginalRequestID},
	"addendum.originaleventid":            {func(e *event.CloudTrail) string { return e.Addendum.OriginalEventID }, event.FAddOriginalEventID},
	"tlsdetails.tlsversion":               {func(e *event.CloudTrail) string { return e.TLSDetails.TLSVersion }, event.FTLSVersion},
	"tlsdetails.ciphersuite":              {func(e *event.CloudTrail) string { return e.TLSDetails.CipherSuite }, event.FTLSCipherSuite},
	"tlsdetails.clientprovidedhostheader": {func(e *event.CloudTrail) string { return e.TLSDetails.ClientProvidedHostHeader }, event.FTLSClientProvidedHostHeader},
}

var ctBools = map[string]func(*event.CloudTrail) event.OptBool{
	"readonly":                     func(e *event.CloudTrail) event.OptBool { return e.ReadOnly },
	"managementevent":              func(e *event.CloudTrail) event.OptBool { return e.ManagementEvent },
	"sessioncredentialfromconsole": func(e *event.CloudTrail) event.OptBool { return e.SessionCredentialFromConsole },
}

var ctDocs = map[string]docID{
	"requestparameters":   docRequest,
	"responseelements":    docResponse,
	"additionaleventdata": docAdditional,
	"serviceeventdetails": docServiceEvent,
	"edgedevicedetails":   docEdge,
	"insightdetails":      docInsight,
	"useridentity.sessioncontext.webidfederationdata.attributes": docWebAttributes,
	"unmapped": docUnmapped,
}

var ctResources = map[string]func(*event.Resource) string{
	"arn":       func(r *event.Resource) string { return r.ARN },
	"arnprefix": func(r *event.Resource) string { return r.ARNPrefix },
	"accountid": func(r *event.Resource) string { return r.AccountID },
	"type":      func(r *event.Resource) string { return r.Type },
}

// alFields maps the Athena column names of S3 server access logs (and the
// names AWS's log format documentation uses) to accessors.
var alFields = map[string]func(*event.AccessLog) string{
	"bucketowner":     func(a *event.AccessLog) string { return a.BucketOwner },
	"bucket_name":     func(a *event.AccessLog) string { return a.Bucket },
	"bucket":          func(a *event.AccessLog) string { return a.Bucket },
	"requestdatetime": func(a *event.AccessLog) string { return a.RequestDateTime },
	"remoteip":        func(a *event.AccessLog) string { return a.RemoteIP },
	"requester":       func(a *event.AccessLog) string { return a.Requester },
	"requestid":       func(a *event.AccessLog) string { return a.RequestID },
	"operation":       func(a *event.AccessLog) string { return a.Operation },
	"key":             func(a *event.AccessLog) string { return a.Key },
	"request_uri":     func(a *event.AccessLog) string { return a.RequestURI },
	"errorcode":       func(a *event.AccessLog) string { return a.ErrorCode },
	"referrer":        func(a *event.AccessLog) string { return a.Referrer },
	"useragent":       func(a *event.AccessLog) string { return a.UserAgent },
	"versionid":       func(a *event.AccessLog) string { return a.VersionID },
	"hostid":          func(a *event.AccessLog) string { return a.HostID },
	"sigv":            func(a *event.AccessLog) string { return a.SigV },
	"ciphersuite":     func(a *event.AccessLog) string { return a.CipherSuite },
	"authtype":        func(a *event.AccessLog) string { return a.AuthType },
	"endpoint":        func(a *event.AccessLog) string { return a.HostHeader },
	"hostheader":      func(a *event.AccessLog) string { return a.HostHeader },
	"tlsversion":      func(a *event.AccessLog) string { return a.TLSVersion },
	"accesspointarn":  func(a *event.AccessLog) string { return a.AccessPointARN },
	"aclrequired":     func(a *event.AccessLog) string { return a.ACLRequired },
	"sourceregion":    func(a *event.AccessLog) string { return a.SourceRegion },
}

var alInts = map[string]func(*event.AccessLog) int64{
	"httpstatus":     func(a *event.AccessLog) int64 { return a.HTTPStatus },
	"bytessent":      func(a *event.AccessLog) int64 { return a.BytesSent },
	"objectsize":     func(a *event.AccessLog) int64 { return a.ObjectSize },
	"totaltime":      func(a *event.AccessLog) int64 { return a.TotalTime },
	"turnaroundtime": func(a *event.AccessLog) int64 { return a.TurnAroundTime },
}

// resolveField maps a rule's field name to an accessor for the given log
// source. known is false when the name is not a documented field: it is
// then read from the record's unmapped fields (CloudTrail) and never
// matches for access logs.
func resolveField(name string, src logKind) (f *field, known bool) {
	lower := strings.ToLower(name)
	f = &field{name: name}
	if src == logAccess {
		if g, ok := alFields[lower]; ok {
			f.kind, f.al, f.canon = fkALString, g, lower
			return f, true
		}
		if g, ok := alInts[lower]; ok {
			f.kind, f.ali, f.canon = fkALInt, g, lower
			return f, true
		}
		if lower == "requesttime" || lower == "time" {
			f.kind, f.canon = fkALTime, lower
			return f, true
		}
		f.kind = fkUnknown
		return f, false
	}
	if g, ok := ctFields[lower]; ok {
		f.kind, f.ct, f.set, f.canon = fkCTString, g.get, g.set, lower
		f.fallback = strings.Split(name, ".")
		return f, true
	}
	if g, ok := ctBools[lower]; ok {
		f.kind, f.bool, f.canon = fkCTBool, g, lower
		f.fallback = []string{name}
		return f, true
	}
	if lower == "eventtime" {
		f.kind, f.canon = fkCTTime, lower
		return f, true
	}
	if d, ok := ctDocs[lower]; ok {
		f.kind, f.doc, f.canon = fkDocWhole, d, lower
		return f, true
	}
	// A path inside a document: requestParameters.x.y, ...
	for prefix, d := range ctDocs {
		if len(lower) > len(prefix)+1 && strings.HasPrefix(lower, prefix) && lower[len(prefix)] == '.' {
			f.kind, f.doc = fkDocPath, d
			f.path = strings.Split(name[len(prefix)+1:], ".")
			return f, true
		}
	}
	if rest, ok := strings.CutPrefix(lower, "resources."); ok {
		if g, ok := ctResources[rest]; ok {
			f.kind, f.res, f.canon = fkResources, g, lower
			return f, true
		}
	}
	// Anything else: a field this version of trailwatch does not map,
	// kept by the parser in Unmapped at its original path.
	f.kind, f.doc, f.path = fkDocPath, docUnmapped, strings.Split(name, ".")
	return f, false
}

// get appends the field's values in r to out. An absent field adds
// nothing; a JSON null adds one vNull value.
func (f *field) get(r *record, out []value) []value {
	switch f.kind {
	case fkCTString:
		if r.ct == nil {
			return out
		}
		s := f.ct(r.ct)
		if s != "" || r.ct.Empty.Has(f.set) {
			return append(out, value{s: s})
		}
		if r.ct.Unmapped != "" {
			return walk(r.doc(docUnmapped), f.fallback, out)
		}
	case fkCTBool:
		if r.ct == nil {
			return out
		}
		switch f.bool(r.ct) {
		case event.BoolTrue:
			return append(out, value{s: "true", n: 1, kind: vBool})
		case event.BoolFalse:
			return append(out, value{s: "false", kind: vBool})
		}
		if r.ct.Unmapped != "" {
			return walk(r.doc(docUnmapped), f.fallback, out)
		}
	case fkCTTime:
		if r.ct != nil && !r.ct.EventTime.IsZero() {
			return append(out, value{s: r.ct.EventTime.UTC().Format(time.RFC3339), n: float64(r.ct.EventTime.Unix()), kind: vStr})
		}
	case fkDocWhole:
		if r.ct != nil && r.rawDoc(f.doc) != "" {
			return append(out, value{s: r.docText(f.doc), kind: vObj})
		}
	case fkDocPath:
		if r.ct != nil && r.rawDoc(f.doc) != "" {
			return walk(r.doc(f.doc), f.path, out)
		}
	case fkResources:
		if r.ct != nil {
			for i := range r.ct.Resources {
				if s := f.res(&r.ct.Resources[i]); s != "" {
					out = append(out, value{s: s})
				}
			}
		}
	case fkALString:
		if r.al != nil {
			if s := f.al(r.al); s != "" {
				return append(out, value{s: s})
			}
		}
	case fkALInt:
		if r.al != nil {
			if n := f.ali(r.al); n != event.NullInt {
				return append(out, value{n: float64(n), kind: vNum})
			}
		}
	case fkALTime:
		if r.al != nil && !r.al.Time.IsZero() {
			return append(out, value{s: r.al.Time.UTC().Format(time.RFC3339), n: float64(r.al.Time.Unix())})
		}
	}
	return out
}

// walk follows path through a decoded JSON value, fanning out over
// arrays, and appends what it finds.
func walk(v any, path []string, out []value) []value {
	for i, key := range path {
		switch t := v.(type) {
		case map[string]any:
			next, ok := t[key]
			if !ok {
				for k, kv := range t { // field names are matched case-insensitively as a fallback
					if strings.EqualFold(k, key) {
						next, ok = kv, true
						break
					}
				}
				if !ok {
					return out
				}
			}
			v = next
		case []any:
			for _, el := range t {
				out = walk(el, path[i:], out)
			}
			return out
		default:
			return out
		}
	}
	if arr, ok := v.([]any); ok {
		for _, el := range arr {
			out = appendJSON(el, out)
		}
		return out
	}
	return appendJSON(v, out)
}

func appendJSON(v any, out []value) []value {
	switch t := v.(type) {
	case nil:
		return append(out, value{kind: vNull})
	case string:
		return append(out, value{s: t})
	case json.Number:
		n, _ := t.Float64()
		return append(out, value{s: t.String(), n: n, kind: vNum})
	case bool:
		if t {
			return append(out, value{s: "true", n: 1, kind: vBool})
		}
		return append(out, value{s: "false", kind: vBool})
	default:
		b, _ := json.Marshal(t)
		return append(out, value{s: string(b), kind: vObj})
	}
}

// text returns a value as a string for string matching; numbers from
// access logs are formatted on demand.
func (v *value) text() string {
	if v.kind == vNum && v.s == "" {
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	}
	return v.s
}
