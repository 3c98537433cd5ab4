package cloudtrail

import (
	"strconv"

	"github.com/trailwatch/trailwatch/internal/event"
)

// recordParser turns one CloudTrail record (a JSON object) into an
// event.CloudTrail. It keeps state that lives as long as a batch: the
// scanner's arena and the resources arena.
type recordParser struct {
	s         scanner
	resources []event.Resource
	unmapped  unmappedWriter
}

// reset forgets everything handed out; call it after the batch was emitted.
func (p *recordParser) reset() {
	p.s.arena = p.s.arena[:0]
	clear(p.resources)
	p.resources = p.resources[:0]
}

// key returns a usable key string, unescaping when needed.
func (p *recordParser) key(raw []byte, esc bool, at int) (string, error) {
	if !esc {
		return bytesToString(raw), nil
	}
	return p.s.unescape(raw, at)
}

// field reads a string field: it stores the value, marks present-but-empty
// strings in e.Empty, and keeps a non-string value in Unmapped.
func (p *recordParser) field(dst *string, f event.Field, e *event.CloudTrail, path []string, key string, i int) (int, error) {
	s := &p.s
	if s.buf[i] == '"' {
		v, j, err := s.str(i)
		if err != nil {
			return 0, err
		}
		*dst = v
		if v == "" {
			e.Empty.Add(f)
		}
		return j, nil
	}
	return p.other(path, key, i)
}

// other keeps a value that has no column (or the wrong JSON type for its
// column) in the Unmapped document; null is dropped as it carries nothing.
func (p *recordParser) other(path []string, key string, i int) (int, error) {
	j, err := p.s.skip(i)
	if err != nil {
		return 0, err
	}
	if !p.s.isNull(i) {
		p.unmapped.add(path, key, p.s.buf[i:j])
	}
	return j, nil
}

// rawJSON reads any value as RawJSON; null becomes "".
func (p *recordParser) rawJSON(dst *event.RawJSON, i int) (int, error) {
	j, err := p.s.skip(i)
	if err != nil {
		return 0, err
	}
	if !p.s.isNull(i) {
		*dst = event.RawJSON(bytesToString(p.s.buf[i:j]))
	}
	return j, nil
}

// object reads a JSON object value into a struct, or keeps a value of
// another type in Unmapped.
func (p *recordParser) object(path []string, key string, i int, fn func(key string, v, at int) (int, error)) (int, error) {
	if p.s.buf[i] != '{' {
		return p.other(path, key, i)
	}
	return p.s.object(i, func(k []byte, esc bool, v int) (int, error) {
		ks, err := p.key(k, esc, v)
		if err != nil {
			return 0, err
		}
		return fn(ks, v, v)
	})
}

// boolean reads true/false, or the strings "true"/"false" (some fields are
// logged as strings).
func (p *recordParser) boolean(dst *event.OptBool, path []string, key string, i int) (int, error) {
	b := p.s.buf
	switch b[i] {
	case 't':
		j, err := p.s.lit(i, "true")
		*dst = event.BoolTrue
		return j, err
	case 'f':
		j, err := p.s.lit(i, "false")
		*dst = event.BoolFalse
		return j, err
	case '"':
		v, j, err := p.s.str(i)
		if err != nil {
			return 0, err
		}
		switch v {
		case "true", "True", "TRUE":
			*dst = event.BoolTrue
		case "false", "False", "FALSE":
			*dst = event.BoolFalse
		default:
			p.unmapped.add(path, key, b[i:j])
		}
		return j, nil
	}
	return p.other(path, key, i)
}

var (
	pathUI    = []string{"userIdentity"}
	pathSC    = []string{"userIdentity", "sessionContext"}
	pathAttr  = []string{"userIdentity", "sessionContext", "attributes"}
	pathSI    = []string{"userIdentity", "sessionContext", "sessionIssuer"}
	pathWeb   = []string{"userIdentity", "sessionContext", "webIdFederationData"}
	pathOBO   = []string{"userIdentity", "onBehalfOf"}
	pathISO   = []string{"userIdentity", "inScopeOf"}
	pathAdd   = []string{"addendum"}
	pathTLS   = []string{"tlsDetails"}
	pathRes   = []string{"resources"}
	pathEvent = []string(nil)
)

