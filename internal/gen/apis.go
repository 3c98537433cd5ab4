package gen

import (
	"fmt"
	"strconv"
	"strings"
)

// api is one kind of CloudTrail record the benign workload produces.
type api struct {
	src, name string
	ro        int8    // readOnly
	global    bool    // logged in us-east-1 only (IAM, sign-in, Organizations, ...)
	homeOnly  bool    // the resources live in the home region only
	mgmtOnly  bool    // management account only
	errP      float64 // probability of an error; 0 means the default
	fill      func(g *evgen)
}

const defaultErrP = 0.06

// apiUse weights an api within an actor class's mix.
type apiUse struct {
	a *api
	w float64
}

// ---------------------------------------------------------------------------
// Helpers shared by the fill functions.

func (g *evgen) bucket() string { return pick(g.r, g.a.buckets) }

// objectKey returns a realistic key for a bucket of the account.
func (g *evgen) objectKey(bucket string) string {
	y, m, d, _, _, _ := civil(g.t)
	day := fmt.Sprintf("%04d/%02d/%02d", y, m, d)
	switch {
	case bucket == g.a.dataBucket:
		switch g.r.IntN(6) {
		case 0:
			return fmt.Sprintf("exports/%s/customers-%06d.csv.gz", day, g.r.IntN(4000))
		case 1:
			return fmt.Sprintf("uploads/%s/invoice-%04d-%02d.pdf", randChars(g.r, hexLower, 12), y, m)
		case 2:
			return fmt.Sprintf("reports/daily/%04d-%02d-%02d/summary.parquet", y, m, d)
		case 3:
			return fmt.Sprintf("uploads/%s/Scan %04d-%02d-%02d (%d).pdf", randChars(g.r, hexLower, 12), y, m, d, 1+g.r.IntN(3))
		case 4:
			return fmt.Sprintf("orders/%s/order-%d.json", day, 100000+g.r.IntN(900000))
		}
		return fmt.Sprintf("tmp/etl/%s/part-%05d.snappy.parquet", randChars(g.r, hexLower, 8), g.r.IntN(200))
	case bucket == g.a.artifacts:
		return fmt.Sprintf("builds/%s/%s/%s.zip", pick(g.r, g.a.repos), randChars(g.r, hexLower, 40), pick(g.r, g.a.repos))
	case bucket == g.a.backups:
		return fmt.Sprintf("db/%04d-%02d-%02d/%s-%02d.dump.gz", y, m, d, pick(g.r, g.a.tables), g.r.IntN(24))
	case bucket == g.a.webBucket:
		return pick(g.r, webKeys)
	case bucket == g.w.trailBucket:
		return "AWSLogs/" + g.w.orgID + "/" + g.a.id + "/CloudTrail/" + g.region + "/" + day + "/"
	}
	return fmt.Sprintf("terraform/%s/terraform.tfstate", pick(g.r, []string{"network", "iam", "org", "security"}))
}

var webKeys = []string{"index.html", "static/js/main.3f9a1c2e.js", "static/css/main.8b21d0aa.css", "images/products/1042.jpg", "images/products/2210.jpg", "images/summer sale/hero@2x.png", "fonts/Inter-Regular.woff2", "favicon.ico", "robots.txt", "docs/Product Guide (EN).pdf"}

// s3Host returns the virtual-hosted endpoint of a bucket in the region.
func (g *evgen) s3Host(bucket string) string { return bucket + ".s3." + g.region + ".amazonaws.com" }

// s3RequestID returns an S3 request id (16 upper-case alphanumerics).
func (g *evgen) s3RequestID() string { return randChars(g.r, hexUpper, 16) }

// hostID returns an S3 extended request id (x-amz-id-2).
func (g *evgen) hostID() string { return randChars(g.r, b64Chars, 75) + "=" }

// s3Extra writes the additionalEventData S3 logs for every request.
func (g *evgen) s3Extra(in, out int64, hostID string) {
	w := &g.addl
	w.O()
	sig := "SigV4"
	w.KS("SignatureVersion", sig)
	cs := "ECDHE-RSA-AES128-GCM-SHA256"
	if g.id != nil && g.id.tls13 {
		cs = "TLS_AES_128_GCM_SHA256"
	}
	w.KS("CipherSuite", cs)
	w.KI("bytesTransferredIn", in)
	w.KS("AuthenticationMethod", "AuthHeader")
	w.KS("x-amz-id-2", hostID)
	w.KI("bytesTransferredOut", out)
	w.E()
}

// bucketResource writes resources for a bucket-level S3 call.
func (g *evgen) bucketResource(bucket string) {
	w := &g.res
	w.A()
	w.O()
	w.KS("accountId", g.a.id)
	w.KS("type", "AWS::S3::Bucket")
	w.KS("ARN", "arn:aws:s3:::"+bucket)
	w.E()
	w.EA()
}

// s3Bucket fills a management-event S3 bucket call (GetBucketAcl, ...).
func (g *evgen) s3Bucket(sub string) {
	b := g.bucket()
	g.e.requestID = g.s3RequestID()
	g.e.tlsHost = g.s3Host(b)
	g.req.O()
	g.req.KS("bucketName", b)
	g.req.KS("Host", g.s3Host(b))
	g.req.KS(sub, "")
	g.req.E()
	g.s3Extra(0, int64(300+g.r.IntN(900)), g.hostID())
	g.bucketResource(b)
	g.errRes = "arn:aws:s3:::" + b
}

// s3Object fills an S3 data event on an object.
func (g *evgen) s3Object(bucket, key string, in, out int64, reqID, hostID string) {
	e := &g.e
	e.data = true
	e.category = "Data"
	if reqID == "" {
		reqID = g.s3RequestID()
	}
	if hostID == "" {
		hostID = g.hostID()
	}
	e.requestID = reqID
	e.tlsHost = g.s3Host(bucket)
	if !strings.HasPrefix(g.ua, "[") && g.id != nil && g.id.kind != kService && !strings.HasSuffix(g.ua, ".amazonaws.com") {
		g.ua = "[" + g.ua + "]"
	}
	g.req.O()
	g.req.KS("bucketName", bucket)
	g.req.KS("Host", g.s3Host(bucket))
	g.req.KS("key", key)
	if g.failing && out > 0 {
		out = int64(230 + g.r.IntN(150)) // the error document
	}
	if e.name == "GetObject" && out > 8<<20 && g.r.IntN(3) == 0 {
		g.req.KS("Range", "bytes=0-8388607")
		out = 8 << 20
	}
	g.req.E()
	if e.name == "PutObject" {
		g.resp.O()
		g.resp.KS("x-amz-server-side-encryption", "aws:kms")
		g.resp.KS("x-amz-server-side-encryption-aws-kms-key-id", g.a.kmsKey(g.region, 0))
		g.resp.KS("x-amz-server-side-encryption-bucket-key-enabled", "true")
		g.resp.KS("x-amz-version-id", randChars(g.r, alnum+"._", 32))
		g.resp.E()
	}
	g.s3Extra(in, out, hostID)
	w := &g.res
	w.A()
	w.O()
	w.KS("type", "AWS::S3::Object")
	w.KS("ARN", "arn:aws:s3:::"+bucket+"/"+key)
	w.E()
	w.O()
	w.KS("accountId", g.a.id)
	w.KS("type", "AWS::S3::Bucket")
	w.KS("ARN", "arn:aws:s3:::"+bucket)
	w.E()
	w.EA()
	g.errRes = "arn:aws:s3:::" + bucket + "/" + key
}

// objectSize returns a plausible object size for a key.
func (g *evgen) objectSize(key string) int64 {
	switch {
	case strings.HasSuffix(key, ".json"):
		return int64(800 + g.r.IntN(6000))
	case strings.HasSuffix(key, ".pdf"):
		return int64(40_000 + g.r.IntN(900_000))
	case strings.HasSuffix(key, ".zip"), strings.HasSuffix(key, ".dump.gz"):
		return int64(5_000_000 + g.r.IntN(80_000_000))
	case strings.HasSuffix(key, ".parquet"), strings.HasSuffix(key, ".csv.gz"):
		return int64(200_000 + g.r.IntN(30_000_000))
	}
	return int64(2_000 + g.r.IntN(200_000))
}

func (g *evgen) kmsResource(key string) {
	w := &g.res
	w.A()
	w.O()
	w.KS("accountId", g.a.id)
	w.KS("type", "AWS::KMS::Key")
	w.KS("ARN", key)
	w.E()
	w.EA()
	g.errRes = key
}

// onBehalf marks the call as made by an AWS service for the identity.
func (g *evgen) onBehalf(svc string) {
	g.invokedBy = svc
	g.ip = svc
	g.ua = svc
	g.e.tls = false
	g.e.vpce = false
}

// workload returns one of the account's workload identities (for calls a
// service makes on their behalf), or nil.
func (g *evgen) workload() *identity {
	n := len(g.a.ec2) + len(g.a.lambdas)
	if n == 0 {
		if len(g.a.sso) > 0 {
			return g.a.sso[g.r.IntN(len(g.a.sso))]
		}
		return nil
	}
	i := g.r.IntN(n)
	if i < len(g.a.ec2) {
		return g.a.ec2[i]
	}
	return g.a.lambdas[i-len(g.a.ec2)]
}

func (g *evgen) fnARN(fn string) string {
	return "arn:aws:lambda:" + g.region + ":" + g.a.id + ":function:" + fn
}

func (g *evgen) secretARN(name string) string {
	return "arn:aws:secretsmanager:" + g.region + ":" + g.a.id + ":secret:" + name
}

func (g *evgen) function() string {
	if len(g.a.functions) == 0 {
		return "security-audit-collector"
	}
	if g.id != nil && g.id.class == classLambda {
		return g.id.session
	}
	return pick(g.r, g.a.functions)
}

// emptyFilters writes EC2's empty set elements: "instancesSet":{} ...
func emptySet(w *jw, names ...string) {
	for _, n := range names {
		w.KO(n)
		w.E()
	}
}

func valueFilter(w *jw, name string, values ...string) {
	w.O()
	w.KS("name", name)
	w.KO("valueSet")
	w.KA("items")
	for _, v := range values {
		w.O()
		w.KS("value", v)
		w.E()
	}
	w.EA()
	w.E()
	w.E()
}

// sessionToken returns a fake STS session token of realistic length.
func (g *evgen) sessionToken() string {
	b := make([]byte, 0, 900)
	b = append(b, "IQoJb3JpZ2luX2VjE"...)
	b = appendRandChars(b, g.r, b64Chars, 360+g.r.IntN(300))
	for len(b)%4 != 0 {
		b = append(b, '=')
	}
	return string(b)
}

