package gen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Amazon S3 server access logs for two buckets of the prod account, written
// to s3-access-logs-<account>-demo: the customer-data bucket with the simple
// key format and the website bucket with the date-partitioned format.

// alBucket is a source bucket whose requests are logged.
type alBucket struct {
	name        string
	acct        *account
	region      string
	partitioned bool
	prefix      string
	share       float64
	web         bool
}

type alCellKey struct{ bucket, hour int }

// alLine is a rendered access-log line waiting for its object.
type alLine struct {
	t    int64
	line []byte
}

type alResult struct{ files, lines int }

// alRec is one access-log record. Empty strings and negative numbers are
// written as "-".
type alRec struct {
	owner, bucket                 string
	t                             int64
	remoteIP, requester, reqID    string
	op, key, uri                  string
	status                        int
	errCode                       string
	bytesSent, objSize            int64
	total, turn                   int64
	referrer, ua                  string
	versionID, hostID             string
	sigV, cipher, auth, host      string
	tls, apARN, aclReq, srcRegion string
	bare                          bool // URI, referrer and user agent written without quotes (BATCH lines)
}

func (w *world) setupAccessLogs() {
	prod := w.member(0)
	w.alDest = "s3-access-logs-" + prod.id + "-demo"
	w.alBuckets = []alBucket{
		{name: prod.dataBucket, acct: prod, region: w.home, prefix: "s3-access/" + prod.dataBucket + "/", share: 0.55},
		{name: prod.webBucket, acct: prod, region: w.home, partitioned: true, prefix: "s3-access/", share: 0.45, web: true},
	}
}

func (w *world) alBucketIndex(name string) int {
	for i, b := range w.alBuckets {
		if b.name == name {
			return i
		}
	}
	return -1
}

type alCell struct {
	key      alCellKey
	expected float64
}

func (w *world) accessCells() []alCell {
	var sumH float64
	for _, x := range w.hourW {
		sumH += x
	}
	var out []alCell
	for bi, b := range w.alBuckets {
		for h := range w.hours {
			exp := float64(w.opts.AccessLogLines) * b.share * w.hourW[h] / sumH
			out = append(out, alCell{key: alCellKey{bi, h}, expected: exp})
		}
	}
	return out
}

// appendAccessLine appends one record in the server access log format.
func appendAccessLine(b []byte, r *alRec) []byte {
	sp := func(s string) {
		b = append(b, ' ')
		if s == "" {
			s = "-"
		}
		b = append(b, s...)
	}
	num := func(n int64) {
		b = append(b, ' ')
		if n < 0 {
			b = append(b, '-')
			return
		}
		b = strconv.AppendInt(b, n, 10)
	}
	quoted := func(s string) {
		b = append(b, ' ')
		if r.bare && (s == "" || s == "-") {
			b = append(b, '-')
			return
		}
		if s == "" {
			s = "-"
		}
		b = append(b, '"')
		for i := 0; i < len(s); i++ {
			if s[i] == '"' || s[i] == '\\' {
				b = append(b, '\\')
			}
			b = append(b, s[i])
		}
		b = append(b, '"')
	}
	b = append(b, r.owner...)
	sp(r.bucket)
	b = append(b, ' ')
	b = appendCLF(b, r.t)
	sp(r.remoteIP)
	sp(r.requester)
	sp(r.reqID)
	sp(r.op)
	sp(r.key)
	quoted(r.uri)
	if r.status <= 0 {
		sp("-")
	} else {
		num(int64(r.status))
	}
	sp(r.errCode)
	if r.bytesSent == 0 {
		sp("-")
	} else {
		num(r.bytesSent)
	}
	num(r.objSize)
	num(r.total)
	num(r.turn)
	quoted(r.referrer)
	quoted(r.ua)
	sp(r.versionID)
	sp(r.hostID)
	sp(r.sigV)
	sp(r.cipher)
	sp(r.auth)
	sp(r.host)
	sp(r.tls)
	sp(r.apARN)
	sp(r.aclReq)
	sp(r.srcRegion)
	return append(b, '\n')
}

// keyField encodes a key as the access log's Key column does (URL
// encoding with '+' for spaces, slashes kept).
func keyField(k string) string {
	return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/")
}

