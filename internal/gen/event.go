package gen

import (
	"math/rand/v2"
	"strings"
)

// evgen renders CloudTrail records. One evgen belongs to one goroutine; its
// scratch buffers are reused from record to record.
type evgen struct {
	w      *world
	r      *rand.Rand
	a      *account // the account the record is delivered to
	region string
	t      int64
	id     *identity
	ip     string
	ua     string

	req, resp, addl, res, ident jw
	e                           ev
	errRes                      string // the resource an access-denied message names
	invokedBy                   string // service acting for the identity, if any
	failing                     bool   // the call being rendered will fail
}

// ev is one CloudTrail record being built. Strings may alias constant
// tables; JSON parts live in the evgen's scratch writers.
type ev struct {
	version    string
	src, name  string
	errCode    string
	errMsg     string
	readOnly   int8 // -1 absent, 0 false, 1 true
	data       bool
	eventType  string
	apiVersion string
	shared     string
	vpce       bool
	tls        bool
	tlsHost    string
	console    bool
	requestID  string
	eventID    string
	recipient  string
	identRaw   bool // the userIdentity was written into g.ident by the caller
	category   string
	reqNull    bool
	respNull   bool
}

// begin starts a new record for identity id at time t in the current cell.
func (g *evgen) begin(id *identity, src, name string, ro int8) *ev {
	g.req.reset()
	g.resp.reset()
	g.addl.reset()
	g.res.reset()
	g.ident.reset()
	g.e = ev{src: src, name: name, readOnly: ro, eventType: "AwsApiCall", tls: true, category: "Management"}
	g.id = id
	g.errRes = ""
	g.invokedBy = ""
	g.failing = false
	if id != nil {
		g.ip = g.pickIP(id)
		g.ua = pick(g.r, id.uas)
		if strings.Contains(g.ua, "%s") {
			g.ua = fillUA(g.ua, src, name)
		}
		if id.kind == kService || (id.invokedBy != "" && id.kind == kRole) {
			g.e.tls = false
		}
		if id.vpce && g.ip != id.privateIP {
			g.e.vpce = chance(g.r, 0.5)
			if g.e.vpce {
				g.ip = id.privateIP
			}
		}
	}
	return &g.e
}

func (g *evgen) pickIP(id *identity) string {
	if len(id.ips) == 0 {
		return "AWS Internal"
	}
	return id.ips[g.r.IntN(len(id.ips))]
}

// versions CloudTrail uses today, by service (stable per event source).
var eventVersions = [...]string{"1.08", "1.09", "1.09", "1.10", "1.10", "1.11"}

func versionFor(src, name string) string {
	switch src {
	case "s3.amazonaws.com":
		return "1.10"
	case "signin.amazonaws.com":
		return "1.11"
	case "sts.amazonaws.com":
		return "1.08"
	}
	return eventVersions[hashString(src)%uint64(len(eventVersions))]
}

// endpoint returns the host a client used for a service.
func (g *evgen) endpoint(src string) string {
	svc := strings.TrimSuffix(src, ".amazonaws.com")
	switch svc {
	case "iam", "organizations", "health", "ce":
		if svc == "organizations" {
			return "organizations.us-east-1.amazonaws.com"
		}
		return svc + ".amazonaws.com"
	case "sts":
		if g.region == "us-east-1" && g.r.IntN(3) == 0 {
			return "sts.amazonaws.com"
		}
		return "sts." + g.region + ".amazonaws.com"
	case "signin":
		return "signin.aws.amazon.com"
	case "monitoring":
		return "monitoring." + g.region + ".amazonaws.com"
	}
	return svc + "." + g.region + ".amazonaws.com"
}

