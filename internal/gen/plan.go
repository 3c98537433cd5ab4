package gen

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Planned records: the attack stories, cross-account pairs (one API call
// logged in two accounts with a shared event id) and a few rare benign
// events. They are rendered here, sequentially from the story stream, and
// wait in world.pre for the cell that delivers them.

// Attacker infrastructure: one group works from 203.0.113.77-78, another
// signs in as root from 203.0.113.201.
const (
	atkIP1    = "203.0.113.77"
	atkIP2    = "203.0.113.78"
	atkRootIP = "203.0.113.201"

	atkPythonUA = "python-requests/2.31.0"
	atkBoto3UA  = "Boto3/1.26.90 Python/3.11.2 Linux/6.1.0-kali7-amd64 Botocore/1.29.90"
	atkCLIUA    = "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#kali.2024 md/prompt#off md/command#"
	atkRootUA   = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

	adminPolicy = "arn:aws:iam::aws:policy/AdministratorAccess"
)

// planner renders planned records into world.pre.
type planner struct {
	w   *world
	g   *evgen
	seq int
}

// ctx sets where and when the next record happens.
func (p *planner) ctx(a *account, region string, t int64) {
	p.g.a, p.g.region, p.g.t = a, region, t
}

// emit renders one record by id (ip and ua override the identity's when
// set) and files it for its cell. fill writes the API specifics; it may set
// errors on g.e.
func (p *planner) emit(id *identity, ip, ua, src, name string, ro int8, fill func(g *evgen)) {
	g := p.g
	g.begin(id, src, name, ro)
	if ip != "" {
		g.ip = ip
		g.e.vpce = false
	}
	if ua != "" {
		g.ua = ua
	}
	if fill != nil {
		fill(g)
	}
	p.add(g.a, g.region, g.t, g.finish(nil))
}

// emitPair renders a cross-account call once per account: the caller's
// copy (delivered to the caller's account) and the resource owner's copy,
// with the same requestID and a shared event id.
func (p *planner) emitPair(caller *identity, owner *account, ip, ua, src, name string, ro int8, fill func(g *evgen)) {
	g := p.g
	g.a = caller.acct
	g.begin(caller, src, name, ro)
	if ip != "" {
		g.ip = ip
	}
	if ua != "" {
		g.ua = ua
	}
	g.e.vpce = false
	fill(g)
	g.e.requestID = uuid(g.r)
	g.e.shared = uuid(g.r)
	p.add(caller.acct, g.region, g.t, g.finish(nil))
	g.a = owner
	g.e.recipient = owner.id
	p.add(owner, g.region, g.t, g.finish(nil))
}

func (p *planner) add(a *account, region string, t int64, rec []byte) {
	w := p.w
	if t < w.start || t >= w.start+int64(w.hours)*3600 {
		return
	}
	k := cellKey{a.idx, w.regionIndex(region), int((t - w.start) / 3600)}
	p.seq++
	w.pre[k] = append(w.pre[k], preEvent{t: t, seq: p.seq, json: rec})
}

// plan renders all planned records and sorts each cell's list by time.
func (w *world) plan() {
	r := newRand(w.seed, tagStory)
	p := &planner{w: w, g: newStandaloneGen(w, r)}
	w.planPairs(p)
	if w.opts.Attacks && w.hours >= 2 {
		w.planAttacks(p)
	}
	for _, k := range w.preKeys() {
		slices.SortStableFunc(w.pre[k], func(a, b preEvent) int {
			if a.t != b.t {
				return int(a.t - b.t)
			}
			return a.seq - b.seq
		})
	}
	for k, lines := range w.preLines {
		slices.SortStableFunc(lines, func(a, b alLine) int { return int(a.t - b.t) })
		w.preLines[k] = lines
	}
	slices.SortStableFunc(w.stories, func(a, b Story) int { return a.Start.Compare(b.Start) })
}

func (w *world) preKeys() []cellKey {
	ks := make([]cellKey, 0, len(w.pre))
	for k := range w.pre {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b cellKey) int {
		if a.acct != b.acct {
			return a.acct - b.acct
		}
		if a.region != b.region {
			return a.region - b.region
		}
		return a.hour - b.hour
	})
	return ks
}

// members returns the member accounts.
func (w *world) members() []*account { return w.accounts[1:] }

func (w *world) member(i int) *account {
	m := w.members()
	return m[i%len(m)]
}

