package duckdb

import (
	"time"

	"github.com/zeebo/xxh3"

	"github.com/trailwatch/trailwatch/internal/event"
)

// eventCols builds rows of cloudtrail_events (and, with insight set,
// cloudtrail_insights, which adds insightDetails).
type eventCols struct {
	pendingRows
	insight bool

	eventVersion                                      strCol
	uiType, uiPrincipalID, uiARN, uiAccountID         strCol
	uiAccessKeyID, uiUserName, uiInvokedBy            strCol
	uiIdentityProvider, uiCredentialID                strCol
	oboUserID, oboStoreARN                            strCol
	isoSourceARN, isoSourceAccount, isoIssuer, isoTo  strCol
	attrCreation, attrMFA                             strCol
	siType, siPrincipalID, siARN, siAccount, siUser   strCol
	webProvider, webAttrs                             strCol
	scSourceIdentity, scEC2RoleDelivery, scAssumed    strCol
	obo, iso, attrs, si, web, sc, ui                  *structCol
	eventTime                                         *fixedCol
	eventSource, eventName, awsRegion, sourceIP       strCol
	userAgent, errorCode, errorMessage                strCol
	requestParameters, responseElements, additional   strCol
	requestID, eventID                                strCol
	readOnly                                          boolCol
	resARN, resPrefix, resAccount, resType            strCol
	resElem                                           *structCol
	resources                                         *listCol
	eventType, apiVersion                             strCol
	managementEvent                                   boolCol
	recipientAccountID, serviceEventDetails           strCol
	sharedEventID, vpcEndpointID, vpcEndpointAccount  strCol
	eventCategory                                     strCol
	addReason, addFields, addOrigRequest, addOrigEvnt strCol
	addendum                                          *structCol
	sessionCredFromConsole                            boolCol
	edgeDeviceDetails                                 strCol
	tlsVersion, tlsCipher, tlsHost                    strCol
	tls                                               *structCol
	insightDetails                                    strCol
	unmapped, raw, sourceObject                       strCol
	sourceIndex                                       int32Col
	ingestedAt, twHash                                *fixedCol
}

// timeBounds tracks the range of microsecond timestamps.
type timeBounds struct {
	min, max int64
	n        int
}

func (b *timeBounds) add(t int64) {
	if b.n == 0 || t < b.min {
		b.min = t
	}
	if b.n == 0 || t > b.max {
		b.max = t
	}
	b.n++
}

// opt1 adds one optional string and reports whether it was non-NULL.
func (c *eventCols) opt1(col *strCol, s string, present bool) bool {
	col.opt(s, present)
	return s != "" || present
}

// opt2 adds two optional strings and reports whether either was non-NULL.
func (c *eventCols) opt2(c1 *strCol, s1 string, p1 bool, c2 *strCol, s2 string, p2 bool) bool {
	a := c.opt1(c1, s1, p1)
	return c.opt1(c2, s2, p2) || a
}

