package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/posture"
	"github.com/trailwatch/trailwatch/internal/setup"
)

// setupFlags are the parameters every setup document takes.
type setupFlags struct {
	p         setup.Params
	trailARNs []string
	topicARN  string
	queueARN  string
}

// register adds the parameter flags; externalID is false for apply, where
// --external-id is the one of the role apply assumes.
func (f *setupFlags) register(cmd *cobra.Command, externalID bool) {
	fl := cmd.Flags()
	p := &f.p
	fl.StringVar(&p.Account, "account", "", "the account that owns the trail (the management account for an organization trail)")
	fl.StringVar(&p.Region, "region", "", "the trail's home region")
	fl.StringVar(&p.TrailName, "trail-name", "", `the trail's name (default "trailwatch")`)
	fl.StringSliceVar(&f.trailARNs, "trail-arn", nil, "the trails writing to the bucket (sets --account, --region, --trail-name from the first)")
	fl.StringVar(&p.Bucket, "bucket", "", "the trail bucket")
	fl.StringVar(&p.BucketAccount, "bucket-account", "", "the bucket's account (default --account; e.g. a log archive account)")
	fl.StringVar(&p.BucketRegion, "bucket-region", "", "the bucket's region (default --region)")
	fl.StringVar(&p.Prefix, "prefix", "", "the trail's S3 key prefix, if any")
	fl.StringVar(&p.OrganizationID, "organization-id", "", "o-xxxxxxxxxx for an organization trail (member accounts read only their own prefix)")
	fl.StringVar(&p.KMSKeyARN, "kms-key-arn", "", "an existing KMS key (default: the templates create one)")
	fl.StringVar(&p.Notify, "notify", setup.NotifySNS, "how the queue learns about new log files: sns (the trail's topic) or s3 (bucket notifications)")
	fl.StringVar(&p.TopicName, "topic-name", "", `the trail's SNS topic (default "trailwatch-cloudtrail")`)
	fl.StringVar(&f.topicARN, "topic-arn", "", "the trail's SNS topic ARN (sets --topic-name)")
	fl.StringVar(&p.QueueName, "queue-name", "", `the collector's queue (default "trailwatch-cloudtrail")`)
	fl.StringVar(&f.queueARN, "queue-arn", "", "the collector's queue ARN (sets --queue-name and --queue-account)")
	fl.StringVar(&p.QueueAccount, "queue-account", "", "the collector's account, for the queue and the role (default --bucket-account)")
	fl.StringVar(&p.RoleName, "role-name", "", `the collector role (default "trailwatch-collector")`)
	fl.StringVar(&p.CollectorPrincipal, "collector-principal", "", "who may assume the collector role (default the collector account's root)")
	if externalID {
		fl.StringVar(&p.ExternalID, "external-id", "", "the external ID the collector role's trust policy requires")
	}
	fl.StringVar(&p.AccessLogBucket, "access-log-bucket", "", "the bucket receiving S3 server access logs (default trailwatch-s3-access-logs-ACCOUNT-REGION)")
	fl.BoolVar(&p.AccessLogs, "collect-access-logs", false, "let the collector role read the trail bucket's server access logs too")
	fl.IntVar(&p.RetentionDays, "retention-days", 0, "lifecycle expiration of log files in the templates (default 365)")
	fl.IntVar(&p.ObjectLockDays, "object-lock-days", 0, "Object Lock (GOVERNANCE) default retention of the trail bucket in the templates; 0 = none")
}

// params returns the normalized parameters.
func (f *setupFlags) params() (setup.Params, error) {
	p := f.p
	p.TrailARNs = splitLists(f.trailARNs)
	if len(p.TrailARNs) > 0 {
		var q setup.Params
		if err := q.FromTrailARN(p.TrailARNs[0]); err != nil {
			return p, usageError("--trail-arn: %v", err)
		}
		if p.Account == "" {
			p.Account = q.Account
		}
		if p.Region == "" {
			p.Region = q.Region
		}
		if p.TrailName == "" {
			p.TrailName = q.TrailName
		}
		p.Partition = q.Partition
	}
	if f.topicARN != "" {
		if posture.ARNResource(f.topicARN) == "" || !strings.Contains(f.topicARN, ":sns:") {
			return p, usageError("--topic-arn %q: want arn:aws:sns:REGION:ACCOUNT:NAME", f.topicARN)
		}
		p.TopicName = posture.ARNResource(f.topicARN)
		if p.Account == "" {
			p.Account = posture.ARNAccount(f.topicARN)
		}
		if p.Region == "" {
			p.Region = posture.ARNRegion(f.topicARN)
		}
	}
	if f.queueARN != "" {
		if posture.ARNResource(f.queueARN) == "" || !strings.Contains(f.queueARN, ":sqs:") {
			return p, usageError("--queue-arn %q: want arn:aws:sqs:REGION:ACCOUNT:NAME", f.queueARN)
		}
		p.QueueName, p.QueueAccount = posture.ARNResource(f.queueARN), posture.ARNAccount(f.queueARN)
		if p.BucketRegion == "" {
			p.BucketRegion = posture.ARNRegion(f.queueARN)
		}
	}
	if err := p.Normalize(); err != nil {
		return p, usageError("%v", err)
	}
	return p, nil
}

