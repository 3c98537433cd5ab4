package event

import (
	"reflect"
	"strings"
	"time"
)

// RawJSON is a JSON value kept as its source text (an object, array, string,
// number or boolean). The empty string means absent or JSON null.
type RawJSON string

// CloudTrail is one CloudTrail record (eventVersion up to 1.11): a
// management, data, network activity or Insights event. Field names follow
// the CloudTrail record contents reference. String fields are empty when the
// field was absent or null; Empty records which of them were present with
// the value "".
type CloudTrail struct {
	EventVersion                 string
	UserIdentity                 UserIdentity
	EventTime                    time.Time // zero when absent or unparseable
	EventSource                  string
	EventName                    string
	AWSRegion                    string
	SourceIPAddress              string
	UserAgent                    string
	ErrorCode                    string
	ErrorMessage                 string
	RequestParameters            RawJSON
	ResponseElements             RawJSON
	AdditionalEventData          RawJSON
	RequestID                    string
	EventID                      string
	Resources                    []Resource
	EventType                    string
	APIVersion                   string
	ReadOnly                     OptBool
	RecipientAccountID           string
	ServiceEventDetails          RawJSON
	SharedEventID                string
	VPCEndpointID                string
	VPCEndpointAccountID         string
	EventCategory                string
	ManagementEvent              OptBool
	SessionCredentialFromConsole OptBool
	Addendum                     Addendum
	TLSDetails                   TLSDetails
	EdgeDeviceDetails            RawJSON
	InsightDetails               RawJSON

	// Unmapped holds, as a JSON object, every field this version of
	// trailwatch does not map to a column, at its original path
	// (e.g. {"newField":1,"userIdentity":{"newSub":"x"}}). Empty when none.
	Unmapped RawJSON
	// Empty lists the string fields that were present with the value "".
	Empty FieldSet
	// Raw is the event exactly as it appeared in the source object.
	Raw string
	// Index is the record's position (0-based) within its source object.
	Index int
}

// UserIdentity describes who made a request (the userIdentity element).
type UserIdentity struct {
	Type             string
	PrincipalID      string
	ARN              string
	AccountID        string
	AccessKeyID      string
	UserName         string
	InvokedBy        string
	IdentityProvider string
	CredentialID     string
	OnBehalfOf       OnBehalfOf
	InScopeOf        InScopeOf
	SessionContext   SessionContext
}

// OnBehalfOf identifies the IAM Identity Center user a request was made for.
type OnBehalfOf struct {
	UserID           string
	IdentityStoreARN string
}

// InScopeOf describes the resource a service credential was scoped to.
type InScopeOf struct {
	SourceARN           string
	SourceAccount       string
	IssuerType          string
	CredentialsIssuedTo string
}

// SessionContext describes temporary security credentials.
type SessionContext struct {
	Attributes          SessionAttributes
	SessionIssuer       SessionIssuer
	WebIDFederationData WebIDFederationData
	SourceIdentity      string
	EC2RoleDelivery     string
	AssumedRoot         string
}

// SessionAttributes are the attributes of a session.
type SessionAttributes struct {
	CreationDate     string
	MFAAuthenticated string
}

// SessionIssuer is the principal that issued a session's credentials.
type SessionIssuer struct {
	Type        string
	PrincipalID string
	ARN         string
	AccountID   string
	UserName    string
}

// WebIDFederationData describes a web identity federation session.
type WebIDFederationData struct {
	FederatedProvider string
	Attributes        RawJSON
}

// Resource is one element of the resources list.
type Resource struct {
	ARN       string
	ARNPrefix string
	AccountID string
	Type      string
}

// Addendum explains a delayed or updated event.
type Addendum struct {
	Reason            string
	UpdatedFields     string
	OriginalRequestID string
	OriginalEventID   string
}

// TLSDetails describes the TLS session of a request.
type TLSDetails struct {
	TLSVersion               string
	CipherSuite              string
	ClientProvidedHostHeader string
}

// IsInsight reports whether the record is a CloudTrail Insights event.
func (e *CloudTrail) IsInsight() bool {
	return e.EventType == "AwsCloudTrailInsight" || e.EventCategory == "Insight" || e.InsightDetails != ""
}

// Principal returns the best single name for who acted: the ARN, else the
// session issuer's ARN, else the principal id, else the invoking service.
func (e *CloudTrail) Principal() string {
	u := &e.UserIdentity
	switch {
	case u.ARN != "":
		return u.ARN
	case u.SessionContext.SessionIssuer.ARN != "":
		return u.SessionContext.SessionIssuer.ARN
	case u.PrincipalID != "":
		return u.PrincipalID
	case u.InvokedBy != "":
		return u.InvokedBy
	}
	return u.Type
}

// Clone returns a copy that shares no memory with parser buffers.
func (e CloudTrail) Clone() CloudTrail {
	cloneStrings(reflect.ValueOf(&e).Elem())
	return e
}

// Clone returns a copy that shares no memory with parser buffers.
func (d Digest) Clone() Digest {
	cloneStrings(reflect.ValueOf(&d).Elem())
	return d
}

// Clone returns a copy that shares no memory with parser buffers.
func (a AccessLog) Clone() AccessLog {
	cloneStrings(reflect.ValueOf(&a).Elem())
	return a
}

// cloneStrings replaces every string reachable from v by a private copy and
// every slice by a new one. It is used off the hot path only.
func cloneStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() && v.Len() > 0 {
			v.SetString(strings.Clone(v.String()))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			cloneStrings(v.Field(i))
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(n, v)
		for i := range n.Len() {
			cloneStrings(n.Index(i))
		}
		v.Set(n)
	}
}

// FieldSet is a set of CloudTrail string fields, used to tell a field that
// was present with the value "" from an absent one.
type FieldSet uint64

// Has reports whether f is in the set.
func (s FieldSet) Has(f Field) bool { return s&(1<<f) != 0 }

// Add puts f into the set.
func (s *FieldSet) Add(f Field) { *s |= 1 << f }

// Field names a CloudTrail string field for FieldSet.
type Field uint8

// The CloudTrail string fields, in record order.
const (
	FEventVersion Field = iota
	FEventSource
	FEventName
	FAWSRegion
	FSourceIPAddress
	FUserAgent
	FErrorCode
	FErrorMessage
	FRequestID
	FEventID
	FEventType
	FAPIVersion
	FRecipientAccountID
	FSharedEventID
	FVPCEndpointID
	FVPCEndpointAccountID
	FEventCategory
	FUIType
	FUIPrincipalID
	FUIARN
	FUIAccountID
	FUIAccessKeyID
	FUIUserName
	FUIInvokedBy
	FUIIdentityProvider
	FUICredentialID
	FOBOUserID
	FOBOIdentityStoreARN
	FISOSourceARN
	FISOSourceAccount
	FISOIssuerType
	FISOCredentialsIssuedTo
	FSCCreationDate
	FSCMFAAuthenticated
	FSIType
	FSIPrincipalID
	FSIARN
	FSIAccountID
	FSIUserName
	FWebFederatedProvider
	FSCSourceIdentity
	FSCEC2RoleDelivery
	FSCAssumedRoot
	FAddReason
	FAddUpdatedFields
	FAddOriginalRequestID
	FAddOriginalEventID
	FTLSVersion
	FTLSCipherSuite
	FTLSClientProvidedHostHeader
	numFields
)
