package posture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/setup"
)

// Options tune the checks.
type Options struct {
	// Now is the time the audit runs (for the delivery staleness check);
	// zero skips that check.
	Now time.Time
	// StaleAfter is how old the latest delivery may be; default 24h.
	StaleAfter time.Duration
	// RetentionDays is the lifecycle expiration the remediation proposes;
	// default 365.
	RetentionDays int
}

// Evaluate runs every check over the snapshot and returns the findings,
// sorted by severity.
func Evaluate(s *Snapshot, o Options) []Finding {
	if o.StaleAfter <= 0 {
		o.StaleAfter = 24 * time.Hour
	}
	if o.RetentionDays <= 0 {
		o.RetentionDays = setup.DefaultRetentionDays
	}
	e := &eval{o: o, snap: s, trailOwner: map[string]*Account{}, bucketOwner: map[string]*Account{}}
	e.assign()
	for _, a := range s.Accounts {
		e.account(a)
	}
	if s.Organization && len(s.Accounts) > 1 {
		e.organization()
	}
	SortFindings(e.out)
	return e.out
}

type eval struct {
	o    Options
	snap *Snapshot
	out  []Finding
	// trailOwner: the account whose snapshot evaluates each trail (its
	// owner when audited, else the first account that sees it), so an
	// organization trail is judged once.
	trailOwner  map[string]*Account
	bucketOwner map[string]*Account
}

func (e *eval) assign() {
	for _, a := range e.snap.Accounts {
		for _, t := range a.Trails {
			if cur, ok := e.trailOwner[t.ARN]; !ok || (cur.ID != t.Account && a.ID == t.Account) {
				e.trailOwner[t.ARN] = a
			}
		}
		for name, b := range a.Buckets {
			if readable(b) {
				if _, ok := e.bucketOwner[name]; !ok {
					e.bucketOwner[name] = a
				}
			}
		}
	}
}

// readable reports whether anything of the bucket could be read.
func readable(b *Bucket) bool { return len(b.Unread) < len(BucketAspects()) }

func (e *eval) add(a *Account, id, region, resource, evidence, remediation string) {
	r, ok := RuleByID(id)
	if !ok { // a rule missing from the catalog (TestEveryRuleHasATest guards against it)
		r = Rule{ID: id, Severity: Medium, Title: id}
	}
	e.out = append(e.out, Finding{ID: r.ID, Control: r.Control, CIS: r.CIS, Severity: r.Severity, Account: a.ID, Region: region,
		Resource: resource, Title: r.Title, Evidence: evidence, Remediation: remediation})
}

// logging reports whether a trail is logging (true when unknown, so an
// unreadable status does not raise findings; the read error is reported).
func logging(t *Trail) bool { return t.Status == nil || t.Status.IsLogging }

// allManagement reports whether a trail records read and write management
// events from every source (true when unknown).
func allManagement(t *Trail) bool {
	s := t.Selectors
	return s == nil || s.ManagementRead && s.ManagementWrite && len(s.ExcludedSources) == 0
}

func (e *eval) account(a *Account) {
	var own []*Trail // trails this account's snapshot judges
	for _, t := range a.Trails {
		if e.trailOwner[t.ARN] == a {
			own = append(own, t)
		}
	}
	e.trailCoverage(a)
	for _, t := range own {
		e.trail(a, t)
	}
	e.dataEvents(a)
	if !a.unread("public-access-block") && !a.PublicAccessBlock.All() {
		e.add(a, RuleAccountBPA, "", "arn:aws:s3:::*", "account Block Public Access off: "+strings.Join(a.PublicAccessBlock.Off(), ", "),
			"aws s3control put-public-access-block --account-id "+a.ID+" --public-access-block-configuration "+bpaAll)
	}
	trailBuckets := map[string][]*Trail{}
	for _, t := range a.Trails {
		if t.S3Bucket != "" {
			trailBuckets[t.S3Bucket] = append(trailBuckets[t.S3Bucket], t)
		}
	}
	for _, name := range sortedKeys(a.Buckets) {
		b := a.Buckets[name]
		if e.bucketOwner[name] != a {
			continue
		}
		if ts := trailBuckets[name]; len(ts) > 0 {
			e.trailBucket(a, b, ts)
		} else if a.AllBuckets {
			e.bucketLogging(a, b)
		}
	}
	for _, arn := range sortedKeys(a.Queues) {
		e.queue(a, a.Queues[arn])
	}
}

const bpaAll = "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"