// parse reads the record object starting at i into e and returns the index
// after it.
func (p *recordParser) parse(e *event.CloudTrail, i int) (int, error) {
	s := &p.s
	p.unmapped.begin()
	j, err := s.object(i, func(k []byte, esc bool, v int) (int, error) {
		key, err := p.key(k, esc, v)
		if err != nil {
			return 0, err
		}
		switch key {
		case "eventVersion":
			return p.field(&e.EventVersion, event.FEventVersion, e, pathEvent, key, v)
		case "userIdentity":
			return p.userIdentity(e, v)
		case "eventTime":
			if s.buf[v] == '"' {
				t, j, err := s.str(v)
				if err != nil {
					return 0, err
				}
				if ts, ok := parseTime(t); ok {
					e.EventTime = ts
				} else {
					p.unmapped.add(pathEvent, key, s.buf[v:j])
				}
				return j, nil
			}
			return p.other(pathEvent, key, v)
		case "eventSource":
			return p.field(&e.EventSource, event.FEventSource, e, pathEvent, key, v)
		case "eventName":
			return p.field(&e.EventName, event.FEventName, e, pathEvent, key, v)
		case "awsRegion":
			return p.field(&e.AWSRegion, event.FAWSRegion, e, pathEvent, key, v)
		case "sourceIPAddress":
			return p.field(&e.SourceIPAddress, event.FSourceIPAddress, e, pathEvent, key, v)
		case "userAgent":
			return p.field(&e.UserAgent, event.FUserAgent, e, pathEvent, key, v)
		case "errorCode":
			return p.field(&e.ErrorCode, event.FErrorCode, e, pathEvent, key, v)
		case "errorMessage":
			return p.field(&e.ErrorMessage, event.FErrorMessage, e, pathEvent, key, v)
		case "requestParameters":
			return p.rawJSON(&e.RequestParameters, v)
		case "responseElements":
			return p.rawJSON(&e.ResponseElements, v)
		case "additionalEventData":
			return p.rawJSON(&e.AdditionalEventData, v)
		case "requestID":
			return p.field(&e.RequestID, event.FRequestID, e, pathEvent, key, v)
		case "eventID":
			return p.field(&e.EventID, event.FEventID, e, pathEvent, key, v)
		case "resources":
			return p.resourcesList(e, key, v)
		case "eventType":
			return p.field(&e.EventType, event.FEventType, e, pathEvent, key, v)
		case "apiVersion":
			return p.field(&e.APIVersion, event.FAPIVersion, e, pathEvent, key, v)
		case "readOnly":
			return p.boolean(&e.ReadOnly, pathEvent, key, v)
		case "recipientAccountId":
			return p.field(&e.RecipientAccountID, event.FRecipientAccountID, e, pathEvent, key, v)
		case "serviceEventDetails":
			return p.rawJSON(&e.ServiceEventDetails, v)
		case "sharedEventID":
			return p.field(&e.SharedEventID, event.FSharedEventID, e, pathEvent, key, v)
		case "vpcEndpointId":
			return p.field(&e.VPCEndpointID, event.FVPCEndpointID, e, pathEvent, key, v)
		case "vpcEndpointAccountId":
			return p.field(&e.VPCEndpointAccountID, event.FVPCEndpointAccountID, e, pathEvent, key, v)
		case "eventCategory":
			return p.field(&e.EventCategory, event.FEventCategory, e, pathEvent, key, v)
		case "managementEvent":
			return p.boolean(&e.ManagementEvent, pathEvent, key, v)
		case "sessionCredentialFromConsole":
			return p.boolean(&e.SessionCredentialFromConsole, pathEvent, key, v)
		case "addendum":
			return p.addendum(e, key, v)
		case "tlsDetails":
			return p.tlsDetails(e, key, v)
		case "edgeDeviceDetails":
			return p.rawJSON(&e.EdgeDeviceDetails, v)
		case "insightDetails":
			return p.rawJSON(&e.InsightDetails, v)
		}
		return p.other(pathEvent, key, v)
	})
	if err != nil {
		return 0, err
	}
	e.Unmapped = p.unmapped.finish(&p.s)
	e.Raw = bytesToString(s.buf[i:j])
	return j, nil
}