func (a *app) setupCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup DOCUMENT",
		Short: "Generate the least-privilege policies, notifications and templates that collecting CloudTrail logs needs",
		Long: `Setup prints a document filled in for your trail, bucket and collector:
` + documentList() + `
  all                 every document, as files in --out DIR

Every document is JSON and grants no more than its job needs: CloudTrail
writes only for the named trails (aws:SourceArn) with
bucket-owner-full-control, member accounts of an organization read only their
own prefix (aws:PrincipalOrgID), the queue accepts only the trail's topic or
bucket, the collector role (trusted with an external ID) consumes one queue,
reads and lists the log prefixes only, and decrypts through S3 only
(kms:ViaService). A setup made from these documents passes trailwatch audit
(only the opt-in information findings remain: data events, MFA delete,
CloudWatch Logs).

"trailwatch setup apply" creates the collector's queue and wires it, and turns
on server access logging, in your account.`,
		Example: `  trailwatch setup bucket-policy --account 111122223333 --region us-east-1 --bucket my-trail-logs
  trailwatch setup collector-policy --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/main --bucket my-trail-logs --kms-key-arn arn:aws:kms:us-east-1:111122223333:key/...
  trailwatch setup bucket-policy --account 111122223333 --region us-east-1 --bucket org-logs --organization-id o-a1b2c3d4e5 --bucket-account 444455556666
  trailwatch setup cloudformation --account 111122223333 --region us-east-1 --bucket my-trail-logs --external-id "$EXTERNAL_ID" > trailwatch.json
  trailwatch setup all --account 111122223333 --region us-east-1 --bucket my-trail-logs --out ./setup`,
	}
	for _, d := range setup.Documents() {
		var f setupFlags
		sub := &cobra.Command{
			Use:   d.Name,
			Short: "Print the " + d.Description,
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				p, err := f.params()
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(d.Render(&p))
				return err
			},
		}
		f.register(sub, true)
		cmd.AddCommand(sub)
	}
	var f setupFlags
	var out string
	all := &cobra.Command{
		Use:   "all --out DIR",
		Short: "Write every document into a directory",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if out == "" {
				return usageError("--out is required")
			}
			p, err := f.params()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			for _, d := range setup.Documents() {
				path := filepath.Join(out, d.File)
				if err := os.WriteFile(path, d.Render(&p), 0o644); err != nil {
					return fmt.Errorf("setup: %w", err)
				}
				fmt.Fprintf(a.stdout, "%-24s %s\n", path, d.Description)
			}
			return nil
		},
	}
	f.register(all, true)
	all.Flags().StringVar(&out, "out", "", "directory to write the documents into")
	cmd.AddCommand(all, a.setupApplyCommand())
	return cmd
}

// fillFromTrail takes the bucket, prefix, topic and key the trail uses,
// unless flags set them.
func fillFromTrail(f *setupFlags, t *posture.Trail) error {
	p := &f.p
	if p.Bucket == "" {
		p.Bucket = t.S3Bucket
	} else if t.S3Bucket != "" && p.Bucket != t.S3Bucket {
		return usageError("--bucket %s, but trail %s writes to %s", p.Bucket, t.ARN, t.S3Bucket)
	}
	if p.Prefix == "" {
		p.Prefix = t.S3KeyPrefix
	}
	if p.KMSKeyARN == "" {
		p.KMSKeyARN = t.KMSKeyID
	}
	if p.Notify == setup.NotifySNS && p.TopicName == "" && f.topicARN == "" {
		if t.SNSTopicARN == "" {
			return usageError("trail %s has no SNS topic: use --notify s3 (bucket notifications), or give it a topic (trailwatch setup topic-policy) and --topic-arn", t.ARN)
		}
		f.topicARN = t.SNSTopicARN
	}
	return nil
}