// planPairs renders benign cross-account AssumeRole calls and the rare
// benign root sign-in.
func (w *world) planPairs(p *planner) {
	r := p.g.r
	mg := w.mgmt
	// The security-audit collector assumes SecurityAuditRole in every member
	// account once an hour.
	for h := range w.hours {
		for _, m := range w.members() {
			t := w.start + int64(h)*3600 + 420 + int64(r.IntN(90))
			p.ctx(mg, w.home, t)
			p.emitPair(mg.collector, m, "", "", "sts.amazonaws.com", "AssumeRole", 0, func(g *evgen) {
				g.assumeRole(m.id, "SecurityAuditRole", "security-audit-collector", 900, m.audit.sessionKey(t))
			})
		}
	}
	// An administrator uses OrganizationAccountAccessRole the legitimate way,
	// from the office, during working hours.
	admin := mg.humansCLI[0]
	for i, frac := range []float64{0.42, 0.61} {
		t := w.at(frac) + int64(r.IntN(600))
		m := w.member(i)
		sess := admin.userName
		role := w.orgRoleSession(m, sess, t, admin.ips[0], admin.uas[0])
		p.ctx(mg, "us-east-1", t)
		p.emitPair(admin, m, admin.ips[0], fmt.Sprintf(admin.uas[0], "sts.assume-role"), "sts.amazonaws.com", "AssumeRole", 0, func(g *evgen) {
			g.tlsHostOverride("sts.amazonaws.com")
			g.assumeRole(m.id, "OrganizationAccountAccessRole", sess, 3600, role.sessionKey(t))
		})
		for j, q := range []*api{apiDescribeInstances, apiDescribeSecurityGroups, apiGetBucketPolicy, apiListBuckets} {
			p.ctx(m, w.home, t+int64(40+j*25+r.IntN(20)))
			p.emit(role, "", fmt.Sprintf(admin.uas[0], "ec2.describe-instances"), q.src, q.name, q.ro, q.fill)
		}
	}
	// The root user signs in once, with MFA, to look at billing.
	t := w.at(0.45) + int64(r.IntN(900))
	root := mg.root
	root.ips = []string{mg.humans[0].ips[0]}
	p.ctx(mg, "us-east-1", t)
	p.emit(root, root.ips[0], root.uas[0], "signin.amazonaws.com", "ConsoleLogin", 0, fillConsoleLogin)
	root.sessPhase, root.sessPeriod = t, 3600
	for j, q := range []*api{apiGetAccountSummary, apiListAccountAliases, apiGetCostAndUsage} {
		p.ctx(mg, "us-east-1", t+int64(20+j*40))
		p.emit(root, root.ips[0], root.uas[0], q.src, q.name, q.ro, func(g *evgen) {
			g.e.console = true
			q.fill(g)
		})
	}
}

// tlsHostOverride sets the host the client named.
func (g *evgen) tlsHostOverride(h string) { g.e.tlsHost = h }

// at returns the time at a fraction of the generated period (or of the
// middle day for long periods).
func (w *world) at(frac float64) int64 {
	span := int64(w.hours) * 3600
	base := w.start
	if w.hours > 48 {
		base = w.start + int64(w.hours/24/2)*86400
		span = 86400
	}
	return base + int64(frac*float64(span))
}

// orgRoleSession returns the OrganizationAccountAccessRole session someone
// gets in member account m at time t.
func (w *world) orgRoleSession(m *account, session string, t int64, ip, ua string) *identity {
	id := &identity{
		kind:       kRole,
		class:      classHumanCLI,
		acct:       m,
		roleName:   "OrganizationAccountAccessRole",
		rolePath:   "/",
		session:    session,
		principal:  "AROA" + hashChars(hashOf(m.h, hashString("OrganizationAccountAccessRole")), keyChars, 17),
		ips:        []string{ip},
		uas:        []string{ua},
		sessPeriod: 3600,
		sessPhase:  t,
		tls13:      true,
		h:          hashOf(m.h, hashString(session), uint64(t)),
	}
	return id
}

// insightPlan is the Insights pair raised by the reconnaissance burst.
type insightPlan struct {
	acct        *account
	region      string
	start, end  int64
	src, name   string
	errCode     string
	count       int
	actor, ua   string
	baselineAvg float64
}

// story collects one story's records as they are emitted.
type storyRec struct {
	s     Story
	names []string
}

func (s *storyRec) note(t int64, name string) {
	tt := time.Unix(t, 0).UTC()
	if s.s.Start.IsZero() || tt.Before(s.s.Start) {
		s.s.Start = tt
	}
	if tt.After(s.s.End) {
		s.s.End = tt
	}
	if !slices.Contains(s.names, name) {
		s.names = append(s.names, name)
	}
}

func (w *world) addStory(s *storyRec) {
	s.s.EventNames = s.names
	w.stories = append(w.stories, s.s)
}

