// Package config holds trailwatch's configuration tree: the sources to
// collect from, the store, the workers and the HTTP endpoint. Load reads a
// YAML file, expands ${VAR} references, applies TRAILWATCH_* environment
// overrides and defaults; Validate lists every problem at once. Command
// line flags override both; the cli package applies them.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration.
type Config struct {
	Store   Store    `yaml:"store"`
	Workers int      `yaml:"workers"` // parallel parsers; default: the number of CPUs
	HTTP    HTTP     `yaml:"http"`
	AWS     AWS      `yaml:"aws"` // defaults for every source
	Sources []Source `yaml:"sources"`
	Log     Log      `yaml:"log"`
	Detect  Detect   `yaml:"detect"`
	// Integrity validates each collected digest file (see docs/integrity.md).
	Integrity Integrity `yaml:"integrity"`
}

// Integrity configures the continuous validation of digest chains.
type Integrity struct {
	Disabled bool `yaml:"disabled"`
	// PublicKeys is the output of aws cloudtrail list-public-keys
	// ([REGION=]FILE); default: CloudTrail ListPublicKeys with the first
	// AWS source's credentials (needs cloudtrail:ListPublicKeys).
	PublicKeys string `yaml:"public_keys"`
	// Grace is how long after an hourly digest is due it is reported
	// missing; default 2h.
	Grace Duration `yaml:"grace"`
	// Interval is how often newly stored digests are validated; default 1m.
	Interval Duration `yaml:"interval"`
}

// Detect configures the detection rules run on every collected record.
type Detect struct {
	Disabled  bool     `yaml:"disabled"`   // collect without running rules
	Rules     []string `yaml:"rules"`      // Sigma rule files or directories, besides the built-in pack
	NoBuiltin bool     `yaml:"no_builtin"` // leave the built-in pack out
	MinLevel  string   `yaml:"min_level"`  // informational, low (default), medium, high, critical
	Alerts    string   `yaml:"alerts"`     // the alerts configuration file: grouping, suppressions, sinks
}

// Store configures the embedded store.
type Store struct {
	Path        string   `yaml:"path"`         // database file; default trailwatch.duckdb
	MemoryLimit string   `yaml:"memory_limit"` // e.g. "2GB"; default 1GB
	Threads     int      `yaml:"threads"`      // 0: all CPUs
	Retention   Duration `yaml:"retention"`    // delete records older than this (checked hourly); 0 keeps all
}