func (p *recordParser) userIdentity(e *event.CloudTrail, i int) (int, error) {
	u := &e.UserIdentity
	return p.object(pathEvent, "userIdentity", i, func(key string, v, _ int) (int, error) {
		switch key {
		case "type":
			return p.field(&u.Type, event.FUIType, e, pathUI, key, v)
		case "principalId":
			return p.field(&u.PrincipalID, event.FUIPrincipalID, e, pathUI, key, v)
		case "arn":
			return p.field(&u.ARN, event.FUIARN, e, pathUI, key, v)
		case "accountId":
			return p.field(&u.AccountID, event.FUIAccountID, e, pathUI, key, v)
		case "accessKeyId":
			return p.field(&u.AccessKeyID, event.FUIAccessKeyID, e, pathUI, key, v)
		case "userName":
			return p.field(&u.UserName, event.FUIUserName, e, pathUI, key, v)
		case "invokedBy":
			return p.field(&u.InvokedBy, event.FUIInvokedBy, e, pathUI, key, v)
		case "identityProvider":
			return p.field(&u.IdentityProvider, event.FUIIdentityProvider, e, pathUI, key, v)
		case "credentialId":
			return p.field(&u.CredentialID, event.FUICredentialID, e, pathUI, key, v)
		case "onBehalfOf":
			return p.object(pathUI, key, v, func(key string, v, _ int) (int, error) {
				switch key {
				case "userId":
					return p.field(&u.OnBehalfOf.UserID, event.FOBOUserID, e, pathOBO, key, v)
				case "identityStoreArn":
					return p.field(&u.OnBehalfOf.IdentityStoreARN, event.FOBOIdentityStoreARN, e, pathOBO, key, v)
				}
				return p.other(pathOBO, key, v)
			})
		case "inScopeOf":
			return p.object(pathUI, key, v, func(key string, v, _ int) (int, error) {
				iso := &u.InScopeOf
				switch key {
				case "sourceArn":
					return p.field(&iso.SourceARN, event.FISOSourceARN, e, pathISO, key, v)
				case "sourceAccount":
					return p.field(&iso.SourceAccount, event.FISOSourceAccount, e, pathISO, key, v)
				case "issuerType":
					return p.field(&iso.IssuerType, event.FISOIssuerType, e, pathISO, key, v)
				case "credentialsIssuedTo":
					return p.field(&iso.CredentialsIssuedTo, event.FISOCredentialsIssuedTo, e, pathISO, key, v)
				}
				return p.other(pathISO, key, v)
			})
		case "sessionContext":
			return p.sessionContext(e, key, v)
		}
		return p.other(pathUI, key, v)
	})
}

func (p *recordParser) sessionContext(e *event.CloudTrail, key string, i int) (int, error) {
	sc := &e.UserIdentity.SessionContext
	return p.object(pathUI, key, i, func(key string, v, _ int) (int, error) {
		switch key {
		case "attributes":
			return p.object(pathSC, key, v, func(key string, v, _ int) (int, error) {
				switch key {
				case "creationDate":
					return p.field(&sc.Attributes.CreationDate, event.FSCCreationDate, e, pathAttr, key, v)
				case "mfaAuthenticated":
					return p.field(&sc.Attributes.MFAAuthenticated, event.FSCMFAAuthenticated, e, pathAttr, key, v)
				}
				return p.other(pathAttr, key, v)
			})
		case "sessionIssuer":
			si := &sc.SessionIssuer
			return p.object(pathSC, key, v, func(key string, v, _ int) (int, error) {
				switch key {
				case "type":
					return p.field(&si.Type, event.FSIType, e, pathSI, key, v)
				case "principalId":
					return p.field(&si.PrincipalID, event.FSIPrincipalID, e, pathSI, key, v)
				case "arn":
					return p.field(&si.ARN, event.FSIARN, e, pathSI, key, v)
				case "accountId":
					return p.field(&si.AccountID, event.FSIAccountID, e, pathSI, key, v)
				case "userName":
					return p.field(&si.UserName, event.FSIUserName, e, pathSI, key, v)
				}
				return p.other(pathSI, key, v)
			})
		case "webIdFederationData":
			w := &sc.WebIDFederationData
			return p.object(pathSC, key, v, func(key string, v, _ int) (int, error) {
				switch key {
				case "federatedProvider":
					return p.field(&w.FederatedProvider, event.FWebFederatedProvider, e, pathWeb, key, v)
				case "attributes":
					return p.rawJSON(&w.Attributes, v)
				}
				return p.other(pathWeb, key, v)
			})
		case "sourceIdentity":
			return p.field(&sc.SourceIdentity, event.FSCSourceIdentity, e, pathSC, key, v)
		case "ec2RoleDelivery":
			return p.field(&sc.EC2RoleDelivery, event.FSCEC2RoleDelivery, e, pathSC, key, v)
		case "assumedRoot":
			if p.s.buf[v] == 't' || p.s.buf[v] == 'f' { // tolerate a JSON boolean
				j, err := p.s.skip(v)
				if err == nil {
					sc.AssumedRoot = bytesToString(p.s.buf[v:j])
				}
				return j, err
			}
			return p.field(&sc.AssumedRoot, event.FSCAssumedRoot, e, pathSC, key, v)
		}
		return p.other(pathSC, key, v)
	})
}