// assumeRole fills an sts:AssumeRole call on roleARN.
func (g *evgen) assumeRole(roleAcct, roleName, sessionName string, duration int, keyID string) {
	roleARN := roleARNFor(roleAcct, roleName)
	g.req.O()
	g.req.KS("roleArn", roleARN)
	g.req.KS("roleSessionName", sessionName)
	if duration > 0 {
		g.req.KI("durationSeconds", int64(duration))
	}
	g.req.E()
	if duration <= 0 {
		duration = 3600
	}
	g.resp.O()
	g.resp.KO("credentials")
	if keyID == "" {
		keyID = "ASIA" + randChars(g.r, keyChars, 16)
	}
	g.resp.KS("accessKeyId", keyID)
	g.resp.KS("sessionToken", g.sessionToken())
	g.resp.KS("expiration", javaDate(g.t+int64(duration)))
	g.resp.E()
	g.resp.KO("assumedRoleUser")
	g.resp.KS("assumedRoleId", "AROA"+hashChars(hashOf(hashString(roleARN)), keyChars, 17)+":"+sessionName)
	g.resp.KS("arn", "arn:aws:sts::"+roleAcct+":assumed-role/"+roleName+"/"+sessionName)
	g.resp.E()
	g.resp.E()
	g.res.A()
	g.res.O()
	g.res.KS("accountId", roleAcct)
	g.res.KS("type", "AWS::IAM::Role")
	g.res.KS("ARN", roleARN)
	g.res.E()
	g.res.EA()
	g.errRes = roleARN
}

// ec2Return writes EC2's {"requestId":...,"_return":true} response.
func (g *evgen) ec2Return() {
	g.e.requestID = uuid(g.r)
	g.resp.O()
	g.resp.KS("requestId", g.e.requestID)
	g.resp.KB("_return", true)
	g.resp.E()
}

// ---------------------------------------------------------------------------
// The catalog.