// HTTP configures the daemon's HTTP endpoint (health, readiness, metrics).
type HTTP struct {
	// Listen is host:port; default 127.0.0.1:9732. "off" disables it.
	Listen string `yaml:"listen"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error; default info for the daemon
	Format string `yaml:"format"` // text or json; default text
}

// AWS holds credentials and endpoint settings. Set at the top level they
// apply to every source; a source's own settings override them field by
// field.
type AWS struct {
	Profile         string   `yaml:"profile"`
	Region          string   `yaml:"region"`
	RoleARN         string   `yaml:"role_arn"`
	ExternalID      string   `yaml:"external_id"`
	SessionName     string   `yaml:"session_name"`
	SessionDuration Duration `yaml:"session_duration"`
	EndpointURL     string   `yaml:"endpoint_url"`
	S3PathStyle     bool     `yaml:"s3_path_style"`
}

// Source types.
const (
	TypeSQS = "sqs" // an SQS queue announcing new objects
	TypeS3  = "s3"  // a bucket listed from checkpoints (backfill, or polling with an interval)
	TypeDir = "dir" // local files and directories, read once
)

// Source is one place logs come from.
type Source struct {
	Name string `yaml:"name"` // unique; names the checkpoints and metrics; default type-index
	Type string `yaml:"type"` // sqs, s3 or dir
	AWS  `yaml:",inline"`
	// Kinds limits what is collected: cloudtrail, digest, insight,
	// s3access. Default: all for sqs and dir; CloudTrail logs, digests and
	// Insights for s3 (add s3access for an access log bucket).
	Kinds []string `yaml:"kinds"`

	// sqs
	QueueURL    string   `yaml:"queue_url"`
	Visibility  Duration `yaml:"visibility"`    // default 2m
	MaxInFlight int      `yaml:"max_in_flight"` // default 1000
	MaxReceives int      `yaml:"max_receives"`  // poison limit; default 5
	// RetryBackoff is how long a message whose objects failed with a
	// retryable error waits, times its receive count (max 8), before it is
	// received again; default 15s.
	RetryBackoff Duration `yaml:"retry_backoff"`

	// s3
	Bucket   string   `yaml:"bucket"`
	Prefix   string   `yaml:"prefix"`
	Accounts []string `yaml:"accounts"`
	Regions  []string `yaml:"regions"`
	Since    Date     `yaml:"since"`
	Until    Date     `yaml:"until"`
	Interval Duration `yaml:"interval"` // 0: one pass; >0: list again this often
	Rewind   Duration `yaml:"rewind"`   // re-list this far back for late files; default 1h

	// dir
	Paths []string `yaml:"paths"`
}

// Credentials returns the source's AWS settings merged over the defaults.
func (s Source) Credentials(def AWS) AWS {
	out := def
	if s.Profile != "" {
		out.Profile = s.Profile
	}
	if s.Region != "" {
		out.Region = s.Region
	}
	if s.RoleARN != "" {
		out.RoleARN = s.RoleARN
		out.ExternalID = s.ExternalID // a role's external ID belongs to it
	} else if s.ExternalID != "" {
		out.ExternalID = s.ExternalID
	}
	if s.SessionName != "" {
		out.SessionName = s.SessionName
	}
	if s.SessionDuration != 0 {
		out.SessionDuration = s.SessionDuration
	}
	if s.EndpointURL != "" {
		out.EndpointURL = s.EndpointURL
	}
	out.S3PathStyle = out.S3PathStyle || s.S3PathStyle
	return out
}

// DefaultListen is where the daemon serves health and metrics by default.
const DefaultListen = "127.0.0.1:9732"

// Default returns a configuration with every default filled in and no
// sources.
func Default() *Config {
	c := &Config{}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.Store.Path == "" {
		c.Store.Path = "trailwatch.duckdb"
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Name == "" {
			s.Name = fmt.Sprintf("%s-%d", s.Type, i+1)
		}
	}
}

// Load reads the YAML file at path (unknown keys are errors), expands
// ${VAR} in it from getenv, applies the TRAILWATCH_* overrides from getenv
// and fills in defaults. It does not validate; call Validate.
func Load(path string, getenv func(string) string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(bytes.NewReader(b), getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse is Load from a reader.
func Parse(r io.Reader, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if err := expandNode(&doc, getenv); err != nil {
		return nil, err
	}
	c := &Config{}
	if len(doc.Content) > 0 {
		// Re-encode the expanded tree so the strict decoder reports unknown keys.
		b, err = yaml.Marshal(&doc)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, cleanYAMLError(err)
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	c.setDefaults()
	return c, nil
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandNode replaces ${VAR} and ${VAR:-default} in scalar values (not in
// comments or keys; an environment value is never parsed as YAML). An
// unset variable without a default is an error: a silently empty external
// ID or queue URL is worse.
func expandNode(n *yaml.Node, getenv func(string) string) error {
	var missing []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
			n.Value = varRef.ReplaceAllStringFunc(n.Value, func(m string) string {
				sub := varRef.FindStringSubmatch(m)
				if v := getenv(sub[1]); v != "" {
					return v
				}
				if sub[2] != "" {
					return sub[3]
				}
				missing = append(missing, sub[1])
				return ""
			})
			if n.Tag != "!!str" {
				n.Tag = "" // let the decoder resolve the expanded value's type
			}
		}
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				continue // keys
			}
			walk(c)
		}
	}
	walk(n)
	if len(missing) > 0 {
		return fmt.Errorf("environment variable(s) %s referenced but not set", strings.Join(missing, ", "))
	}
	return nil
}

func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return err
}

// EnvNames lists the environment overrides, for help texts.
func EnvNames() []string {
	return []string{
		"TRAILWATCH_DB", "TRAILWATCH_WORKERS", "TRAILWATCH_HTTP_LISTEN", "TRAILWATCH_LOG_LEVEL",
		"TRAILWATCH_MEMORY_LIMIT", "TRAILWATCH_AWS_PROFILE", "TRAILWATCH_AWS_REGION",
		"TRAILWATCH_AWS_ROLE_ARN", "TRAILWATCH_AWS_EXTERNAL_ID", "TRAILWATCH_AWS_ENDPOINT_URL",
	}
}

func (c *Config) applyEnv(getenv func(string) string) error {
	var errs []error
	set := func(name string, fn func(string) error) {
		if v := getenv(name); v != "" {
			if err := fn(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	set("TRAILWATCH_DB", str(&c.Store.Path))
	set("TRAILWATCH_MEMORY_LIMIT", str(&c.Store.MemoryLimit))
	set("TRAILWATCH_HTTP_LISTEN", str(&c.HTTP.Listen))
	set("TRAILWATCH_LOG_LEVEL", str(&c.Log.Level))
	set("TRAILWATCH_AWS_PROFILE", str(&c.AWS.Profile))
	set("TRAILWATCH_AWS_REGION", str(&c.AWS.Region))
	set("TRAILWATCH_AWS_ROLE_ARN", str(&c.AWS.RoleARN))
	set("TRAILWATCH_AWS_EXTERNAL_ID", str(&c.AWS.ExternalID))
	set("TRAILWATCH_AWS_ENDPOINT_URL", str(&c.AWS.EndpointURL))
	set("TRAILWATCH_WORKERS", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		c.Workers = n
		return nil
	})
	return errors.Join(errs...)
}

// Validate returns every problem found, joined; nil when the
// configuration can run.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Workers < 0 {
		add("workers: must not be negative")
	}
	if c.Store.Threads < 0 {
		add("store.threads: must not be negative")
	}
	if c.Store.Retention < 0 {
		add("store.retention: must not be negative")
	}
	if c.HTTP.Listen != "off" {
		if _, port, err := splitHostPort(c.HTTP.Listen); err != nil || port == "" {
			add("http.listen: %q is not host:port (or off)", c.HTTP.Listen)
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		add("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("log.format: %q is not text or json", c.Log.Format)
	}
	errs = append(errs, validateAWS("aws", c.AWS)...)
	if len(c.Sources) == 0 {
		add("sources: at least one source is needed")
	}
	names := map[string]int{}
	for i, s := range c.Sources {
		at := fmt.Sprintf("sources[%d]", i)
		if s.Name != "" {
			at = fmt.Sprintf("sources[%d] (%s)", i, s.Name)
			if j, dup := names[s.Name]; dup {
				add("%s: name is also used by sources[%d]", at, j)
			}
			names[s.Name] = i
		}
		errs = append(errs, s.validate(at)...)
		if cred := s.Credentials(c.AWS); cred.ExternalID != "" && cred.RoleARN == "" {
			errs = append(errs, fmt.Errorf("%s: external_id is set but no role_arn to assume with it", at))
		}
	}
	return errors.Join(errs...)
}

func (s Source) validate(at string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(at+": "+format, args...)) }
	for _, k := range s.Kinds {
		if !slices.Contains([]string{"cloudtrail", "digest", "insight", "s3access"}, strings.ToLower(k)) {
			add("kinds: %q is not cloudtrail, digest, insight or s3access", k)
		}
	}
	errs = append(errs, validateAWS(at, s.AWS)...)
	onlyFor := func(typ, field string, set bool) {
		if set && s.Type != typ {
			add("%s applies only to type %s sources", field, typ)
		}
	}
	onlyFor(TypeSQS, "queue_url", s.QueueURL != "")
	onlyFor(TypeSQS, "visibility", s.Visibility != 0)
	onlyFor(TypeSQS, "max_in_flight", s.MaxInFlight != 0)
	onlyFor(TypeSQS, "max_receives", s.MaxReceives != 0)
	onlyFor(TypeSQS, "retry_backoff", s.RetryBackoff != 0)
	onlyFor(TypeS3, "bucket", s.Bucket != "")
	onlyFor(TypeS3, "prefix", s.Prefix != "")
	onlyFor(TypeS3, "accounts", len(s.Accounts) > 0)
	onlyFor(TypeS3, "regions", len(s.Regions) > 0)
	onlyFor(TypeS3, "since", !s.Since.IsZero())
	onlyFor(TypeS3, "until", !s.Until.IsZero())
	onlyFor(TypeS3, "interval", s.Interval != 0)
	onlyFor(TypeS3, "rewind", s.Rewind != 0)
	onlyFor(TypeDir, "paths", len(s.Paths) > 0)
	switch s.Type {
	case TypeSQS:
		if s.QueueURL == "" {
			add("queue_url is required")
		} else if u, err := url.Parse(s.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("queue_url %q is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)", s.QueueURL)
		}
		if s.Visibility < 0 || s.Visibility > Duration(12*time.Hour) {
			add("visibility must be between 0 and 12h")
		}
		if s.Visibility != 0 && s.Visibility < Duration(10*time.Second) {
			add("visibility below 10s leaves no time to fetch an object")
		}
		if s.MaxInFlight < 0 || s.MaxReceives < 0 || s.RetryBackoff < 0 {
			add("max_in_flight, max_receives and retry_backoff must not be negative")
		}
	case TypeS3:
		if s.Bucket == "" {
			add("bucket is required")
		} else if strings.ContainsAny(s.Bucket, "/:") {
			add("bucket %q must be a bucket name (put the path in prefix)", s.Bucket)
		}
		if s.Prefix != "" && !strings.HasSuffix(s.Prefix, "/") {
			add("prefix %q must end with /", s.Prefix)
		}
		for _, a := range s.Accounts {
			if len(a) != 12 || strings.Trim(a, "0123456789") != "" {
				add("accounts: %q is not a 12-digit account ID", a)
			}
		}
		if !s.Since.IsZero() && !s.Until.IsZero() && s.Until.Before(s.Since.Time) {
			add("until (%s) is before since (%s)", s.Until, s.Since)
		}
		if s.Interval < 0 || s.Rewind < 0 {
			add("interval and rewind must not be negative")
		}
		if s.Interval != 0 && s.Interval < Duration(10*time.Second) {
			add("interval below 10s lists the bucket too often")
		}
	case TypeDir:
		if len(s.Paths) == 0 {
			add("paths is required")
		}
	case "":
		add("type is required (sqs, s3 or dir)")
	default:
		add("type %q is not sqs, s3 or dir", s.Type)
	}
	return errs
}

func validateAWS(at string, a AWS) []error {
	var errs []error
	if a.RoleARN != "" && !strings.HasPrefix(a.RoleARN, "arn:aws") {
		errs = append(errs, fmt.Errorf("%s: role_arn %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", at, a.RoleARN))
	}
	if a.SessionDuration != 0 && (a.SessionDuration < Duration(15*time.Minute) || a.SessionDuration > Duration(12*time.Hour)) {
		errs = append(errs, fmt.Errorf("%s: session_duration must be between 15m and 12h", at))
	}
	if a.EndpointURL != "" {
		if u, err := url.Parse(a.EndpointURL); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: endpoint_url %q is not a URL", at, a.EndpointURL))
		}
	}
	return errs
}

func splitHostPort(s string) (string, string, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", "", errors.New("missing port")
	}
	port := s[i+1:]
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", err
	}
	return s[:i], port, nil
}
