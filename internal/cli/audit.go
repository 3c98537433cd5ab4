package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/awsapi"
	"github.com/trailwatch/trailwatch/internal/posture"
)

// auditFlags are the audit command's settings.
type auditFlags struct {
	aws        awsFlags
	regions    []string
	accounts   []string
	roleName   string
	queues     []string
	allBuckets bool
	output     string
	failOn     string
	at         string
	retention  int
}

var accountIDRE = regexp.MustCompile(`^\d{12}$`)

func (a *app) auditCommand() *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Audit how securely CloudTrail, its bucket, key, topic and the collector's queue are set up",
		Long: `Audit reads the CloudTrail configuration of an account (or of several
accounts of an organization, through a role in each) and reports what is
wrong, each finding with its severity, its AWS Security Hub control
(CloudTrail.1-7, S3.x, KMS.x, SQS.x) and CIS AWS Foundations Benchmark
requirement, the evidence, and the exact AWS CLI commands that fix it.

It checks that trails exist and are logging in every audited region
(GetTrailStatus: delivery, digest and notification errors, last delivery),
that a multi-Region trail records read and write management events and
global service events, organization trail coverage, log file validation,
SSE-KMS with a customer managed key (rotation, same region as the bucket,
key policy not open to everyone), S3 data events (information), SNS or S3
notifications reaching a queue for the collector, and the trail bucket: not
public (policy status, ACLs, Block Public Access of the bucket and the
account), versioning, MFA delete, Object Lock, server access logging,
lifecycle retention, a bucket policy limited to CloudTrail with
aws:SourceArn and bucket-owner-full-control, and TLS only. The collector's
queues must be encrypted and accept messages only from the trail's topic or
bucket (aws:SourceArn). --all-buckets also checks the server access logging
of every bucket of the account.

Only read calls are made (see docs/posture.md for the IAM policy). A call
that is denied is listed under "Not checked" with the permission it needs;
the rest of the audit goes on.

--format table (default), json, csv, sarif (SARIF 2.1.0, for GitHub code
scanning) or html (one self-contained page).`,
		Example: `  trailwatch audit --regions us-east-1,eu-west-1
  trailwatch audit --profile audit --regions us-east-1 --format html --output audit.html
  trailwatch audit --accounts 111122223333,444455556666 --role-name trailwatch-collector --external-id "$EXTERNAL_ID" --format sarif > audit.sarif
  trailwatch audit --queue-url https://sqs.us-east-1.amazonaws.com/111122223333/trailwatch-cloudtrail --fail-on high`,
		Annotations: map[string]string{"formats": "sarif,html"},
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.audit(cmd.Context(), &f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.regions, "regions", nil, "regions to audit (repeat or comma-separate; default the session's region)")
	fl.StringSliceVar(&f.accounts, "accounts", nil, "audit these accounts of the organization, each through --role-name (repeat or comma-separate)")
	fl.StringVar(&f.roleName, "role-name", "", "the role assumed in each of --accounts (e.g. trailwatch-collector), with --external-id")
	fl.StringSliceVar(&f.queues, "queue-url", nil, "collector queues to audit besides those the trails' topics and buckets notify")
	fl.BoolVar(&f.allBuckets, "all-buckets", false, "also check server access logging of every bucket of the account (S3.9)")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	fl.StringVar(&f.failOn, "fail-on", "", "exit 1 when a finding has this severity or higher: info, low, medium, high, critical")
	fl.IntVar(&f.retention, "retention-days", 0, "lifecycle retention the remediations propose (default 365)")
	fl.StringVar(&f.at, "at", "", "audit as of this RFC 3339 time (for reproducible reports)")
	_ = fl.MarkHidden("at")
	f.aws.register(cmd)
	return cmd
}

func (a *app) audit(ctx context.Context, f *auditFlags) error {
	var failOn *posture.Severity
	if f.failOn != "" {
		s, err := posture.ParseSeverity(f.failOn)
		if err != nil {
			return usageError("--fail-on: %v", err)
		}
		failOn = &s
	}
	now := time.Now()
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return usageError("--at: %v", err)
		}
		now = t
	}
	if f.retention < 0 {
		return usageError("--retention-days must be positive")
	}
	accounts := splitLists(f.accounts)
	if len(accounts) > 0 && f.roleName == "" {
		return usageError("--accounts needs --role-name: the role to assume in each account")
	}
	if f.roleName != "" && len(accounts) == 0 {
		return usageError("--role-name needs --accounts")
	}
	if len(accounts) > 0 && f.aws.roleARN != "" {
		return usageError("--accounts and --role-arn exclude each other: the role of each account is arn:aws:iam::ACCOUNT:role/<--role-name>")
	}
	for _, acct := range accounts {
		if !accountIDRE.MatchString(acct) {
			return usageError("--accounts: %q is not a 12-digit account ID", acct)
		}
	}
	c := f.aws.aws()
	base := awsapi.Config{Profile: c.Profile, Region: c.Region, RoleARN: c.RoleARN, ExternalID: c.ExternalID,
		SessionName: c.SessionName, EndpointURL: c.EndpointURL, S3PathStyle: c.S3PathStyle, Logger: a.log}
	targets := []awsapi.Config{base} // one per account to audit
	if len(accounts) > 0 {
		s, err := awsapi.New(ctx, base) // for the region the profile or environment sets
		if err != nil {
			return err
		}
		targets = nil
		for _, acct := range accounts {
			tc := base
			tc.RoleARN = "arn:" + partitionOf(s.Region()) + ":iam::" + acct + ":role/" + f.roleName
			targets = append(targets, tc)
		}
	}
	snap := &posture.Snapshot{Organization: len(accounts) > 1}
	for _, t := range targets {
		sess, err := awsapi.New(ctx, t)
		if err != nil {
			return err
		}
		regions := splitLists(f.regions)
		if len(regions) == 0 {
			regions = []string{sess.Region()}
		}
		acct, err := posture.Gather(ctx, sess.Posture(), posture.GatherOptions{Regions: regions, QueueURLs: f.queues, AllBuckets: f.allBuckets, Logger: a.log})
		if err != nil {
			return fmt.Errorf("audit as %s: %w", sess.Principal(), err)
		}
		snap.Accounts = append(snap.Accounts, acct)
	}
	findings := posture.Evaluate(snap, posture.Options{Now: now, RetentionDays: f.retention})
	report := posture.NewReport(snap, findings, Version, now)
	if err := a.writeAudit(report, f.output); err != nil {
		return err
	}
	if failOn != nil {
		if worst, ok := report.Worst(); ok && worst >= *failOn {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s (--fail-on %s)", report.Summary(), *failOn)}
		}
	}
	return nil
}

// partitionOf is the partition of a region (for role ARNs).
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func (a *app) writeAudit(r *posture.Report, path string) (err error) {
	var w io.Writer = a.stdout
	if path != "" {
		file, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("audit report: %w", err)
		}
		defer func() {
			if cerr := file.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("audit report: %w", cerr)
			}
		}()
		w = file
	}
	switch a.format {
	case "json":
		return posture.WriteJSON(w, r)
	case "csv":
		return posture.WriteCSV(w, r)
	case "sarif":
		return posture.WriteSARIF(w, r)
	case "html":
		return posture.WriteHTML(w, r)
	default:
		return posture.WriteTable(w, r)
	}
}