func (p *recordParser) resourcesList(e *event.CloudTrail, key string, i int) (int, error) {
	s := &p.s
	if s.buf[i] != '[' {
		return p.other(pathEvent, key, i)
	}
	start := len(p.resources)
	j := s.ws(i + 1)
	if j >= len(s.buf) {
		return 0, errShort
	}
	if s.buf[j] == ']' {
		e.Resources = p.resources[start:start:start]
		return j + 1, nil
	}
	// Unmapped keeps what does not fit at resources/<element index>/...
	elem := func(n int) []string { return []string{"resources", strconv.Itoa(n)} }
	for n := 0; ; n++ {
		if s.buf[j] == '{' {
			p.resources = append(p.resources, event.Resource{})
			r := &p.resources[len(p.resources)-1]
			var err error
			j, err = s.object(j, func(k []byte, esc bool, v int) (int, error) {
				key, err := p.key(k, esc, v)
				if err != nil {
					return 0, err
				}
				var dst *string
				switch key {
				case "ARN", "arn":
					dst = &r.ARN
				case "ARNPrefix", "arnPrefix":
					dst = &r.ARNPrefix
				case "accountId":
					dst = &r.AccountID
				case "type":
					dst = &r.Type
				default:
					return p.other(elem(n), key, v)
				}
				if s.buf[v] != '"' {
					return p.other(elem(n), key, v) // wrong type: kept
				}
				val, j, err := s.str(v)
				*dst = val
				return j, err
			})
			if err != nil {
				return 0, err
			}
		} else {
			var err error
			jj, err := p.other(pathRes, strconv.Itoa(n), j)
			if err != nil {
				return 0, err
			}
			j = jj
		}
		j = s.ws(j)
		if j >= len(s.buf) {
			return 0, errShort
		}
		switch s.buf[j] {
		case ',':
			j = s.ws(j + 1)
			if j >= len(s.buf) {
				return 0, errShort
			}
		case ']':
			e.Resources = p.resources[start:len(p.resources):len(p.resources)]
			return j + 1, nil
		default:
			return 0, s.errAt(j, "expected ',' or ']', found %q", s.buf[j])
		}
	}
}

func (p *recordParser) addendum(e *event.CloudTrail, key string, i int) (int, error) {
	a := &e.Addendum
	return p.object(pathEvent, key, i, func(key string, v, _ int) (int, error) {
		switch key {
		case "reason":
			return p.field(&a.Reason, event.FAddReason, e, pathAdd, key, v)
		case "updatedFields":
			return p.field(&a.UpdatedFields, event.FAddUpdatedFields, e, pathAdd, key, v)
		case "originalRequestID":
			return p.field(&a.OriginalRequestID, event.FAddOriginalRequestID, e, pathAdd, key, v)
		case "originalEventID":
			return p.field(&a.OriginalEventID, event.FAddOriginalEventID, e, pathAdd, key, v)
		}
		return p.other(pathAdd, key, v)
	})
}

func (p *recordParser) tlsDetails(e *event.CloudTrail, key string, i int) (int, error) {
	t := &e.TLSDetails
	return p.object(pathEvent, key, i, func(key string, v, _ int) (int, error) {
		switch key {
		case "tlsVersion":
			return p.field(&t.TLSVersion, event.FTLSVersion, e, pathTLS, key, v)
		case "cipherSuite":
			return p.field(&t.CipherSuite, event.FTLSCipherSuite, e, pathTLS, key, v)
		case "clientProvidedHostHeader":
			return p.field(&t.ClientProvidedHostHeader, event.FTLSClientProvidedHostHeader, e, pathTLS, key, v)
		}
		return p.other(pathTLS, key, v)
	})
}
