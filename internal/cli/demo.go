package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/gen"
	"github.com/trailwatch/trailwatch/internal/source/dir"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

type genFlags struct {
	dir       string
	seed      int64
	events    int
	lines     int
	hours     int
	accounts  int
	noAttacks bool
	start     string
}

func (f *genFlags) register(cmd *cobra.Command, defDir string) {
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", defDir, "where to write the sample buckets")
	fl.Int64Var(&f.seed, "seed", 1, "random seed: the same seed gives the same files")
	fl.IntVar(&f.events, "events", gen.DefaultEvents, "approximate number of CloudTrail events")
	fl.IntVar(&f.lines, "access-log-lines", gen.DefaultAccessLogLines, "approximate number of S3 server access log lines")
	fl.IntVar(&f.hours, "hours", gen.DefaultHours, "hours of activity")
	fl.IntVar(&f.accounts, "accounts", gen.DefaultAccounts, "member accounts in the organization")
	fl.BoolVar(&f.noAttacks, "no-attacks", false, "leave out the attack stories")
	fl.StringVar(&f.start, "start", "", "first hour (RFC 3339 or YYYY-MM-DD; default 2026-11-01)")
}

func (f *genFlags) options() (gen.Options, error) {
	o := gen.Options{
		Dir: f.dir, Seed: f.seed, Events: f.events, AccessLogLines: f.lines, Hours: f.hours,
		Accounts: f.accounts, Attacks: !f.noAttacks, Workers: runtime.GOMAXPROCS(0),
	}
	if f.start != "" {
		t, err := parseWhen(f.start, time.Now())
		if err != nil {
			return o, usageError("--start: %v", err)
		}
		o.Start = t
	}
	o.SetDefaults()
	return o, nil
}

func (a *app) genCommand() *cobra.Command {
	var f genFlags
	var af awsFlags
	var upload bool
	var notify string
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Write realistic sample CloudTrail and S3 server access logs (as AWS lays them out in S3)",
		Long: `Gen writes a deterministic, realistic data set: an AWS Organization with several
accounts and regions, CloudTrail log files every few minutes, hourly signed
digest files (with a throwaway demo key; public-keys.json holds it), an
Insights file, and S3 server access logs in both key formats, plus a handful
of attack stories described in stories.json.

With --upload the objects also go into S3 buckets of the same names (created
if missing), digests with their signatures as metadata, as CloudTrail
delivers them; --notify QUEUE announces each object on an SQS queue (a name
creates the queue) with an S3 event notification, and prints the queue URL.
That exercises a collection pipeline end to end, on AWS or on local
S3- and SQS-compatible servers.`,
		Example: `  trailwatch gen --dir demo-data --no-attacks
  trailwatch gen --dir /tmp/logs --hours 2 --upload --notify trailwatch-test --s3-path-style`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			sum, err := gen.Generate(cmd.Context(), o)
			if err != nil {
				return err
			}
			a.printGenSummary(sum, 0)
			if notify != "" && !upload {
				return usageError("--notify needs --upload")
			}
			if upload {
				return a.deliver(cmd.Context(), o.Dir, deliverOptions{aws: af.aws(), notify: notify})
			}
			return nil
		},
	}
	f.register(cmd, "demo-data")
	cmd.Flags().BoolVar(&upload, "upload", false, "also put the objects into S3 buckets of the same names")
	cmd.Flags().StringVar(&notify, "notify", "", "announce each uploaded object on this SQS queue (URL, or a name to create)")
	af.register(cmd)
	return cmd
}

func (a *app) printGenSummary(s gen.Summary, took time.Duration) {
	fmt.Fprintf(a.stderr, "generated %d CloudTrail events in %d files, %d Insights events, %d digest files and %d S3 access log lines in %d objects (%s) under %s",
		s.Events, s.LogFiles, s.InsightEvents, s.DigestFiles, s.AccessLogLines, s.AccessLogFiles, humanBytes(s.Bytes), s.Dir)
	if took > 0 {
		fmt.Fprintf(a.stderr, " in %s", took.Round(time.Millisecond))
	}
	fmt.Fprintln(a.stderr)
}

func (a *app) demoCommand() *cobra.Command {
	var f genFlags
	var workers int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Generate sample logs with attack stories, ingest them, and show what happened",
		Long: `Demo runs the main job on embedded defaults: it generates a realistic
multi-account, multi-region CloudTrail and S3 server access log data set
(see gen), ingests it into the database (--db, default ./trailwatch.duckdb),
prints a summary and the attack stories hidden in it, with the commands that
find them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			o, err := f.options()
			if err != nil {
				return err
			}
			start := time.Now()
			sum, err := gen.Generate(ctx, o)
			if err != nil {
				return err
			}
			a.printGenSummary(sum, time.Since(start))
			src, err := dir.Open([]string{o.Dir}, nil)
			if err != nil {
				return err
			}
			st, err := a.openStore(ctx, false)
			if err != nil {
				return err
			}
			isum, err := a.ingest(ctx, src, st, ingestFlags{workers: workers, progress: "auto"})
			if cerr := st.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout)
			if err := a.printStats(ctx, a.stdout); err != nil {
				return err
			}
			a.printStories(sum.Stories)
			a.printStoryAlerts(ctx, sum.Stories)
			if isum.Quarantined > 0 {
				return &ExitError{Code: ExitQuarantined, Err: fmt.Errorf("%d object(s) quarantined", isum.Quarantined)}
			}
			return nil
		},
	}
	f.register(cmd, "demo-data")
	cmd.Flags().IntVar(&workers, "workers", runtime.GOMAXPROCS(0), "parallel parsers")
	return cmd
}

// printStories lists the attack stories with a command that shows each.
func (a *app) printStories(stories []gen.Story) {
	if len(stories) == 0 || a.format != "table" {
		return
	}
	self := a.selfCommand()
	db := ""
	if a.dbPath != "trailwatch.duckdb" {
		db = " --db " + a.dbPath
	}
	fmt.Fprintf(a.stdout, "\nAttack stories hidden in the data (%d):\n", len(stories))
	for i, s := range stories {
		fmt.Fprintf(a.stdout, "\n%d. %s\n   %s\n   account %s, %s, %s to %s, from %s as %s\n",
			i+1, s.Title, s.Description, s.Account, s.Region,
			s.Start.UTC().Format("2006-01-02 15:04:05"), s.End.UTC().Format("15:04:05Z"), s.SourceIP, s.Actor)
		since := s.Start.UTC().Add(-time.Minute).Format(time.RFC3339)
		until := s.End.UTC().Add(time.Minute).Format(time.RFC3339)
		fmt.Fprintf(a.stdout, "   %s%s search --ip %s --since %s --until %s\n", self, db, s.SourceIP, since, until)
	}
	fmt.Fprintf(a.stdout, "\nTry: %s%s query \"FROM console_logins ORDER BY time\"\n", self, db)
}

// selfCommand is how the user can run this program again: the binary they
// ran, or the go run command line when they used go run.
func (a *app) selfCommand() string {
	exe := os.Args[0]
	switch {
	case strings.Contains(exe, "go-build"):
		if duckdb.BuildTags != "" {
			return "go run -tags " + duckdb.BuildTags + " ./cmd/trailwatch"
		}
		return "go run ./cmd/trailwatch"
	case strings.HasSuffix(exe, ".test"):
		return "trailwatch"
	case !strings.Contains(exe, string(filepath.Separator)):
		return exe // found on the PATH
	}
	return exe
}