// uriEscapePath escapes a key for a request URI as the SDKs do.
func uriEscapePath(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Access-log user agents (as clients send them; S3 escapes quotes).
var (
	alConsoleUA = "S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.772 Linux/5.10.227-198.884.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.432-b08 java/1.8.0_432 vendor/Oracle_Corporation cfg/retry-mode/standard"
	alConfigUA  = "aws-internal/3 aws-sdk-java/1.12.772 Linux/5.10.227-198.884.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.432-b08 java/1.8.0_432 vendor/Oracle_Corporation cfg/retry-mode/standard"
	alWebUAs    = []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; \"SiteAuditBot\"/1.3; +https://example.net/bot)",
		"curl/8.5.0",
	}
	alScannerUA = "Mozilla/5.0 zgrab/0.x"
)

// runAccessCell writes one bucket-hour of access logs.
func (wk *worker) runAccessCell(ctx context.Context, c alCell, res *alResult) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	w := wk.w
	b := &w.alBuckets[c.key.bucket]
	hourStart := w.start + int64(c.key.hour)*3600
	r := newRand(w.seed, tagAccess, uint64(c.key.bucket), uint64(c.key.hour))
	exp := c.expected * (0.85 + 0.3*r.Float64())
	n := int(exp)
	if r.Float64() < exp-float64(n) {
		n++
	}
	ag := &alGen{w: w, r: r, b: b, g: &wk.g}
	wk.g.r = r
	wk.g.a = b.acct
	wk.g.region = b.region
	var lines []alLine
	for range n {
		t := hourStart + int64(r.IntN(3600))
		lines = ag.request(lines, t)
	}
	// Lifecycle expiration runs shortly after midnight UTC.
	if _, _, _, hh, _, _ := civil(hourStart); hh == 0 && !b.web {
		m := 20 + n/10
		t := hourStart + 1200 + int64(r.IntN(600))
		for range m {
			lines = ag.expire(lines, t)
			t += int64(r.IntN(3))
		}
	}
	lines = append(lines, w.preLines[c.key]...)
	slices.SortStableFunc(lines, func(x, y alLine) int { return int(x.t - y.t) })

	// Delivery: one object per few minutes of requests, written a few
	// minutes to an hour later.
	for i := 0; i < len(lines); {
		winEnd := lines[i].t + 180 + int64(r.IntN(720))
		j := i
		for j < len(lines) && lines[j].t < winEnd && j-i < 4000 {
			j++
		}
		if j == i {
			j = i + 1
		}
		buf := wk.buf[:0]
		for _, l := range lines[i:j] {
			buf = append(buf, l.line...)
		}
		wk.buf = buf
		deliver := lines[j-1].t + 120 + int64(r.IntN(1500))
		name := accessLogName(deliver, r)
		key := b.prefix + name
		if b.partitioned {
			key = b.prefix + b.acct.id + "/" + b.region + "/" + b.name + "/" + dateDir(lines[i].t) + name
		}
		if _, err := wk.put(w.alDest, key, buf, false); err != nil {
			return err
		}
		res.files++
		res.lines += j - i
		i = j
	}
	return nil
}

// accessLogName returns YYYY-mm-DD-HH-MM-SS-<16 upper-case hex>.
func accessLogName(t int64, r *rand.Rand) string {
	y, m, d, hh, mm, ss := civil(t)
	b := make([]byte, 0, 36)
	b = app4(b, y)
	for _, v := range []int{m, d, hh, mm, ss} {
		b = append(b, '-')
		b = app2(b, v)
	}
	b = append(b, '-')
	b = appendRandChars(b, r, hexUpper, 16)
	return string(b)
}

// alGen draws benign access-log records.
type alGen struct {
	w *world
	r *rand.Rand
	b *alBucket
	g *evgen
}

func (ag *alGen) base(t int64) alRec {
	r := ag.r
	return alRec{
		owner: ag.b.acct.canonical, bucket: ag.b.name, t: t,
		reqID: randChars(r, hexUpper, 16), hostID: randChars(r, b64Chars, 75) + "=",
		objSize: -1, total: -1, turn: -1, referrer: "-",
		sigV: "SigV4", cipher: "ECDHE-RSA-AES128-GCM-SHA256", auth: "AuthHeader",
		host: ag.b.name + ".s3." + ag.b.region + ".amazonaws.com", tls: "TLSv1.2",
	}
}