func newEventCols(insight bool) *eventCols {
	c := &eventCols{insight: insight}
	c.init()
	c.obo = newStruct("userId", &c.oboUserID, "identityStoreArn", &c.oboStoreARN)
	c.iso = newStruct("sourceArn", &c.isoSourceARN, "sourceAccount", &c.isoSourceAccount, "issuerType", &c.isoIssuer, "credentialsIssuedTo", &c.isoTo)
	c.attrs = newStruct("creationDate", &c.attrCreation, "mfaAuthenticated", &c.attrMFA)
	c.si = newStruct("type", &c.siType, "principalId", &c.siPrincipalID, "arn", &c.siARN, "accountId", &c.siAccount, "userName", &c.siUser)
	c.web = newStruct("federatedProvider", &c.webProvider, "attributes", &c.webAttrs)
	c.sc = newStruct("attributes", c.attrs, "sessionIssuer", c.si, "webIdFederationData", c.web,
		"sourceIdentity", &c.scSourceIdentity, "ec2RoleDelivery", &c.scEC2RoleDelivery, "assumedRoot", &c.scAssumed)
	c.ui = newStruct("type", &c.uiType, "principalId", &c.uiPrincipalID, "arn", &c.uiARN, "accountId", &c.uiAccountID,
		"accessKeyId", &c.uiAccessKeyID, "userName", &c.uiUserName, "invokedBy", &c.uiInvokedBy,
		"identityProvider", &c.uiIdentityProvider, "credentialId", &c.uiCredentialID,
		"onBehalfOf", c.obo, "inScopeOf", c.iso, "sessionContext", c.sc)
	c.resElem = newStruct("ARN", &c.resARN, "ARNPrefix", &c.resPrefix, "accountId", &c.resAccount, "type", &c.resType)
	c.resources = &listCol{elem: c.resElem}
	c.addendum = newStruct("reason", &c.addReason, "updatedFields", &c.addFields, "originalRequestID", &c.addOrigRequest, "originalEventID", &c.addOrigEvnt)
	c.tls = newStruct("tlsVersion", &c.tlsVersion, "cipherSuite", &c.tlsCipher, "clientProvidedHostHeader", &c.tlsHost)
	c.eventTime, c.ingestedAt, c.twHash = newTimeCol(), newTimeCol(), newUint64Col()

	c.add("eventVersion", &c.eventVersion)
	c.add("userIdentity", c.ui)
	c.add("eventTime", c.eventTime)
	c.add("eventSource", &c.eventSource)
	c.add("eventName", &c.eventName)
	c.add("awsRegion", &c.awsRegion)
	c.add("sourceIPAddress", &c.sourceIP)
	c.add("userAgent", &c.userAgent)
	c.add("errorCode", &c.errorCode)
	c.add("errorMessage", &c.errorMessage)
	c.add("requestParameters", &c.requestParameters)
	c.add("responseElements", &c.responseElements)
	c.add("additionalEventData", &c.additional)
	c.add("requestID", &c.requestID)
	c.add("eventID", &c.eventID)
	c.add("readOnly", &c.readOnly)
	c.add("resources", c.resources)
	c.add("eventType", &c.eventType)
	c.add("apiVersion", &c.apiVersion)
	c.add("managementEvent", &c.managementEvent)
	c.add("recipientAccountId", &c.recipientAccountID)
	c.add("serviceEventDetails", &c.serviceEventDetails)
	c.add("sharedEventID", &c.sharedEventID)
	c.add("vpcEndpointId", &c.vpcEndpointID)
	c.add("vpcEndpointAccountId", &c.vpcEndpointAccount)
	c.add("eventCategory", &c.eventCategory)
	c.add("addendum", c.addendum)
	c.add("sessionCredentialFromConsole", &c.sessionCredFromConsole)
	c.add("edgeDeviceDetails", &c.edgeDeviceDetails)
	c.add("tlsDetails", c.tls)
	if insight {
		c.add("insightDetails", &c.insightDetails)
	}
	c.add("unmapped", &c.unmapped)
	c.add("raw", &c.raw)
	c.add("source_object", &c.sourceObject)
	c.add("source_index", &c.sourceIndex)
	c.add("ingested_at", c.ingestedAt)
	c.add("tw_hash", c.twHash)
	return c
}

// eventHash identifies an event for the exactly-once check: eventID and
// recipientAccountId (events from before 2015 have none: then the caller's
// account), or the raw bytes for records without an eventID.
func eventHash(e *event.CloudTrail) uint64 {
	if e.EventID == "" {
		return xxh3.HashString(e.Raw)
	}
	account := e.RecipientAccountID
	if account == "" {
		account = e.UserIdentity.AccountID
	}
	h := xxh3.New()
	_, _ = h.WriteString(e.EventID)
	_, _ = h.WriteString("\x00")
	_, _ = h.WriteString(account)
	return h.Sum64()
}

