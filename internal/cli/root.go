// Package cli implements the trailwatch command line: it parses flags,
// wires the packages together and maps errors to exit codes. It is the one
// place that knows every other package.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/trailwatch/trailwatch/internal/store"
	"github.com/trailwatch/trailwatch/internal/store/duckdb"
)

// Exit codes.
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // the command failed
	ExitUsage       = 2   // bad flags or arguments
	ExitQuarantined = 3   // the command finished, but some input was quarantined
	ExitRefused     = 4   // a query was refused (not read-only) or is invalid
	ExitInterrupted = 130 // interrupted by a signal
)

// ExitError carries an exit code with an error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// app holds what every command shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	dbPath         string
	format         string
	logLevel       string
	threads        int
	memoryLimit    string
	cpuProfile     string
	memProfile     string
	log            *slog.Logger
	// drain, when set by a long-running command, is called on the first
	// interrupt instead of cancelling (a graceful stop).
	drain atomic.Pointer[func()]
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(ctx, args, stdin, stdout, stderr, nil)
}

// Run is Main with the process's interrupt signals: the first cancels the
// command, or, for collectors, drains them (what is in progress is
// committed and acknowledged); the second cancels.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if signals != nil {
		go func() {
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case sig := <-signals:
					if d := a.drain.Load(); d != nil && n == 0 {
						fmt.Fprintf(stderr, "trailwatch: %v: finishing the objects in progress (again to stop at once)\n", sig)
						(*d)()
						continue
					}
					cancel()
					return
				}
			}
		}()
	}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitFailure
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.Code
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		code = ExitInterrupted
	case errors.Is(err, store.ErrReadOnly):
		code = ExitRefused
	case isUsage(err):
		code = ExitUsage
	}
	if code == ExitInterrupted {
		fmt.Fprintln(stderr, "trailwatch: interrupted")
	} else if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "trailwatch: "+msg)
	}
	return code
}

// isUsage recognises cobra's flag and argument errors.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown command", "unknown shorthand", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "trailwatch",
		Short: "Collect, verify and analyze AWS CloudTrail and S3 server access logs",
		Long: `trailwatch collects AWS CloudTrail logs and Amazon S3 server access logs,
stores every field in an embedded DuckDB database, and lets you search and
query them with the SQL you already use in Athena.

Quick start:
  trailwatch demo                      generate realistic sample logs, ingest and summarize them
  trailwatch ingest ./AWSLogs          ingest downloaded logs (files, directories, - for stdin)
  trailwatch query "SELECT eventName, count(*) FROM cloudtrail_events GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
  trailwatch search --user alice --since 24h`,
		PersistentPostRun: func(*cobra.Command, []string) {
			if a.cpuProfile != "" {
				pprof.StopCPUProfile()
			}
			if a.memProfile != "" {
				if f, err := os.Create(a.memProfile); err == nil {
					_ = pprof.Lookup("allocs").WriteTo(f, 0)
					f.Close()
				}
			}
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelWarn
			if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
				return usageError("--log-level: %v", err)
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			if a.cpuProfile != "" {
				f, err := os.Create(a.cpuProfile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			switch a.format {
			case "table", "json", "csv":
			default: // a command may allow more formats: Annotations["formats"], comma-separated
				if a.format == "" || !strings.Contains(","+cmd.Annotations["formats"]+",", ","+a.format+",") {
					return usageError("--format must be table, json or csv, not %q", a.format)
				}
			}
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&a.dbPath, "db", envOr("TRAILWATCH_DB", "trailwatch.duckdb"), "database file (env TRAILWATCH_DB)")
	pf.StringVar(&a.format, "format", "table", "output format: table, json (one object per line) or csv")
	pf.StringVar(&a.logLevel, "log-level", envOr("TRAILWATCH_LOG_LEVEL", "warn"), "log level: debug, info, warn, error")
	pf.IntVar(&a.threads, "threads", 0, "database worker threads (0 = all CPUs)")
	pf.StringVar(&a.memoryLimit, "memory-limit", "", `database memory limit, e.g. "2GB" (default 1GB; larger work spills to disk)`)

	pf.StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	_ = pf.MarkHidden("cpuprofile")
	pf.StringVar(&a.memProfile, "memprofile", "", "write an allocation profile to this file")
	_ = pf.MarkHidden("memprofile")

	root.AddCommand(a.ingestCommand(), a.queryCommand(), a.searchCommand(), a.statsCommand(),
		a.retainCommand(), a.eventCommand(), a.demoCommand(), a.genCommand(), a.benchCommand(), a.versionCommand(), a.verifyCommand(),
		a.collectCommand(), a.backfillCommand(), a.runCommand(),
		a.detectCommand(), a.huntCommand(), a.rulesCommand(), a.alertsCommand(), a.downloadCommand(),
		a.auditCommand(), a.setupCommand())
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// openStore opens the database for writing (or reading).
func (a *app) openStore(ctx context.Context, readOnly bool) (*duckdb.Store, error) {
	if readOnly {
		if _, err := os.Stat(a.dbPath); err != nil {
			return nil, fmt.Errorf("no database at %s: run `trailwatch ingest` or `trailwatch demo` first, or pass --db", a.dbPath)
		}
	}
	return duckdb.Open(ctx, a.dbPath, duckdb.Options{
		Threads: a.threads, MemoryLimit: a.memoryLimit, Logger: a.log, ReadOnly: readOnly,
	})
}

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(a.stdout, "trailwatch", Version)
		},
	}
}