// trailCoverage: CloudTrail.3 per region, CloudTrail.1 and global service
// events per account.
func (e *eval) trailCoverage(a *Account) {
	byARN := map[string]*Trail{}
	for _, t := range a.Trails {
		byARN[t.ARN] = t
	}
	for _, region := range a.Regions {
		if a.unread("trails:" + region) {
			continue
		}
		var stopped []*Trail
		ok := false
		for _, arn := range a.RegionTrails[region] {
			if t := byARN[arn]; t != nil {
				if logging(t) {
					ok = true
				} else {
					stopped = append(stopped, t)
				}
			}
		}
		if ok {
			continue
		}
		ev := "DescribeTrails in " + region + " lists no trail"
		rem := createTrailCommands(a.ID, region)
		if len(stopped) > 0 {
			ev = "trails apply to " + region + " but none is logging: " + trailNames(stopped)
			var cmds []string
			for _, t := range stopped {
				cmds = append(cmds, startLogging(t))
			}
			rem = strings.Join(cmds, "\n")
		}
		e.add(a, RuleNoTrailInRegion, region, "arn:aws:cloudtrail:"+region+":"+a.ID+":trail/*", ev, rem)
	}
	if len(a.Regions) == 0 || allUnread(a, "trails:") {
		return
	}
	var why []string
	var best *Trail
	for _, t := range a.Trails {
		var miss []string
		if !t.IsMultiRegion {
			miss = append(miss, "single-region")
		}
		if !logging(t) {
			miss = append(miss, "not logging")
		}
		if s := t.Selectors; s != nil {
			switch {
			case !s.ManagementRead && !s.ManagementWrite:
				miss = append(miss, "no management events")
			case !s.ManagementRead:
				miss = append(miss, "management events WriteOnly")
			case !s.ManagementWrite:
				miss = append(miss, "management events ReadOnly")
			}
			if len(s.ExcludedSources) > 0 {
				miss = append(miss, "excludes "+strings.Join(s.ExcludedSources, ", "))
			}
		}
		if len(miss) == 0 {
			best = nil
			why = nil
			break
		}
		why = append(why, fmt.Sprintf("%s: %s", t.Name, strings.Join(miss, ", ")))
		if !t.Shadow(a.ID) && (best == nil || t.IsMultiRegion && !best.IsMultiRegion) {
			best = t
		}
	}
	if len(a.Trails) == 0 || len(why) > 0 {
		ev := "no trail in the audited regions (" + strings.Join(a.Regions, ", ") + ")"
		rem := createTrailCommands(a.ID, a.Regions[0])
		if len(why) > 0 {
			ev = "no trail qualifies; " + strings.Join(why, "; ")
		}
		if best != nil {
			var cmds []string
			if !best.IsMultiRegion {
				cmds = append(cmds, fmt.Sprintf("aws cloudtrail update-trail --region %s --name %s --is-multi-region-trail --include-global-service-events", best.HomeRegion, best.ARN))
			}
			if !allManagement(best) {
				cmds = append(cmds, putSelectors(best, true, false, false))
			}
			if !logging(best) {
				cmds = append(cmds, startLogging(best))
			}
			rem = strings.Join(cmds, "\n")
		}
		e.add(a, RuleNoMultiRegionTrail, "", "arn:aws:cloudtrail::"+a.ID+":trail/*", ev, rem)
	}
	global := false
	var fix *Trail
	for _, t := range a.Trails {
		if logging(t) && t.IncludeGlobalServiceEvents {
			global = true
		}
		if !t.Shadow(a.ID) && (fix == nil || t.IsMultiRegion) {
			fix = t
		}
	}
	if len(a.Trails) > 0 && !global {
		rem := "# create a multi-Region trail (see " + RuleNoMultiRegionTrail + ")"
		if fix != nil {
			rem = fmt.Sprintf("aws cloudtrail update-trail --region %s --name %s --include-global-service-events", fix.HomeRegion, fix.ARN)
		}
		e.add(a, RuleGlobalServiceEvents, "", "arn:aws:cloudtrail::"+a.ID+":trail/*", "no logging trail has IncludeGlobalServiceEvents: "+trailNames(a.Trails), rem)
	}
}

func allUnread(a *Account, prefix string) bool {
	for _, r := range a.Regions {
		if !a.unread(prefix + r) {
			return false
		}
	}
	return true
}