// planAttacks renders the attack stories.
func (w *world) planAttacks(p *planner) {
	r := p.g.r
	mg := w.mgmt
	ci := mg.ci
	target := mg.humansCLI[len(mg.humansCLI)-1]
	end := w.start + int64(w.hours)*3600

	// (1) The CI user's access key leaks; someone enumerates what it can do.
	t1 := w.at(0.13) + int64(r.IntN(300))
	s1 := &storyRec{s: Story{
		ID:    "ci-key-recon",
		Title: "Leaked CI access key used for reconnaissance",
		Description: fmt.Sprintf("The long-term access key %s of IAM user ci-deploy (management account) is used from %s with a Python tool: GetCallerIdentity, then a burst of calls across many services and regions, most denied (AccessDenied / Client.UnauthorizedOperation). CloudTrail Insights raises an ApiErrorRateInsight on ec2:DescribeInstances.",
			ci.akia, atkIP1),
		Account: mg.id, Region: "us-east-1", Actor: ci.arn(), SourceIP: atkIP1,
	}}
	t := t1
	p.ctx(mg, "us-east-1", t)
	p.emit(ci, atkIP1, atkPythonUA, "sts.amazonaws.com", "GetCallerIdentity", 1, func(g *evgen) {
		g.tlsHostOverride("sts.amazonaws.com")
	})
	s1.note(t, "GetCallerIdentity")
	type probe struct {
		region, src, name, code string
		ok                      bool
	}
	us := "us-east-1"
	probes := []probe{
		{us, "iam.amazonaws.com", "GetUser", "", true},
		{us, "iam.amazonaws.com", "ListUsers", "AccessDenied", false},
		{us, "iam.amazonaws.com", "ListRoles", "AccessDenied", false},
		{us, "iam.amazonaws.com", "ListAttachedUserPolicies", "", true},
		{us, "iam.amazonaws.com", "ListAccessKeys", "", true},
		{us, "iam.amazonaws.com", "GetAccountAuthorizationDetails", "AccessDenied", false},
		{us, "iam.amazonaws.com", "ListGroups", "AccessDenied", false},
		{us, "iam.amazonaws.com", "ListPolicies", "AccessDenied", false},
		{us, "iam.amazonaws.com", "GetAccountSummary", "AccessDenied", false},
		{w.home, "s3.amazonaws.com", "ListBuckets", "AccessDenied", false},
		{w.home, "secretsmanager.amazonaws.com", "ListSecrets", "AccessDenied", false},
		{w.home, "ssm.amazonaws.com", "DescribeParameters", "AccessDeniedException", false},
		{w.home, "kms.amazonaws.com", "ListKeys", "AccessDenied", false},
		{w.home, "lambda.amazonaws.com", "ListFunctions20150331", "AccessDenied", false},
		{w.home, "dynamodb.amazonaws.com", "ListTables", "AccessDenied", false},
		{w.home, "rds.amazonaws.com", "DescribeDBInstances", "AccessDenied", false},
		{us, "organizations.amazonaws.com", "DescribeOrganization", "AccessDeniedException", false},
		{us, "organizations.amazonaws.com", "ListAccounts", "AccessDeniedException", false},
		{w.home, "cloudtrail.amazonaws.com", "DescribeTrails", "AccessDenied", false},
		{w.home, "guardduty.amazonaws.com", "ListDetectors", "AccessDeniedException", false},
		{w.home, "ecr.amazonaws.com", "DescribeRepositories", "AccessDeniedException", false},
		{w.home, "ecs.amazonaws.com", "ListClusters", "AccessDeniedException", false},
		{w.home, "eks.amazonaws.com", "ListClusters", "AccessDeniedException", false},
		{w.home, "ec2.amazonaws.com", "DescribeSecurityGroups", "Client.UnauthorizedOperation", false},
		{w.home, "ec2.amazonaws.com", "DescribeVpcs", "Client.UnauthorizedOperation", false},
		{w.home, "ec2.amazonaws.com", "DescribeSnapshots", "Client.UnauthorizedOperation", false},
	}
	for _, reg := range []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1", "ap-southeast-1", "ap-northeast-1", "ap-south-1", "sa-east-1", "ca-central-1"} {
		probes = append(probes, probe{reg, "ec2.amazonaws.com", "DescribeInstances", "Client.UnauthorizedOperation", false})
	}
	// The tool retries DescribeInstances in the home region: the error-rate
	// spike CloudTrail Insights reports.
	insightFirst := int64(0)
	for range 11 {
		probes = append(probes, probe{w.home, "ec2.amazonaws.com", "DescribeInstances", "Client.UnauthorizedOperation", false})
	}
	t += 20
	denied := 0
	repeat := 0
	for i, pr := range probes {
		t += int64(2 + r.IntN(5))
		if i == len(probes)-11 {
			t += 5
		}
		p.ctx(mg, pr.region, t)
		p.emit(ci, atkIP1, atkBoto3UA, pr.src, pr.name, readOnlyOf(pr.name), func(g *evgen) {
			writeProbeParams(g, pr.src, pr.name, ci)
			if !pr.ok {
				setProbeError(g, pr.code, ci.arn(), pr.src, pr.name)
			}
		})
		if !pr.ok {
			denied++
		}
		if pr.region == w.home && pr.name == "DescribeInstances" {
			if insightFirst == 0 {
				insightFirst = t
			}
			repeat++
		}
		s1.note(t, pr.name)
	}
	w.addStory(s1)
	w.insight = &insightPlan{
		acct: mg, region: w.home, start: insightFirst - insightFirst%60, src: "ec2.amazonaws.com", name: "DescribeInstances",
		errCode: "Client.UnauthorizedOperation", count: repeat, actor: ci.arn(), ua: atkBoto3UA, baselineAvg: 0.0069444444,
	}
	w.insight.end = w.insight.start + 4*60

	// (2) Persistence: a new access key for another user, made administrator.
	t2 := t + 240 + int64(r.IntN(120))
	newKey := "AKIA" + randChars(r, keyChars, 16)
	s2 := &storyRec{s: Story{
		ID:    "iam-backdoor-key",
		Title: "Access key created for another user and AdministratorAccess attached",
		Description: fmt.Sprintf("With the leaked ci-deploy key, the attacker creates access key %s for IAM user %s and attaches the AWS managed policy AdministratorAccess to that user, then switches to the new key.",
			newKey, target.userName),
		Account: mg.id, Region: "us-east-1", Actor: ci.arn(), SourceIP: atkIP1,
	}}
	t = t2
	userFill := func(extra func(g *evgen)) func(g *evgen) {
		return func(g *evgen) {
			g.req.O()
			g.req.KS("userName", target.userName)
			if extra != nil {
				extra(g)
			}
			g.req.E()
		}
	}
	for _, name := range []string{"GetUser", "ListAttachedUserPolicies", "ListAccessKeys"} {
		p.ctx(mg, "us-east-1", t)
		p.emit(ci, atkIP1, atkBoto3UA, "iam.amazonaws.com", name, 1, userFill(nil))
		s2.note(t, name)
		t += int64(3 + r.IntN(6))
	}
	t += 30
	p.ctx(mg, "us-east-1", t)
	p.emit(ci, atkIP1, atkBoto3UA, "iam.amazonaws.com", "CreateAccessKey", 0, func(g *evgen) {
		userFill(nil)(g)
		g.resp.O()
		g.resp.KO("accessKey")
		g.resp.KS("userName", target.userName)
		g.resp.KS("accessKeyId", newKey)
		g.resp.KS("status", "Active")
		g.resp.KS("createDate", javaDate(g.t))
		g.resp.E()
		g.resp.E()
	})
	s2.note(t, "CreateAccessKey")
	t += int64(8 + r.IntN(10))
	p.ctx(mg, "us-east-1", t)
	p.emit(ci, atkIP1, atkBoto3UA, "iam.amazonaws.com", "AttachUserPolicy", 0, userFill(func(g *evgen) {
		g.req.KS("policyArn", adminPolicy)
	}))
	s2.note(t, "AttachUserPolicy")
	w.addStory(s2)

	// (3) Defense evasion: the attacker switches to the new key and stops the
	// organization trail.
	bd := *target
	bd.akia = newKey
	bd.ips = []string{atkIP2}
	bd.uas = []string{atkCLIUA}
	bd.tls13 = true
	s3 := &storyRec{s: Story{
		ID:      "cloudtrail-stopped",
		Title:   "Organization trail logging stopped",
		Account: mg.id, Region: w.trailHome, Actor: bd.arn(), SourceIP: atkIP2,
	}}
	t += 50 + int64(r.IntN(30))
	p.ctx(mg, "us-east-1", t)
	p.emit(&bd, atkIP2, atkCLIUA+"sts.get-caller-identity", "sts.amazonaws.com", "GetCallerIdentity", 1, func(g *evgen) {
		g.tlsHostOverride("sts.amazonaws.com")
	})
	s3.note(t, "GetCallerIdentity")
	t += int64(10 + r.IntN(10))
	p.ctx(mg, "us-east-1", t)
	p.emit(&bd, atkIP2, atkCLIUA+"iam.list-users", "iam.amazonaws.com", "ListUsers", 1, nil)
	s3.note(t, "ListUsers")
	t += 300 + int64(r.IntN(120))
	p.ctx(mg, w.trailHome, t)
	p.emit(&bd, atkIP2, atkCLIUA+"cloudtrail.describe-trails", "cloudtrail.amazonaws.com", "DescribeTrails", 1, func(g *evgen) {
		g.req.O()
		g.req.KSS("trailNameList")
		g.req.KB("includeShadowTrails", true)
		g.req.E()
	})
	s3.note(t, "DescribeTrails")
	t += int64(15 + r.IntN(20))
	trailFill := func(g *evgen) {
		g.req.O()
		g.req.KS("name", w.trailARN)
		g.req.E()
	}
	p.ctx(mg, w.trailHome, t)
	p.emit(&bd, atkIP2, atkCLIUA+"cloudtrail.get-trail-status", "cloudtrail.amazonaws.com", "GetTrailStatus", 1, trailFill)
	s3.note(t, "GetTrailStatus")
	t += int64(20 + r.IntN(20))
	p.ctx(mg, w.trailHome, t)
	p.emit(&bd, atkIP2, atkCLIUA+"cloudtrail.stop-logging", "cloudtrail.amazonaws.com", "StopLogging", 0, trailFill)
	s3.note(t, "StopLogging")
	stopAt := t

	// Lateral movement: OrganizationAccountAccessRole into member accounts.
	// The caller's copy of each AssumeRole falls in the logging gap; the
	// member accounts still record theirs.
	pivot := func(m *account, at int64) *identity {
		sess := fmt.Sprintf("botocore-session-%d", at-3)
		role := w.orgRoleSession(m, sess, at, atkIP2, atkCLIUA)
		p.ctx(mg, "us-east-1", at)
		p.emitPair(&bd, m, atkIP2, atkCLIUA+"sts.assume-role", "sts.amazonaws.com", "AssumeRole", 0, func(g *evgen) {
			g.tlsHostOverride("sts.amazonaws.com")
			g.assumeRole(m.id, "OrganizationAccountAccessRole", sess, 3600, role.sessionKey(at))
		})
		return role
	}

	// (5) A security group opened to the world in the staging account.
	staging := w.member(1)
	t5 := stopAt + 240 + int64(r.IntN(60))
	roleS := pivot(staging, t5)
	s5 := &storyRec{s: Story{
		ID:      "sg-open-world",
		Title:   "Security group opened to the internet on SSH and RDP",
		Account: staging.id, Region: w.home, Actor: roleS.arn(), SourceIP: atkIP2,
	}}
	s5.note(t5, "AssumeRole")
	sg := staging.sg(w.home, 1)
	t = t5 + 90
	p.ctx(staging, w.home, t)
	p.emit(roleS, "", atkCLIUA+"ec2.describe-instances", "ec2.amazonaws.com", "DescribeInstances", 1, apiDescribeInstances.fill)
	s5.note(t, "DescribeInstances")
	t += int64(20 + r.IntN(20))
	p.ctx(staging, w.home, t)
	p.emit(roleS, "", atkCLIUA+"ec2.describe-security-groups", "ec2.amazonaws.com", "DescribeSecurityGroups", 1, apiDescribeSecurityGroups.fill)
	s5.note(t, "DescribeSecurityGroups")
	t += int64(30 + r.IntN(30))
	p.ctx(staging, w.home, t)
	p.emit(roleS, "", atkCLIUA+"ec2.authorize-security-group-ingress", "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 0, func(g *evgen) {
		writeSGIngress(g, sg, []sgRule{{port: 22, cidr: "0.0.0.0/0", v6: "::/0"}, {port: 3389, cidr: "0.0.0.0/0", v6: "::/0"}})
	})
	s5.note(t, "AuthorizeSecurityGroupIngress")
	s5.s.Description = fmt.Sprintf("From the management account, the backdoored user %s assumes OrganizationAccountAccessRole in the staging account (only the staging copy of AssumeRole is logged: the organization trail is stopped in the management account) and adds ingress rules to %s allowing TCP 22 and 3389 from 0.0.0.0/0 and ::/0.", target.userName, sg)
	w.addStory(s5)

	// (6) A bucket made public in prod.
	prod := w.member(0)
	t6 := t + 300 + int64(r.IntN(120))
	roleP := pivot(prod, t6)
	bucket := prod.dataBucket
	s6 := &storyRec{s: Story{
		ID:      "s3-bucket-public",
		Title:   "S3 bucket made public",
		Account: prod.id, Region: w.home, Actor: roleP.arn(), SourceIP: atkIP2,
		Description: fmt.Sprintf("In the prod account, the attacker's OrganizationAccountAccessRole session turns off S3 Block Public Access on %s, writes a bucket policy granting s3:GetObject to Principal \"*\", and (after switching Object Ownership so ACLs work) grants READ to AllUsers. The same requests appear in the bucket's server access log.", bucket),
	}}
	s6.note(t6, "AssumeRole")
	t = t6 + 60
	sa := &s3Attack{p: p, w: w, acct: prod, role: roleP, bucket: bucket}
	p.ctx(prod, w.home, t)
	p.emit(roleP, "", atkCLIUA+"s3api.list-buckets", "s3.amazonaws.com", "ListBuckets", 1, apiListBuckets.fill)
	s6.note(t, "ListBuckets")
	steps := []struct {
		name, sub, op, uri, cmd, code string
		status                        int
		ro                            int8
		body                          func(g *evgen)
	}{
		{"GetBucketPolicy", "policy", "REST.GET.BUCKETPOLICY", "GET /?policy HTTP/1.1", "s3api.get-bucket-policy", "", 200, 1, nil},
		{"GetBucketPublicAccessBlock", "publicAccessBlock", "REST.GET.PUBLIC_ACCESS_BLOCK", "GET /?publicAccessBlock HTTP/1.1", "s3api.get-public-access-block", "", 200, 1, nil},
		{"PutBucketPublicAccessBlock", "publicAccessBlock", "REST.PUT.PUBLIC_ACCESS_BLOCK", "PUT /?publicAccessBlock HTTP/1.1", "s3api.put-public-access-block", "", 200, 0, func(g *evgen) {
			g.req.KO("PublicAccessBlockConfiguration")
			g.req.KS("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")
			g.req.KB("RestrictPublicBuckets", false)
			g.req.KB("BlockPublicPolicy", false)
			g.req.KB("BlockPublicAcls", false)
			g.req.KB("IgnorePublicAcls", false)
			g.req.E()
		}},
		{"PutBucketPolicy", "policy", "REST.PUT.BUCKETPOLICY", "PUT /?policy HTTP/1.1", "s3api.put-bucket-policy", "", 204, 0, func(g *evgen) {
			g.req.KO("bucketPolicy")
			g.req.KS("Version", "2012-10-17")
			g.req.KA("Statement")
			g.req.O()
			g.req.KS("Sid", "PublicRead")
			g.req.KS("Effect", "Allow")
			g.req.KS("Principal", "*")
			g.req.KS("Action", "s3:GetObject")
			g.req.KS("Resource", "arn:aws:s3:::"+bucket+"/*")
			g.req.E()
			g.req.EA()
			g.req.E()
		}},
		{"PutBucketAcl", "acl", "REST.PUT.ACL", "PUT /?acl HTTP/1.1", "s3api.put-bucket-acl", "AccessControlListNotSupported", 400, 0, func(g *evgen) { writePublicACL(g, prod.canonical) }},
		{"PutBucketOwnershipControls", "ownershipControls", "REST.PUT.OWNERSHIP_CONTROLS", "PUT /?ownershipControls HTTP/1.1", "s3api.put-bucket-ownership-controls", "", 200, 0, func(g *evgen) {
			g.req.KO("OwnershipControls")
			g.req.KS("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")
			g.req.KO("Rule")
			g.req.KS("ObjectOwnership", "BucketOwnerPreferred")
			g.req.E()
			g.req.E()
		}},
		{"PutBucketAcl", "acl", "REST.PUT.ACL", "PUT /?acl HTTP/1.1", "s3api.put-bucket-acl", "", 200, 0, func(g *evgen) { writePublicACL(g, prod.canonical) }},
	}
	for _, st := range steps {
		t += int64(15 + r.IntN(40))
		p.ctx(prod, w.home, t)
		reqID, hostID := p.g.s3RequestID(), p.g.hostID()
		p.emit(roleP, "", atkCLIUA+st.cmd, "s3.amazonaws.com", st.name, st.ro, func(g *evgen) {
			g.e.requestID = reqID
			g.e.tlsHost = g.s3Host(bucket)
			g.req.O()
			g.req.KS("bucketName", bucket)
			g.req.KS("Host", g.s3Host(bucket))
			g.req.KS(st.sub, "")
			if st.body != nil {
				st.body(g)
			}
			g.req.E()
			g.s3Extra(int64(len(g.req.b)/2), 0, hostID)
			g.bucketResource(bucket)
			if st.code != "" {
				g.e.errCode, g.e.errMsg = st.code, "The bucket does not allow ACLs"
			}
		})
		sa.line(t, st.op, "-", st.uri, st.status, st.code, atkCLIUA+st.cmd, reqID, hostID, 0)
		s6.note(t, st.name)
	}
	w.addStory(s6)

	// (7) Bulk download of the customer data.
	t7 := t + 240 + int64(r.IntN(120))
	s7 := &storyRec{s: Story{
		ID:      "s3-bulk-exfil",
		Title:   "Bulk download of customer data",
		Account: prod.id, Region: w.home, Actor: roleP.arn(), SourceIP: atkIP2,
	}}
	t = t7
	y, mo, d, _, _, _ := civil(w.start - 86400)
	for page := range 3 {
		p.ctx(prod, w.home, t)
		reqID, hostID := p.g.s3RequestID(), p.g.hostID()
		p.emit(roleP, "", atkCLIUA+"s3.sync", "s3.amazonaws.com", "ListObjects", 1, func(g *evgen) {
			g.e.data = true
			g.e.requestID = reqID
			g.e.tlsHost = g.s3Host(bucket)
			g.ua = "[" + g.ua + "]"
			g.req.O()
			g.req.KS("list-type", "2")
			g.req.KS("bucketName", bucket)
			g.req.KS("encoding-type", "url")
			g.req.KS("prefix", "exports/")
			if page > 0 {
				g.req.KS("continuation-token", randChars(g.r, b64Chars, 120))
			}
			g.req.KS("Host", g.s3Host(bucket))
			g.req.E()
			g.s3Extra(0, 180000+int64(g.r.IntN(40000)), hostID)
			g.bucketResource(bucket)
		})
		q := "/?list-type=2&prefix=exports%2F&encoding-type=url"
		if page > 0 {
			q += "&continuation-token=" + randChars(r, alnum, 40)
		}
		sa.line(t, "REST.GET.BUCKET", "-", "GET "+q+" HTTP/1.1", 200, "", atkCLIUA+"s3.sync", reqID, hostID, 180000+int64(r.IntN(40000)))
		s7.note(t, "ListObjects")
		t += 1
	}
	nGet := 600 + r.IntN(60)
	dur := int64(300 + r.IntN(60))
	for i := range nGet {
		tt := t + int64(i)*dur/int64(nGet)
		key := fmt.Sprintf("exports/%04d/%02d/%02d/customers-%06d.csv.gz", y, mo, d, i)
		size := int64(2_000_000 + r.IntN(38_000_000))
		p.ctx(prod, w.home, tt)
		reqID, hostID := p.g.s3RequestID(), p.g.hostID()
		p.emit(roleP, "", atkCLIUA+"s3.sync", "s3.amazonaws.com", "GetObject", 1, func(g *evgen) {
			g.s3Object(bucket, key, 0, size, reqID, hostID)
		})
		sa.line(tt, "REST.GET.OBJECT", key, "GET /"+uriEscapePath(key)+" HTTP/1.1", 200, "", atkCLIUA+"s3.sync", reqID, hostID, size)
		s7.note(tt, "GetObject")
	}
	s7.s.Description = fmt.Sprintf("The same session lists %s and downloads %d objects (customer exports, 2-40 MB each) within about %d minutes with `aws s3 sync`, from %s: GetObject data events in CloudTrail and matching REST.GET.OBJECT lines (same request ids) in the bucket's server access log.", bucket, nGet, (dur+59)/60, atkIP2)
	w.addStory(s7)

	// The security team restarts logging and cleans up.
	resp := mg.sso[0]
	gapEnd := max(w.at(0.38), t+dur+900)
	gapEnd = min(gapEnd, end-900)
	if gapEnd <= stopAt {
		gapEnd = stopAt + 60
	}
	w.gap = gapInfo{acct: mg.idx, start: stopAt, end: gapEnd}
	s3.s.Description = fmt.Sprintf("Using the backdoored user %s (new access key %s), the attacker calls StopLogging on the organization trail %s. The management account's log files stop until %s is restarted by %s at %s (StartLogging), and its digest chains break: no digest files during the gap and a new starting digest afterwards.",
		target.userName, newKey, w.trailARN, w.trailName, resp.session, time.Unix(gapEnd, 0).UTC().Format(time.RFC3339))
	w.addStory(s3)
	t = gapEnd
	cons := func(name, src string, ro int8, fill func(g *evgen)) {
		p.ctx(mg, "us-east-1", t)
		p.emit(resp, "", "", src, name, ro, func(g *evgen) {
			g.e.console = true
			if fill != nil {
				fill(g)
			}
		})
		t += int64(40 + r.IntN(60))
	}
	p.ctx(mg, w.trailHome, t)
	p.emit(resp, "", "", "cloudtrail.amazonaws.com", "StartLogging", 0, func(g *evgen) {
		g.e.console = true
		trailFill(g)
	})
	t += 30
	cons("GetTrailStatus", "cloudtrail.amazonaws.com", 1, trailFill)
	cons("LookupEvents", "cloudtrail.amazonaws.com", 1, apiLookupEvents.fill)
	cons("ListAccessKeys", "iam.amazonaws.com", 1, userFill(nil))
	cons("UpdateAccessKey", "iam.amazonaws.com", 0, userFill(func(g *evgen) {
		g.req.KS("accessKeyId", newKey)
		g.req.KS("status", "Inactive")
	}))
	cons("DetachUserPolicy", "iam.amazonaws.com", 0, userFill(func(g *evgen) { g.req.KS("policyArn", adminPolicy) }))
	cons("UpdateAccessKey", "iam.amazonaws.com", 0, func(g *evgen) {
		g.req.O()
		g.req.KS("userName", "ci-deploy")
		g.req.KS("accessKeyId", ci.akia)
		g.req.KS("status", "Inactive")
		g.req.E()
	})

	// (4) Root signs in without MFA from an unusual address.
	dev := w.member(2)
	tr := w.at(0.68) + int64(r.IntN(600))
	root := *dev.root
	root.mfa = false
	root.ips = []string{atkRootIP}
	root.uas = []string{atkRootUA}
	root.sessPhase, root.sessPeriod = tr, 3600
	root.tls13 = true
	s4 := &storyRec{s: Story{
		ID:    "root-login-no-mfa",
		Title: "Root user console sign-in without MFA from an unusual address",
		Description: fmt.Sprintf("The %s account's root user signs in to the console from %s without MFA (additionalEventData.MFAUsed \"No\"), looks around and creates a root access key.",
			dev.name, atkRootIP),
		Account: dev.id, Region: "us-east-1", Actor: root.arn(), SourceIP: atkRootIP,
	}}
	t = tr
	p.ctx(dev, "us-east-1", t)
	p.emit(&root, atkRootIP, atkRootUA, "signin.amazonaws.com", "ConsoleLogin", 0, fillConsoleLogin)
	s4.note(t, "ConsoleLogin")
	rootSteps := []struct {
		region string
		a      *api
	}{{"us-east-1", apiGetAccountSummary}, {"us-east-1", apiListUsers}, {"us-east-1", apiListAccessKeys}, {w.home, apiDescribeRegions}, {w.home, apiListBuckets}}
	for _, st := range rootSteps {
		t += int64(20 + r.IntN(50))
		p.ctx(dev, st.region, t)
		a := st.a
		p.emit(&root, atkRootIP, atkRootUA, a.src, a.name, a.ro, func(g *evgen) {
			g.e.console = true
			if a == apiListAccessKeys {
				return // the root user's own keys: no parameters
			}
			a.fill(g)
		})
		s4.note(t, a.name)
	}
	t += int64(30 + r.IntN(30))
	p.ctx(dev, "us-east-1", t)
	p.emit(&root, atkRootIP, atkRootUA, "iam.amazonaws.com", "CreateAccessKey", 0, func(g *evgen) {
		g.e.console = true
		g.resp.O()
		g.resp.KO("accessKey")
		g.resp.KS("accessKeyId", "AKIA"+randChars(g.r, keyChars, 16))
		g.resp.KS("status", "Active")
		g.resp.KS("createDate", javaDate(g.t))
		g.resp.E()
		g.resp.E()
	})
	s4.note(t, "CreateAccessKey")
	w.addStory(s4)
}