func (ag *alGen) expire(lines []alLine, t int64) []alLine {
	r := ag.r
	rec := ag.base(t)
	rec.remoteIP, rec.requester, rec.op = "-", "AmazonS3", "S3.EXPIRE.OBJECT"
	rec.key = keyField(fmt.Sprintf("tmp/etl/%s/part-%05d.snappy.parquet", randChars(r, hexLower, 8), r.IntN(200)))
	rec.uri = "-"
	rec.objSize = int64(100_000 + r.IntN(5_000_000))
	rec.hostID = randChars(r, b64Chars, 64)
	rec.versionID = randChars(r, alnum, 32)
	rec.sigV, rec.cipher, rec.auth, rec.host, rec.tls = "", "", "", "", ""
	if r.IntN(5) == 0 {
		rec.op = "S3.TRANSITION_SIA.OBJECT"
		rec.key = keyField(fmt.Sprintf("reports/daily/%s/summary.parquet", isoTime(t - 40*86400)[:10]))
	}
	return append(lines, alLine{t: t, line: appendAccessLine(nil, &rec)})
}

// request draws one benign request at t.
func (ag *alGen) request(lines []alLine, t int64) []alLine {
	if ag.b.web {
		return ag.webRequest(lines, t)
	}
	r := ag.r
	a := ag.b.acct
	g := ag.g
	g.t = t
	rec := ag.base(t)
	if r.IntN(10) < 7 {
		rec.cipher, rec.tls = "TLS_AES_128_GCM_SHA256", "TLSv1.3"
	}
	rec.srcRegion = ag.b.region
	// Who.
	var id *identity
	x := r.IntN(100)
	switch {
	case x < 45 && len(a.ec2) > 0:
		id = a.ec2[r.IntN(len(a.ec2))]
		rec.remoteIP = id.privateIP
		rec.ua = pick(r, []string{boto3UA, javaUA})
	case x < 70 && len(a.lambdas) > 0:
		id = a.lambdas[r.IntN(len(a.lambdas))]
		rec.remoteIP = id.ips[0]
		rec.ua = lambdaUA
	case x < 80:
		id = a.humansCLI[r.IntN(len(a.humansCLI))]
		rec.remoteIP = id.ips[r.IntN(len(id.ips))]
		rec.ua = fillUA(id.uas[0], "s3.amazonaws.com", "Cp")
		rec.srcRegion = "-"
	case x < 86:
		id = a.sso[r.IntN(len(a.sso))]
		rec.remoteIP = id.ips[0]
		rec.ua = alConsoleUA
		rec.srcRegion = "-"
	case x < 92:
		// Presigned download links handed to customers.
		id = a.ci
		if len(a.lambdas) > 0 {
			id = a.lambdas[0]
		}
		rec.remoteIP = fmt.Sprintf("192.0.2.%d", 128+r.IntN(120))
		rec.ua = pick(r, alWebUAs[:3])
		rec.auth = "QueryString"
		rec.srcRegion = "-"
	case x < 96:
		id = a.services[0] // AWS Config
		rec.remoteIP = fmt.Sprintf("198.51.100.%d", 200+r.IntN(40))
		rec.ua = alConfigUA
	default:
		id = a.ci
		rec.remoteIP = id.ips[0]
		rec.ua = "s3cmd/2.4.0"
		rec.sigV = "SigV2"
		rec.srcRegion = "-"
	}
	rec.requester = id.arn()
	if id.kind == kIAMUser {
		rec.requester = "arn:aws:iam::" + a.id + ":user/" + id.userName
	}
	// What.
	key := g.objectKey(ag.b.name)
	size := g.objectSize(key)
	rec.turn = int64(5 + r.IntN(40))
	switch {
	case id.class == classConfig:
		sub := pick(r, []string{"acl", "policy", "location", "versioning", "encryption", "publicAccessBlock"})
		rec.op = map[string]string{"acl": "REST.GET.ACL", "policy": "REST.GET.BUCKETPOLICY", "location": "REST.GET.LOCATION", "versioning": "REST.GET.VERSIONING", "encryption": "REST.GET.ENCRYPTION", "publicAccessBlock": "REST.GET.PUBLIC_ACCESS_BLOCK"}[sub]
		rec.uri = "GET /?" + sub + " HTTP/1.1"
		rec.status = 200
		rec.bytesSent = int64(200 + r.IntN(900))
	case rec.auth == "QueryString":
		k := fmt.Sprintf("uploads/%s/invoice-%s.pdf", randChars(r, hexLower, 12), isoTime(t)[:7])
		rec.op, rec.key = "REST.GET.OBJECT", keyField(k)
		size = int64(40_000 + r.IntN(900_000))
		rec.uri = "GET /" + uriEscapePath(k) + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + id.sessionKey(t) + "%2F" + isoTime(t)[:10] + "%2F" + ag.b.region + "%2Fs3%2Faws4_request&X-Amz-Date=" + string(appendStamp(nil, t, true)) + "&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=" + randChars(r, hexLower, 64) + " HTTP/1.1"
		rec.status, rec.bytesSent, rec.objSize = 200, size, size
		rec.referrer = "https://portal.anycompany.com/"
	default:
		rec.key = keyField(key)
		path := "/" + uriEscapePath(key)
		if r.IntN(8) == 0 {
			path = "/" + ag.b.name + path // path-style
			rec.host = "s3." + ag.b.region + ".amazonaws.com"
		}
		switch y := r.IntN(100); {
		case y < 50:
			rec.op, rec.uri, rec.status = "REST.GET.OBJECT", "GET "+path+" HTTP/1.1", 200
			rec.bytesSent, rec.objSize = size, size
			if strings.HasSuffix(key, ".parquet") && r.IntN(2) == 0 {
				rec.status, rec.bytesSent = 206, min(size, int64(65536+r.IntN(8<<20)))
			}
		case y < 65:
			rec.op, rec.uri, rec.status = "REST.HEAD.OBJECT", "HEAD "+path+" HTTP/1.1", 200
			rec.objSize = size
		case y < 85:
			rec.op, rec.uri, rec.status = "REST.PUT.OBJECT", "PUT "+path+" HTTP/1.1", 200
			rec.objSize = size
			rec.versionID = randChars(r, alnum+"._", 32)
		case y < 93:
			prefix := "exports/" + isoTime(t)[:4] + "/"
			rec.op, rec.key = "REST.GET.BUCKET", ""
			rec.uri = "GET /?list-type=2&prefix=" + url.QueryEscape(prefix) + "&delimiter=%2F&encoding-type=url HTTP/1.1"
			rec.status, rec.bytesSent = 200, int64(1_000+r.IntN(60_000))
		default:
			// A batch delete: the POST and one line per key.
			rec.op, rec.key, rec.uri, rec.status = "REST.POST.MULTI_OBJECT_DELETE", "", "POST /?delete HTTP/1.1", 200
			rec.bytesSent = int64(300 + r.IntN(2000))
			rec.total = rec.turn + int64(r.IntN(200))
			lines = append(lines, alLine{t: t, line: appendAccessLine(nil, &rec)})
			for range 1 + r.IntN(5) {
				d := rec
				d.op = "BATCH.DELETE.OBJECT"
				d.key = keyField(fmt.Sprintf("tmp/etl/%s/part-%05d.snappy.parquet", randChars(r, hexLower, 8), r.IntN(200)))
				d.uri, d.referrer, d.ua = "-", "-", "-"
				d.bare = true
				d.status, d.bytesSent, d.objSize = 204, 0, int64(100_000+r.IntN(5_000_000))
				d.total, d.turn = -1, -1
				d.reqID = randChars(r, hexUpper, 16)
				lines = append(lines, alLine{t: t, line: appendAccessLine(nil, &d)})
			}
			return lines
		}
		// Errors.
		switch e := r.IntN(1000); {
		case e < 25 && (rec.op == "REST.GET.OBJECT" || rec.op == "REST.HEAD.OBJECT"):
			rec.status, rec.errCode, rec.bytesSent, rec.objSize = 404, "NoSuchKey", 0, -1
			if rec.op == "REST.GET.OBJECT" {
				rec.bytesSent = 291
			}
		case e < 35:
			rec.status, rec.errCode, rec.bytesSent, rec.objSize = 403, "AccessDenied", 243, -1
		case e < 40 && rec.op == "REST.PUT.OBJECT":
			rec.status, rec.errCode, rec.bytesSent, rec.objSize = 503, "SlowDown", 297, -1
		}
	}
	rec.total = rec.turn + rec.bytesSent/max(1, int64(20_000+r.IntN(200_000)))
	if rec.op == "REST.PUT.OBJECT" && rec.objSize > 0 {
		rec.total = rec.turn + rec.objSize/int64(30_000+r.IntN(100_000))
	}
	return append(lines, alLine{t: t, line: appendAccessLine(nil, &rec)})
}

