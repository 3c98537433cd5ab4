package gen

import (
	"fmt"
	"math/rand/v2"
)

// The organization: who exists, where they come from and what they own.
// Everything here is built once per Generate from the world stream, so it
// depends on Seed and the options only.

// idKind is the shape of a userIdentity element.
type idKind uint8

const (
	kIAMUser     idKind = iota // IAM user with a long-term AKIA key (CLI, SDK, Terraform)
	kConsoleUser               // IAM user signed in to the console (ASIA session key)
	kRole                      // assumed-role session: SSO, EC2, Lambda, service-linked, cross-account
	kService                   // AWSService principal (invokedBy only)
	kRoot                      // the account root user
)

// actorClass selects the API mix an identity draws from.
type actorClass uint8

const (
	classHumanCLI actorClass = iota
	classHumanConsole
	classCI
	classEC2
	classLambda
	classConfig
	classAutoscaling
	classGuardDuty
	classServicePrincipal
	classAudit
	numClasses
)

// identity is one principal as CloudTrail records it.
type identity struct {
	kind        idKind
	class       actorClass
	acct        *account
	userName    string // IAM user name
	roleName    string // role name (assumed roles)
	rolePath    string // role path, "/" when none
	session     string // role session name
	principal   string // AIDA... (users) or AROA... (roles)
	akia        string // long-term access key id (kIAMUser)
	invokedBy   string // AWS service that acted (kService, service-linked roles)
	ec2         bool   // EC2 instance profile session (ec2RoleDelivery 2.0)
	mfa         bool
	ips         []string // source IP addresses, or a service name
	uas         []string // user agents
	privateIP   string   // used with VPC endpoints
	vpce        bool     // calls go through interface VPC endpoints
	tls13       bool
	sessPeriod  int64 // seconds a session lasts before creationDate moves on
	sessPhase   int64
	h           uint64
	human       bool
	email       string
	consoleHost string
}

// arn returns the identity's ARN as logged in userIdentity.arn.
func (id *identity) arn() string {
	switch id.kind {
	case kIAMUser, kConsoleUser:
		return "arn:aws:iam::" + id.acct.id + ":user/" + id.userName
	case kRole:
		return "arn:aws:sts::" + id.acct.id + ":assumed-role/" + id.roleName + "/" + id.session
	case kRoot:
		return "arn:aws:iam::" + id.acct.id + ":root"
	}
	return ""
}

// roleARN returns the IAM role ARN behind an assumed-role session.
func (id *identity) roleARN() string {
	return "arn:aws:iam::" + id.acct.id + ":role" + id.rolePath + id.roleName
}

// sessionStart returns when the session active at t began.
func (id *identity) sessionStart(t int64) int64 {
	p := id.sessPeriod
	if p <= 0 {
		p = 3600
	}
	return t - mod(t-id.sessPhase, p)
}