// writeIdentity writes the userIdentity object for id at time t.
func writeIdentity(w *jw, id *identity, t int64, withKey bool, invokedBy string) {
	if invokedBy == "" {
		invokedBy = id.invokedBy
	}
	w.O()
	switch id.kind {
	case kService:
		w.KS("type", "AWSService")
		w.KS("invokedBy", invokedBy)
	case kIAMUser:
		w.KS("type", "IAMUser")
		w.KS("principalId", id.principal)
		w.KS("arn", id.arn())
		w.KS("accountId", id.acct.id)
		if withKey {
			w.KS("accessKeyId", id.akia)
		}
		w.KS("userName", id.userName)
		if invokedBy != "" {
			w.KS("invokedBy", invokedBy)
		}
	case kConsoleUser:
		w.KS("type", "IAMUser")
		w.KS("principalId", id.principal)
		w.KS("arn", id.arn())
		w.KS("accountId", id.acct.id)
		if withKey {
			w.KS("accessKeyId", id.sessionKey(t))
		}
		w.KS("userName", id.userName)
		w.KO("sessionContext")
		w.KO("attributes")
		w.KT("creationDate", id.sessionStart(t))
		w.KS("mfaAuthenticated", boolStr(id.mfa))
		w.E()
		w.E()
	case kRoot:
		w.KS("type", "Root")
		w.KS("principalId", id.acct.id)
		w.KS("arn", id.arn())
		w.KS("accountId", id.acct.id)
		if withKey {
			w.KS("accessKeyId", id.sessionKey(t))
			w.KO("sessionContext")
			w.KO("sessionIssuer")
			w.E()
			w.KO("webIdFederationData")
			w.E()
			w.KO("attributes")
			w.KT("creationDate", id.sessionStart(t))
			w.KS("mfaAuthenticated", boolStr(id.mfa))
			w.E()
			w.E()
		}
	case kRole:
		w.KS("type", "AssumedRole")
		w.KS("principalId", id.principal+":"+id.session)
		w.KS("arn", id.arn())
		w.KS("accountId", id.acct.id)
		if withKey {
			w.KS("accessKeyId", id.sessionKey(t))
		}
		w.KO("sessionContext")
		w.KO("sessionIssuer")
		w.KS("type", "Role")
		w.KS("principalId", id.principal)
		w.KS("arn", id.roleARN())
		w.KS("accountId", id.acct.id)
		w.KS("userName", id.roleName)
		w.E()
		if !id.ec2 {
			w.KO("webIdFederationData")
			w.E()
		}
		w.KO("attributes")
		w.KT("creationDate", id.sessionStart(t))
		w.KS("mfaAuthenticated", "false")
		w.E()
		if id.ec2 {
			w.KS("ec2RoleDelivery", "2.0")
		}
		w.E()
		if invokedBy != "" {
			w.KS("invokedBy", invokedBy)
		}
	}
	w.E()
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// finish appends the record to out in AWS's key order.
func (g *evgen) finish(out []byte) []byte {
	e := &g.e
	var w jw
	w.b = out
	w.O()
	v := e.version
	if v == "" {
		v = versionFor(e.src, e.name)
	}
	w.KS("eventVersion", v)
	w.K("userIdentity")
	if e.identRaw {
		w.Raw(g.ident.b)
	} else {
		g.ident.reset()
		writeIdentity(&g.ident, g.id, g.t, true, g.invokedBy)
		w.Raw(g.ident.b)
	}
	w.KT("eventTime", g.t)
	w.KS("eventSource", e.src)
	w.KS("eventName", e.name)
	w.KS("awsRegion", g.region)
	w.KS("sourceIPAddress", g.ip)
	w.KS("userAgent", g.ua)
	if e.errCode != "" {
		w.KS("errorCode", e.errCode)
	}
	if e.errMsg != "" {
		w.KS("errorMessage", e.errMsg)
	}
	w.K("requestParameters")
	if len(g.req.b) == 0 || e.reqNull {
		w.Null()
	} else {
		w.Raw(g.req.b)
	}
	w.K("responseElements")
	if len(g.resp.b) == 0 || e.respNull || e.errCode != "" {
		w.Null()
	} else {
		w.Raw(g.resp.b)
	}
	if len(g.addl.b) > 0 {
		w.K("additionalEventData").Raw(g.addl.b)
	}
	if e.requestID == "" {
		w.K("requestID")
		w.pre()
		w.b = append(w.b, '"')
		w.b = appendUUID(w.b, g.r)
		w.b = append(w.b, '"')
	} else {
		w.KS("requestID", e.requestID)
	}
	if e.eventID == "" {
		w.K("eventID")
		w.pre()
		w.b = append(w.b, '"')
		w.b = appendUUID(w.b, g.r)
		w.b = append(w.b, '"')
	} else {
		w.KS("eventID", e.eventID)
	}
	if e.readOnly >= 0 {
		w.KB("readOnly", e.readOnly == 1)
	}
	if len(g.res.b) > 0 {
		w.K("resources").Raw(g.res.b)
	}
	w.KS("eventType", e.eventType)
	if e.apiVersion != "" {
		w.KS("apiVersion", e.apiVersion)
	}
	w.KB("managementEvent", !e.data)
	rec := e.recipient
	if rec == "" {
		rec = g.a.id
	}
	w.KS("recipientAccountId", rec)
	if e.shared != "" {
		w.KS("sharedEventID", e.shared)
	}
	if e.vpce {
		w.KS("vpcEndpointId", g.a.vpce(g.region))
		w.KS("vpcEndpointAccountId", g.a.id)
	}
	if e.data {
		w.KS("eventCategory", "Data")
	} else {
		w.KS("eventCategory", e.category)
	}
	if e.tls && g.ip != "AWS Internal" {
		w.KO("tlsDetails")
		tv, cs := "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"
		if g.id != nil && g.id.tls13 {
			tv, cs = "TLSv1.3", "TLS_AES_128_GCM_SHA256"
		}
		w.KS("tlsVersion", tv)
		w.KS("cipherSuite", cs)
		host := e.tlsHost
		if host == "" {
			host = g.endpoint(e.src)
		}
		w.KS("clientProvidedHostHeader", host)
		w.E()
	}
	if e.console {
		w.KS("sessionCredentialFromConsole", "true")
	}
	w.E()
	return w.b
}

// Error messages in the formats AWS services use.

// deniedMsg is IAM's implicit-deny message.
func deniedMsg(arn, action, resource string) string {
	if resource == "" {
		return "User: " + arn + " is not authorized to perform: " + action + " because no identity-based policy allows the " + action + " action"
	}
	return "User: " + arn + " is not authorized to perform: " + action + " on resource: " + resource + " because no identity-based policy allows the " + action + " action"
}

// encodedAuthFailure returns an EC2 "Encoded authorization failure message".
func encodedAuthFailure(r *rand.Rand) string {
	b := make([]byte, 0, 420)
	b = append(b, "You are not authorized to perform this operation. Encoded authorization failure message: "...)
	b = appendRandChars(b, r, alnum+"-_", 300+r.IntN(300))
	return string(b)
}

// iamAction returns "svc:Name" for an event.
func iamAction(src, name string) string {
	svc := strings.TrimSuffix(src, ".amazonaws.com")
	switch svc {
	case "monitoring":
		svc = "cloudwatch"
	case "elasticloadbalancing":
		svc = "elasticloadbalancing"
	}
	// Lambda event names carry an API version suffix.
	if i := strings.Index(name, "20"); svc == "lambda" && i > 0 {
		name = name[:i]
	}
	return svc + ":" + name
}

// applyError turns the current record into a failed call, in the way the
// service reports it.
func (g *evgen) applyError(resource string) {
	e := &g.e
	arn := g.id.arn()
	action := iamAction(e.src, e.name)
	throttle := g.r.IntN(5) == 0
	switch e.src {
	case "ec2.amazonaws.com":
		switch {
		case throttle:
			e.errCode, e.errMsg = "Client.RequestLimitExceeded", "Request limit exceeded."
		case e.readOnly == 1:
			e.errCode = "Client.UnauthorizedOperation"
			e.errMsg = "You are not authorized to perform this operation. User: " + arn + " is not authorized to perform: " + action + " because no identity-based policy allows the " + action + " action"
		default:
			e.errCode, e.errMsg = "Client.UnauthorizedOperation", encodedAuthFailure(g.r)
		}
	case "s3.amazonaws.com":
		switch {
		case e.name == "GetObject" || e.name == "HeadObject":
			if g.r.IntN(3) > 0 {
				e.errCode, e.errMsg = "NoSuchKey", "The specified key does not exist."
			} else {
				e.errCode, e.errMsg = "AccessDenied", "Access Denied"
			}
		case e.name == "GetBucketPolicy":
			e.errCode, e.errMsg = "NoSuchBucketPolicy", "The bucket policy does not exist"
		case e.name == "GetBucketEncryption":
			e.errCode, e.errMsg = "AccessDenied", "Access Denied"
		case e.name == "GetBucketPublicAccessBlock":
			e.errCode, e.errMsg = "NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found"
		case throttle:
			e.errCode, e.errMsg = "SlowDown", "Please reduce your request rate."
		default:
			e.errCode, e.errMsg = "AccessDenied", "Access Denied"
		}
	case "iam.amazonaws.com":
		if strings.HasPrefix(e.name, "Get") && g.r.IntN(2) == 0 {
			e.errCode = "NoSuchEntityException"
			e.errMsg = "The role with name " + pick(g.r, []string{"legacy-etl-role", "old-deploy-role", "ecsTaskExecutionRole"}) + " cannot be found."
		} else {
			e.errCode, e.errMsg = "AccessDenied", deniedMsg(arn, action, resource)
		}
	case "kms.amazonaws.com":
		if throttle {
			e.errCode, e.errMsg = "ThrottlingException", "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
		} else {
			e.errCode, e.errMsg = "AccessDenied", deniedMsg(arn, action, resource)
		}
	case "secretsmanager.amazonaws.com":
		if g.r.IntN(2) == 0 {
			e.errCode, e.errMsg = "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
		} else {
			e.errCode, e.errMsg = "AccessDenied", deniedMsg(arn, action, resource)
		}
	case "ssm.amazonaws.com":
		switch {
		case throttle:
			e.errCode, e.errMsg = "ThrottlingException", "Rate exceeded"
		case e.name == "GetParameter":
			e.errCode = "ParameterNotFound"
		default:
			e.errCode, e.errMsg = "AccessDenied", deniedMsg(arn, action, resource)
		}
	case "dynamodb.amazonaws.com":
		if e.name == "PutItem" || e.name == "UpdateItem" {
			e.errCode, e.errMsg = "ConditionalCheckFailedException", "The conditional request failed"
		} else {
			e.errCode, e.errMsg = "ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
		}
	case "logs.amazonaws.com":
		if e.name == "CreateLogStream" {
			e.errCode, e.errMsg = "ResourceAlreadyExistsException", "The specified log stream already exists"
		} else {
			e.errCode, e.errMsg = "ThrottlingException", "Rate exceeded"
		}
	case "lambda.amazonaws.com":
		if throttle {
			e.errCode, e.errMsg = "TooManyRequestsException", "Rate Exceeded."
		} else {
			e.errCode, e.errMsg = "AccessDenied", deniedMsg(arn, action, resource)
		}
	case "sts.amazonaws.com":
		e.errCode = "AccessDenied"
		e.errMsg = "User: " + arn + " is not authorized to perform: sts:AssumeRole on resource: " + resource
	default:
		if throttle {
			e.errCode, e.errMsg = "ThrottlingException", "Rate exceeded"
		} else {
			e.errCode, e.errMsg = "AccessDenied", deniedMsg(arn, action, resource)
		}
	}
}

// fillUA completes a user-agent template: the AWS CLI's md/command#
// (service.operation) or an SDK's api/ (service#version).
func fillUA(ua, src, name string) string {
	svc := strings.TrimSuffix(src, ".amazonaws.com")
	if svc == "monitoring" {
		svc = "cloudwatch"
	}
	if strings.Contains(ua, "%s#") {
		return strings.Replace(ua, "%s", svc, 1)
	}
	if !strings.HasPrefix(ua, "aws-cli/") {
		return strings.Replace(ua, "%s", svc+"#1."+itoa(40+int(hashString(svc)%150))+".0", 1)
	}
	if i := strings.Index(name, "2015"); i > 0 {
		name = name[:i]
	}
	b := make([]byte, 0, len(svc)+1+len(name)+4)
	b = append(b, svc...)
	b = append(b, '.')
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b = append(b, '-')
			}
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return strings.Replace(ua, "%s", string(b), 1)
}