// readOnlyOf guesses readOnly from an API name.
func readOnlyOf(name string) int8 {
	for _, p := range []string{"Get", "List", "Describe", "Lookup"} {
		if strings.HasPrefix(name, p) {
			return 1
		}
	}
	return 0
}

// writeProbeParams writes the request parameters a reconnaissance tool sends.
func writeProbeParams(g *evgen, src, name string, self *identity) {
	w := &g.req
	switch {
	case src == "ec2.amazonaws.com":
		w.O()
		switch name {
		case "DescribeInstances":
			emptySet(w, "instancesSet", "filterSet")
		case "DescribeSecurityGroups":
			emptySet(w, "securityGroupSet", "securityGroupIdSet", "filterSet")
		case "DescribeVpcs":
			emptySet(w, "vpcSet", "filterSet")
		case "DescribeSnapshots":
			emptySet(w, "snapshotSet")
			w.KO("ownersSet")
			w.KA("items")
			w.O()
			w.KS("owner", "self")
			w.E()
			w.EA()
			w.E()
			emptySet(w, "restorableBySet", "filterSet")
		}
		w.E()
	case src == "s3.amazonaws.com":
		g.e.requestID = g.s3RequestID()
		w.O()
		w.KS("Host", "s3."+g.region+".amazonaws.com")
		w.E()
		g.e.tlsHost = "s3." + g.region + ".amazonaws.com"
		g.s3Extra(0, 243, g.hostID())
	case name == "ListAttachedUserPolicies" || name == "ListAccessKeys" || name == "GetUser":
		if name != "GetUser" {
			w.O()
			w.KS("userName", self.userName)
			w.E()
		}
	case name == "GetAccountAuthorizationDetails":
		w.O()
		w.KSS("filter", "User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
		w.E()
	case name == "ListSecrets" || name == "DescribeParameters":
		w.O()
		w.KI("maxResults", 50)
		w.E()
	}
}

// setProbeError sets the error a denied reconnaissance call gets.
func setProbeError(g *evgen, code, arn, src, name string) {
	e := &g.e
	action := iamAction(src, name)
	e.errCode = code
	switch {
	case code == "Client.UnauthorizedOperation":
		e.errMsg = "You are not authorized to perform this operation. User: " + arn + " is not authorized to perform: " + action + " because no identity-based policy allows the " + action + " action"
	case src == "s3.amazonaws.com":
		e.errMsg = "Access Denied"
	case src == "organizations.amazonaws.com":
		e.errMsg = "You don't have permissions to access this resource."
	case src == "iam.amazonaws.com":
		res := "arn:aws:iam::" + g.a.id + ":user/"
		switch name {
		case "ListRoles":
			res = "arn:aws:iam::" + g.a.id + ":role/"
		case "ListGroups":
			res = "arn:aws:iam::" + g.a.id + ":group/"
		case "ListPolicies":
			res = "arn:aws:iam::" + g.a.id + ":policy/"
		case "GetAccountAuthorizationDetails", "GetAccountSummary":
			res = "*"
		}
		e.errMsg = deniedMsg(arn, action, res)
	case src == "dynamodb.amazonaws.com":
		e.errMsg = deniedMsg(arn, action, "arn:aws:dynamodb:"+g.region+":"+g.a.id+":table/*")
	case src == "ssm.amazonaws.com":
		e.errMsg = deniedMsg(arn, action, "arn:aws:ssm:"+g.region+":"+g.a.id+":*")
	case src == "rds.amazonaws.com":
		e.errMsg = deniedMsg(arn, action, "arn:aws:rds:"+g.region+":"+g.a.id+":db:*")
	case src == "cloudtrail.amazonaws.com":
		e.errMsg = deniedMsg(arn, action, "arn:aws:cloudtrail:"+g.region+":"+g.a.id+":trail/*")
	default:
		e.errMsg = deniedMsg(arn, action, "")
	}
}

// writePublicACL writes a PutBucketAcl body granting READ to AllUsers.
func writePublicACL(g *evgen, canonical string) {
	w := &g.req
	w.KO("AccessControlPolicy")
	w.KO("AccessControlList")
	w.KA("Grant")
	w.O()
	w.KO("Grantee")
	w.KS("xsi:type", "CanonicalUser")
	w.KS("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	w.KS("ID", canonical)
	w.E()
	w.KS("Permission", "FULL_CONTROL")
	w.E()
	w.O()
	w.KO("Grantee")
	w.KS("xsi:type", "Group")
	w.KS("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	w.KS("URI", "http://acs.amazonaws.com/groups/global/AllUsers")
	w.E()
	w.KS("Permission", "READ")
	w.E()
	w.EA()
	w.E()
	w.KS("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")
	w.KO("Owner")
	w.KS("ID", canonical)
	w.E()
	w.E()
}

// s3Attack writes the access-log lines matching the attacker's S3 calls.
type s3Attack struct {
	p      *planner
	w      *world
	acct   *account
	role   *identity
	bucket string
}

func (s *s3Attack) line(t int64, op, key, uri string, status int, code, ua, reqID, hostID string, bytes int64) {
	w := s.w
	bi := w.alBucketIndex(s.bucket)
	if bi < 0 || t < w.start || t >= w.start+int64(w.hours)*3600 {
		return
	}
	rec := alRec{
		owner: s.acct.canonical, bucket: s.bucket, t: t, remoteIP: atkIP2, requester: s.role.arn(),
		reqID: reqID, op: op, key: key, uri: uri, status: status, errCode: code,
		bytesSent: bytes, objSize: -1, total: 20 + bytes/400000, turn: 10 + int64(s.p.g.r.IntN(30)),
		referrer: "-", ua: ua, versionID: "-", hostID: hostID, sigV: "SigV4", cipher: "TLS_AES_128_GCM_SHA256",
		auth: "AuthHeader", host: s.bucket + ".s3." + w.home + ".amazonaws.com", tls: "TLSv1.3",
		apARN: "-", aclReq: "-", srcRegion: "-",
	}
	if op == "REST.GET.OBJECT" {
		rec.objSize = bytes
	}
	if code != "" {
		rec.bytesSent = 291
	}
	if op == "REST.PUT.ACL" && code == "" {
		rec.aclReq = "-"
	}
	k := alCellKey{bi, int((t - w.start) / 3600)}
	w.preLines[k] = append(w.preLines[k], alLine{t: t, line: appendAccessLine(nil, &rec)})
}