// sessionKey returns the ASIA key id of the session active at t.
func (id *identity) sessionKey(t int64) string {
	return "ASIA" + hashChars(hashOf(id.h, uint64(id.sessionStart(t)), tagSession), keyChars, 16)
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// account is one AWS account of the organization.
type account struct {
	idx        int
	id         string
	name       string
	canonical  string // S3 canonical user id
	alias      string
	humans     []*identity // console sessions of the IAM users
	humansCLI  []*identity // the same users with their long-term keys
	ci         *identity
	sso        []*identity
	ec2        []*identity
	lambdas    []*identity
	services   []*identity
	audit      *identity
	collector  *identity // management account: the security-audit collector Lambda
	root       *identity
	byClass    [numClasses][]*identity
	classW     [numClasses]float64
	dataBucket string
	webBucket  string
	artifacts  string
	backups    string
	buckets    []string
	secrets    []string
	params     []string
	tables     []string
	functions  []string
	repos      []string
	stacks     []string
	roles      []string // IAM role names that exist
	users      []string // IAM user names that exist
	h          uint64
}

// res derives a stable resource id: prefix + n characters of set.
func (a *account) res(region, kind string, i, n int, set string) string {
	return hashChars(hashOf(a.h, hashString(region), hashString(kind), uint64(i)), set, n)
}

func (a *account) sg(region string, i int) string {
	return "sg-0" + a.res(region, "sg", i, 16, hexLower)
}
func (a *account) vpc(region string) string { return "vpc-0" + a.res(region, "vpc", 0, 16, hexLower) }
func (a *account) subnet(region string, i int) string {
	return "subnet-0" + a.res(region, "subnet", i, 16, hexLower)
}
func (a *account) vpce(region string) string {
	return "vpce-0" + a.res(region, "vpce", 0, 16, hexLower)
}
func (a *account) instance(region string, i int) string {
	return "i-0" + a.res(region, "instance", i, 16, hexLower)
}
func (a *account) ami(region string) string { return "ami-0" + a.res(region, "ami", 0, 16, hexLower) }

// kmsKey returns the ARN of one of the account's KMS keys in region.
func (a *account) kmsKey(region string, i int) string {
	u := a.res(region, "kms", i%3, 32, hexLower)
	return "arn:aws:kms:" + region + ":" + a.id + ":key/" + u[:8] + "-" + u[8:12] + "-4" + u[13:16] + "-a" + u[17:20] + "-" + u[20:32]
}

// natIP returns a NAT gateway egress address of the account's VPC in region.
func (a *account) natIP(region string, i int) string {
	return fmt.Sprintf("198.51.100.%d", 2+int(hashOf(a.h, hashString(region), uint64(i%2))%60))
}

// accountNames are the member accounts' names, in order.
var accountNames = [...]string{"prod", "staging", "dev", "security", "shared-services", "data", "sandbox", "log-archive"}

// people are the organization's staff: IAM Identity Center users and, in
// some accounts, IAM users.
var people = [...]struct{ user, first, last string }{
	{"alice.martin", "Alice", "Martin"},
	{"bob.nguyen", "Bob", "Nguyen"},
	{"carol.silva", "Carol", "Silva"},
	{"dan.okafor", "Dan", "Okafor"},
	{"erin.kowalski", "Erin", "Kowalski"},
	{"farid.haddad", "Farid", "Haddad"},
	{"grace.lindqvist", "Grace", "Lindqvist"},
	{"hiro.tanaka", "Hiro", "Tanaka"},
	{"ines.moreau", "Ines", "Moreau"},
	{"jonas.berg", "Jonas", "Berg"},
}

const company = "anycompany"

// world is everything generated once per run.
type world struct {
	opts        Options
	seed        int64
	start       int64 // unix seconds of the first hour
	hours       int
	orgID       string
	mgmt        *account
	accounts    []*account
	regions     []string // every region that gets cells and digests
	regionW     []float64
	home        string
	trailName   string
	trailBucket string
	trailHome   string
	trailARN    string
	accountW    []float64
	hourW       []float64
	stories     []Story
	gap         gapInfo
	pre         map[cellKey][]preEvent
	preLines    map[alCellKey][]alLine
	insight     *insightPlan
	keyFP       string
	tables      tables
	alDest      string
	alBuckets   []alBucket
}

// gapInfo is a period without CloudTrail delivery for one account (logging
// stopped), and its digest chain break.
type gapInfo struct {
	acct       int
	start, end int64 // exclusive bounds; 0,0 when there is no gap
}

func (g gapInfo) covers(acct int, t int64) bool {
	return g.end > g.start && acct == g.acct && t > g.start && t < g.end
}

// newWorld builds the organization for opts.
func newWorld(opts Options) *world {
	r := newRand(opts.Seed, tagWorld)
	w := &world{
		opts:      opts,
		seed:      opts.Seed,
		start:     opts.Start.UTC().Truncate(3600e9).Unix(),
		hours:     opts.Hours,
		orgID:     "o-" + randChars(r, lowerAlnm, 10),
		trailName: "org-trail",
		trailHome: "us-east-1",
		pre:       map[cellKey][]preEvent{},
		preLines:  map[alCellKey][]alLine{},
	}
	w.home = opts.Regions[0]
	w.regions = append(w.regions, opts.Regions...)
	for i := range w.regions {
		switch {
		case i == 0:
			w.regionW = append(w.regionW, 0.74)
		case i == 1:
			w.regionW = append(w.regionW, 0.17)
		default:
			w.regionW = append(w.regionW, 0.09/float64(len(w.regions)-2))
		}
	}
	if !contains(w.regions, "us-east-1") {
		// Global services (IAM, STS's global endpoint, sign-in) log in
		// us-east-1 whatever regions are in use.
		w.regions = append(w.regions, "us-east-1")
		w.regionW = append(w.regionW, 0.04)
	}
	// Accounts: management first, then members.
	n := opts.Accounts + 1
	ids := map[string]bool{}
	for i := range n {
		a := &account{idx: i}
		for {
			a.id = fmt.Sprintf("%d%011d", 1+r.IntN(9), r.Int64N(1e11))
			if !ids[a.id] {
				ids[a.id] = true
				break
			}
		}
		if i == 0 {
			a.name = "management"
		} else if i-1 < len(accountNames) {
			a.name = accountNames[i-1]
		} else {
			a.name = fmt.Sprintf("workload-%02d", i)
		}
		a.alias = company + "-" + a.name
		a.h = hashOf(uint64(opts.Seed), hashString(a.id))
		a.canonical = randChars(r, hexLower, 64)
		w.accounts = append(w.accounts, a)
	}
	w.mgmt = w.accounts[0]
	w.trailBucket = "aws-cloudtrail-logs-" + w.mgmt.id + "-demo"
	w.trailARN = "arn:aws:cloudtrail:" + w.trailHome + ":" + w.mgmt.id + ":trail/" + w.trailName
	// Account activity weights: the management account is quiet, prod is busiest.
	w.accountW = make([]float64, n)
	w.accountW[0] = 0.10
	rest := 0.90
	for i := 1; i < n; i++ {
		share := rest * 0.5
		if i == n-1 {
			share = rest
		}
		w.accountW[i] = share
		rest -= share
	}
	for _, a := range w.accounts {
		w.populate(r, a)
	}
	w.setupAccessLogs()
	w.hourW = make([]float64, w.hours)
	for h := range w.hours {
		w.hourW[h] = 0.45 + 0.55*w.workCurve(w.start+int64(h)*3600+1800)
	}
	return w
}

// workCurve is 0 at night and 1 at the busiest office hour (UTC, an
// organization with offices in Europe and the US east coast).
func (w *world) workCurve(t int64) float64 {
	_, _, _, hh, mm, _ := civil(t)
	x := float64(hh) + float64(mm)/60
	// A plateau from 08:00 to 20:00 UTC with soft edges and a lunch dip.
	v := smooth(x, 6.5, 9.0) * (1 - smooth(x, 19.0, 22.5))
	if x > 11.5 && x < 13 {
		v *= 0.85
	}
	return v
}

func smooth(x, a, b float64) float64 {
	switch {
	case x <= a:
		return 0
	case x >= b:
		return 1
	}
	t := (x - a) / (b - a)
	return t * t * (3 - 2*t)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func (w *world) regionIndex(region string) int {
	for i, r := range w.regions {
		if r == region {
			return i
		}
	}
	w.regions = append(w.regions, region)
	w.regionW = append(w.regionW, 0)
	return len(w.regions) - 1
}

// User agents. Versions are those current in late 2026-ish; shapes follow
// what the SDKs actually send.
var (
	cliUAs = []string{
		"aws-cli/2.22.35 md/awscrt#0.23.8 ua/2.0 os/macos#24.3.0 md/arch#arm64 lang/python#3.12.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#%s",
		"aws-cli/2.24.5 md/awscrt#0.23.8 ua/2.1 os/linux#6.8.0-1021-aws md/arch#x86_64 lang/python#3.12.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#%s",
		"aws-cli/2.23.11 md/awscrt#0.23.4 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#%s",
	}
	browserUAs = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	}
	terraformUA  = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.82.2 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.7 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/%s m/E"
	goSDKUA      = "aws-sdk-go-v2/1.32.7 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/%s m/E,g"
	boto3UA      = "Boto3/1.35.90 md/Botocore#1.35.90 ua/2.0 os/linux#6.1.119-129.201.amzn2023.x86_64 md/arch#x86_64 lang/python#3.12.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.90"
	lambdaUA     = "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.228-240.927.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.36"
	lambdaNodeUA = "aws-sdk-js/3.693.0 ua/2.1 os/linux#5.10.228-240.927.amzn2.x86_64 lang/js md/nodejs#20.18.0 api/%s#3.693.0 exec-env/AWS_Lambda_nodejs20.x m/E"
	javaUA       = "aws-sdk-java/2.29.43 md/io#sync md/http#Apache ua/2.1 os/Linux#6.1.119-129.201.amzn2023.x86_64 lang/java#21.0.5 md/OpenJDK_64-Bit_Server_VM#21.0.5+11-LTS md/vendor#Amazon.com_Inc. md/en_US exec-env/AWS_ECS_EC2 m/D,N"
	ssmAgentUA   = "aws-sdk-go/1.55.5 (go1.22.9; linux; amd64) amazon-ssm-agent/3.3.1142.0"
	cwAgentUA    = "CWAgent/1.300050.0 (go1.22.7; Linux; amd64) ip-10-0-%d-%d"
)

// populate creates an account's identities and resources.
func (w *world) populate(r *rand.Rand, a *account) {
	mgmt := a.idx == 0
	region := w.home
	ssoSuffix := func(set string) string { return a.res("global", "sso-"+set, 0, 16, hexLower) }
	newID := func(kind idKind, class actorClass) *identity {
		id := &identity{kind: kind, class: class, acct: a, rolePath: "/", tls13: chance(r, 0.7)}
		id.h = hashOf(a.h, r.Uint64())
		id.sessPhase = int64(r.IntN(3600))
		id.sessPeriod = 3600
		switch kind {
		case kIAMUser, kConsoleUser:
			id.principal = "AIDA" + randChars(r, keyChars, 17)
		case kRole:
			id.principal = "AROA" + randChars(r, keyChars, 17)
		case kRoot:
			id.principal = a.id
		}
		return id
	}
	// People: IAM users with console + CLI access (2-3 per account), and
	// IAM Identity Center users (all staff can reach every account).
	staffStart := a.idx * 2 % len(people)
	nUsers := 2 + a.idx%2
	for i := range nUsers {
		p := people[(staffStart+i)%len(people)]
		office := fmt.Sprintf("192.0.2.%d", 10+int(hashString(p.user)%12))
		home := fmt.Sprintf("192.0.2.%d", 64+int(hashString(p.user+"home")%60))
		cli := newID(kIAMUser, classHumanCLI)
		cli.userName = p.user
		cli.akia = "AKIA" + randChars(r, keyChars, 16)
		cli.ips = []string{office, office, office, home}
		cli.uas = []string{pick(r, cliUAs)}
		cli.human = true
		con := newID(kConsoleUser, classHumanConsole)
		*con = *cli
		con.kind = kConsoleUser
		con.class = classHumanConsole
		con.uas = []string{browserUAs[int(hashString(p.user)%uint64(len(browserUAs)))]}
		con.mfa = true
		con.sessPeriod = 12 * 3600
		con.h = hashOf(cli.h, 1)
		con.consoleHost = a.id + ".signin.aws.amazon.com"
		if chance(r, 0.5) {
			con.consoleHost = a.alias + ".signin.aws.amazon.com"
		}
		a.humansCLI = append(a.humansCLI, cli)
		a.humans = append(a.humans, con)
		a.users = append(a.users, p.user)
	}
	// CI user with access keys: Terraform and container builds.
	ci := newID(kIAMUser, classCI)
	ci.userName = "ci-deploy"
	ci.akia = "AKIA" + randChars(r, keyChars, 16)
	ci.ips = []string{fmt.Sprintf("198.51.100.%d", 70+a.idx%8), fmt.Sprintf("198.51.100.%d", 80+a.idx%8)}
	ci.uas = []string{terraformUA, cliUAs[1]}
	ci.tls13 = true
	a.ci = ci
	a.users = append(a.users, "ci-deploy")
	// IAM Identity Center sessions.
	sets := []string{"AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess"}
	nSSO := 3 + a.idx%3
	for i := range nSSO {
		p := people[(staffStart+3+i)%len(people)]
		set := sets[i%len(sets)]
		if mgmt && i == 0 {
			set = "AdministratorAccess"
		}
		s := newID(kRole, classHumanConsole)
		s.roleName = "AWSReservedSSO_" + set + "_" + ssoSuffix(set)
		s.rolePath = "/aws-reserved/sso.amazonaws.com/"
		s.email = p.user + "@" + company + ".com"
		s.session = s.email
		s.ips = []string{fmt.Sprintf("192.0.2.%d", 10+int(hashString(p.user)%12)), fmt.Sprintf("192.0.2.%d", 40+int(hashString(p.user)%6))}
		s.uas = []string{browserUAs[int(hashString(p.user+"b")%uint64(len(browserUAs)))]}
		s.human = true
		s.sessPeriod = 8 * 3600
		if i%3 == 2 {
			s.class = classHumanCLI
			s.uas = []string{pick(r, cliUAs)}
			s.sessPeriod = 3600
		}
		s.principal = "AROA" + hashChars(hashOf(a.h, hashString(s.roleName)), keyChars, 17)
		a.sso = append(a.sso, s)
	}
	// Workloads: EC2 instance roles and Lambda functions (members only).
	if !mgmt {
		roles := []string{"app-server-role", "batch-worker-role"}
		for ri, role := range roles {
			rp := "AROA" + randChars(r, keyChars, 17)
			for j := range 2 + ri {
				e := newID(kRole, classEC2)
				e.roleName = role
				e.principal = rp
				e.session = a.instance(region, ri*10+j)
				e.ec2 = true
				e.ips = []string{a.natIP(region, j)}
				e.privateIP = fmt.Sprintf("10.%d.%d.%d", a.idx, 10+ri*16+j, 20+int(hashString(e.session)%200))
				e.vpce = j%2 == 0
				e.uas = []string{boto3UA, javaUA, fmt.Sprintf(goSDKUA, "s3#1.71.0"), ssmAgentUA}
				if ri == 1 {
					e.uas = []string{javaUA, boto3UA}
				}
				e.sessPhase = int64(hashString(e.session) % 3600)
				e.sessPeriod = 6 * 3600
				a.ec2 = append(a.ec2, e)
			}
			a.roles = append(a.roles, role)
		}
		fns := []string{"order-processor", "invoice-generator", "thumbnail-resizer", "nightly-report"}
		for i, fn := range fns[:2+a.idx%3] {
			l := newID(kRole, classLambda)
			l.roleName = fn + "-role-" + randChars(r, lowerAlnm, 8)
			l.session = fn
			l.ips = []string{fmt.Sprintf("198.51.100.%d", 100+int(hashString(a.id+fn)%60))}
			l.uas = []string{lambdaUA}
			if i%2 == 1 {
				l.uas = []string{lambdaNodeUA}
			}
			a.lambdas = append(a.lambdas, l)
			a.functions = append(a.functions, fn)
			a.roles = append(a.roles, l.roleName)
		}
	}
	// Service-linked roles and service principals.
	svc := func(role, session, principal string, class actorClass) {
		s := newID(kRole, class)
		s.roleName = role
		s.rolePath = "/aws-service-role/" + principal + "/"
		s.session = session
		s.invokedBy = principal
		s.ips = []string{principal}
		s.uas = []string{principal}
		s.principal = "AROA" + hashChars(hashOf(a.h, hashString(role)), keyChars, 17)
		a.services = append(a.services, s)
		a.roles = append(a.roles, role)
	}
	svc("AWSServiceRoleForConfig", "AWSConfig-Describe", "config.amazonaws.com", classConfig)
	svc("AWSServiceRoleForAmazonGuardDuty", "GuardDuty", "guardduty.amazonaws.com", classGuardDuty)
	if !mgmt {
		svc("AWSServiceRoleForAutoScaling", "AutoScaling", "autoscaling.amazonaws.com", classAutoscaling)
	}
	for _, p := range []string{"lambda.amazonaws.com", "ec2.amazonaws.com", "cloudtrail.amazonaws.com", "s3.amazonaws.com"} {
		s := newID(kService, classServicePrincipal)
		s.invokedBy = p
		s.ips = []string{p}
		s.uas = []string{p}
		a.services = append(a.services, s)
	}
	// Cross-account security audit role (members), assumed by a collector
	// Lambda in the management account.
	if !mgmt {
		au := newID(kRole, classAudit)
		au.roleName = "SecurityAuditRole"
		au.session = "security-audit-collector"
		au.ips = []string{fmt.Sprintf("198.51.100.%d", 100+int(hashString("collector")%60))}
		au.uas = []string{lambdaUA}
		a.audit = au
		a.roles = append(a.roles, "SecurityAuditRole", "OrganizationAccountAccessRole")
	}
	if mgmt {
		c := newID(kRole, classLambda)
		c.roleName = "security-audit-collector-role"
		c.session = "security-audit-collector"
		c.ips = []string{fmt.Sprintf("198.51.100.%d", 100+int(hashString("collector")%60))}
		c.uas = []string{lambdaUA}
		a.collector = c
		a.roles = append(a.roles, c.roleName)
	}
	root := newID(kRoot, classHumanConsole)
	root.mfa = true
	root.uas = browserUAs[:1]
	root.ips = []string{"192.0.2.11"}
	root.sessPeriod = 3600
	a.root = root

	// Resources.
	a.dataBucket = company + "-" + a.name + "-customer-data"
	a.webBucket = company + "-" + a.name + "-web-assets"
	a.artifacts = company + "-" + a.name + "-build-artifacts-" + a.id
	a.backups = company + "-" + a.name + "-backups-" + region
	a.buckets = []string{a.dataBucket, a.artifacts, a.backups, a.webBucket}
	if mgmt {
		a.buckets = []string{a.artifacts, w.trailBucket, company + "-org-terraform-state-" + a.id}
	}
	for _, s := range []string{a.name + "/app/db-credentials", a.name + "/payments/stripe-api-key", a.name + "/app/jwt-signing-key"} {
		a.secrets = append(a.secrets, s+"-"+randChars(r, alnum, 6))
	}
	a.params = []string{"/" + a.name + "/app/db/host", "/" + a.name + "/app/feature-flags", "/" + a.name + "/app/api/base-url", "/" + a.name + "/cwagent/config", "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}
	a.tables = []string{a.name + "-orders", a.name + "-sessions", a.name + "-inventory"}
	a.repos = []string{"web-frontend", "orders-api", "report-worker"}
	a.stacks = []string{a.name + "-network", a.name + "-app", a.name + "-monitoring"}
	a.roles = append(a.roles, "deploy-role", "TerraformExecutionRole")

	// Class weights (events per hour at peak, relative).
	a.classW[classHumanCLI] = 9
	a.classW[classHumanConsole] = 12
	a.classW[classCI] = 8
	a.classW[classConfig] = 5
	a.classW[classGuardDuty] = 1.2
	a.classW[classServicePrincipal] = 9
	if !mgmt {
		a.classW[classEC2] = 34
		a.classW[classLambda] = 22
		a.classW[classAutoscaling] = 1.0
		a.classW[classAudit] = 2.5
	} else {
		a.classW[classHumanConsole] = 20
		a.classW[classCI] = 10
	}
	a.byClass[classHumanConsole] = append(a.byClass[classHumanConsole], a.humans...)
	a.byClass[classHumanCLI] = append(a.byClass[classHumanCLI], a.humansCLI...)
	for _, id := range a.sso {
		a.byClass[id.class] = append(a.byClass[id.class], id)
	}
	a.byClass[classCI] = []*identity{ci}
	a.byClass[classEC2] = a.ec2
	a.byClass[classLambda] = a.lambdas
	for _, id := range a.services {
		a.byClass[id.class] = append(a.byClass[id.class], id)
	}
	if a.audit != nil {
		a.byClass[classAudit] = []*identity{a.audit}
	}
}

// humanWeight scales human activity with the hour.
func (w *world) humanWeight(t int64) float64 { return 0.04 + w.workCurve(t) }

// roleARNFor returns arn:aws:iam::<acct>:role/<name>.
func roleARNFor(acct, name string) string { return "arn:aws:iam::" + acct + ":role/" + name }
