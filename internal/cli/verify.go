package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/integrity"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

// verifyFlags are the inputs of `trailwatch verify`: those of
// `aws cloudtrail validate-logs`, and trailwatch's own.
type verifyFlags struct {
	trailARN   string
	start, end string
	bucket     string
	prefix     string
	accounts   []string
	regions    []string
	verbose    bool
	local      string
	publicKeys []string
	workers    int
	aws        awsFlags
	status     bool
}

func (a *app) verifyCommand() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Validate CloudTrail log file integrity (digest chains), like aws cloudtrail validate-logs",
		Long: `Verify checks that CloudTrail log files were not modified, deleted or added
after delivery, using the hourly signed digest files CloudTrail writes when log
file validation is on. It takes the inputs of aws cloudtrail validate-logs,
prints its messages and exits like it: 0 when everything is valid, 1 when
anything is invalid.

Beyond the AWS CLI it checks each digest's previousDigestHashValue, reports log
files that no digest lists and digests missing after the newest one, still
checks the log files of a digest that is missing or invalid, explains chain
restarts with the StopLogging/StartLogging/UpdateTrail events it finds, verifies
every account and region of the trail by default (an organization trail too),
and fails when it finds no digests at all.

Without --local it reads S3 directly: the digests with their signatures (the
objects' x-amz-meta-signature), the log files, and the public keys from
CloudTrail ListPublicKeys in each region (or --public-keys FILE). Without
--s3-bucket the trail's bucket and prefix come from CloudTrail DescribeTrails
in the trail's home region. Reads are pipelined and parallel (--workers).

--local DIR verifies a downloaded copy of the bucket: DIR holds the bucket's
content (DIR/AWSLogs/...) or one directory per bucket (DIR/<bucket>/AWSLogs/...).
A plain download loses each digest's signature (S3 object metadata);
trailwatch download keeps it in <digest>.metadata.json sidecars. Without them, each digest is still proven by
the signature the next digest records, except the newest of each chain, which
is reported UNVERIFIED. Public keys come from --public-keys FILE, the output of
aws cloudtrail list-public-keys for the trail's regions ([REGION=]FILE,
repeatable); without them signatures are not checked.

Examples:
  trailwatch verify --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/main --start-time 7d
  trailwatch verify --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/main --start-time 2026-11-01 \
      --s3-bucket org-trail-logs --account-id 444455556666 --role-arn arn:aws:iam::111122223333:role/audit
  trailwatch verify --local ./bucket-copy --public-keys keys.json --start-time 2026-11-01
  trailwatch verify --local demo-data --public-keys demo-data/public-keys.json --verbose
  trailwatch verify --status --db trailwatch.duckdb       # what the running collector found
  trailwatch verify --trail-arn arn:aws:cloudtrail:us-east-1:111122223333:trail/main \
      --start-time 2026-11-01T00:00:00Z --local ./bucket-copy --public-keys keys.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.verify(cmd.Context(), &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.trailARN, "trail-arn", "", "the trail to validate (required without --local; with --local, default every trail found)")
	fl.StringVar(&f.start, "start-time", "", `validate log files delivered on or after this UTC time, e.g. "2026-11-01T05:21:42Z" or "7d" (required without --local; with --local, default the oldest digest)`)
	fl.StringVar(&f.end, "end-time", "", "validate log files delivered on or before this UTC time (default now)")
	fl.StringVar(&f.bucket, "s3-bucket", "", "the bucket holding the digests (default the trail's bucket, or the one --local holds)")
	fl.StringVar(&f.prefix, "s3-prefix", "", "the trail's S3 key prefix, if any")
	fl.StringSliceVar(&f.accounts, "account-id", nil, "accounts to validate (an organization trail's member accounts; default the trail's account, with --local every account found)")
	fl.StringSliceVar(&f.regions, "region", nil, "regions to validate (default every region with digests of the trail)")
	fl.BoolVar(&f.verbose, "verbose", false, "print every valid digest and log file too")
	fl.StringVar(&f.local, "local", "", "validate a downloaded copy of the bucket in this directory instead of S3")
	fl.StringArrayVar(&f.publicKeys, "public-keys", nil, "[REGION=]FILE: public keys as printed by aws cloudtrail list-public-keys (repeatable)")
	fl.IntVar(&f.workers, "workers", 0, "log files read and hashed in parallel (default 2 per CPU, 32 in S3)")
	fl.BoolVar(&f.status, "status", false, "print the collector's continuous integrity status per trail, account and region from the database (--verbose: and its latest findings)")
	f.aws.register(cmd)
	return cmd
}

// verify runs the command.
func (a *app) verify(ctx context.Context, f *verifyFlags) error {
	if f.status {
		return a.verifyStatus(ctx, f.verbose)
	}
	if a.format == "csv" {
		return usageError("verify prints text or --format json, not csv")
	}
	req, err := f.request(time.Now())
	if err != nil {
		return err
	}
	var keys integrity.PublicKeys
	if len(f.publicKeys) > 0 {
		sk := &integrity.StaticKeys{}
		for _, spec := range f.publicKeys {
			if err := sk.LoadFile(spec); err != nil {
				return usageError("--public-keys: %v", err)
			}
		}
		keys = sk
	}
	var buckets integrity.Buckets
	workers, fetchers := f.workers, 0
	if f.local == "" {
		if buckets, keys, err = a.s3Sources(ctx, f, &req, keys); err != nil {
			return err
		}
		// Round trips: many reads in flight.
		workers, fetchers = cmp.Or(f.workers, 32), max(32, f.workers)
	} else {
		var note string
		buckets, req.Bucket, note, err = localSource(ctx, f.local, req.Bucket, req.Prefix)
		if err != nil {
			return err
		}
		if note != "" {
			fmt.Fprintln(a.stderr, "trailwatch: "+note)
		}
	}
	v := &integrity.Verifier{Buckets: buckets, Keys: keys, Workers: workers, Fetchers: fetchers, Log: a.log,
		Events: integrity.BucketTrailEvents{Buckets: buckets}}
	if f.workers > 0 && fetchers == 0 {
		v.Fetchers = max(16, f.workers)
	}
	plan, err := v.Plan(ctx, req)
	if err != nil {
		return err
	}
	var out verifyOutput
	if a.format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetEscapeHTML(false)
		out = &jsonVerifyOutput{enc: enc}
	} else {
		out = &textVerifyOutput{stdout: a.stdout, stderr: a.stderr, verbose: f.verbose, lastDouble: true}
	}
	if keys == nil {
		out.note("Signatures are not checked: no public keys (pass --public-keys FILE, the output of aws cloudtrail list-public-keys for the trail's regions).")
	}
	out.start(f.trailDescription(plan, req), plan.Start(), plan.End())
	sum, err := plan.Run(ctx, out.result)
	if err != nil {
		return err
	}
	if err := out.summary(sum); err != nil {
		return err
	}
	if sum.Digests.Total()+sum.BackfillDigests.Total() == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no digest files found for %s: check --region, --account-id, --s3-bucket and --s3-prefix", f.trailDescription(plan, req))}
	}
	if !sum.OK() {
		return &ExitError{Code: ExitFailure, Err: errors.New("")}
	}
	return nil
}

// s3Sources connects to AWS: buckets over S3 and, unless given, public
// keys from CloudTrail ListPublicKeys. Without --s3-bucket, the trail's
// bucket and prefix come from CloudTrail DescribeTrails, as the AWS CLI
// finds them.
func (a *app) s3Sources(ctx context.Context, f *verifyFlags, req *integrity.Request, keys integrity.PublicKeys) (integrity.Buckets, integrity.PublicKeys, error) {
	sess, err := a.awsSession(ctx, f.aws)
	if err != nil {
		return nil, nil, err
	}
	if req.Bucket == "" {
		tl, err := sess.Trail(ctx, req.HomeRegion, f.trailARN)
		if err != nil {
			return nil, nil, fmt.Errorf("finding the trail's bucket: %w (pass --s3-bucket, and --s3-prefix if the trail has one, to skip this lookup)", err)
		}
		if tl.Bucket == "" {
			return nil, nil, fmt.Errorf("trail %s names no S3 bucket: pass --s3-bucket", f.trailARN)
		}
		req.Bucket = tl.Bucket
		if f.prefix == "" {
			req.Prefix = strings.Trim(tl.Prefix, "/")
		}
		a.log.Info("trail's bucket from DescribeTrails", "bucket", req.Bucket, "prefix", req.Prefix)
	}
	if keys == nil {
		keys = integrity.CloudTrailKeys{Session: sess}
	}
	return integrity.S3Buckets{S3: sess.S3(f.aws.region)}, keys, nil
}

// request turns the flags into a verification request.
func (f *verifyFlags) request(now time.Time) (integrity.Request, error) {
	req := integrity.Request{Bucket: f.bucket, Prefix: strings.Trim(f.prefix, "/"), Accounts: splitLists(f.accounts), Regions: splitLists(f.regions)}
	if f.trailARN != "" {
		home, account, name, err := integrity.ParseTrailARN(f.trailARN)
		if err != nil {
			return req, usageError("--trail-arn: %v", err)
		}
		req.Trail, req.HomeRegion = name, home
		if len(req.Accounts) == 0 && f.local == "" {
			req.Accounts = []string{account}
		}
	} else if f.local == "" {
		return req, usageError("--trail-arn is required (without --local)")
	}
	if f.start == "" && f.local == "" {
		return req, usageError("--start-time is required (without --local)")
	}
	var err error
	if f.start != "" {
		if req.Start, err = parseWhen(f.start, now); err != nil {
			return req, usageError("--start-time: %v", err)
		}
	}
	if f.end != "" {
		if req.End, err = parseWhen(f.end, now); err != nil {
			return req, usageError("--end-time: %v", err)
		}
	} else {
		req.End = now.UTC().Truncate(time.Second)
	}
	if !req.Start.IsZero() && req.Start.After(req.End) {
		return req, usageError("Invalid time range specified: start-time must occur before end-time")
	}
	if f.workers < 0 {
		return req, usageError("--workers must be positive")
	}
	return req, nil
}

// splitLists flattens repeated comma-list flags.
func splitLists(in []string) []string {
	var out []string
	for _, s := range in {
		out = append(out, splitList(s)...)
	}
	return out
}

// trailDescription names what is verified for the header line.
func (f *verifyFlags) trailDescription(p *integrity.Plan, req integrity.Request) string {
	if f.trailARN != "" {
		return f.trailARN
	}
	var trails []string
	for _, s := range p.Scopes() {
		trails = append(trails, s.Trail)
	}
	slices.Sort(trails)
	trails = slices.Compact(trails)
	where := "s3://" + req.Bucket + "/" + req.Prefix
	if len(trails) == 1 {
		return trails[0] + " in " + where
	}
	return "all trails in " + where
}

// localSource resolves --local: which directory holds which bucket.
func localSource(ctx context.Context, dir, bucket, prefix string) (integrity.Buckets, string, string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, "", "", usageError("--local: %v", err)
	}
	if !fi.IsDir() {
		return nil, "", "", usageError("--local: %s is not a directory", dir)
	}
	logsIn := func(d string) bool {
		fi, err := os.Stat(filepath.Join(d, filepath.FromSlash(prefix), "AWSLogs"))
		return err == nil && fi.IsDir()
	}
	if bucket != "" {
		if logsIn(filepath.Join(dir, bucket)) {
			return integrity.LocalBuckets{Root: dir}, bucket, "", nil
		}
		return integrity.LocalBuckets{Root: dir, Name: bucket}, bucket, "", nil
	}
	if logsIn(dir) {
		// DIR is the bucket's content: its name is in the digests.
		name, err := integrity.BucketName(ctx, integrity.LocalBucket{Dir: dir}, prefix)
		if err != nil {
			return nil, "", "", err
		}
		if name == "" {
			name = filepath.Base(dir)
		}
		return integrity.LocalBuckets{Root: dir, Name: name}, name,
			"bucket " + name + " (from the digest files; pass --s3-bucket to check that they were not moved from another bucket)", nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", "", err
	}
	var found []string
	for _, e := range ents {
		if e.IsDir() && logsIn(filepath.Join(dir, e.Name())) {
			found = append(found, e.Name())
		}
	}
	switch len(found) {
	case 0:
		return nil, "", "", usageError("--local: no AWSLogs/ directory in %s or in its subdirectories%s", dir, map[bool]string{true: " (with --s3-prefix " + prefix + ")"}[prefix != ""])
	case 1:
		return integrity.LocalBuckets{Root: dir}, found[0], "", nil
	}
	return nil, "", "", usageError("--local: %s holds several buckets (%s): pass --s3-bucket", dir, strings.Join(found, ", "))
}

// verifyOutput renders a verification.
type verifyOutput interface {
	note(msg string)
	start(trail string, start, end time.Time)
	result(r *integrity.Result) error
	summary(s *integrity.Summary) error
}

// textVerifyOutput prints what aws cloudtrail validate-logs prints: valid
// results on stdout with --verbose, findings on stderr, blank lines as it
// places them, and its summary.
type textVerifyOutput struct {
	stdout, stderr io.Writer
	verbose        bool
	lastDouble     bool
	quietNoKeys    bool
}

func (o *textVerifyOutput) note(msg string) {
	fmt.Fprintln(o.stderr, msg)
	o.quietNoKeys = true
}

func (o *textVerifyOutput) start(trail string, start, end time.Time) {
	fmt.Fprintf(o.stdout, "Validating log files for trail %s between %s and %s\n\n", trail, integrity.DisplayTime(start), integrity.DisplayTime(end))
}

func (o *textVerifyOutput) status(msg string, isErr bool) error {
	if isErr {
		var err error
		if o.lastDouble {
			_, err = fmt.Fprintf(o.stderr, "%s\n\n", msg)
		} else {
			_, err = fmt.Fprintf(o.stderr, "\n%s\n\n", msg)
		}
		o.lastDouble = true
		return err
	}
	if o.verbose {
		o.lastDouble = false
		_, err := fmt.Fprintf(o.stdout, "%s\n", msg)
		return err
	}
	return nil
}

func (o *textVerifyOutput) result(r *integrity.Result) error {
	msg := r.Message
	switch r.Kind {
	case integrity.NoDigests:
		msg += "\n" + r.Detail
	default:
		// The AWS CLI prints the message alone; --verbose says why.
		if o.verbose && r.Status != integrity.Valid && r.Detail != "" {
			msg += "\n  (" + r.Detail + ")"
		}
	}
	switch {
	case r.Status == integrity.Valid:
		return o.status(msg, false)
	case r.Status == integrity.Unverified && (r.Type == integrity.TypeLogFile || o.quietNoKeys):
		return o.status(msg, false)
	}
	return o.status(msg, true)
}

func (o *textVerifyOutput) summary(s *integrity.Summary) error {
	var b strings.Builder
	if !o.lastDouble {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Results requested for %s to %s\n", integrity.DisplayTime(s.Start), integrity.DisplayTime(s.End))
	if s.Digests.Total()+s.BackfillDigests.Total() == 0 {
		b.WriteString("No digests found\n")
		_, err := io.WriteString(o.stdout, b.String())
		return err
	}
	if s.FoundStart.IsZero() || s.FoundEnd.IsZero() {
		b.WriteString("No valid digests found in range\n")
	} else {
		fmt.Fprintf(&b, "Results found for %s to %s:\n", integrity.DisplayTime(s.FoundStart), integrity.DisplayTime(s.FoundEnd))
	}
	ratio := func(c integrity.Counts, name string) {
		total := c.Total()
		if total == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%d/%d %s files valid", c.Valid, total, name)
		if c.Invalid > 0 {
			fmt.Fprintf(&b, ", %d/%d %s files INVALID", c.Invalid, total, name)
		}
		if c.Unverified > 0 {
			fmt.Fprintf(&b, ", %d/%d %s files UNVERIFIED", c.Unverified, total, name)
		}
	}
	ratio(s.Digests, "digest")
	ratio(s.BackfillDigests, "backfill digest")
	ratio(s.LogFiles, "log")
	if s.Unlisted > 0 {
		fmt.Fprintf(&b, "\n%s listed in no digest file: INVALID", plural(s.Unlisted, "log file"))
	}
	if s.Gaps > 0 {
		fmt.Fprintf(&b, "\n%s: logging or log file validation was turned off and on", plural(s.Gaps, "digest chain restart"))
	}
	b.WriteString("\n")
	_, err := io.WriteString(o.stdout, b.String())
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// jsonVerifyOutput prints one JSON object per result and a summary object.
type jsonVerifyOutput struct {
	enc *json.Encoder
}

func (o *jsonVerifyOutput) note(msg string) {
	_ = o.enc.Encode(map[string]string{"type": "note", "message": msg})
}

func (o *jsonVerifyOutput) start(trail string, start, end time.Time) {
	_ = o.enc.Encode(map[string]string{"type": "start", "trail": trail, "start": integrity.DisplayTime(start), "end": integrity.DisplayTime(end)})
}

func (o *jsonVerifyOutput) result(r *integrity.Result) error {
	type withObject struct {
		*integrity.Result
		Object string `json:"object,omitempty"`
	}
	return o.enc.Encode(withObject{r, r.Object()})
}

func (o *jsonVerifyOutput) summary(s *integrity.Summary) error {
	type withType struct {
		Type string `json:"type"`
		*integrity.Summary
		OK bool `json:"ok"`
	}
	return o.enc.Encode(withType{"summary", s, s.OK()})
}

// The integrity status per chain, worst first, and the latest findings.
const (
	integrityStatusSQL = `SELECT status, trail, account, region, bucket, prefix, organization, last_digest_end, overdue_since,
		digests_valid, digests_invalid, digests_unverified, logs_valid, logs_invalid, logs_unverified, warnings, last_finding, last_finding_at, checked_at
		FROM integrity_status ORDER BY CASE status WHEN 'invalid' THEN 0 WHEN 'overdue' THEN 1 WHEN 'warning' THEN 2 WHEN 'unverified' THEN 3 ELSE 4 END, trail, account, region`
	integrityFindingsSQL = `SELECT found_at, kind, status, object, account, region, trail, time, message, detail, related, events
			FROM integrity_findings ORDER BY found_at DESC, time DESC`
)

// queryHandler serves a read-only query's rows as JSON lines; limit, when
// set, caps them (?limit=N, at most max).
func queryHandler(st *duckdb.Store, q string, max int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sqlText := q
		if max > 0 {
			n := max
			if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 && v < max {
				n = v
			}
			sqlText += " LIMIT " + strconv.Itoa(n)
		}
		rows, err := st.Query(r.Context(), sqlText)
		if err != nil {
			status := http.StatusInternalServerError
			if strings.Contains(err.Error(), "does not exist") {
				status = http.StatusServiceUnavailable // no digest validated yet
			}
			http.Error(w, err.Error(), status)
			return
		}
		defer rows.Close()
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = resultWriter{w: w, format: "json"}.write(rows)
	})
}

// verifyStatus prints integrity_status (and, verbose, the latest
// integrity_findings) from the database the collector's integrity monitor
// writes.
func (a *app) verifyStatus(ctx context.Context, verbose bool) error {
	st, err := a.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	queries := []string{integrityStatusSQL}
	if verbose {
		queries = append(queries, integrityFindingsSQL+" LIMIT 100")
	}
	bad := false
	for i, q := range queries {
		rows, err := st.Query(ctx, q)
		if err != nil {
			if strings.Contains(err.Error(), "integrity_status") || strings.Contains(err.Error(), "integrity_findings") {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no integrity status in %s yet: the collector (trailwatch collect or run) writes it while it validates digests", a.dbPath)}
			}
			return err
		}
		if i > 0 && a.format == "table" {
			fmt.Fprintln(a.stdout)
		}
		n, err := resultWriter{w: a.stdout, format: a.format, width: 100}.write(rows)
		rows.Close()
		if err != nil {
			return err
		}
		if i == 0 && n == 0 {
			return &ExitError{Code: ExitFailure, Err: errors.New("no digests validated yet: is log file validation on, and does the collector receive the CloudTrail-Digest objects?")}
		}
	}
	// Exit 1 when any chain is invalid or overdue, as verify does.
	rows, err := st.Query(ctx, `SELECT count(*) FROM integrity_status WHERE status IN ('invalid', 'overdue')`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return err
		}
	}
	bad = n > 0
	if bad {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d trail chain(s) invalid or overdue", n)}
	}
	return nil
}