func documentList() string {
	var b strings.Builder
	for _, d := range setup.Documents() {
		fmt.Fprintf(&b, "  %-19s %s\n", d.Name, d.Description)
	}
	return strings.TrimRight(b.String(), "\n")
}

func (a *app) setupApplyCommand() *cobra.Command {
	var f setupFlags
	var af awsFlags
	var dryRun, notifications, accessLogs bool
	cmd := &cobra.Command{
		Use:   "apply --trail-arn ARN | --bucket BUCKET [--notify sns|s3]",
		Short: "Create the collector's queue, wire the trail's notifications to it and enable S3 server access logging",
		Long: `Apply changes your account (opt-in), and is idempotent: running it again
changes nothing. It

  --notifications  creates the queue (SQS-managed encryption, 14 days) with a
                   policy that accepts only the trail's topic (--notify sns) or
                   bucket (--notify s3), or fixes an existing queue's policy and
                   encryption; then subscribes it to the topic, or adds the
                   queue to the bucket's event notifications (keeping the
                   others);
  --access-logs    creates the access log bucket (Block Public Access on) if
                   needed, lets S3 logging write into it for the trail bucket,
                   and enables date-partitioned server access logging of the
                   trail bucket into it.

Without either flag it does both. Every call is printed as it is made;
--dry-run only reads, and prints the calls that would change something.
With --trail-arn the trail's bucket, prefix, SNS topic and key come from
CloudTrail DescribeTrails; otherwise the account and region default to the
credentials' and the bucket's.`,
		Example: `  trailwatch setup apply --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/main --dry-run
  trailwatch setup apply --bucket my-trail-logs --notify s3 --notifications
  trailwatch setup apply --bucket my-trail-logs --access-logs --profile admin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !notifications && !accessLogs {
				notifications, accessLogs = true, true
			}
			return a.setupApply(cmd.Context(), &f, af, setup.ApplyOptions{Notifications: notifications, AccessLogs: accessLogs, DryRun: dryRun})
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	for _, name := range []string{"object-lock-days", "retention-days", "collect-access-logs", "collector-principal", "role-name"} {
		_ = fl.MarkHidden(name) // template settings apply does not use
	}
	fl.BoolVar(&dryRun, "dry-run", false, "read only, and print every call that would change something")
	fl.BoolVar(&notifications, "notifications", false, "create and wire the collector's queue")
	fl.BoolVar(&accessLogs, "access-logs", false, "enable server access logging of the trail bucket")
	af.register(cmd)
	return cmd
}

func (a *app) setupApply(ctx context.Context, f *setupFlags, af awsFlags, o setup.ApplyOptions) error {
	trails := splitLists(f.trailARNs)
	if f.p.Bucket == "" && len(trails) == 0 {
		return usageError("--bucket or --trail-arn is required")
	}
	sess, err := a.awsSession(ctx, af)
	if err != nil {
		return err
	}
	if len(trails) > 0 {
		// the trail says where it writes and what it notifies
		t, err := sess.TrailSettings(ctx, trails[0])
		if err != nil {
			return err
		}
		if err := fillFromTrail(f, t); err != nil {
			return err
		}
	}
	if f.p.Account == "" && len(f.trailARNs) == 0 && f.topicARN == "" {
		acct, err := sess.Posture().CallerAccount(ctx)
		if err != nil {
			return err
		}
		f.p.Account = acct
	}
	if f.p.Region == "" && len(f.trailARNs) == 0 && f.topicARN == "" {
		f.p.Region = sess.Region()
	}
	if f.p.BucketRegion == "" && f.queueARN == "" {
		region, err := sess.BucketLocation(ctx, f.p.Bucket)
		if err != nil {
			return err
		}
		f.p.BucketRegion = region
	}
	p, err := f.params()
	if err != nil {
		return err
	}
	changes := 0
	o.Step = func(s setup.Step) {
		if s.Write {
			changes++
		}
		fmt.Fprintln(a.stdout, s.String())
	}
	if o.DryRun {
		fmt.Fprintln(a.stdout, "# dry run: only reads are made")
	}
	if _, err := setup.Apply(ctx, sess.Setup(p.BucketRegion), p, o); err != nil {
		return fmt.Errorf("setup apply: %w", err)
	}
	switch {
	case changes == 0:
		fmt.Fprintln(a.stdout, "# nothing to change")
	case o.DryRun:
		fmt.Fprintf(a.stdout, "# %d change(s) would be made; run again without --dry-run to make them\n", changes)
	default:
		fmt.Fprintf(a.stdout, "# %d change(s) made\n", changes)
	}
	return nil
}
