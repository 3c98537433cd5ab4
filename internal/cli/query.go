package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/store"
)

type queryFlags struct {
	limit   int
	timeout time.Duration
	width   int
}

func (f *queryFlags) register(cmd *cobra.Command, defLimit int) {
	cmd.Flags().IntVar(&f.limit, "limit", defLimit, "print at most this many rows (0 = all)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up on the query after this long")
	cmd.Flags().IntVar(&f.width, "width", 80, "cut table cells to this many characters (0 = no limit)")
}

func (a *app) queryCommand() *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   "query SQL",
		Short: "Run a read-only SQL query (DuckDB dialect; one SELECT statement)",
		Long: `Query runs one read-only SELECT over the database. Tables:

  cloudtrail_events    every CloudTrail event, with CloudTrail's field names:
                       userIdentity is a STRUCT (userIdentity.arn,
                       userIdentity.sessionContext.sessionIssuer.userName, ...),
                       resources a LIST of STRUCT, eventTime a TIMESTAMPTZ;
                       requestParameters, responseElements, additionalEventData,
                       serviceEventDetails hold JSON text: use ->> or json_extract_string;
                       raw is the event as delivered; source_object where it came from
  cloudtrail_insights  CloudTrail Insights events (insightDetails)
  cloudtrail_digests   digest files (logFiles is a LIST of STRUCT)
  s3_access_logs       S3 server access logs with the column names of AWS's Athena table
  quarantine           objects that could not be ingested, and why
  tw_objects           the ledger of ingested objects

Views: events, console_logins, errors, access_denied, root_activity, changes,
s3_requests. Macros: principal(userIdentity), principal_name(userIdentity).

Statements that write, read files, attach databases, load extensions or
change settings are refused (exit code 4).`,
		Example: `  trailwatch query "SELECT eventName, count(*) n FROM cloudtrail_events GROUP BY 1 ORDER BY n DESC LIMIT 10"
  trailwatch query "SELECT userIdentity.arn, sourceIPAddress FROM cloudtrail_events WHERE eventName = 'ConsoleLogin' AND additionalEventData->>'MFAUsed' = 'No'"
  trailwatch --format json query "FROM console_logins WHERE outcome = 'Failure'"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runQuery(cmd.Context(), args[0], nil, f)
		},
	}
	f.register(cmd, 0)
	return cmd
}

// runQuery runs q on the database and prints the result.
func (a *app) runQuery(ctx context.Context, q string, args []any, f queryFlags) error {
	st, err := a.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	rows, err := st.Query(ctx, q, args...)
	if err != nil {
		if errors.Is(err, store.ErrReadOnly) {
			return &ExitError{Code: ExitRefused, Err: err}
		}
		return &ExitError{Code: ExitRefused, Err: err}
	}
	defer rows.Close()
	n, err := resultWriter{w: a.stdout, format: a.format, maxRows: f.limit, width: f.width}.write(rows)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("the query took longer than --timeout %s", f.timeout)
		}
		return fmt.Errorf("query: %w", err)
	}
	if a.format == "table" && f.limit > 0 && n == f.limit {
		fmt.Fprintf(a.stderr, "(first %d rows; --limit 0 for all)\n", n)
	}
	return nil
}

type searchFlags struct {
	queryFlags
	user, ip, event, source, errCode, account, region, since, until string
	readOnly                                                        string
	failed                                                          bool
}

func (a *app) searchCommand() *cobra.Command {
	var f searchFlags
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Find CloudTrail events by user, IP, event, service, error, account, region and time",
		Long: `Search filters CloudTrail events without writing SQL. Filters combine with AND;
list values are comma-separated and combine with OR. Text matches are
case-insensitive; * is a wildcard.`,
		Example: `  trailwatch search --user alice --since 24h
  trailwatch search --ip 203.0.113.0/24 --failed
  trailwatch search --event 'Stop*,Delete*' --source cloudtrail --since 2026-11-01
  trailwatch search --error AccessDenied --account 111122223333 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, args, err := buildSearch(f, time.Now())
			if err != nil {
				return err
			}
			return a.runQuery(cmd.Context(), q, args, f.queryFlags)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "principal: ARN, user or role name, principal id or access key id")
	fl.StringVar(&f.ip, "ip", "", "source IP address or CIDR (e.g. 203.0.113.0/24)")
	fl.StringVar(&f.event, "event", "", "event name(s), e.g. ConsoleLogin,StopLogging or 'Delete*'")
	fl.StringVar(&f.source, "source", "", "event source(s): iam, s3, or iam.amazonaws.com")
	fl.StringVar(&f.errCode, "error", "", "error code(s) matching, e.g. AccessDenied or 'Unauthorized*'")
	fl.BoolVar(&f.failed, "failed", false, "only failed calls (any error code)")
	fl.StringVar(&f.account, "account", "", "recipient account id(s)")
	fl.StringVar(&f.region, "region", "", "region(s)")
	fl.StringVar(&f.since, "since", "", "events at or after: a duration ago (24h, 7d) or a time (2026-11-01, RFC 3339)")
	fl.StringVar(&f.until, "until", "", "events before: a duration ago or a time")
	fl.StringVar(&f.readOnly, "read-only", "", "true: only read-only calls; false: only changes")
	f.register(cmd, 100)
	return cmd
}