var (
	apiDescribeInstances = &api{src: "ec2.amazonaws.com", name: "DescribeInstances", ro: 1, fill: func(g *evgen) {
		w := &g.req
		w.O()
		switch g.r.IntN(4) {
		case 0:
			w.KO("instancesSet")
			w.KA("items")
			for i := range 1 + g.r.IntN(3) {
				w.O()
				w.KS("instanceId", g.a.instance(g.region, i*7+g.r.IntN(5)))
				w.E()
			}
			w.EA()
			w.E()
			emptySet(w, "filterSet")
		case 1:
			emptySet(w, "instancesSet")
			w.KO("filterSet")
			w.KA("items")
			valueFilter(w, "instance-state-name", "running")
			valueFilter(w, "tag:Environment", g.a.name)
			w.EA()
			w.E()
			w.KI("maxResults", 1000)
		default:
			emptySet(w, "instancesSet", "filterSet")
		}
		w.E()
	}}
	apiDescribeInstanceStatus = &api{src: "ec2.amazonaws.com", name: "DescribeInstanceStatus", ro: 1, fill: func(g *evgen) {
		g.req.O()
		emptySet(&g.req, "instancesSet", "filterSet")
		g.req.KB("includeAllInstances", g.r.IntN(2) == 0)
		g.req.E()
	}}
	apiDescribeSecurityGroups = &api{src: "ec2.amazonaws.com", name: "DescribeSecurityGroups", ro: 1, fill: func(g *evgen) {
		w := &g.req
		w.O()
		emptySet(w, "securityGroupSet")
		if g.r.IntN(2) == 0 {
			w.KO("securityGroupIdSet")
			w.KA("items")
			w.O()
			w.KS("groupId", g.a.sg(g.region, g.r.IntN(6)))
			w.E()
			w.EA()
			w.E()
			emptySet(w, "filterSet")
		} else {
			emptySet(w, "securityGroupIdSet")
			w.KO("filterSet")
			w.KA("items")
			valueFilter(w, "vpc-id", g.a.vpc(g.region))
			w.EA()
			w.E()
		}
		w.E()
	}}
	apiDescribeVpcs    = &api{src: "ec2.amazonaws.com", name: "DescribeVpcs", ro: 1, fill: func(g *evgen) { g.req.O(); emptySet(&g.req, "vpcSet", "filterSet"); g.req.E() }}
	apiDescribeVolumes = &api{src: "ec2.amazonaws.com", name: "DescribeVolumes", ro: 1, fill: func(g *evgen) { g.req.O(); emptySet(&g.req, "volumeSet", "filterSet"); g.req.E() }}
	apiDescribeRegions = &api{src: "ec2.amazonaws.com", name: "DescribeRegions", ro: 1, fill: func(g *evgen) { g.req.O(); emptySet(&g.req, "regionSet"); g.req.E() }}
	apiDescribeSubnets = &api{src: "ec2.amazonaws.com", name: "DescribeSubnets", ro: 1, fill: func(g *evgen) {
		w := &g.req
		w.O()
		emptySet(w, "subnetSet")
		w.KO("filterSet")
		w.KA("items")
		valueFilter(w, "vpc-id", g.a.vpc(g.region))
		w.EA()
		w.E()
		w.E()
	}}
	apiDescribeNetworkInterfaces = &api{src: "ec2.amazonaws.com", name: "DescribeNetworkInterfaces", ro: 1, fill: func(g *evgen) {
		w := &g.req
		w.O()
		emptySet(w, "networkInterfaceIdSet")
		w.KO("filterSet")
		w.KA("items")
		valueFilter(w, "attachment.instance-id", g.a.instance(g.region, g.r.IntN(12)))
		w.EA()
		w.E()
		w.E()
	}}
	apiDescribeTags = &api{src: "ec2.amazonaws.com", name: "DescribeTags", ro: 1, fill: func(g *evgen) {
		w := &g.req
		w.O()
		w.KO("filterSet")
		w.KA("items")
		inst := g.a.instance(g.region, 0)
		if g.id != nil && g.id.ec2 {
			inst = g.id.session
			g.ua = fmt.Sprintf(cwAgentUA, g.a.idx, 10+int(hashString(inst)%40))
		}
		valueFilter(w, "resource-id", inst)
		w.EA()
		w.E()
		w.E()
	}}
	apiDescribeImages = &api{src: "ec2.amazonaws.com", name: "DescribeImages", ro: 1, fill: func(g *evgen) {
		w := &g.req
		w.O()
		emptySet(w, "executableBySet")
		w.KO("imagesSet")
		w.KA("items")
		w.O()
		w.KS("imageId", g.a.ami(g.region))
		w.E()
		w.EA()
		w.E()
		emptySet(w, "ownersSet", "filterSet")
		w.E()
	}}
	apiDescribeLaunchTemplateVersions = &api{src: "ec2.amazonaws.com", name: "DescribeLaunchTemplateVersions", ro: 1, fill: func(g *evgen) {
		w := &g.req
		w.O()
		w.KO("DescribeLaunchTemplateVersionsRequest")
		w.KS("LaunchTemplateId", "lt-0"+g.a.res(g.region, "lt", 0, 16, hexLower))
		w.KO("LaunchTemplateVersion")
		w.KS("content", "$Latest")
		w.KI("tag", 1)
		w.E()
		w.E()
		w.E()
	}}
	apiCreateTags = &api{src: "ec2.amazonaws.com", name: "CreateTags", fill: func(g *evgen) {
		w := &g.req
		w.O()
		w.KO("resourcesSet")
		w.KA("items")
		w.O()
		w.KS("resourceId", g.a.instance(g.region, g.r.IntN(12)))
		w.E()
		w.EA()
		w.E()
		w.KO("tagSet")
		w.KA("items")
		w.O()
		w.KS("key", "aws:autoscaling:groupName")
		w.KS("value", g.a.name+"-app-asg")
		w.E()
		w.O()
		w.KS("key", "Name")
		w.KS("value", g.a.name+"-app")
		w.E()
		w.EA()
		w.E()
		w.E()
		g.ec2Return()
	}}
	apiStopInstances = &api{src: "ec2.amazonaws.com", name: "StopInstances", fill: func(g *evgen) {
		inst := g.a.instance(g.region, 30+g.r.IntN(4))
		g.req.O()
		g.req.KO("instancesSet")
		g.req.KA("items")
		g.req.O()
		g.req.KS("instanceId", inst)
		g.req.E()
		g.req.EA()
		g.req.E()
		g.req.KB("force", false)
		g.req.E()
		g.e.requestID = uuid(g.r)
		w := &g.resp
		w.O()
		w.KS("requestId", g.e.requestID)
		w.KO("instancesSet")
		w.KA("items")
		w.O()
		w.KS("instanceId", inst)
		w.KO("currentState")
		w.KI("code", 64)
		w.KS("name", "stopping")
		w.E()
		w.KO("previousState")
		w.KI("code", 16)
		w.KS("name", "running")
		w.E()
		w.E()
		w.EA()
		w.E()
		w.E()
	}}
	apiRunInstances       = &api{src: "ec2.amazonaws.com", name: "RunInstances", fill: fillRunInstances}
	apiTerminateInstances = &api{src: "ec2.amazonaws.com", name: "TerminateInstances", fill: func(g *evgen) {
		inst := g.a.instance(g.region, 40+g.r.IntN(20))
		g.req.O()
		g.req.KO("instancesSet")
		g.req.KA("items")
		g.req.O()
		g.req.KS("instanceId", inst)
		g.req.E()
		g.req.EA()
		g.req.E()
		g.req.E()
		g.e.requestID = uuid(g.r)
		w := &g.resp
		w.O()
		w.KS("requestId", g.e.requestID)
		w.KO("instancesSet")
		w.KA("items")
		w.O()
		w.KS("instanceId", inst)
		w.KO("currentState")
		w.KI("code", 32)
		w.KS("name", "shutting-down")
		w.E()
		w.KO("previousState")
		w.KI("code", 16)
		w.KS("name", "running")
		w.E()
		w.E()
		w.EA()
		w.E()
		w.E()
	}}
	apiAuthorizeSGPrivate = &api{src: "ec2.amazonaws.com", name: "AuthorizeSecurityGroupIngress", fill: func(g *evgen) {
		sg := g.a.sg(g.region, g.r.IntN(6))
		port := pick(g.r, []int64{443, 5432, 6379, 8080, 3306})
		cidr := pick(g.r, []string{"10.0.0.0/16", "10.20.0.0/16", "172.16.0.0/12", "10.0.0.0/8"})
		writeSGIngress(g, sg, []sgRule{{port: port, cidr: cidr, desc: pick(g.r, []string{"app tier", "from VPN", "internal ALB", ""})}})
	}}

	// S3 management events.
	apiListBuckets = &api{src: "s3.amazonaws.com", name: "ListBuckets", ro: 1, homeOnly: true, fill: func(g *evgen) {
		g.e.requestID = g.s3RequestID()
		host := "s3." + g.region + ".amazonaws.com"
		g.e.tlsHost = host
		g.req.O()
		g.req.KS("Host", host)
		g.req.E()
		g.s3Extra(0, int64(400+120*len(g.a.buckets)), g.hostID())
	}}
	apiGetBucketAcl               = &api{src: "s3.amazonaws.com", name: "GetBucketAcl", ro: 1, homeOnly: true, fill: func(g *evgen) { g.s3Bucket("acl") }}
	apiGetBucketPolicy            = &api{src: "s3.amazonaws.com", name: "GetBucketPolicy", ro: 1, homeOnly: true, errP: 0.12, fill: func(g *evgen) { g.s3Bucket("policy") }}
	apiGetBucketEncryption        = &api{src: "s3.amazonaws.com", name: "GetBucketEncryption", ro: 1, homeOnly: true, fill: func(g *evgen) { g.s3Bucket("encryption") }}
	apiGetBucketVersioning        = &api{src: "s3.amazonaws.com", name: "GetBucketVersioning", ro: 1, homeOnly: true, fill: func(g *evgen) { g.s3Bucket("versioning") }}
	apiGetBucketPublicAccessBlock = &api{src: "s3.amazonaws.com", name: "GetBucketPublicAccessBlock", ro: 1, homeOnly: true, errP: 0.05, fill: func(g *evgen) { g.s3Bucket("publicAccessBlock") }}
	apiGetBucketLocation          = &api{src: "s3.amazonaws.com", name: "GetBucketLocation", ro: 1, homeOnly: true, fill: func(g *evgen) { g.s3Bucket("location") }}
	apiTrailBucketAcl             = &api{src: "s3.amazonaws.com", name: "GetBucketAcl", ro: 1, homeOnly: true, mgmtOnly: true, errP: -1, fill: func(g *evgen) {
		b := g.w.trailBucket
		g.e.requestID = g.s3RequestID()
		g.req.O()
		g.req.KS("bucketName", b)
		g.req.KS("Host", b+".s3.amazonaws.com")
		g.req.KS("acl", "")
		g.req.E()
		g.s3Extra(0, 620, g.hostID())
		g.bucketResource(b)
	}}

	// S3 data events.
	apiGetObject = &api{src: "s3.amazonaws.com", name: "GetObject", ro: 1, homeOnly: true, errP: 0.03, fill: func(g *evgen) {
		b := g.dataBucketFor()
		k := g.objectKey(b)
		g.s3Object(b, k, 0, g.objectSize(k), "", "")
	}}
	apiHeadObject = &api{src: "s3.amazonaws.com", name: "HeadObject", ro: 1, homeOnly: true, errP: 0.03, fill: func(g *evgen) {
		b := g.dataBucketFor()
		g.s3Object(b, g.objectKey(b), 0, 0, "", "")
	}}
	apiPutObject = &api{src: "s3.amazonaws.com", name: "PutObject", homeOnly: true, errP: 0.01, fill: func(g *evgen) {
		b := g.dataBucketFor()
		k := g.objectKey(b)
		g.s3Object(b, k, g.objectSize(k), 0, "", "")
	}}
	apiListObjects = &api{src: "s3.amazonaws.com", name: "ListObjects", ro: 1, homeOnly: true, errP: 0.004, fill: func(g *evgen) {
		b := g.dataBucketFor()
		e := &g.e
		e.data = true
		e.requestID = g.s3RequestID()
		e.tlsHost = g.s3Host(b)
		g.ua = "[" + g.ua + "]"
		y, m, _, _, _, _ := civil(g.t)
		g.req.O()
		g.req.KS("list-type", "2")
		g.req.KS("bucketName", b)
		g.req.KS("encoding-type", "url")
		g.req.KS("prefix", fmt.Sprintf("exports/%04d/%02d/", y, m))
		g.req.KS("Host", g.s3Host(b))
		g.req.E()
		g.s3Extra(0, int64(2000+g.r.IntN(200000)), g.hostID())
		g.bucketResource(b)
	}}

	// KMS.
	apiKMSDecrypt         = &api{src: "kms.amazonaws.com", name: "Decrypt", ro: 1, errP: 0.025, fill: func(g *evgen) { fillKMS(g, false) }}
	apiKMSGenerateDataKey = &api{src: "kms.amazonaws.com", name: "GenerateDataKey", ro: 1, errP: 0.02, fill: func(g *evgen) { fillKMS(g, true) }}
	apiKMSDescribeKey     = &api{src: "kms.amazonaws.com", name: "DescribeKey", ro: 1, fill: func(g *evgen) {
		k := g.a.kmsKey(g.region, g.r.IntN(3))
		g.req.O()
		g.req.KS("keyId", k)
		g.req.E()
		g.kmsResource(k)
	}}
	apiKMSListAliases = &api{src: "kms.amazonaws.com", name: "ListAliases", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KI("limit", 100)
		g.req.E()
	}}
	apiKMSGetKeyRotationStatus = &api{src: "kms.amazonaws.com", name: "GetKeyRotationStatus", ro: 1, fill: func(g *evgen) {
		k := g.a.kmsKey(g.region, g.r.IntN(3))
		g.req.O()
		g.req.KS("keyId", k)
		g.req.E()
		g.kmsResource(k)
	}}

	// STS.
	apiGetCallerIdentity = &api{src: "sts.amazonaws.com", name: "GetCallerIdentity", ro: 1, errP: -1, fill: func(g *evgen) {}}
	apiAssumeRoleUser    = &api{src: "sts.amazonaws.com", name: "AssumeRole", ro: 0, errP: 0.01, fill: func(g *evgen) {
		role := pick(g.r, []string{"deploy-role", "TerraformExecutionRole"})
		sess := "session"
		if g.id != nil {
			switch {
			case g.id.userName != "":
				sess = g.id.userName
			case g.id.email != "":
				sess = strings.SplitN(g.id.email, "@", 2)[0]
			default:
				sess = fmt.Sprintf("%s-%d", g.id.session, g.t)
			}
		}
		if g.id != nil && g.id.class == classCI {
			sess = fmt.Sprintf("terraform-%d", g.t)
		}
		g.assumeRole(g.a.id, role, sess, 3600, "")
	}}
	apiAssumeRoleService = &api{src: "sts.amazonaws.com", name: "AssumeRole", ro: 0, errP: -1, fill: func(g *evgen) {
		// A service principal assumes a workload's role.
		g.e.shared = uuid(g.r)
		wl := g.workload()
		if wl == nil || wl.kind != kRole || g.a.idx == 0 {
			g.ip, g.ua = "lambda.amazonaws.com", "lambda.amazonaws.com"
			g.invokedBy = "lambda.amazonaws.com"
			g.assumeRole(g.a.id, "security-audit-collector-role", "security-audit-collector", 0, "")
			return
		}
		svc := "lambda.amazonaws.com"
		if wl.ec2 {
			svc = "ec2.amazonaws.com"
		}
		g.ip, g.ua, g.invokedBy = svc, svc, svc
		g.assumeRole(g.a.id, wl.roleName, wl.session, 0, "")
	}}

	// IAM (global).
	apiListUsers                = &api{src: "iam.amazonaws.com", name: "ListUsers", ro: 1, global: true, fill: func(g *evgen) {}}
	apiListRoles                = &api{src: "iam.amazonaws.com", name: "ListRoles", ro: 1, global: true, fill: func(g *evgen) {}}
	apiListPolicies             = &api{src: "iam.amazonaws.com", name: "ListPolicies", ro: 1, global: true, fill: func(g *evgen) { g.req.O(); g.req.KS("scope", "Local"); g.req.KB("onlyAttached", false); g.req.E() }}
	apiGetAccountSummary        = &api{src: "iam.amazonaws.com", name: "GetAccountSummary", ro: 1, global: true, fill: func(g *evgen) {}}
	apiListAccountAliases       = &api{src: "iam.amazonaws.com", name: "ListAccountAliases", ro: 1, global: true, fill: func(g *evgen) {}}
	apiGetAccountPasswordPolicy = &api{src: "iam.amazonaws.com", name: "GetAccountPasswordPolicy", ro: 1, global: true, fill: func(g *evgen) {}}
	apiGetRole                  = &api{src: "iam.amazonaws.com", name: "GetRole", ro: 1, global: true, errP: 0.03, fill: func(g *evgen) {
		role := pick(g.r, g.a.roles)
		g.req.O()
		g.req.KS("roleName", role)
		g.req.E()
		g.errRes = roleARNFor(g.a.id, role)
	}}
	apiListAttachedRolePolicies = &api{src: "iam.amazonaws.com", name: "ListAttachedRolePolicies", ro: 1, global: true, fill: func(g *evgen) {
		role := pick(g.r, g.a.roles)
		g.req.O()
		g.req.KS("roleName", role)
		g.req.E()
		g.errRes = roleARNFor(g.a.id, role)
	}}
	apiListRolePolicies = &api{src: "iam.amazonaws.com", name: "ListRolePolicies", ro: 1, global: true, fill: func(g *evgen) {
		role := pick(g.r, g.a.roles)
		g.req.O()
		g.req.KS("roleName", role)
		g.req.E()
		g.errRes = roleARNFor(g.a.id, role)
	}}
	apiListAccessKeys = &api{src: "iam.amazonaws.com", name: "ListAccessKeys", ro: 1, global: true, fill: func(g *evgen) {
		u := pick(g.r, g.a.users)
		g.req.O()
		g.req.KS("userName", u)
		g.req.E()
		g.errRes = "arn:aws:iam::" + g.a.id + ":user/" + u
	}}
	apiGetPolicyVersion = &api{src: "iam.amazonaws.com", name: "GetPolicyVersion", ro: 1, global: true, fill: func(g *evgen) {
		p := pick(g.r, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::" + g.a.id + ":policy/app-s3-access", "arn:aws:iam::" + g.a.id + ":policy/ci-deploy-permissions"})
		g.req.O()
		g.req.KS("policyArn", p)
		g.req.KS("versionId", "v"+itoa(1+g.r.IntN(4)))
		g.req.E()
		g.errRes = p
	}}
	apiGenerateCredentialReport = &api{src: "iam.amazonaws.com", name: "GenerateCredentialReport", ro: 0, global: true, errP: -1, fill: func(g *evgen) {
		g.resp.O()
		g.resp.KS("state", pick(g.r, []string{"STARTED", "COMPLETE"}))
		g.resp.KS("description", "No report exists. Starting a new report generation task")
		g.resp.E()
	}}
	apiAttachRolePolicy = &api{src: "iam.amazonaws.com", name: "AttachRolePolicy", global: true, errP: 0.01, fill: func(g *evgen) {
		role := pick(g.r, g.a.roles[:min(len(g.a.roles), 4)])
		g.req.O()
		g.req.KS("roleName", role)
		g.req.KS("policyArn", pick(g.r, []string{"arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "arn:aws:iam::" + g.a.id + ":policy/app-s3-access"}))
		g.req.E()
		g.errRes = roleARNFor(g.a.id, role)
	}}
	apiPutRolePolicy = &api{src: "iam.amazonaws.com", name: "PutRolePolicy", global: true, errP: 0.01, fill: func(g *evgen) {
		role := pick(g.r, g.a.roles[:min(len(g.a.roles), 4)])
		g.req.O()
		g.req.KS("roleName", role)
		g.req.KS("policyName", "inline-dynamodb-access")
		g.req.KS("policyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:Query","dynamodb:UpdateItem"],"Resource":"arn:aws:dynamodb:`+g.region+`:`+g.a.id+`:table/`+g.a.name+`-*"}]}`)
		g.req.E()
		g.errRes = roleARNFor(g.a.id, role)
	}}
	apiCreateAccessKeySelf = &api{src: "iam.amazonaws.com", name: "CreateAccessKey", global: true, errP: -1, fill: func(g *evgen) {
		u := g.id.userName
		if u == "" {
			u = "ci-deploy"
		}
		g.req.O()
		g.req.KS("userName", u)
		g.req.E()
		g.resp.O()
		g.resp.KO("accessKey")
		g.resp.KS("userName", u)
		g.resp.KS("accessKeyId", "AKIA"+randChars(g.r, keyChars, 16))
		g.resp.KS("status", "Active")
		g.resp.KS("createDate", javaDate(g.t))
		g.resp.E()
		g.resp.E()
	}}

	// Sign-in.
	apiConsoleLogin = &api{src: "signin.amazonaws.com", name: "ConsoleLogin", global: true, errP: -1, fill: fillConsoleLogin}

	// CloudWatch, Logs.
	apiDescribeAlarms = &api{src: "monitoring.amazonaws.com", name: "DescribeAlarms", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KI("maxRecords", 100)
		if g.r.IntN(2) == 0 {
			g.req.KS("stateValue", "ALARM")
		}
		g.req.E()
	}}
	apiGetMetricData   = &api{src: "monitoring.amazonaws.com", name: "GetMetricData", ro: 1, fill: fillGetMetricData}
	apiCreateLogStream = &api{src: "logs.amazonaws.com", name: "CreateLogStream", errP: 0.04, fill: func(g *evgen) {
		y, m, d, _, _, _ := civil(g.t)
		g.req.O()
		g.req.KS("logGroupName", "/aws/lambda/"+g.function())
		g.req.KS("logStreamName", fmt.Sprintf("%04d/%02d/%02d/[$LATEST]%s", y, m, d, randChars(g.r, hexLower, 32)))
		g.req.E()
	}}
	apiDescribeLogGroups = &api{src: "logs.amazonaws.com", name: "DescribeLogGroups", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KS("logGroupNamePrefix", "/aws/lambda/")
		g.req.KI("limit", 50)
		g.req.E()
	}}
	apiFilterLogEvents = &api{src: "logs.amazonaws.com", name: "FilterLogEvents", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KS("logGroupName", "/aws/lambda/"+g.function())
		g.req.KI("startTime", (g.t-3600)*1000)
		g.req.KI("endTime", g.t*1000)
		g.req.KS("filterPattern", pick(g.r, []string{"ERROR", "\"Task timed out\"", "{ $.level = \"error\" }", "timeout"}))
		g.req.KB("interleaved", true)
		g.req.E()
	}}
	apiStartQuery = &api{src: "logs.amazonaws.com", name: "StartQuery", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KSS("logGroupNames", "/aws/lambda/"+g.function())
		g.req.KI("startTime", g.t-86400)
		g.req.KI("endTime", g.t)
		g.req.KS("queryString", "fields @timestamp, @message, @logStream, @log\n| filter @message like /(?i)error/\n| sort @timestamp desc\n| limit 100")
		g.req.E()
		g.resp.O()
		g.resp.KS("queryId", uuid(g.r))
		g.resp.E()
	}}

	// Lambda.
	apiLambdaInvoke = &api{src: "lambda.amazonaws.com", name: "Invoke", ro: 0, homeOnly: true, errP: 0.005, fill: func(g *evgen) {
		name := g.function()
		if g.id != nil && g.id.class == classLambda && len(g.a.functions) > 1 {
			for name == g.id.session {
				name = pick(g.r, g.a.functions)
			}
		}
		fn := g.fnARN(name)
		g.e.data = true
		g.req.O()
		g.req.KS("functionName", fn)
		if g.r.IntN(3) == 0 {
			g.req.KS("invocationType", "Event")
		}
		g.req.E()
		g.addl.O()
		g.addl.KS("functionVersion", fn+":$LATEST")
		g.addl.E()
		g.res.A()
		g.res.O()
		g.res.KS("accountId", g.a.id)
		g.res.KS("type", "AWS::Lambda::Function")
		g.res.KS("ARN", fn)
		g.res.E()
		g.res.EA()
		g.errRes = fn
	}}
	apiListFunctions = &api{src: "lambda.amazonaws.com", name: "ListFunctions20150331", ro: 1, fill: func(g *evgen) {}}
	apiGetFunction   = &api{src: "lambda.amazonaws.com", name: "GetFunction20150331v2", ro: 1, homeOnly: true, fill: func(g *evgen) {
		g.req.O()
		g.req.KS("functionName", g.function())
		g.req.E()
		g.errRes = g.fnARN(g.function())
	}}
	apiUpdateFunctionCode = &api{src: "lambda.amazonaws.com", name: "UpdateFunctionCode20150331v2", homeOnly: true, fill: fillUpdateFunctionCode}

	// SSM.
	apiGetParameter = &api{src: "ssm.amazonaws.com", name: "GetParameter", ro: 1, errP: 0.01, fill: func(g *evgen) {
		p := pick(g.r, g.a.params)
		g.req.O()
		g.req.KS("name", p)
		g.req.KB("withDecryption", !strings.HasPrefix(p, "/aws/"))
		g.req.E()
		g.errRes = "arn:aws:ssm:" + g.region + ":" + g.a.id + ":parameter" + p
	}}
	apiGetParameters = &api{src: "ssm.amazonaws.com", name: "GetParameters", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KSS("names", g.a.params[0], g.a.params[1], g.a.params[2])
		g.req.KB("withDecryption", true)
		g.req.E()
	}}
	apiUpdateInstanceInformation = &api{src: "ssm.amazonaws.com", name: "UpdateInstanceInformation", errP: 0.01, fill: func(g *evgen) {
		inst := g.a.instance(g.region, 0)
		if g.id != nil && g.id.ec2 {
			inst = g.id.session
		}
		g.ua = ssmAgentUA
		w := &g.req
		w.O()
		w.KS("instanceId", inst)
		w.KS("agentVersion", "3.3.1142.0")
		w.KS("agentStatus", "Active")
		w.KS("platformType", "Linux")
		w.KS("platformName", "Amazon Linux")
		w.KS("platformVersion", "2023")
		w.KS("iPAddress", "HIDDEN_DUE_TO_SECURITY_REASONS")
		w.KS("computerName", "ip-10-"+itoa(g.a.idx)+"-"+itoa(int(hashString(inst)%250))+"-"+itoa(int(hashString(inst+"x")%250))+"."+g.region+".compute.internal")
		w.KS("agentName", "amazon-ssm-agent")
		w.KS("availabilityZone", g.region+pick(g.r, []string{"a", "b", "c"}))
		w.KS("availabilityZoneId", azID(g.region, int(hashString(inst)%3)))
		w.KS("sSMConnectionChannel", "ssmmessages")
		w.E()
	}}
	apiDescribeInstanceInformation = &api{src: "ssm.amazonaws.com", name: "DescribeInstanceInformation", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KI("maxResults", 50)
		g.req.E()
	}}
	apiSendCommand = &api{src: "ssm.amazonaws.com", name: "SendCommand", homeOnly: true, fill: func(g *evgen) {
		inst := g.a.instance(g.region, g.r.IntN(3))
		cmd := uuid(g.r)
		w := &g.req
		w.O()
		w.KSS("instanceIds", inst)
		w.KS("documentName", "AWS-RunPatchBaseline")
		w.KO("parameters")
		w.KS("HIDDEN_DUE_TO_SECURITY_REASONS", "HIDDEN_DUE_TO_SECURITY_REASONS")
		w.E()
		w.KS("comment", "monthly patching")
		w.KB("interactive", false)
		w.E()
		r := &g.resp
		r.O()
		r.KO("command")
		r.KS("commandId", cmd)
		r.KS("documentName", "AWS-RunPatchBaseline")
		r.KS("documentVersion", "$DEFAULT")
		r.KS("comment", "monthly patching")
		r.KS("expiresAfter", javaDate(g.t+3600))
		r.KO("parameters")
		r.KS("HIDDEN_DUE_TO_SECURITY_REASONS", "HIDDEN_DUE_TO_SECURITY_REASONS")
		r.E()
		r.KSS("instanceIds", inst)
		r.KA("targets")
		r.EA()
		r.KS("requestedDateTime", javaDate(g.t))
		r.KS("status", "Pending")
		r.KS("statusDetails", "Pending")
		r.KS("outputS3Region", g.region)
		r.KS("maxConcurrency", "50")
		r.KS("maxErrors", "0")
		r.KI("targetCount", 1)
		r.KI("completedCount", 0)
		r.KI("errorCount", 0)
		r.KI("deliveryTimedOutCount", 0)
		r.KS("serviceRole", "")
		r.KO("notificationConfig")
		r.KS("notificationArn", "")
		r.KA("notificationEvents")
		r.EA()
		r.KS("notificationType", "")
		r.E()
		r.KO("cloudWatchOutputConfig")
		r.KS("cloudWatchLogGroupName", "")
		r.KB("cloudWatchOutputEnabled", false)
		r.E()
		r.KI("timeoutSeconds", 3600)
		r.KO("alarmConfiguration")
		r.KB("ignorePollAlarmFailure", false)
		r.KA("alarms")
		r.EA()
		r.E()
		r.KA("triggeredAlarms")
		r.EA()
		r.E()
		r.E()
	}}

	// Secrets Manager.
	apiGetSecretValue = &api{src: "secretsmanager.amazonaws.com", name: "GetSecretValue", ro: 1, homeOnly: true, errP: 0.01, fill: func(g *evgen) {
		s := g.secretARN(pick(g.r, g.a.secrets))
		g.req.O()
		if g.r.IntN(2) == 0 {
			g.req.KS("secretId", s)
		} else {
			g.req.KS("secretId", s[strings.LastIndexByte(s, ':')+1:len(s)-7])
		}
		g.req.E()
		g.errRes = s
	}}
	apiDescribeSecret = &api{src: "secretsmanager.amazonaws.com", name: "DescribeSecret", ro: 1, homeOnly: true, fill: func(g *evgen) {
		s := g.secretARN(pick(g.r, g.a.secrets))
		g.req.O()
		g.req.KS("secretId", s)
		g.req.E()
		g.errRes = s
	}}
	apiListSecrets = &api{src: "secretsmanager.amazonaws.com", name: "ListSecrets", ro: 1, fill: func(g *evgen) {}}

	// DynamoDB (data events).
	apiDDBGetItem       = &api{src: "dynamodb.amazonaws.com", name: "GetItem", ro: 1, homeOnly: true, errP: 0.015, fill: func(g *evgen) { fillDDB(g, "key") }}
	apiDDBPutItem       = &api{src: "dynamodb.amazonaws.com", name: "PutItem", homeOnly: true, errP: 0.025, fill: func(g *evgen) { fillDDB(g, "put") }}
	apiDDBQuery         = &api{src: "dynamodb.amazonaws.com", name: "Query", ro: 1, homeOnly: true, errP: 0.015, fill: func(g *evgen) { fillDDB(g, "query") }}
	apiDDBUpdateItem    = &api{src: "dynamodb.amazonaws.com", name: "UpdateItem", homeOnly: true, errP: 0.025, fill: func(g *evgen) { fillDDB(g, "update") }}
	apiDDBDescribeTable = &api{src: "dynamodb.amazonaws.com", name: "DescribeTable", ro: 1, homeOnly: true, fill: func(g *evgen) {
		g.e.apiVersion = "2012-08-10"
		t := pick(g.r, g.a.tables)
		g.req.O()
		g.req.KS("tableName", t)
		g.req.E()
		g.ddbResource(t)
	}}

	// ECR, ECS.
	apiECRGetAuthorizationToken = &api{src: "ecr.amazonaws.com", name: "GetAuthorizationToken", ro: 1, fill: func(g *evgen) {}}
	apiECRBatchGetImage         = &api{src: "ecr.amazonaws.com", name: "BatchGetImage", ro: 1, homeOnly: true, fill: func(g *evgen) {
		repo := pick(g.r, g.a.repos)
		w := &g.req
		w.O()
		w.KS("repositoryName", repo)
		w.KS("registryId", g.a.id)
		w.KA("imageIds")
		w.O()
		w.KS("imageTag", pick(g.r, []string{"latest", "v1.42.0", "v1.43.1", "main-" + randChars(g.r, hexLower, 7)}))
		w.E()
		w.EA()
		w.KSS("acceptedMediaTypes", "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json")
		w.E()
		g.res.A()
		g.res.O()
		g.res.KS("accountId", g.a.id)
		g.res.KS("ARN", "arn:aws:ecr:"+g.region+":"+g.a.id+":repository/"+repo)
		g.res.E()
		g.res.EA()
	}}
	apiECRPutImage = &api{src: "ecr.amazonaws.com", name: "PutImage", homeOnly: true, fill: func(g *evgen) {
		repo := pick(g.r, g.a.repos)
		tag := "main-" + randChars(g.r, hexLower, 7)
		digest := "sha256:" + randChars(g.r, hexLower, 64)
		w := &g.req
		w.O()
		w.KS("repositoryName", repo)
		w.KS("imageTag", tag)
		w.KS("imageManifest", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:`+randChars(g.r, hexLower, 64)+`"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":29534055,"digest":"sha256:`+randChars(g.r, hexLower, 64)+`"}]}`)
		w.KS("imageManifestMediaType", "application/vnd.docker.distribution.manifest.v2+json")
		w.E()
		r := &g.resp
		r.O()
		r.KO("image")
		r.KS("registryId", g.a.id)
		r.KS("repositoryName", repo)
		r.KO("imageId")
		r.KS("imageDigest", digest)
		r.KS("imageTag", tag)
		r.E()
		r.KS("imageManifestMediaType", "application/vnd.docker.distribution.manifest.v2+json")
		r.E()
		r.E()
		g.res.A()
		g.res.O()
		g.res.KS("accountId", g.a.id)
		g.res.KS("ARN", "arn:aws:ecr:"+g.region+":"+g.a.id+":repository/"+repo)
		g.res.E()
		g.res.EA()
	}}
	apiRegisterTaskDefinition = &api{src: "ecs.amazonaws.com", name: "RegisterTaskDefinition", homeOnly: true, fill: fillRegisterTaskDefinition}
	apiECSDescribeServices    = &api{src: "ecs.amazonaws.com", name: "DescribeServices", ro: 1, homeOnly: true, fill: func(g *evgen) {
		g.req.O()
		g.req.KS("cluster", g.a.name+"-cluster")
		g.req.KSS("services", "orders-api", "web-frontend")
		g.req.KSS("include", "TAGS")
		g.req.E()
	}}

	// CloudFormation, CloudTrail, Organizations, Config, GuardDuty, misc.
	apiDescribeStacks = &api{src: "cloudformation.amazonaws.com", name: "DescribeStacks", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KS("stackName", pick(g.r, g.a.stacks))
		g.req.E()
	}}
	apiLookupEvents = &api{src: "cloudtrail.amazonaws.com", name: "LookupEvents", ro: 1, fill: func(g *evgen) {
		w := &g.req
		w.O()
		w.KI("maxResults", 50)
		w.KA("lookupAttributes")
		w.O()
		w.KS("attributeKey", "ReadOnly")
		w.KS("attributeValue", "false")
		w.E()
		w.EA()
		w.E()
	}}
	apiDescribeTrails = &api{src: "cloudtrail.amazonaws.com", name: "DescribeTrails", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KSS("trailNameList")
		g.req.KB("includeShadowTrails", true)
		g.req.E()
	}}
	apiGetTrailStatus = &api{src: "cloudtrail.amazonaws.com", name: "GetTrailStatus", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KS("name", g.w.trailARN)
		g.req.E()
	}}
	apiDescribeOrganization = &api{src: "organizations.amazonaws.com", name: "DescribeOrganization", ro: 1, global: true, fill: func(g *evgen) {}}
	apiListAccounts         = &api{src: "organizations.amazonaws.com", name: "ListAccounts", ro: 1, global: true, mgmtOnly: true, fill: func(g *evgen) {}}
	apiDescribeAccount      = &api{src: "organizations.amazonaws.com", name: "DescribeAccount", ro: 1, global: true, mgmtOnly: true, fill: func(g *evgen) {
		g.req.O()
		g.req.KS("accountId", pick(g.r, g.w.accounts).id)
		g.req.E()
	}}
	apiListPoliciesForTarget = &api{src: "organizations.amazonaws.com", name: "ListPoliciesForTarget", ro: 1, global: true, mgmtOnly: true, fill: func(g *evgen) {
		g.req.O()
		g.req.KS("targetId", pick(g.r, g.w.accounts).id)
		g.req.KS("filter", "SERVICE_CONTROL_POLICY")
		g.req.E()
	}}
	apiDescribeConfigRules = &api{src: "config.amazonaws.com", name: "DescribeComplianceByConfigRule", ro: 1, fill: func(g *evgen) {
		g.req.O()
		g.req.KSS("complianceTypes", "NON_COMPLIANT")
		g.req.E()
	}}
	apiListDetectors           = &api{src: "guardduty.amazonaws.com", name: "ListDetectors", ro: 1, fill: func(g *evgen) {}}
	apiGetFindings             = &api{src: "securityhub.amazonaws.com", name: "GetFindings", ro: 1, fill: fillSecurityHubGetFindings}
	apiDescribeEventAggregates = &api{src: "health.amazonaws.com", name: "DescribeEventAggregates", ro: 1, global: true, fill: func(g *evgen) {
		w := &g.req
		w.O()
		w.KS("aggregateField", "eventTypeCategory")
		w.KO("filter")
		w.KSS("eventStatusCodes", "open", "upcoming")
		w.E()
		w.E()
	}}
	apiGetCostAndUsage = &api{src: "ce.amazonaws.com", name: "GetCostAndUsage", ro: 1, global: true, fill: func(g *evgen) {
		y, m, _, _, _, _ := civil(g.t)
		w := &g.req
		w.O()
		w.KO("timePeriod")
		w.KS("start", fmt.Sprintf("%04d-%02d-01", y, m))
		w.KS("end", isoTime(g.t)[:10])
		w.E()
		w.KS("granularity", "DAILY")
		w.KSS("metrics", "UnblendedCost")
		w.KA("groupBy")
		w.O()
		w.KS("type", "DIMENSION")
		w.KS("key", "SERVICE")
		w.E()
		w.EA()
		w.E()
	}}
	apiDescribeAutoScalingGroups = &api{src: "autoscaling.amazonaws.com", name: "DescribeAutoScalingGroups", ro: 1, fill: func(g *evgen) {}}
	apiDescribeTargetHealth      = &api{src: "elasticloadbalancing.amazonaws.com", name: "DescribeTargetHealth", ro: 1, homeOnly: true, fill: func(g *evgen) {
		g.e.apiVersion = "2015-12-01"
		g.req.O()
		g.req.KS("targetGroupArn", "arn:aws:elasticloadbalancing:"+g.region+":"+g.a.id+":targetgroup/"+g.a.name+"-orders-api/"+g.a.res(g.region, "tg", 0, 16, hexLower))
		g.req.E()
	}}
)