// append adds one event; it returns false for a duplicate of a pending row.
func (c *eventCols) append(e *event.CloudTrail, source string, now time.Time) bool {
	h := eventHash(e)
	if !c.admit(h, e.EventTime) {
		return false
	}
	em := e.Empty
	c.eventVersion.opt(e.EventVersion, em.Has(event.FEventVersion))

	u := &e.UserIdentity
	sc := &u.SessionContext
	oboOK := c.opt2(&c.oboUserID, u.OnBehalfOf.UserID, em.Has(event.FOBOUserID), &c.oboStoreARN, u.OnBehalfOf.IdentityStoreARN, em.Has(event.FOBOIdentityStoreARN))
	c.obo.v.add(oboOK)
	isoOK := c.opt2(&c.isoSourceARN, u.InScopeOf.SourceARN, em.Has(event.FISOSourceARN), &c.isoSourceAccount, u.InScopeOf.SourceAccount, em.Has(event.FISOSourceAccount))
	isoOK = c.opt2(&c.isoIssuer, u.InScopeOf.IssuerType, em.Has(event.FISOIssuerType), &c.isoTo, u.InScopeOf.CredentialsIssuedTo, em.Has(event.FISOCredentialsIssuedTo)) || isoOK
	c.iso.v.add(isoOK)
	attrOK := c.opt2(&c.attrCreation, sc.Attributes.CreationDate, em.Has(event.FSCCreationDate), &c.attrMFA, sc.Attributes.MFAAuthenticated, em.Has(event.FSCMFAAuthenticated))
	c.attrs.v.add(attrOK)
	si := &sc.SessionIssuer
	siOK := c.opt2(&c.siType, si.Type, em.Has(event.FSIType), &c.siPrincipalID, si.PrincipalID, em.Has(event.FSIPrincipalID))
	siOK = c.opt2(&c.siARN, si.ARN, em.Has(event.FSIARN), &c.siAccount, si.AccountID, em.Has(event.FSIAccountID)) || siOK
	siOK = c.opt1(&c.siUser, si.UserName, em.Has(event.FSIUserName)) || siOK
	c.si.v.add(siOK)
	webOK := c.opt2(&c.webProvider, sc.WebIDFederationData.FederatedProvider, em.Has(event.FWebFederatedProvider), &c.webAttrs, string(sc.WebIDFederationData.Attributes), false)
	c.web.v.add(webOK)
	scOK := c.opt2(&c.scSourceIdentity, sc.SourceIdentity, em.Has(event.FSCSourceIdentity), &c.scEC2RoleDelivery, sc.EC2RoleDelivery, em.Has(event.FSCEC2RoleDelivery))
	scOK = c.opt1(&c.scAssumed, sc.AssumedRoot, em.Has(event.FSCAssumedRoot)) || scOK || attrOK || siOK || webOK
	c.sc.v.add(scOK)
	uiOK := c.opt2(&c.uiType, u.Type, em.Has(event.FUIType), &c.uiPrincipalID, u.PrincipalID, em.Has(event.FUIPrincipalID))
	uiOK = c.opt2(&c.uiARN, u.ARN, em.Has(event.FUIARN), &c.uiAccountID, u.AccountID, em.Has(event.FUIAccountID)) || uiOK
	uiOK = c.opt2(&c.uiAccessKeyID, u.AccessKeyID, em.Has(event.FUIAccessKeyID), &c.uiUserName, u.UserName, em.Has(event.FUIUserName)) || uiOK
	uiOK = c.opt2(&c.uiInvokedBy, u.InvokedBy, em.Has(event.FUIInvokedBy), &c.uiIdentityProvider, u.IdentityProvider, em.Has(event.FUIIdentityProvider)) || uiOK
	uiOK = c.opt1(&c.uiCredentialID, u.CredentialID, em.Has(event.FUICredentialID)) || uiOK || oboOK || isoOK || scOK
	c.ui.v.add(uiOK)

	c.eventTime.time(e.EventTime)
	c.eventSource.opt(e.EventSource, em.Has(event.FEventSource))
	c.eventName.opt(e.EventName, em.Has(event.FEventName))
	c.awsRegion.opt(e.AWSRegion, em.Has(event.FAWSRegion))
	c.sourceIP.opt(e.SourceIPAddress, em.Has(event.FSourceIPAddress))
	c.userAgent.opt(e.UserAgent, em.Has(event.FUserAgent))
	c.errorCode.opt(e.ErrorCode, em.Has(event.FErrorCode))
	c.errorMessage.opt(e.ErrorMessage, em.Has(event.FErrorMessage))
	c.requestParameters.opt(string(e.RequestParameters), false)
	c.responseElements.opt(string(e.ResponseElements), false)
	c.additional.opt(string(e.AdditionalEventData), false)
	c.requestID.opt(e.RequestID, em.Has(event.FRequestID))
	c.eventID.opt(e.EventID, em.Has(event.FEventID))
	c.readOnly.opt(uint8(e.ReadOnly))
	if e.Resources == nil {
		c.resources.null()
	} else {
		for i := range e.Resources {
			r := &e.Resources[i]
			c.resARN.opt(r.ARN, false)
			c.resPrefix.opt(r.ARNPrefix, false)
			c.resAccount.opt(r.AccountID, false)
			c.resType.opt(r.Type, false)
			c.resElem.v.add(true)
		}
		c.resources.end(len(e.Resources))
	}
	c.eventType.opt(e.EventType, em.Has(event.FEventType))
	c.apiVersion.opt(e.APIVersion, em.Has(event.FAPIVersion))
	c.managementEvent.opt(uint8(e.ManagementEvent))
	c.recipientAccountID.opt(e.RecipientAccountID, em.Has(event.FRecipientAccountID))
	c.serviceEventDetails.opt(string(e.ServiceEventDetails), false)
	c.sharedEventID.opt(e.SharedEventID, em.Has(event.FSharedEventID))
	c.vpcEndpointID.opt(e.VPCEndpointID, em.Has(event.FVPCEndpointID))
	c.vpcEndpointAccount.opt(e.VPCEndpointAccountID, em.Has(event.FVPCEndpointAccountID))
	c.eventCategory.opt(e.EventCategory, em.Has(event.FEventCategory))
	a := &e.Addendum
	addOK := c.opt2(&c.addReason, a.Reason, em.Has(event.FAddReason), &c.addFields, a.UpdatedFields, em.Has(event.FAddUpdatedFields))
	addOK = c.opt2(&c.addOrigRequest, a.OriginalRequestID, em.Has(event.FAddOriginalRequestID), &c.addOrigEvnt, a.OriginalEventID, em.Has(event.FAddOriginalEventID)) || addOK
	c.addendum.v.add(addOK)
	c.sessionCredFromConsole.opt(uint8(e.SessionCredentialFromConsole))
	c.edgeDeviceDetails.opt(string(e.EdgeDeviceDetails), false)
	t := &e.TLSDetails
	tlsOK := c.opt2(&c.tlsVersion, t.TLSVersion, em.Has(event.FTLSVersion), &c.tlsCipher, t.CipherSuite, em.Has(event.FTLSCipherSuite))
	tlsOK = c.opt1(&c.tlsHost, t.ClientProvidedHostHeader, em.Has(event.FTLSClientProvidedHostHeader)) || tlsOK
	c.tls.v.add(tlsOK)
	if c.insight {
		c.insightDetails.opt(string(e.InsightDetails), false)
	}
	c.unmapped.opt(string(e.Unmapped), false)
	c.raw.add(e.Raw)
	c.sourceObject.add(source)
	c.sourceIndex.add(int32(e.Index))
	c.ingestedAt.add(now.UnixMicro())
	c.twHash.add(int64(h))
	return true
}