// buildSearch turns search flags into a parameterized query.
func buildSearch(f searchFlags, now time.Time) (string, []any, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	anyOf := func(list string, one func(v string) (string, []any)) {
		var ors []string
		for _, v := range splitList(list) {
			c, a := one(v)
			ors = append(ors, c)
			args = append(args, a...)
		}
		if len(ors) > 0 {
			where = append(where, "("+strings.Join(ors, " OR ")+")")
		}
	}
	if f.user != "" {
		anyOf(f.user, func(v string) (string, []any) {
			p := likePattern(v, true)
			return "(principal(userIdentity) ILIKE ? OR principal_name(userIdentity) ILIKE ? OR userIdentity.principalId ILIKE ? OR userIdentity.accessKeyId = ?)",
				[]any{p, p, p, v}
		})
	}
	if f.ip != "" {
		var err error
		anyOf(f.ip, func(v string) (string, []any) {
			c, a, e := ipCondition(v)
			if e != nil {
				err = e
			}
			return c, a
		})
		if err != nil {
			return "", nil, err
		}
	}
	if f.event != "" {
		anyOf(f.event, func(v string) (string, []any) { return "eventName ILIKE ?", []any{likePattern(v, false)} })
	}
	if f.source != "" {
		anyOf(f.source, func(v string) (string, []any) {
			if !strings.Contains(v, ".") && !strings.Contains(v, "*") {
				v += ".amazonaws.com"
			}
			return "eventSource ILIKE ?", []any{likePattern(v, false)}
		})
	}
	if f.failed {
		add("errorCode IS NOT NULL")
	}
	if f.errCode != "" {
		anyOf(f.errCode, func(v string) (string, []any) { return "errorCode ILIKE ?", []any{likePattern(v, true)} })
	}
	if f.account != "" {
		anyOf(f.account, func(v string) (string, []any) { return "recipientAccountId = ?", []any{v} })
	}
	if f.region != "" {
		anyOf(f.region, func(v string) (string, []any) { return "awsRegion = ?", []any{v} })
	}
	if f.since != "" {
		t, err := parseWhen(f.since, now)
		if err != nil {
			return "", nil, usageError("--since: %v", err)
		}
		add("eventTime >= ?", t)
	}
	if f.until != "" {
		t, err := parseWhen(f.until, now)
		if err != nil {
			return "", nil, usageError("--until: %v", err)
		}
		add("eventTime < ?", t)
	}
	switch strings.ToLower(f.readOnly) {
	case "":
	case "true", "yes":
		add("readOnly")
	case "false", "no":
		add("readOnly IS NOT TRUE")
	default:
		return "", nil, usageError("--read-only must be true or false")
	}
	q := `SELECT eventTime AS time, recipientAccountId AS account, awsRegion AS region,
	replace(eventSource, '.amazonaws.com', '') || ':' || eventName AS event,
	principal(userIdentity) AS principal, sourceIPAddress AS ip, errorCode AS error, eventID AS event_id
FROM cloudtrail_events`
	if len(where) > 0 {
		q += "\nWHERE " + strings.Join(where, "\n  AND ")
	}
	q += "\nORDER BY eventTime DESC, eventID"
	return q, args, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// likePattern turns a value with * wildcards into an ILIKE pattern;
// contains makes a plain value match anywhere.
func likePattern(v string, contains bool) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	p := r.Replace(v)
	if strings.Contains(p, "*") {
		return strings.ReplaceAll(p, "*", "%")
	}
	if contains {
		return "%" + p + "%"
	}
	return p
}

// ipCondition matches sourceIPAddress against an address or a CIDR.
func ipCondition(v string) (string, []any, error) {
	if strings.Contains(v, "*") {
		return "sourceIPAddress LIKE ?", []any{likePattern(v, false)}, nil
	}
	if !strings.Contains(v, "/") {
		if _, err := netip.ParseAddr(v); err != nil {
			return "sourceIPAddress = ?", []any{v}, nil // service names like "AWS Internal"
		}
		return "sourceIPAddress = ?", []any{v}, nil
	}
	pfx, err := netip.ParsePrefix(v)
	if err != nil {
		return "", nil, usageError("--ip: %v", err)
	}
	pfx = pfx.Masked()
	if pfx.Addr().Is4() {
		lo := ipv4Int(pfx.Addr())
		hi := lo + (uint64(1) << (32 - pfx.Bits())) - 1
		return `(regexp_full_match(sourceIPAddress, '\d+\.\d+\.\d+\.\d+') AND
	(CAST(split_part(sourceIPAddress, '.', 1) AS UBIGINT) << 24) + (CAST(split_part(sourceIPAddress, '.', 2) AS UBIGINT) << 16) +
	(CAST(split_part(sourceIPAddress, '.', 3) AS UBIGINT) << 8) + CAST(split_part(sourceIPAddress, '.', 4) AS UBIGINT) BETWEEN ? AND ?)`,
			[]any{lo, hi}, nil
	}
	// IPv6: match the textual prefix of whole 16-bit groups.
	groups := pfx.Bits() / 16
	full := strings.Split(netip.AddrFrom16(pfx.Addr().As16()).StringExpanded(), ":")
	return "sourceIPAddress ILIKE ?", []any{strings.Join(full[:groups], ":") + "%"}, nil
}