// azID returns an availability-zone id like use1-az4.
func azID(region string, i int) string {
	parts := strings.Split(region, "-")
	if len(parts) < 3 {
		return region + "-az" + itoa(i+1)
	}
	return parts[0] + string(parts[1][0]) + parts[2] + "-az" + itoa(1+(i*2+int(hashString(region)%3))%6)
}

func (g *evgen) dataBucketFor() string {
	if g.id != nil && g.id.class == classCI {
		return g.a.artifacts
	}
	if g.a.idx == 0 {
		return g.a.artifacts
	}
	switch x := g.r.IntN(10); {
	case x < 7:
		return g.a.dataBucket
	case x < 9:
		return g.a.backups
	}
	return g.a.artifacts
}

func (g *evgen) ddbResource(table string) {
	g.res.A()
	g.res.O()
	g.res.KS("accountId", g.a.id)
	g.res.KS("type", "AWS::DynamoDB::Table")
	g.res.KS("ARN", "arn:aws:dynamodb:"+g.region+":"+g.a.id+":table/"+table)
	g.res.E()
	g.res.EA()
	g.errRes = "arn:aws:dynamodb:" + g.region + ":" + g.a.id + ":table/" + table
}

func fillDDB(g *evgen, op string) {
	e := &g.e
	e.data = true
	e.apiVersion = "2012-08-10"
	t := pick(g.r, g.a.tables)
	w := &g.req
	w.O()
	w.KS("tableName", t)
	const hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"
	switch op {
	case "key":
		w.KO("key")
		w.KS("pk", hidden)
		w.KS("sk", hidden)
		w.E()
		w.KB("consistentRead", false)
	case "put":
		w.KO("key")
		w.KS("pk", hidden)
		w.KS("sk", hidden)
		w.E()
		w.KS("conditionExpression", "attribute_not_exists(pk)")
		w.KS("returnValues", "NONE")
	case "update":
		w.KO("key")
		w.KS("pk", hidden)
		w.KS("sk", hidden)
		w.E()
		w.KS("updateExpression", "SET #s = :s, updatedAt = :u")
		w.KS("conditionExpression", "attribute_exists(pk)")
		w.KO("expressionAttributeNames")
		w.KS("#s", "status")
		w.E()
		w.KS("returnValues", "UPDATED_NEW")
	case "query":
		w.KS("indexName", "gsi1")
		w.KS("keyConditionExpression", "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)")
		w.KI("limit", 100)
		w.KB("scanIndexForward", false)
	}
	w.E()
	g.ddbResource(t)
}