func trailNames(ts []*Trail) string {
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

func startLogging(t *Trail) string {
	return fmt.Sprintf("aws cloudtrail start-logging --region %s --name %s", t.HomeRegion, t.ARN)
}

// createTrailCommands creates a bucket with the generated policy, a trail
// and starts it.
func createTrailCommands(account, region string) string {
	bucket := "trailwatch-cloudtrail-" + account
	p := setup.Params{Account: account, Region: region, Bucket: bucket}
	if err := p.Normalize(); err != nil {
		return "# " + err.Error()
	}
	return strings.Join([]string{
		createBucket(bucket, region),
		fmt.Sprintf("aws s3api put-public-access-block --bucket %s --public-access-block-configuration %s", bucket, bpaAll),
		fmt.Sprintf("aws s3api put-bucket-policy --bucket %s --policy '%s'", bucket, p.BucketPolicy().Compact()),
		fmt.Sprintf("aws cloudtrail create-trail --region %s --name %s --s3-bucket-name %s --is-multi-region-trail --include-global-service-events --enable-log-file-validation", region, setup.DefaultTrailName, bucket),
		fmt.Sprintf("aws cloudtrail start-logging --region %s --name %s", region, setup.DefaultTrailName),
		"# or all at once, with KMS, SNS and the collector: trailwatch setup cloudformation --account " + account + " --region " + region + " --bucket " + bucket,
	}, "\n")
}

func createBucket(bucket, region string) string {
	cmd := fmt.Sprintf("aws s3api create-bucket --region %s --bucket %s", region, bucket)
	if region != "us-east-1" {
		cmd += " --create-bucket-configuration LocationConstraint=" + region
	}
	return cmd
}

// trailParams are setup parameters describing the trails writing to a bucket.
func trailParams(bucket *Bucket, ts []*Trail) setup.Params {
	p := setup.Params{Bucket: bucket.Name, BucketRegion: bucket.Region}
	for _, t := range ts {
		p.TrailARNs = append(p.TrailARNs, t.ARN)
	}
	t := ts[0]
	p.Prefix = t.S3KeyPrefix
	for _, o := range ts[1:] {
		p.OtherPrefixes = append(p.OtherPrefixes, o.S3KeyPrefix)
	}
	p.KMSKeyARN = t.KMSKeyID
	if t.IsOrganization {
		p.OrganizationID = orgIDPlaceholder
		if id := organizationID(bucket.Policy); id != "" {
			p.OrganizationID = id
		}
	}
	if bucket.Account != "" {
		p.BucketAccount = bucket.Account
	}
	_ = p.FromTrailARN(t.ARN)
	p.TrailARNs = nil
	for _, t := range ts {
		p.TrailARNs = append(p.TrailARNs, t.ARN)
	}
	_ = p.Normalize()
	return p
}

// orgIDPlaceholder stands for the organization ID in remediations when
// the bucket policy does not name it.
const orgIDPlaceholder = "o-REPLACE_WITH_ORG_ID"

// organizationID finds the organization ID a bucket policy names
// (aws:PrincipalOrgID or aws:SourceOrgID), or "".
func organizationID(policy string) string {
	pol, err := ParsePolicy(policy)
	if err != nil {
		return ""
	}
	for _, s := range pol.Statements {
		for _, key := range []string{"aws:PrincipalOrgID", "aws:SourceOrgID"} {
			if vals, ok := s.Values(key); ok && len(vals) == 1 && strings.HasPrefix(vals[0], "o-") {
				return vals[0]
			}
		}
	}
	return ""
}

func (e *eval) trail(a *Account, t *Trail) {
	region := t.HomeRegion
	if st := t.Status; st != nil {
		if !st.IsLogging {
			ev := "IsLogging false"
			if !st.StopLoggingTime.IsZero() {
				ev += ", stopped at " + st.StopLoggingTime.UTC().Format(time.RFC3339)
			}
			e.add(a, RuleTrailNotLogging, region, t.ARN, ev, startLogging(t))
		}
		if st.LatestDeliveryError != "" {
			e.add(a, RuleDeliveryError, region, t.ARN, "LatestDeliveryError: "+st.LatestDeliveryError, e.deliveryFix(a, t, st.LatestDeliveryError))
		}
		if st.LatestDigestDeliveryError != "" {
			e.add(a, RuleDigestDeliveryError, region, t.ARN, "LatestDigestDeliveryError: "+st.LatestDigestDeliveryError, e.deliveryFix(a, t, st.LatestDigestDeliveryError))
		}
		if st.LatestNotificationError != "" && t.SNSTopicARN != "" {
			e.add(a, RuleNotificationError, region, t.ARN, "LatestNotificationError: "+st.LatestNotificationError, topicPolicyFix(t.SNSTopicARN, []*Trail{t}))
		}
		if st.IsLogging && st.LatestDeliveryError == "" && !e.o.Now.IsZero() {
			last := st.LatestDeliveryTime
			since := st.StartLoggingTime
			if last.IsZero() && !since.IsZero() && e.o.Now.Sub(since) > e.o.StaleAfter || !last.IsZero() && e.o.Now.Sub(last) > e.o.StaleAfter {
				ev := "no log file delivered since logging started at " + since.UTC().Format(time.RFC3339)
				if !last.IsZero() {
					ev = "latest delivery " + last.UTC().Format(time.RFC3339) + " (" + e.o.Now.Sub(last).Round(time.Hour).String() + " ago)"
				}
				e.add(a, RuleDeliveryStale, region, t.ARN, ev,
					fmt.Sprintf("aws cloudtrail get-trail-status --region %s --name %s\naws s3api list-objects-v2 --bucket %s --prefix %s --max-items 5", region, t.ARN, t.S3Bucket, keyBase(t)+"AWSLogs/"))
			}
		}
	}
	if !t.LogFileValidation {
		e.add(a, RuleLogFileValidation, region, t.ARN, "LogFileValidationEnabled false",
			fmt.Sprintf("aws cloudtrail update-trail --region %s --name %s --enable-log-file-validation", region, t.ARN))
	}
	if t.CloudWatchLogsGroupARN == "" {
		e.add(a, RuleCloudWatchLogs, region, t.ARN, "CloudWatchLogsLogGroupArn not set", cloudWatchFix(t))
	}
	bucket := a.Buckets[t.S3Bucket]
	if t.KMSKeyID == "" {
		e.add(a, RuleTrailEncryption, region, t.ARN, "KmsKeyId not set: log files use SSE-S3", e.encryptFix(t, bucket))
	} else if k := a.Keys[t.KMSKeyID]; k != nil {
		e.key(a, k, t, bucket)
	}
	if logging(t) && !e.collectorNotified(a, t) {
		e.add(a, RuleNoCollectorQueue, region, t.ARN, e.notifyEvidence(a, t), e.notifyFix(a, t))
	}
	if t.SNSTopicARN != "" {
		if tp := a.Topics[t.SNSTopicARN]; tp != nil {
			e.topic(a, tp, t)
		}
	}
}

// cloudWatchFix creates a log group and the role CloudTrail delivers
// with, limited to this trail, and points the trail at them.
func cloudWatchFix(t *Trail) string {
	region, account, part := t.HomeRegion, t.Account, ARNPartition(t.ARN)
	group := "aws-cloudtrail-logs-" + account + "-" + t.Name
	role := "CloudTrail_CloudWatchLogs_" + t.Name
	if len(role) > 64 {
		role = role[:64]
	}
	groupARN := "arn:" + part + ":logs:" + region + ":" + account + ":log-group:" + group
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceArn":"` + t.ARN + `"}}}]}`
	perms := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"` + groupARN + `:log-stream:*"}]}`
	return strings.Join([]string{
		fmt.Sprintf("aws logs create-log-group --region %s --log-group-name %s", region, group),
		fmt.Sprintf("aws iam create-role --role-name %s --assume-role-policy-document '%s'", role, trust),
		fmt.Sprintf("aws iam put-role-policy --role-name %s --policy-name cloudtrail-to-cloudwatch-logs --policy-document '%s'", role, perms),
		fmt.Sprintf("aws cloudtrail update-trail --region %s --name %s --cloud-watch-logs-log-group-arn %s:* --cloud-watch-logs-role-arn arn:%s:iam::%s:role/%s", region, t.ARN, groupARN, part, account, role),
	}, "\n")
}

// commonBase is the key prefix (with its slash) of the trails, or "" when
// they differ.
func commonBase(ts []*Trail) string {
	for _, t := range ts[1:] {
		if keyBase(t) != keyBase(ts[0]) {
			return ""
		}
	}
	return keyBase(ts[0])
}

func keyBase(t *Trail) string {
	if t.S3KeyPrefix == "" {
		return ""
	}
	return strings.Trim(t.S3KeyPrefix, "/") + "/"
}

func (e *eval) deliveryFix(a *Account, t *Trail, msg string) string {
	b := a.Buckets[t.S3Bucket]
	if b == nil {
		b = &Bucket{Name: t.S3Bucket, Region: t.HomeRegion}
	}
	p := trailParams(b, bucketTrails(a, t))
	switch lower := strings.ToLower(msg); {
	case strings.Contains(msg, "NoSuchBucket"):
		return createBucket(t.S3Bucket, t.HomeRegion) + "\n" + fmt.Sprintf("aws s3api put-bucket-policy --bucket %s --policy '%s'", t.S3Bucket, p.BucketPolicy().Compact())
	case t.KMSKeyID != "" && (strings.Contains(lower, "kms") || strings.Contains(lower, "encryption")):
		p.KMSKeyARN = t.KMSKeyID
		return fmt.Sprintf("aws kms put-key-policy --region %s --key-id %s --policy-name default --policy '%s'\n%s", ARNRegion(t.KMSKeyID), t.KMSKeyID, p.KeyPolicy().Compact(), keyPolicyNote)
	}
	return fmt.Sprintf("aws s3api put-bucket-policy --bucket %s --policy '%s'\n# this replaces the bucket policy: add back any other statement you need", t.S3Bucket, p.BucketPolicy().Compact())
}

// keyPolicyNote follows a generated key policy in remediations.
const keyPolicyNote = "# this replaces the key policy: add back any other statement you need; the collector role it names must exist\n" +
	"# (trailwatch setup trust-policy / collector-policy), or drop the AllowCollectorDecryptViaS3 statement"

// bucketTrails are the account's trails writing to the trail's bucket,
// the trail first.
func bucketTrails(a *Account, t *Trail) []*Trail {
	out := []*Trail{t}
	for _, o := range a.Trails {
		if o != t && o.S3Bucket == t.S3Bucket {
			out = append(out, o)
		}
	}
	return out
}

func (e *eval) encryptFix(t *Trail, b *Bucket) string {
	region := t.HomeRegion
	if b != nil && b.Region != "" {
		region = b.Region
	}
	bb := b
	if bb == nil {
		bb = &Bucket{Name: t.S3Bucket, Region: region}
	}
	p := trailParams(bb, []*Trail{t})
	p.KMSKeyARN = ""
	return strings.Join([]string{
		fmt.Sprintf("KEY_ARN=$(aws kms create-key --region %s --description 'CloudTrail logs of %s' --policy '%s' --query KeyMetadata.Arn --output text)", region, t.Name, p.KeyPolicy().Compact()),
		fmt.Sprintf("aws kms enable-key-rotation --region %s --key-id \"$KEY_ARN\"", region),
		fmt.Sprintf("aws cloudtrail update-trail --region %s --name %s --kms-key-id \"$KEY_ARN\"", t.HomeRegion, t.ARN),
		"# the collector role the key policy names must exist (trailwatch setup trust-policy / collector-policy), or drop its statement",
	}, "\n")
}

// putSelectors builds aws cloudtrail put-event-selectors keeping the
// trail's selectors and adding management events and/or S3 data events.
func putSelectors(t *Trail, mgmt, s3write, s3read bool) string {
	raw := ""
	advanced := false
	if t.Selectors != nil {
		raw, advanced = t.Selectors.Raw, t.Selectors.Advanced
	}
	doc := mergeSelectors(raw, advanced, mgmt, s3write, s3read)
	flag := "--event-selectors"
	if advanced {
		flag = "--advanced-event-selectors"
	}
	return fmt.Sprintf("aws cloudtrail put-event-selectors --region %s --trail-name %s %s '%s'", t.HomeRegion, t.ARN, flag, doc)
}

func (e *eval) dataEvents(a *Account) {
	var write, read bool
	var best *Trail
	for _, t := range a.Trails {
		if !logging(t) {
			continue
		}
		if t.Selectors == nil {
			write, read = true, true // unknown: do not report
			continue
		}
		write = write || t.Selectors.S3DataWrite
		read = read || t.Selectors.S3DataRead
		if !t.Shadow(a.ID) && (best == nil || t.IsMultiRegion && !best.IsMultiRegion) {
			best = t
		}
	}
	if len(a.Trails) == 0 || best == nil {
		return
	}
	if !write {
		e.add(a, RuleS3DataEventsWrite, "", "arn:aws:cloudtrail::"+a.ID+":trail/*", "no logging trail records S3 object-level write events (PutObject, DeleteObject)",
			putSelectors(best, !allManagement(best), true, false)+"\n# data events are billed per event: narrow arn:aws:s3 to the buckets that matter")
	}
	if !read {
		e.add(a, RuleS3DataEventsRead, "", "arn:aws:cloudtrail::"+a.ID+":trail/*", "no logging trail records S3 object-level read events (GetObject)",
			putSelectors(best, !allManagement(best), !write, true)+"\n# data events are billed per event: narrow arn:aws:s3 to the buckets that matter")
	}
}

func (e *eval) collectorNotified(a *Account, t *Trail) bool {
	if t.SNSTopicARN != "" {
		tp := a.Topics[t.SNSTopicARN]
		if tp == nil || tp.unread("subscriptions") {
			return true
		}
		for _, s := range tp.Subscriptions {
			if s.Protocol == "sqs" {
				return true
			}
		}
	}
	b := a.Buckets[t.S3Bucket]
	if b == nil {
		for _, other := range e.snap.Accounts {
			if ob := other.Buckets[t.S3Bucket]; ob != nil && readable(ob) {
				b = ob
			}
		}
	}
	if b == nil || b.unread("notifications") {
		return true
	}
	return len(b.NotifyQueues) > 0 || len(b.NotifyTopics) > 0 || b.NotifyEventBridge
}

func (e *eval) notifyEvidence(a *Account, t *Trail) string {
	if t.SNSTopicARN == "" {
		return "the trail has no SNS topic and bucket " + t.S3Bucket + " sends no event notifications"
	}
	return "topic " + t.SNSTopicARN + " has no SQS subscription and bucket " + t.S3Bucket + " sends no event notifications"
}

func (e *eval) notifyFix(a *Account, t *Trail) string {
	b := a.Buckets[t.S3Bucket]
	if b == nil {
		b = &Bucket{Name: t.S3Bucket, Region: t.HomeRegion, Account: a.ID}
	}
	p := trailParams(b, []*Trail{t})
	if t.SNSTopicARN != "" {
		p.TopicName = ARNResource(t.SNSTopicARN)
	}
	var cmds []string
	region := p.BucketRegion
	cmds = append(cmds, fmt.Sprintf("aws sqs create-queue --region %s --queue-name %s --attributes SqsManagedSseEnabled=true,MessageRetentionPeriod=1209600,VisibilityTimeout=300", region, p.QueueName))
	if t.SNSTopicARN == "" {
		p.Notify = setup.NotifyS3
		cmds = append(cmds,
			fmt.Sprintf("aws sqs set-queue-attributes --region %s --queue-url %s --attributes '%s'", region, QueueURLFromARN(p.QueueARN()), compactJSON(setup.QueueAttributes(p.QueuePolicy()))),
			fmt.Sprintf("aws s3api put-bucket-notification-configuration --bucket %s --notification-configuration '%s'", p.Bucket, compactJSON(p.Notification())))
	} else {
		cmds = append(cmds,
			fmt.Sprintf("aws sqs set-queue-attributes --region %s --queue-url %s --attributes '%s'", region, QueueURLFromARN(p.QueueARN()), compactJSON(setup.QueueAttributes(p.QueuePolicy()))),
			fmt.Sprintf("aws sns subscribe --region %s --topic-arn %s --protocol sqs --notification-endpoint %s", ARNRegion(t.SNSTopicARN), t.SNSTopicARN, p.QueueARN()))
	}
	via := setup.NotifySNS
	if t.SNSTopicARN == "" {
		via = setup.NotifyS3
	}
	cmds = append(cmds, fmt.Sprintf("# or: trailwatch setup apply --trail-arn %s --bucket %s --notify %s", t.ARN, t.S3Bucket, via))
	return strings.Join(cmds, "\n")
}

func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "# " + err.Error()
	}
	return strings.TrimSpace(buf.String())
}

func (e *eval) key(a *Account, k *Key, t *Trail, b *Bucket) {
	region := k.Region
	if !k.unread("describe") {
		if k.Manager != "" && k.Manager != "CUSTOMER" {
			e.add(a, RuleKeyCustomerManaged, region, k.ARN, "KeyManager "+k.Manager, e.encryptFix(t, b))
		}
		switch k.State {
		case "", "Enabled":
		case "PendingDeletion":
			e.add(a, RuleKeyState, region, k.ARN, "KeyState PendingDeletion",
				fmt.Sprintf("aws kms cancel-key-deletion --region %s --key-id %s\naws kms enable-key --region %s --key-id %s", region, k.ARN, region, k.ARN))
		default:
			e.add(a, RuleKeyState, region, k.ARN, "KeyState "+k.State, fmt.Sprintf("aws kms enable-key --region %s --key-id %s", region, k.ARN))
		}
	}
	if !k.unread("rotation") && !k.RotationEnabled && (k.Manager == "" || k.Manager == "CUSTOMER") {
		e.add(a, RuleKeyRotation, region, k.ARN, "KeyRotationEnabled false", fmt.Sprintf("aws kms enable-key-rotation --region %s --key-id %s", region, k.ARN))
	}
	if b != nil && !b.unread("location") && b.Region != "" && region != "" && b.Region != region {
		e.add(a, RuleKeyRegion, region, k.ARN, fmt.Sprintf("key in %s, bucket %s in %s", region, b.Name, b.Region), e.encryptFix(t, b))
	}
	if k.unread("policy") {
		return
	}
	pol, err := ParsePolicy(k.Policy)
	if err != nil {
		return
	}
	var public, unscoped []string
	for i, s := range pol.Statements {
		if s.Public() {
			public = append(public, fmt.Sprintf("%s allows %s to %s", s.label(i), s.PrincipalString(), strings.Join(actionsOf(&s), ", ")))
		}
		if s.Allow() && s.HasPrincipalService("cloudtrail.amazonaws.com") && s.AllowsAny("kms:GenerateDataKey", "kms:GenerateDataKey*") && !scopedToSource(&s, "kms:encryptioncontext:aws:cloudtrail:arn") {
			unscoped = append(unscoped, s.label(i))
		}
	}
	bb := b
	if bb == nil {
		bb = &Bucket{Name: t.S3Bucket, Region: region}
	}
	var keyTrails []*Trail // every trail of the account encrypting with the key keeps its access
	for _, o := range bucketTrails(a, t) {
		if o.KMSKeyID == k.ARN {
			keyTrails = append(keyTrails, o)
		}
	}
	for _, o := range a.Trails {
		if o.KMSKeyID == k.ARN && !slices.Contains(keyTrails, o) {
			keyTrails = append(keyTrails, o)
		}
	}
	p := trailParams(bb, keyTrails)
	p.KMSKeyARN = k.ARN
	fix := fmt.Sprintf("aws kms put-key-policy --region %s --key-id %s --policy-name default --policy '%s'\n%s", region, k.ARN, p.KeyPolicy().Compact(), keyPolicyNote)
	if len(public) > 0 {
		e.add(a, RuleKeyPublic, region, k.ARN, strings.Join(public, "; "), fix)
	}
	if len(unscoped) > 0 {
		e.add(a, RuleKeyCloudTrailCondition, region, k.ARN, strings.Join(unscoped, ", ")+" lets cloudtrail.amazonaws.com generate data keys without aws:SourceArn or kms:EncryptionContext:aws:cloudtrail:arn", fix)
	}
}

func actionsOf(s *Statement) []string {
	if len(s.NotAction) > 0 {
		return []string{"everything but " + strings.Join(s.NotAction, ", ")}
	}
	return s.Action
}

// scopedToSource reports whether a service-principal statement is limited
// to known sources: aws:SourceArn, aws:SourceAccount (or the extra keys)
// with fixed values.
func scopedToSource(s *Statement, extra ...string) bool {
	keys := append([]string{"aws:sourcearn", "aws:sourceaccount"}, extra...)
	for _, k := range keys {
		if c := s.ConditionOn(k); c != nil && len(c.Values) > 0 && !slices.ContainsFunc(c.Values, func(v string) bool { return broadValue(k, v) }) {
			return true
		}
	}
	return false
}

func (e *eval) topic(a *Account, tp *Topic, t *Trail) {
	if tp.unread("attributes") {
		return
	}
	pol, err := ParsePolicy(tp.Policy)
	if err != nil {
		return
	}
	var public, unscoped []string
	for i, s := range pol.Statements {
		if s.Public() {
			public = append(public, fmt.Sprintf("%s allows %s to %s", s.label(i), s.PrincipalString(), strings.Join(actionsOf(&s), ", ")))
		}
		if s.Allow() && s.HasPrincipalService("cloudtrail.amazonaws.com") && !scopedToSource(&s) {
			unscoped = append(unscoped, s.label(i))
		}
	}
	if len(public) > 0 {
		e.add(a, RuleTopicPublic, tp.Region, tp.ARN, strings.Join(public, "; "), topicPolicyFix(tp.ARN, []*Trail{t}))
	}
	if len(unscoped) > 0 {
		e.add(a, RuleTopicSource, tp.Region, tp.ARN, strings.Join(unscoped, ", ")+" lets cloudtrail.amazonaws.com publish without aws:SourceArn", topicPolicyFix(tp.ARN, []*Trail{t}))
	}
}

func topicPolicyFix(topicARN string, ts []*Trail) string {
	p := trailParams(&Bucket{Name: "unused-bucket", Region: ARNRegion(topicARN)}, ts)
	p.TopicName = ARNResource(topicARN)
	p.Account = ARNAccount(topicARN)
	p.Region = ARNRegion(topicARN)
	return fmt.Sprintf("aws sns set-topic-attributes --region %s --topic-arn %s --attribute-name Policy --attribute-value '%s'\n# this replaces the topic policy: add back any other statement you need",
		ARNRegion(topicARN), topicARN, p.TopicPolicy().Compact())
}

func (e *eval) trailBucket(a *Account, b *Bucket, ts []*Trail) {
	res := "arn:aws:s3:::" + b.Name
	region := b.Region
	p := trailParams(b, ts)
	policyFix := fmt.Sprintf("aws s3api put-bucket-policy --bucket %s --policy '%s'\n# this replaces the bucket policy: add back any other statement you need", b.Name, p.BucketPolicy().Compact())
	if p.OrganizationID == orgIDPlaceholder {
		policyFix += " (and set your organization ID in place of " + orgIDPlaceholder + ")"
	}

	// public?
	var pub []string
	var fix []string
	restrict := b.PublicAccess != nil && b.PublicAccess.RestrictPublicBuckets || a.PublicAccessBlock != nil && a.PublicAccessBlock.RestrictPublicBuckets
	ignoreACL := b.PublicAccess != nil && b.PublicAccess.IgnorePublicAcls || a.PublicAccessBlock != nil && a.PublicAccessBlock.IgnorePublicAcls
	var pol *Policy
	if !b.unread("policy") {
		pol, _ = ParsePolicy(b.Policy)
	}
	if !restrict {
		if b.PolicyPublic != nil && *b.PolicyPublic {
			pub = append(pub, "GetBucketPolicyStatus IsPublic true")
		}
		if pol != nil {
			for i, s := range pol.Statements {
				if s.Public() {
					pub = append(pub, fmt.Sprintf("policy %s allows %s to %s", s.label(i), s.PrincipalString(), strings.Join(actionsOf(&s), ", ")))
				}
			}
		}
		if len(pub) > 0 {
			fix = append(fix, policyFix)
		}
	}
	if !ignoreACL && !b.unread("acl") {
		n := len(pub)
		for _, g := range b.Grants {
			if g.URI == AllUsersURI || g.URI == AuthenticatedUsersURI {
				pub = append(pub, fmt.Sprintf("ACL grants %s to %s", g.Permission, strings.TrimPrefix(g.URI, "http://acs.amazonaws.com/groups/global/")))
			}
		}
		if len(pub) > n {
			fix = append(fix, fmt.Sprintf("aws s3api put-bucket-acl --bucket %s --acl private", b.Name),
				fmt.Sprintf("aws s3api put-bucket-ownership-controls --bucket %s --ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'", b.Name))
		}
	}
	if len(pub) > 0 {
		fix = append(fix, fmt.Sprintf("aws s3api put-public-access-block --bucket %s --public-access-block-configuration %s", b.Name, bpaAll))
		e.add(a, RuleBucketPublic, region, res, strings.Join(pub, "; "), strings.Join(fix, "\n"))
	}
	if !b.unread("public-access-block") && !b.PublicAccess.All() {
		e.add(a, RuleBucketBPA, region, res, "bucket Block Public Access off: "+strings.Join(b.PublicAccess.Off(), ", "),
			fmt.Sprintf("aws s3api put-public-access-block --bucket %s --public-access-block-configuration %s", b.Name, bpaAll))
	}
	if !b.unread("versioning") {
		if b.Versioning != "Enabled" {
			st := b.Versioning
			if st == "" {
				st = "never enabled"
			}
			e.add(a, RuleBucketVersioning, region, res, "versioning "+st, fmt.Sprintf("aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled", b.Name))
		}
		if b.MFADelete != "Enabled" {
			e.add(a, RuleBucketMFADelete, region, res, "MFADelete not enabled",
				fmt.Sprintf("# as the root user, with its MFA device:\naws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled,MFADelete=Enabled --mfa 'arn:aws:iam::%s:mfa/root-account-mfa-device 123456'", b.Name, a.ID))
		}
	}
	if !b.unread("object-lock") && !b.ObjectLock {
		e.add(a, RuleBucketObjectLock, region, res, "no Object Lock configuration",
			fmt.Sprintf("aws s3api put-object-lock-configuration --bucket %s --object-lock-configuration '{\"ObjectLockEnabled\":\"Enabled\",\"Rule\":{\"DefaultRetention\":{\"Mode\":\"GOVERNANCE\",\"Days\":%d}}}'", b.Name, e.o.RetentionDays))
	}
	if !b.unread("logging") && b.Logging == nil {
		e.add(a, RuleTrailBucketLogging, region, res, "server access logging off", accessLoggingFix(a.ID, b))
	}
	if !b.unread("lifecycle") {
		ok := false
		for _, r := range b.Lifecycle {
			if r.Enabled && (r.ExpirationDays > 0 || r.TransitionDays > 0 || r.NoncurrentExpirationDays > 0) {
				ok = true
			}
		}
		if !ok {
			ev := "no lifecycle configuration"
			if len(b.Lifecycle) > 0 {
				ev = "no enabled lifecycle rule expires or transitions objects"
			}
			e.add(a, RuleBucketLifecycle, region, res, ev,
				fmt.Sprintf("aws s3api put-bucket-lifecycle-configuration --bucket %s --lifecycle-configuration '{\"Rules\":[{\"ID\":\"cloudtrail-retention\",\"Status\":\"Enabled\",\"Filter\":{\"Prefix\":\"%sAWSLogs/\"},\"Expiration\":{\"Days\":%d},\"NoncurrentVersionExpiration\":{\"NoncurrentDays\":30}}]}'\n# choose the retention your policies require (%d days proposed)",
					b.Name, commonBase(ts), e.o.RetentionDays, e.o.RetentionDays))
		}
	}
	if pol == nil {
		return
	}
	var unscoped, noACL, broad []string
	ssl := false
	for i, s := range pol.Statements {
		if s.Deny() && (s.Principal != nil && s.Principal.Any) && s.Allows("s3:GetObject") {
			if vals, ok := s.Values("aws:SecureTransport"); ok && slices.ContainsFunc(vals, func(v string) bool { return strings.EqualFold(v, "false") }) {
				ssl = true
			}
		}
		if !s.Allow() {
			continue
		}
		if s.HasPrincipalService("cloudtrail.amazonaws.com") {
			if !scopedToSource(&s) {
				unscoped = append(unscoped, s.label(i))
			}
			if s.Allows("s3:PutObject") {
				vals, ok := s.Values("s3:x-amz-acl")
				if !ok || !slices.Contains(vals, "bucket-owner-full-control") {
					noACL = append(noACL, s.label(i))
				}
			}
			if onlyService(&s, "cloudtrail.amazonaws.com") {
				continue
			}
		}
		if s.Public() {
			continue // reported as public
		}
		if w := writeActions(&s); len(w) > 0 {
			broad = append(broad, fmt.Sprintf("%s allows %s to %s", s.label(i), s.PrincipalString(), strings.Join(w, ", ")))
		}
	}
	if len(unscoped) > 0 {
		e.add(a, RuleBucketPolicySource, region, res, strings.Join(unscoped, ", ")+" lets cloudtrail.amazonaws.com in without aws:SourceArn or aws:SourceAccount", policyFix)
	}
	if len(noACL) > 0 {
		e.add(a, RuleBucketPolicyACL, region, res, strings.Join(noACL, ", ")+" allows s3:PutObject without s3:x-amz-acl = bucket-owner-full-control", policyFix)
	}
	if len(broad) > 0 {
		e.add(a, RuleBucketPolicyBroad, region, res, strings.Join(broad, "; "), policyFix)
	}
	if !ssl {
		e.add(a, RuleBucketSSL, region, res, "no Deny statement for aws:SecureTransport = false", policyFix)
	}
}

// onlyService reports whether the statement's only principal is the service.
func onlyService(s *Statement, svc string) bool {
	p := s.Principal
	return p != nil && !p.Any && len(p.AWS) == 0 && len(p.Federated) == 0 && len(p.CanonicalUser) == 0 &&
		!slices.ContainsFunc(p.Service, func(v string) bool { return !strings.EqualFold(v, svc) })
}

// writeActions lists the statement's actions that change the bucket or
// its objects.
func writeActions(s *Statement) []string {
	var out []string
	for _, a := range []string{"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:PutBucketPolicy",
		"s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning", "s3:DeleteBucket", "s3:PutBucketLogging", "s3:PutBucketObjectLockConfiguration"} {
		if s.Allows(a) {
			out = append(out, a)
		}
	}
	if len(out) > 3 {
		w := s.ActionWildcards()
		if len(w) > 0 {
			return w
		}
	}
	return out
}

func accessLoggingFix(account string, b *Bucket) string {
	p := setup.Params{Account: account, Region: b.Region, Bucket: b.Name, BucketAccount: account}
	if err := p.Normalize(); err != nil {
		return "# " + err.Error()
	}
	return strings.Join([]string{
		createBucket(p.AccessLogBucket, b.Region) + "  # once per account and region",
		fmt.Sprintf("aws s3api put-public-access-block --bucket %s --public-access-block-configuration %s", p.AccessLogBucket, bpaAll),
		fmt.Sprintf("aws s3api put-bucket-policy --bucket %s --policy '%s'  # allows every bucket of the account; see trailwatch setup access-log-policy", p.AccessLogBucket, accountLogPolicy(p)),
		fmt.Sprintf("aws s3api put-bucket-logging --bucket %s --bucket-logging-status '%s'", b.Name, compactJSON(p.LoggingStatus())),
		fmt.Sprintf("# or: trailwatch setup apply --bucket %s --access-logs", b.Name),
	}, "\n")
}

// accountLogPolicy is the access log bucket policy for every bucket of
// the account (one log bucket per account and region).
func accountLogPolicy(p setup.Params) string {
	p.Bucket = "*"
	pol := p.AccessLogBucketPolicy()
	return pol.Compact()
}

func (e *eval) bucketLogging(a *Account, b *Bucket) {
	if b.unread("logging") || b.Logging != nil {
		return
	}
	// a bucket that receives other buckets' access logs need not log itself
	for _, other := range a.Buckets {
		if other.Logging != nil && other.Logging.Bucket == b.Name {
			return
		}
	}
	e.add(a, RuleBucketLogging, b.Region, "arn:aws:s3:::"+b.Name, "server access logging off", accessLoggingFix(a.ID, b))
}

func (e *eval) queue(a *Account, q *Queue) {
	if q.unread("attributes") {
		return
	}
	region := q.Region
	sources := e.queueSources(q)
	if !q.unread("encryption") && !q.ManagedSSE && q.KMSKey == "" {
		e.add(a, RuleQueueEncryption, region, q.ARN, "SqsManagedSseEnabled false and no KmsMasterKeyId",
			fmt.Sprintf("aws sqs set-queue-attributes --region %s --queue-url %s --attributes SqsManagedSseEnabled=true", region, q.URL))
	}
	pol, err := ParsePolicy(q.Policy)
	if err != nil {
		return
	}
	var public, unscoped []string
	for i, s := range pol.Statements {
		if s.Public() {
			public = append(public, fmt.Sprintf("%s allows %s to %s", s.label(i), s.PrincipalString(), strings.Join(actionsOf(&s), ", ")))
			continue
		}
		if !s.Allow() || !s.Allows("sqs:SendMessage") {
			continue
		}
		service := s.HasPrincipalService("s3.amazonaws.com") || s.HasPrincipalService("sns.amazonaws.com")
		if (service || s.Principal != nil && s.Principal.Any) && !scopedArn(&s) {
			unscoped = append(unscoped, s.label(i))
		}
	}
	fix := e.queuePolicyFix(q, sources)
	if len(public) > 0 {
		e.add(a, RuleQueuePublic, region, q.ARN, strings.Join(public, "; "), fix)
	}
	if len(unscoped) > 0 {
		e.add(a, RuleQueueSource, region, q.ARN, strings.Join(unscoped, ", ")+" allows sqs:SendMessage without aws:SourceArn", fix)
	}
}

// scopedArn reports a fixed aws:SourceArn condition.
func scopedArn(s *Statement) bool {
	c := s.ConditionOn("aws:sourcearn")
	return c != nil && len(c.Values) > 0 && !slices.ContainsFunc(c.Values, func(v string) bool { return broadValue("aws:sourcearn", v) })
}

type queueSource struct {
	topic, bucket string
	bucketAccount string
}

// queueSources finds what sends to the queue: topics subscribing it,
// buckets notifying it.
func (e *eval) queueSources(q *Queue) []queueSource {
	var out []queueSource
	for _, a := range e.snap.Accounts {
		for _, arn := range sortedKeys(a.Topics) {
			for _, s := range a.Topics[arn].Subscriptions {
				if s.Protocol == "sqs" && s.Endpoint == q.ARN {
					out = append(out, queueSource{topic: arn})
				}
			}
		}
		for _, name := range sortedKeys(a.Buckets) {
			if slices.Contains(a.Buckets[name].NotifyQueues, q.ARN) {
				out = append(out, queueSource{bucket: name, bucketAccount: a.ID})
			}
		}
	}
	return out
}

func (e *eval) queuePolicyFix(q *Queue, sources []queueSource) string {
	if len(sources) == 0 {
		return fmt.Sprintf("# no topic or bucket sends to this queue yet: generate its policy with\ntrailwatch setup queue-attributes --queue-arn %s --topic-arn TOPIC_ARN --bucket TRAIL_BUCKET > queue-attributes.json\naws sqs set-queue-attributes --region %s --queue-url %s --attributes file://queue-attributes.json", q.ARN, q.Region, q.URL)
	}
	pol := &setup.Policy{Version: setup.PolicyVersion}
	for _, src := range sources {
		p := setup.Params{Account: ARNAccount(q.ARN), Region: q.Region, Bucket: "unused-bucket", QueueName: ARNResource(q.ARN), QueueAccount: ARNAccount(q.ARN), BucketRegion: q.Region}
		if src.topic != "" {
			p.Notify, p.TopicName, p.Account, p.Region = setup.NotifySNS, ARNResource(src.topic), ARNAccount(src.topic), ARNRegion(src.topic)
		} else {
			p.Notify, p.Bucket, p.BucketAccount = setup.NotifyS3, src.bucket, src.bucketAccount
		}
		if err := p.Normalize(); err != nil {
			return "# " + err.Error()
		}
		st := p.QueuePolicy().Statement[0]
		st.Resource = setup.Values{q.ARN}
		pol.Statement = append(pol.Statement, st)
	}
	return fmt.Sprintf("aws sqs set-queue-attributes --region %s --queue-url %s --attributes '%s'\n# this replaces the queue policy: add back any other statement you need",
		q.Region, q.URL, compactJSON(setup.QueueAttributes(pol)))
}

func (e *eval) organization() {
	var orgTrails []*Trail
	seen := map[string]bool{}
	for _, a := range e.snap.Accounts {
		for _, t := range a.Trails {
			if t.IsOrganization && !seen[t.ARN] {
				seen[t.ARN] = true
				orgTrails = append(orgTrails, t)
			}
		}
	}
	first := e.snap.Accounts[0]
	if len(orgTrails) == 0 {
		var ids []string
		for _, a := range e.snap.Accounts {
			ids = append(ids, a.ID)
		}
		e.add(first, RuleNoOrganizationTrail, "", "organization", "no organization trail in accounts "+strings.Join(ids, ", "),
			"# from the organization's management account (trusted access for CloudTrail enabled):\n"+
				"trailwatch setup cloudformation --account MANAGEMENT_ACCOUNT --region REGION --bucket LOG_ARCHIVE_BUCKET --organization-id o-XXXXXXXXXX > trail.json\n"+
				"aws cloudformation deploy --template-file trail.json --stack-name trailwatch-cloudtrail --capabilities CAPABILITY_NAMED_IAM")
		return
	}
	for _, a := range e.snap.Accounts {
		covered := false
		for _, t := range a.Trails {
			if t.IsOrganization {
				covered = true
			}
		}
		if covered || allUnread(a, "trails:") {
			continue
		}
		t := orgTrails[0]
		e.add(a, RuleOrganizationCoverage, "", "arn:aws:cloudtrail::"+a.ID+":trail/*",
			fmt.Sprintf("organization trail %s is not listed in this account", t.ARN),
			fmt.Sprintf("# from the management account %s: invite this account into the organization, or make the trail organization-wide:\naws cloudtrail update-trail --region %s --name %s --is-organization-trail", t.Account, t.HomeRegion, t.ARN))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