func ipv4Int(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

// parseWhen accepts an age (24h, 7d) meaning that long before now, a date,
// or an RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := parseAge(s); err == nil {
		return now.Add(-d).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither an age (24h, 7d) nor a time (2026-11-01, 2026-11-01T10:00:00Z)", s)
}

func (a *app) statsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Summarize what the database holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.printStats(cmd.Context(), a.stdout)
		},
	}
}

// printStats prints table sizes, time ranges and the top values.
func (a *app) printStats(ctx context.Context, w io.Writer) error {
	st, err := a.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	sections := []struct{ title, q string }{
		{"Tables", `SELECT 'cloudtrail_events' AS "table", count(*) AS rows, min(eventTime) AS first, max(eventTime) AS last FROM cloudtrail_events
			UNION ALL SELECT 'cloudtrail_insights', count(*), min(eventTime), max(eventTime) FROM cloudtrail_insights
			UNION ALL SELECT 'cloudtrail_digests', count(*), min(digestStartTime), max(digestEndTime) FROM cloudtrail_digests
			UNION ALL SELECT 's3_access_logs', count(*), min(requesttime), max(requesttime) FROM s3_access_logs
			UNION ALL SELECT 'quarantine', count(*), min(time), max(time) FROM quarantine
			UNION ALL SELECT 'tw_objects', count(*), min(ingested_at), max(ingested_at) FROM tw_objects`},
		{"Accounts and regions", `SELECT recipientAccountId AS account, awsRegion AS region, count(*) AS events,
			count(*) FILTER (errorCode IS NOT NULL) AS errors FROM cloudtrail_events GROUP BY ALL ORDER BY events DESC, account, region LIMIT 20`},
		{"Top events", `SELECT eventSource AS source, eventName AS event, count(*) AS events FROM cloudtrail_events
			GROUP BY ALL ORDER BY events DESC, source, event LIMIT 10`},
		{"Top principals", `SELECT principal(userIdentity) AS principal, userIdentity.type AS type, count(*) AS events,
			count(DISTINCT sourceIPAddress) AS ips FROM cloudtrail_events GROUP BY ALL ORDER BY events DESC, principal LIMIT 10`},
		{"Top errors", `SELECT errorCode AS error, count(*) AS events, count(DISTINCT principal(userIdentity)) AS principals
			FROM cloudtrail_events WHERE errorCode IS NOT NULL GROUP BY ALL ORDER BY events DESC, error LIMIT 10`},
		{"S3 access logs", `SELECT bucket_name AS bucket, operation, count(*) AS requests, sum(bytessent) AS bytes_sent,
			count(*) FILTER (httpstatus >= 400) AS errors FROM s3_access_logs GROUP BY ALL ORDER BY requests DESC, bucket, operation LIMIT 10`},
	}
	for i, s := range sections {
		rows, err := st.Query(ctx, s.q)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		if a.format == "table" {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s\n", s.title)
		}
		_, err = resultWriter{w: w, format: a.format, width: 80}.write(rows)
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *app) retainCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "retain AGE",
		Short:   "Delete records older than AGE (e.g. 90d)",
		Example: "  trailwatch retain 90d",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseAge(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			st, err := a.openStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer st.Close()
			cutoff := time.Now().Add(-d)
			n, err := st.Retain(cmd.Context(), cutoff)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "deleted %d records older than %s\n", n, cutoff.UTC().Format(time.RFC3339))
			return nil
		},
	}
}

func (a *app) eventCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "event EVENT_ID...",
		Short: "Print events as delivered (the raw JSON), by eventID",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, id := range args {
				rows, err := st.Query(cmd.Context(), `SELECT raw FROM cloudtrail_events WHERE eventID = ?
					UNION ALL SELECT raw FROM cloudtrail_insights WHERE eventID = ?`, id, id)
				if err != nil {
					return err
				}
				found := false
				for rows.Next() {
					var raw string
					if err := rows.Scan(&raw); err != nil {
						rows.Close()
						return err
					}
					fmt.Fprintln(a.stdout, raw)
					found = true
				}
				rows.Close()
				if !found {
					return fmt.Errorf("no event with eventID %s", id)
				}
			}
			return nil
		},
	}
}