// webRequest draws a request to the website bucket.
func (ag *alGen) webRequest(lines []alLine, t int64) []alLine {
	r := ag.r
	a := ag.b.acct
	rec := ag.base(t)
	key := pick(r, webKeys)
	size := webSize(key)
	rec.turn = int64(3 + r.IntN(25))
	switch x := r.IntN(100); {
	case x < 55:
		// Direct website endpoint traffic: HTTP only, anonymous.
		rec.op, rec.requester = "WEBSITE.GET.OBJECT", "-"
		rec.remoteIP = fmt.Sprintf("%s.%d", pick(r, []string{"192.0.2", "198.51.100"}), 128+r.IntN(120))
		rec.key = keyField(key)
		rec.uri = "GET /" + uriEscapePath(key) + " HTTP/1.1"
		rec.ua = pick(r, alWebUAs)
		rec.referrer = pick(r, []string{"-", "https://www.anycompany.com/", "https://www.anycompany.com/products", "https://www.google.com/"})
		rec.sigV, rec.cipher, rec.auth, rec.tls = "", "", "", ""
		rec.host = ag.b.name + ".s3-website-" + ag.b.region + ".amazonaws.com"
		if ag.b.region != "us-east-1" {
			rec.host = ag.b.name + ".s3-website." + ag.b.region + ".amazonaws.com"
		}
		rec.aclReq = "Yes"
		switch y := r.IntN(100); {
		case y < 78:
			rec.status, rec.bytesSent, rec.objSize = 200, size, size
		case y < 95:
			rec.status, rec.objSize = 304, size
		default:
			rec.status, rec.errCode, rec.bytesSent = 404, "NoSuchKey", 398
			rec.key = keyField(pick(r, []string{"wp-login.php", ".env", "admin/config.json", "images/products/9999.jpg"}))
			rec.uri = "GET /" + uriEscapePath(strings.ReplaceAll(rec.key, "+", " ")) + " HTTP/1.1"
			rec.aclReq = ""
		}
	case x < 93:
		// CloudFront origin requests (origin access control).
		rec.op, rec.requester = "REST.GET.OBJECT", "svc:cloudfront.amazonaws.com"
		rec.remoteIP = fmt.Sprintf("198.51.100.%d", 130+r.IntN(100))
		rec.key = keyField(key)
		rec.uri = "GET /" + uriEscapePath(key) + " HTTP/1.1"
		rec.ua = "Amazon CloudFront"
		rec.cipher, rec.tls = "TLS_AES_128_GCM_SHA256", "TLSv1.3"
		if r.IntN(6) == 0 {
			rec.status, rec.objSize = 304, size
		} else {
			rec.status, rec.bytesSent, rec.objSize = 200, size, size
		}
	case x < 97:
		// Deploys from CI.
		rec.op = "REST.PUT.OBJECT"
		rec.requester = "arn:aws:iam::" + a.id + ":user/ci-deploy"
		rec.remoteIP = a.ci.ips[0]
		rec.key = keyField(key)
		rec.uri = "PUT /" + uriEscapePath(key) + " HTTP/1.1"
		rec.ua = fillUA(cliUAs[1], "s3.amazonaws.com", "Sync")
		rec.status, rec.objSize = 200, size
		rec.cipher, rec.tls = "TLS_AES_128_GCM_SHA256", "TLSv1.3"
		rec.srcRegion = "-"
	default:
		// Internet scanners trying to list the bucket.
		rec.op, rec.requester = "REST.GET.BUCKET", "-"
		rec.remoteIP = fmt.Sprintf("198.51.100.%d", 240+r.IntN(15))
		rec.uri = "GET /?list-type=2 HTTP/1.1"
		rec.ua = alScannerUA
		rec.status, rec.errCode, rec.bytesSent = 403, "AccessDenied", 243
		rec.sigV, rec.auth = "", ""
	}
	rec.total = rec.turn + rec.bytesSent/int64(50_000+r.IntN(500_000))
	return append(lines, alLine{t: t, line: appendAccessLine(nil, &rec)})
}

// webSize returns the size of a website object.
func webSize(key string) int64 {
	h := int64(hashString(key) % 1000)
	switch {
	case strings.HasSuffix(key, ".html"):
		return 4_000 + h*8
	case strings.HasSuffix(key, ".js"):
		return 180_000 + h*200
	case strings.HasSuffix(key, ".css"):
		return 30_000 + h*40
	case strings.HasSuffix(key, ".png"), strings.HasSuffix(key, ".jpg"):
		return 60_000 + h*300
	case strings.HasSuffix(key, ".woff2"):
		return 48_000 + h*10
	case strings.HasSuffix(key, ".ico"):
		return 15_086
	case strings.HasSuffix(key, ".txt"):
		return 68
	case strings.HasSuffix(key, ".pdf"):
		return 1_200_000 + h*2000
	}
	return 10_000 + h
}