// fillKMS writes Decrypt or GenerateDataKey, either called directly or by
// a service on the caller's behalf (as most KMS traffic is).
func fillKMS(g *evgen, gen bool) {
	key := g.a.kmsKey(g.region, g.r.IntN(3))
	w := &g.req
	w.O()
	if gen || g.r.IntN(3) == 0 {
		w.KS("keyId", key)
	}
	if !gen {
		w.KS("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
	}
	w.KO("encryptionContext")
	via := ""
	switch x := g.r.IntN(10); {
	case x < 4 && g.a.idx > 0:
		via = "s3.amazonaws.com"
		w.KS("aws:s3:arn", "arn:aws:s3:::"+g.dataBucketFor())
	case x < 6 && len(g.a.functions) > 0:
		w.KS("aws:lambda:FunctionArn", g.fnARN(g.function()))
	case x < 8:
		via = "secretsmanager.amazonaws.com"
		w.KS("SecretARN", g.secretARN(pick(g.r, g.a.secrets)))
		w.KS("SecretVersionId", uuid(g.r))
	case x < 9:
		via = "ssm.amazonaws.com"
		w.KS("PARAMETER_ARN", "arn:aws:ssm:"+g.region+":"+g.a.id+":parameter"+g.a.params[1])
	default:
		via = "dynamodb.amazonaws.com"
		w.KS("aws:dynamodb:tableName", pick(g.r, g.a.tables))
		w.KS("aws:dynamodb:subscriberId", g.a.id)
	}
	w.E()
	if gen {
		w.KS("keySpec", "AES_256")
	}
	w.E()
	if g.id != nil && g.id.kind == kService {
		wl := g.workload()
		if wl != nil {
			g.id = wl
		}
	}
	if via != "" && g.id != nil && g.id.kind != kService && g.r.IntN(4) > 0 {
		g.onBehalf(via)
	}
	g.kmsResource(key)
}

type sgRule struct {
	port int64
	cidr string
	v6   string
	desc string
}

// writeSGIngress writes AuthorizeSecurityGroupIngress in EC2's shape.
func writeSGIngress(g *evgen, sg string, rules []sgRule) {
	w := &g.req
	w.O()
	w.KS("groupId", sg)
	w.KO("ipPermissions")
	w.KA("items")
	for _, r := range rules {
		w.O()
		w.KS("ipProtocol", "tcp")
		w.KI("fromPort", r.port)
		w.KI("toPort", r.port)
		w.KO("groups")
		w.E()
		w.KO("ipRanges")
		if r.cidr != "" {
			w.KA("items")
			w.O()
			w.KS("cidrIp", r.cidr)
			if r.desc != "" {
				w.KS("description", r.desc)
			}
			w.E()
			w.EA()
		}
		w.E()
		w.KO("ipv6Ranges")
		if r.v6 != "" {
			w.KA("items")
			w.O()
			w.KS("cidrIpv6", r.v6)
			w.E()
			w.EA()
		}
		w.E()
		w.KO("prefixListIds")
		w.E()
		w.E()
	}
	w.EA()
	w.E()
	w.E()
	g.e.requestID = uuid(g.r)
	r := &g.resp
	r.O()
	r.KS("requestId", g.e.requestID)
	r.KB("_return", true)
	r.KO("securityGroupRuleSet")
	r.KA("items")
	for _, x := range rules {
		for _, c := range []string{x.cidr, x.v6} {
			if c == "" {
				continue
			}
			id := "sgr-0" + randChars(g.r, hexLower, 16)
			r.O()
			r.KS("groupOwnerId", g.a.id)
			r.KS("securityGroupRuleArn", "arn:aws:ec2:"+g.region+":"+g.a.id+":security-group-rule/"+id)
			r.KS("groupId", sg)
			r.KS("securityGroupRuleId", id)
			r.KB("isEgress", false)
			r.KS("ipProtocol", "tcp")
			r.KI("fromPort", x.port)
			r.KI("toPort", x.port)
			if strings.Contains(c, ":") {
				r.KS("cidrIpv6", c)
			} else {
				r.KS("cidrIpv4", c)
			}
			if x.desc != "" {
				r.KS("description", x.desc)
			}
			r.E()
		}
	}
	r.EA()
	r.E()
	r.E()
}

func fillConsoleLogin(g *evgen) {
	e := &g.e
	e.eventType = "AwsConsoleSignIn"
	e.tlsHost = "signin.aws.amazon.com"
	if g.id.consoleHost != "" {
		e.tlsHost = g.id.consoleHost
	}
	e.identRaw = true
	fail := g.id.kind == kConsoleUser && g.r.IntN(12) == 0
	w := &g.ident
	w.O()
	switch g.id.kind {
	case kRole:
		w.KS("type", "AssumedRole")
		w.KS("principalId", g.id.principal+":"+g.id.session)
		w.KS("arn", g.id.arn())
		w.KS("accountId", g.a.id)
		w.KO("sessionContext")
		w.KO("sessionIssuer")
		w.KS("type", "Role")
		w.KS("principalId", g.id.principal)
		w.KS("arn", g.id.roleARN())
		w.KS("accountId", g.a.id)
		w.KS("userName", g.id.roleName)
		w.E()
		w.KO("webIdFederationData")
		w.E()
		w.KO("attributes")
		w.KT("creationDate", g.t)
		w.KS("mfaAuthenticated", "false")
		w.E()
		w.E()
	case kRoot:
		w.KS("type", "Root")
		w.KS("principalId", g.a.id)
		w.KS("arn", g.id.arn())
		w.KS("accountId", g.a.id)
		w.KS("accessKeyId", "")
	default:
		w.KS("type", "IAMUser")
		if !fail {
			w.KS("principalId", g.id.principal)
		}
		w.KS("arn", g.id.arn())
		w.KS("accountId", g.a.id)
		if !fail {
			w.KS("accessKeyId", "")
		}
		w.KS("userName", g.id.userName)
	}
	w.E()
	g.resp.O()
	if fail {
		e.errMsg = "Failed authentication"
		g.resp.KS("ConsoleLogin", "Failure")
		e.respNull = false
	} else {
		g.resp.KS("ConsoleLogin", "Success")
	}
	g.resp.E()
	e.reqNull = true
	mfa := "No"
	if g.id.mfa && g.id.kind != kRole && !fail {
		mfa = "Yes"
	}
	g.addl.O()
	g.addl.KS("LoginTo", pick(g.r, []string{"https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_" + randChars(g.r, hexLower, 16), "https://" + g.region + ".console.aws.amazon.com/ec2/home?region=" + g.region + "&state=hashArgs%23Instances%3A&isauthcode=true", "https://console.aws.amazon.com/billing/home?state=hashArgs%23%2F&isauthcode=true"}))
	g.addl.KS("MobileVersion", "No")
	g.addl.KS("MFAUsed", mfa)
	if mfa == "Yes" {
		g.addl.KS("MFAIdentifier", "arn:aws:iam::"+g.a.id+":mfa/"+strings.SplitN(g.id.userName+"root", ".", 2)[0]+"-yubikey")
	}
	g.addl.E()
	e.readOnly = 0
	if fail {
		// The failed attempt carries the message but no errorCode.
		e.errCode = ""
	}
}

func fillGetMetricData(g *evgen) {
	w := &g.req
	w.O()
	w.KA("metricDataQueries")
	metrics := []struct{ ns, name, dim string }{
		{"AWS/EC2", "CPUUtilization", "InstanceId"},
		{"AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer"},
		{"AWS/Lambda", "Errors", "FunctionName"},
		{"AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName"},
	}
	for i := range 2 + g.r.IntN(3) {
		m := metrics[(i+g.r.IntN(4))%len(metrics)]
		w.O()
		w.KS("id", "m"+itoa(i))
		w.KO("metricStat")
		w.KO("metric")
		w.KS("namespace", m.ns)
		w.KS("metricName", m.name)
		w.KA("dimensions")
		w.O()
		w.KS("name", m.dim)
		switch m.dim {
		case "InstanceId":
			w.KS("value", g.a.instance(g.region, i))
		case "FunctionName":
			w.KS("value", g.function())
		case "TableName":
			w.KS("value", pick(g.r, g.a.tables))
		default:
			w.KS("value", "app/"+g.a.name+"-alb/"+g.a.res(g.region, "alb", 0, 16, hexLower))
		}
		w.E()
		w.EA()
		w.E()
		w.KI("period", 300)
		w.KS("stat", pick(g.r, []string{"Average", "Sum", "p99", "Maximum"}))
		w.E()
		w.KB("returnData", true)
		w.E()
	}
	w.EA()
	w.KS("startTime", javaDate(g.t-10800))
	w.KS("endTime", javaDate(g.t))
	w.E()
}

func fillUpdateFunctionCode(g *evgen) {
	fn := g.function()
	arn := g.fnARN(fn)
	sha := randChars(g.r, hexLower, 40)
	w := &g.req
	w.O()
	w.KS("functionName", fn)
	w.KS("s3Bucket", g.a.artifacts)
	w.KS("s3Key", "builds/"+fn+"/"+sha+"/"+fn+".zip")
	w.KB("publish", true)
	w.KB("dryRun", false)
	w.E()
	r := &g.resp
	r.O()
	r.KS("functionName", fn)
	r.KS("functionArn", arn+":"+itoa(10+g.r.IntN(200)))
	r.KS("runtime", "python3.12")
	r.KS("role", roleARNFor(g.a.id, fn+"-role"))
	r.KS("handler", "app.handler")
	r.KI("codeSize", int64(1_000_000+g.r.IntN(9_000_000)))
	r.KS("description", "")
	r.KI("timeout", 30)
	r.KI("memorySize", 512)
	r.KS("lastModified", isoTime(g.t)[:19]+".000+0000")
	r.KS("codeSha256", randChars(g.r, b64Chars, 43)+"=")
	r.KS("version", itoa(10+g.r.IntN(200)))
	r.KO("vpcConfig")
	r.KSS("subnetIds", g.a.subnet(g.region, 0), g.a.subnet(g.region, 1))
	r.KSS("securityGroupIds", g.a.sg(g.region, 2))
	r.KS("vpcId", g.a.vpc(g.region))
	r.KB("ipv6AllowedForDualStack", false)
	r.E()
	r.KO("environment")
	r.KO("variables")
	r.KS("HIDDEN_DUE_TO_SECURITY_REASONS", "HIDDEN_DUE_TO_SECURITY_REASONS")
	r.E()
	r.E()
	r.KO("tracingConfig")
	r.KS("mode", "PassThrough")
	r.E()
	r.KS("revisionId", uuid(g.r))
	r.KS("state", "Pending")
	r.KS("stateReason", "The function is being created.")
	r.KS("stateReasonCode", "Creating")
	r.KS("lastUpdateStatus", "InProgress")
	r.KS("lastUpdateStatusReason", "The function is being created.")
	r.KS("lastUpdateStatusReasonCode", "Creating")
	r.KS("packageType", "Zip")
	r.KSS("architectures", "arm64")
	r.KO("ephemeralStorage")
	r.KI("size", 512)
	r.E()
	r.KO("snapStart")
	r.KS("applyOn", "None")
	r.KS("optimizationStatus", "Off")
	r.E()
	r.KO("runtimeVersionConfig")
	r.KS("runtimeVersionArn", "arn:aws:lambda:"+g.region+"::runtime:"+randChars(g.r, hexLower, 64))
	r.E()
	r.KO("loggingConfig")
	r.KS("logFormat", "Text")
	r.KS("logGroup", "/aws/lambda/"+fn)
	r.E()
	r.E()
	g.errRes = arn
}

func fillSecurityHubGetFindings(g *evgen) {
	w := &g.req
	w.O()
	w.KO("filters")
	w.KA("recordState")
	w.O()
	w.KS("comparison", "EQUALS")
	w.KS("value", "ACTIVE")
	w.E()
	w.EA()
	w.KA("workflowStatus")
	w.O()
	w.KS("comparison", "EQUALS")
	w.KS("value", "NEW")
	w.E()
	w.EA()
	w.KA("severityLabel")
	for _, s := range []string{"CRITICAL", "HIGH"} {
		w.O()
		w.KS("comparison", "EQUALS")
		w.KS("value", s)
		w.E()
	}
	w.EA()
	w.E()
	w.KA("sortCriteria")
	w.O()
	w.KS("field", "SeverityNormalized")
	w.KS("sortOrder", "desc")
	w.E()
	w.EA()
	w.KI("maxResults", 100)
	w.E()
}

// fillRunInstances writes a RunInstances call and its (large) response.
func fillRunInstances(g *evgen) {
	n := 1 + g.r.IntN(2)
	if g.r.IntN(8) == 0 {
		n = 3 + g.r.IntN(4) // the long tail: 10-20 KB records
	}
	lt := "lt-0" + g.a.res(g.region, "lt", 0, 16, hexLower)
	subnet := g.a.subnet(g.region, g.r.IntN(3))
	sg := g.a.sg(g.region, 1)
	itype := pick(g.r, []string{"m7g.large", "c7g.xlarge", "t3.medium", "m6i.large"})
	w := &g.req
	w.O()
	w.KO("instancesSet")
	w.KA("items")
	w.O()
	w.KI("minCount", int64(n))
	w.KI("maxCount", int64(n))
	w.E()
	w.EA()
	w.E()
	w.KS("instanceType", itype)
	w.KS("userData", "<sensitiveDataRemoved>")
	w.KO("launchTemplate")
	w.KS("launchTemplateId", lt)
	w.KS("version", itoa(3+g.r.IntN(9)))
	w.E()
	w.KO("networkInterfaceSet")
	w.KA("items")
	w.O()
	w.KI("deviceIndex", 0)
	w.KS("subnetId", subnet)
	w.KO("groupSet")
	w.KA("items")
	w.O()
	w.KS("groupId", sg)
	w.E()
	w.EA()
	w.E()
	w.E()
	w.EA()
	w.E()
	w.KO("tagSpecificationSet")
	w.KA("items")
	w.O()
	w.KS("resourceType", "instance")
	w.KA("tags")
	for _, kv := range [][2]string{{"aws:autoscaling:groupName", g.a.name + "-app-asg"}, {"Name", g.a.name + "-app"}, {"Environment", g.a.name}} {
		w.O()
		w.KS("key", kv[0])
		w.KS("value", kv[1])
		w.E()
	}
	w.EA()
	w.E()
	w.EA()
	w.E()
	w.KB("disableApiStop", false)
	w.E()

	g.e.requestID = uuid(g.r)
	resv := "r-0" + randChars(g.r, hexLower, 16)
	r := &g.resp
	r.O()
	r.KS("requestId", g.e.requestID)
	r.KS("reservationId", resv)
	r.KS("ownerId", g.a.id)
	r.KO("groupSet")
	r.E()
	r.KO("instancesSet")
	r.KA("items")
	az := g.region + pick(g.r, []string{"a", "b", "c"})
	for i := range n {
		inst := "i-0" + randChars(g.r, hexLower, 16)
		ip := fmt.Sprintf("10.%d.%d.%d", g.a.idx, 10+g.r.IntN(40), 4+g.r.IntN(250))
		eni := "eni-0" + randChars(g.r, hexLower, 16)
		r.O()
		r.KS("instanceId", inst)
		r.KS("imageId", g.a.ami(g.region))
		r.KO("instanceState")
		r.KI("code", 0)
		r.KS("name", "pending")
		r.E()
		r.KS("privateDnsName", "ip-"+strings.ReplaceAll(ip, ".", "-")+"."+g.region+".compute.internal")
		r.KI("amiLaunchIndex", int64(i))
		r.KO("productCodes")
		r.E()
		r.KS("instanceType", itype)
		r.KI("launchTime", g.t*1000)
		r.KO("placement")
		r.KS("availabilityZone", az)
		r.KS("tenancy", "default")
		r.E()
		r.KO("monitoring")
		r.KS("state", "disabled")
		r.E()
		r.KS("subnetId", subnet)
		r.KS("vpcId", g.a.vpc(g.region))
		r.KS("privateIpAddress", ip)
		r.KO("stateReason")
		r.KS("code", "pending")
		r.KS("message", "pending")
		r.E()
		r.KS("architecture", "arm64")
		r.KS("rootDeviceType", "ebs")
		r.KS("rootDeviceName", "/dev/xvda")
		r.KO("blockDeviceMapping")
		r.E()
		r.KS("virtualizationType", "hvm")
		r.KS("clientToken", uuid(g.r))
		r.KO("tagSet")
		r.KA("items")
		for _, kv := range [][2]string{{"aws:ec2launchtemplate:id", lt}, {"aws:autoscaling:groupName", g.a.name + "-app-asg"}, {"Name", g.a.name + "-app"}, {"Environment", g.a.name}, {"aws:ec2launchtemplate:version", "7"}} {
			r.O()
			r.KS("key", kv[0])
			r.KS("value", kv[1])
			r.E()
		}
		r.EA()
		r.E()
		r.KO("groupSet")
		r.KA("items")
		r.O()
		r.KS("groupId", sg)
		r.KS("groupName", g.a.name+"-app-sg")
		r.E()
		r.EA()
		r.E()
		r.KB("sourceDestCheck", true)
		r.KS("hypervisor", "xen")
		r.KO("networkInterfaceSet")
		r.KA("items")
		r.O()
		r.KS("networkInterfaceId", eni)
		r.KS("subnetId", subnet)
		r.KS("vpcId", g.a.vpc(g.region))
		r.KS("ownerId", g.a.id)
		r.KS("status", "in-use")
		r.KS("macAddress", fmt.Sprintf("0a:%02x:%02x:%02x:%02x:%02x", g.r.IntN(256), g.r.IntN(256), g.r.IntN(256), g.r.IntN(256), g.r.IntN(256)))
		r.KS("privateIpAddress", ip)
		r.KS("privateDnsName", "ip-"+strings.ReplaceAll(ip, ".", "-")+"."+g.region+".compute.internal")
		r.KB("sourceDestCheck", true)
		r.KS("interfaceType", "interface")
		r.KO("groupSet")
		r.KA("items")
		r.O()
		r.KS("groupId", sg)
		r.KS("groupName", g.a.name+"-app-sg")
		r.E()
		r.EA()
		r.E()
		r.KO("attachment")
		r.KS("attachmentId", "eni-attach-0"+randChars(g.r, hexLower, 16))
		r.KI("deviceIndex", 0)
		r.KI("networkCardIndex", 0)
		r.KS("status", "attaching")
		r.KI("attachTime", g.t*1000)
		r.KB("deleteOnTermination", true)
		r.E()
		r.KO("privateIpAddressesSet")
		r.KA("item")
		r.O()
		r.KS("privateIpAddress", ip)
		r.KS("privateDnsName", "ip-"+strings.ReplaceAll(ip, ".", "-")+"."+g.region+".compute.internal")
		r.KB("primary", true)
		r.E()
		r.EA()
		r.E()
		r.KO("ipv6AddressesSet")
		r.E()
		r.KO("tagSet")
		r.E()
		r.E()
		r.EA()
		r.E()
		r.KS("ebsOptimized", "true")
		r.KB("enaSupport", true)
		r.KO("cpuOptions")
		r.KI("coreCount", 2)
		r.KI("threadsPerCore", 1)
		r.E()
		r.KO("capacityReservationSpecification")
		r.KS("capacityReservationPreference", "open")
		r.E()
		r.KO("enclaveOptions")
		r.KB("enabled", false)
		r.E()
		r.KO("metadataOptions")
		r.KS("state", "pending")
		r.KS("httpTokens", "required")
		r.KI("httpPutResponseHopLimit", 2)
		r.KS("httpEndpoint", "enabled")
		r.KS("httpProtocolIpv4", "enabled")
		r.KS("httpProtocolIpv6", "disabled")
		r.KS("instanceMetadataTags", "disabled")
		r.E()
		r.KO("maintenanceOptions")
		r.KS("autoRecovery", "default")
		r.E()
		r.KS("bootMode", "uefi")
		r.KO("privateDnsNameOptions")
		r.KS("hostnameType", "ip-name")
		r.KB("enableResourceNameDnsARecord", false)
		r.KB("enableResourceNameDnsAAAARecord", false)
		r.E()
		r.E()
	}
	r.EA()
	r.E()
	r.KS("requesterId", "940372691376")
	r.E()
}

// fillRegisterTaskDefinition writes an ECS task definition registration
// (requests and responses of several KB).
func fillRegisterTaskDefinition(g *evgen) {
	fam := pick(g.r, []string{"orders-api", "report-worker"})
	rev := 100 + g.r.IntN(300)
	image := g.a.id + ".dkr.ecr." + g.region + ".amazonaws.com/" + fam + ":main-" + randChars(g.r, hexLower, 7)
	env := [][2]string{{"APP_ENV", g.a.name}, {"LOG_LEVEL", "info"}, {"AWS_REGION", g.region}, {"ORDERS_TABLE", g.a.name + "-orders"}, {"FEATURE_FLAGS_PARAM", g.a.params[1]}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"}, {"HTTP_PORT", "8080"}}
	writeContainer := func(w *jw, withEnv bool) {
		w.KA("containerDefinitions")
		w.O()
		w.KS("name", fam)
		w.KS("image", image)
		w.KI("cpu", 0)
		w.KA("portMappings")
		w.O()
		w.KI("containerPort", 8080)
		w.KI("hostPort", 8080)
		w.KS("protocol", "tcp")
		w.KS("name", fam+"-8080-tcp")
		w.E()
		w.EA()
		w.KB("essential", true)
		w.KA("environment")
		if withEnv {
			for _, kv := range env {
				w.O()
				w.KS("name", kv[0])
				w.KS("value", kv[1])
				w.E()
			}
		}
		w.EA()
		w.KA("secrets")
		w.O()
		w.KS("name", "DB_PASSWORD")
		w.KS("valueFrom", g.secretARN(g.a.secrets[0]))
		w.E()
		w.EA()
		w.KO("logConfiguration")
		w.KS("logDriver", "awslogs")
		w.KO("options")
		w.KS("awslogs-group", "/ecs/"+fam)
		w.KS("awslogs-region", g.region)
		w.KS("awslogs-stream-prefix", "ecs")
		w.E()
		w.E()
		w.KO("healthCheck")
		w.KSS("command", "CMD-SHELL", "curl -f http://localhost:8080/healthz || exit 1")
		w.KI("interval", 30)
		w.KI("timeout", 5)
		w.KI("retries", 3)
		w.E()
		w.E()
		w.EA()
	}
	w := &g.req
	w.O()
	w.KS("family", fam)
	w.KS("taskRoleArn", roleARNFor(g.a.id, fam+"-task-role"))
	w.KS("executionRoleArn", roleARNFor(g.a.id, "ecsTaskExecutionRole"))
	w.KS("networkMode", "awsvpc")
	writeContainer(w, true)
	w.KSS("requiresCompatibilities", "FARGATE")
	w.KS("cpu", "512")
	w.KS("memory", "1024")
	w.KO("runtimePlatform")
	w.KS("cpuArchitecture", "ARM64")
	w.KS("operatingSystemFamily", "LINUX")
	w.E()
	w.E()
	arn := "arn:aws:ecs:" + g.region + ":" + g.a.id + ":task-definition/" + fam + ":" + strconv.Itoa(rev)
	r := &g.resp
	r.O()
	r.KO("taskDefinition")
	r.KS("taskDefinitionArn", arn)
	writeContainer(r, true)
	r.KS("family", fam)
	r.KS("taskRoleArn", roleARNFor(g.a.id, fam+"-task-role"))
	r.KS("executionRoleArn", roleARNFor(g.a.id, "ecsTaskExecutionRole"))
	r.KS("networkMode", "awsvpc")
	r.KI("revision", int64(rev))
	r.KA("volumes")
	r.EA()
	r.KS("status", "ACTIVE")
	r.KA("requiresAttributes")
	for _, a := range []string{"com.amazonaws.ecs.capability.logging-driver.awslogs", "ecs.capability.execution-role-awslogs", "com.amazonaws.ecs.capability.ecr-auth", "com.amazonaws.ecs.capability.docker-remote-api.1.19", "ecs.capability.secrets.asm.environment-variables", "com.amazonaws.ecs.capability.task-iam-role", "ecs.capability.container-health-check", "ecs.capability.execution-role-ecr-pull", "ecs.capability.task-eni"} {
		r.O()
		r.KS("name", a)
		r.E()
	}
	r.EA()
	r.KA("placementConstraints")
	r.EA()
	r.KSS("compatibilities", "EC2", "FARGATE")
	r.KO("runtimePlatform")
	r.KS("cpuArchitecture", "ARM64")
	r.KS("operatingSystemFamily", "LINUX")
	r.E()
	r.KSS("requiresCompatibilities", "FARGATE")
	r.KS("cpu", "512")
	r.KS("memory", "1024")
	r.KS("registeredAt", javaDate(g.t))
	r.KS("registeredBy", "arn:aws:iam::"+g.a.id+":user/ci-deploy")
	r.E()
	r.E()
}

// classMix lists each actor class's API mix, with weights.
var classMix = [numClasses][]apiUse{
	classHumanCLI: {
		{apiGetCallerIdentity, 8}, {apiDescribeInstances, 10}, {apiDescribeSecurityGroups, 4}, {apiDescribeVpcs, 2},
		{apiDescribeSubnets, 2}, {apiListBuckets, 3}, {apiGetObject, 5}, {apiPutObject, 2}, {apiListObjects, 2},
		{apiDescribeLogGroups, 2}, {apiFilterLogEvents, 3}, {apiGetMetricData, 2}, {apiListFunctions, 2},
		{apiListRoles, 2}, {apiGetRole, 2}, {apiGetParameter, 3}, {apiGetSecretValue, 1.5}, {apiKMSDecrypt, 2},
		{apiDescribeStacks, 3}, {apiAssumeRoleUser, 3}, {apiKMSListAliases, 1}, {apiLookupEvents, 1},
		{apiAuthorizeSGPrivate, 0.25}, {apiStopInstances, 0.2}, {apiDDBDescribeTable, 1}, {apiGetFunction, 1},
		{apiCreateAccessKeySelf, 0.03}, {apiSendCommand, 0.06}, {apiDescribeInstanceInformation, 1},
		{apiDescribeTargetHealth, 1}, {apiECSDescribeServices, 1},
	},
	classHumanConsole: {
		{apiConsoleLogin, 1.4}, {apiDescribeInstances, 8}, {apiDescribeInstanceStatus, 3}, {apiDescribeSecurityGroups, 3},
		{apiDescribeVolumes, 2}, {apiDescribeVpcs, 1}, {apiListBuckets, 4}, {apiGetBucketPolicy, 1.5}, {apiGetBucketAcl, 1},
		{apiGetBucketEncryption, 1}, {apiGetBucketVersioning, 1}, {apiGetBucketPublicAccessBlock, 1}, {apiGetBucketLocation, 1},
		{apiDescribeAlarms, 4}, {apiGetMetricData, 4}, {apiDescribeLogGroups, 3}, {apiFilterLogEvents, 2}, {apiStartQuery, 1},
		{apiListFunctions, 2}, {apiGetFunction, 2}, {apiListUsers, 1.5}, {apiListRoles, 1.5}, {apiGetAccountSummary, 1},
		{apiListPolicies, 1}, {apiGetRole, 1}, {apiGetCostAndUsage, 0.8}, {apiDescribeEventAggregates, 2},
		{apiLookupEvents, 2}, {apiDescribeOrganization, 0.5}, {apiListAccounts, 0.8}, {apiDescribeAccount, 0.6},
		{apiListPoliciesForTarget, 0.4}, {apiKMSListAliases, 1}, {apiKMSDescribeKey, 1}, {apiDescribeConfigRules, 1},
		{apiGetFindings, 1}, {apiListDetectors, 0.5}, {apiAuthorizeSGPrivate, 0.25}, {apiStopInstances, 0.25},
		{apiDescribeStacks, 2}, {apiListSecrets, 1}, {apiDescribeSecret, 0.5}, {apiDescribeTargetHealth, 1},
		{apiDescribeAutoScalingGroups, 1}, {apiRunInstances, 0.1}, {apiListAccessKeys, 0.4},
	},
	classCI: {
		{apiECRGetAuthorizationToken, 5}, {apiECRPutImage, 1}, {apiPutObject, 5}, {apiGetObject, 3}, {apiUpdateFunctionCode, 0.8},
		{apiGetFunction, 2}, {apiDescribeStacks, 2}, {apiGetCallerIdentity, 4}, {apiAssumeRoleUser, 2},
		{apiDescribeInstances, 3}, {apiDescribeSecurityGroups, 3}, {apiDescribeVpcs, 2}, {apiDescribeSubnets, 2},
		{apiDescribeImages, 1}, {apiGetRole, 3}, {apiListAttachedRolePolicies, 2}, {apiListRolePolicies, 1.5},
		{apiGetPolicyVersion, 1.5}, {apiGetBucketPolicy, 1}, {apiGetBucketVersioning, 1}, {apiGetBucketAcl, 1},
		{apiGetBucketEncryption, 1}, {apiKMSDescribeKey, 1}, {apiDDBDescribeTable, 1},
		{apiRegisterTaskDefinition, 0.4}, {apiECSDescribeServices, 1}, {apiAuthorizeSGPrivate, 0.15},
		{apiAttachRolePolicy, 0.1}, {apiPutRolePolicy, 0.1}, {apiDescribeTargetHealth, 0.5}, {apiRunInstances, 0.05},
	},
	classEC2: {
		{apiKMSDecrypt, 7}, {apiKMSGenerateDataKey, 3}, {apiGetObject, 10}, {apiPutObject, 4}, {apiHeadObject, 3},
		{apiListObjects, 1}, {apiGetParameter, 3}, {apiGetParameters, 2}, {apiUpdateInstanceInformation, 4},
		{apiGetSecretValue, 2}, {apiGetCallerIdentity, 0.5}, {apiDescribeTags, 2}, {apiDescribeInstances, 0.6},
		{apiDDBGetItem, 4}, {apiDDBQuery, 3}, {apiDDBPutItem, 2}, {apiDDBUpdateItem, 1.5}, {apiECRGetAuthorizationToken, 1},
		{apiECRBatchGetImage, 0.8}, {apiCreateLogStream, 0.5},
	},
	classLambda: {
		{apiDDBGetItem, 5}, {apiDDBPutItem, 3}, {apiDDBQuery, 4}, {apiDDBUpdateItem, 2}, {apiKMSDecrypt, 3},
		{apiGetSecretValue, 2}, {apiGetObject, 3}, {apiPutObject, 3}, {apiGetParameter, 2}, {apiLambdaInvoke, 2},
		{apiCreateLogStream, 1.5}, {apiKMSGenerateDataKey, 1},
	},
	classConfig: {
		{apiDescribeInstances, 2}, {apiDescribeSecurityGroups, 2}, {apiDescribeVpcs, 1}, {apiDescribeSubnets, 1},
		{apiDescribeVolumes, 1}, {apiDescribeNetworkInterfaces, 1}, {apiGetBucketAcl, 2}, {apiGetBucketPolicy, 2},
		{apiGetBucketEncryption, 1}, {apiGetBucketVersioning, 1}, {apiGetBucketPublicAccessBlock, 1},
		{apiGetRole, 1.5}, {apiListAttachedRolePolicies, 1.5}, {apiListRolePolicies, 1}, {apiGetAccountPasswordPolicy, 0.4},
		{apiListUsers, 0.5}, {apiDescribeTrails, 0.6}, {apiGetTrailStatus, 0.6}, {apiKMSDescribeKey, 1},
		{apiKMSGetKeyRotationStatus, 1}, {apiGetFunction, 1}, {apiDDBDescribeTable, 0.5},
	},
	classAutoscaling: {
		{apiDescribeLaunchTemplateVersions, 4}, {apiRunInstances, 1}, {apiTerminateInstances, 1}, {apiCreateTags, 1},
		{apiDescribeInstances, 1},
	},
	classGuardDuty: {
		{apiDescribeInstances, 2}, {apiDescribeNetworkInterfaces, 1}, {apiGetBucketAcl, 2}, {apiGetBucketPolicy, 1.5},
		{apiGetBucketPublicAccessBlock, 1}, {apiGetBucketLocation, 1}, {apiDescribeOrganization, 0.3},
	},
	classServicePrincipal: {
		{apiAssumeRoleService, 6}, {apiKMSDecrypt, 5}, {apiKMSGenerateDataKey, 3}, {apiTrailBucketAcl, 2},
	},
	classAudit: {
		{apiDescribeInstances, 2}, {apiDescribeSecurityGroups, 2}, {apiGetBucketPolicy, 2}, {apiGetBucketAcl, 1.5},
		{apiGetBucketPublicAccessBlock, 1.5}, {apiListUsers, 1}, {apiListAccessKeys, 1}, {apiListRoles, 1},
		{apiGenerateCredentialReport, 0.3}, {apiDescribeTrails, 1}, {apiGetTrailStatus, 1}, {apiListDetectors, 0.5},
		{apiKMSGetKeyRotationStatus, 0.5}, {apiGetAccountPasswordPolicy, 0.3},
	},
}
