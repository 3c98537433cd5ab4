package alert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trailwatch/trailwatch/internal/detect"
)

// Config configures alerting: grouping, suppressions and sinks. It is a
// self-contained YAML document (or a section of a larger one):
//
//	min_level: low          # findings below this level are not alerted
//	group_window: 1h        # findings of a rule about a principal within one window make one alert
//	sinks:
//	  - type: slack
//	    url: ${SLACK_WEBHOOK_URL}
//	    min_level: high
//	suppressions:
//	  - rule: tw_cis_4_4_iam_policy_changes
//	    principal: arn:aws:iam::111122223333:role/terraform
//	    reason: deployments
type Config struct {
	MinLevel     string        `yaml:"min_level"`
	GroupWindow  time.Duration `yaml:"group_window"`
	Sinks        []SinkConfig  `yaml:"sinks"`
	Suppressions []Suppression `yaml:"suppressions"`
}

// SinkConfig configures one sink. Which fields apply depends on Type.
type SinkConfig struct {
	Name     string `yaml:"name"`      // for logs and metrics; default the type, numbered when repeated
	Type     string `yaml:"type"`      // webhook, slack, syslog, email or file
	MinLevel string `yaml:"min_level"` // alerts below this level are not sent; default the config's min_level

	URL     Secret            `yaml:"url"`     // webhook, slack
	Headers map[string]Secret `yaml:"headers"` // webhook: extra request headers (e.g. Authorization)

	Network  string `yaml:"network"`  // syslog: udp, tcp or tls
	Address  string `yaml:"address"`  // syslog: host:port
	Facility string `yaml:"facility"` // syslog: default local0
	AppName  string `yaml:"app_name"` // syslog: default trailwatch
	Hostname string `yaml:"hostname"` // syslog: default the machine's name

	Host     string   `yaml:"host"`     // email: SMTP server
	Port     int      `yaml:"port"`     // email: default 587
	StartTLS *bool    `yaml:"starttls"` // email: require STARTTLS (default true)
	Username string   `yaml:"username"` // email: SMTP AUTH PLAIN user (after STARTTLS)
	Password Secret   `yaml:"password"` // email
	From     string   `yaml:"from"`     // email
	To       []string `yaml:"to"`       // email

	Path string `yaml:"path"` // file: JSON lines are appended here

	TLS TLSConfig `yaml:"tls"` // syslog over TLS, email STARTTLS

	Timeout    time.Duration `yaml:"timeout"`     // per delivery attempt; default 10s
	Retries    *int          `yaml:"retries"`     // after the first attempt; default 5
	Backoff    time.Duration `yaml:"backoff"`     // first wait between attempts, doubled each time; default 1s
	MaxBackoff time.Duration `yaml:"max_backoff"` // default 1m
	QueueSize  int           `yaml:"queue_size"`  // alerts waiting for delivery; default 1000 (more are dropped and counted)
}

// TLSConfig configures TLS for a sink.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`              // PEM bundle to trust instead of the system roots
	ServerName         string `yaml:"server_name"`          // default the host of the address
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"` // never in production
}

// Suppression drops findings that match every field it sets. Rule and
// principal take * wildcards; source_ip takes addresses and CIDR prefixes.
type Suppression struct {
	Rule      string    `yaml:"rule"`      // rule id, name or title
	Principal string    `yaml:"principal"` // principal ARN (or requester)
	SourceIP  []string  `yaml:"source_ip"` // addresses or prefixes
	Account   string    `yaml:"account"`
	Region    string    `yaml:"region"`
	Until     time.Time `yaml:"until"`  // the suppression ends then; zero: never
	Reason    string    `yaml:"reason"` // why (required: suppressions must be explained)

	prefixes []netip.Prefix
}

// Secret is a configuration value that must never be logged: its String,
// GoString, LogValue and JSON forms are "[redacted]". A value written as
// ${NAME} is read from the environment variable NAME.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (used by JSON and YAML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// UnmarshalYAML reads a secret, resolving ${NAME} from the environment.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	var v string
	if err := n.Decode(&v); err != nil {
		return err
	}
	if m := envRef.FindStringSubmatch(v); m != nil {
		val, ok := os.LookupEnv(m[1])
		if !ok {
			return fmt.Errorf("line %d: environment variable %s is not set", n.Line, m[1])
		}
		v = val
	}
	*s = Secret(v)
	return nil
}

// Load reads and validates a configuration file.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("alerts configuration: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return c, fmt.Errorf("alerts configuration %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes (unknown keys are errors), fills defaults and validates a
// configuration.
func Parse(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, err
	}
	c.SetDefaults()
	return c, c.Validate()
}

// SetDefaults fills unset fields with their defaults.
func (c *Config) SetDefaults() {
	if c.MinLevel == "" {
		c.MinLevel = "low"
	}
	if c.GroupWindow == 0 {
		c.GroupWindow = time.Hour
	}
	seen := map[string]int{}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		s.Type = strings.ToLower(s.Type)
		if s.Name == "" {
			seen[s.Type]++
			s.Name = s.Type
			if seen[s.Type] > 1 {
				s.Name = fmt.Sprintf("%s-%d", s.Type, seen[s.Type])
			}
		}
		if s.MinLevel == "" {
			s.MinLevel = c.MinLevel
		}
		if s.Timeout == 0 {
			s.Timeout = 10 * time.Second
		}
		if s.Retries == nil {
			r := 5
			s.Retries = &r
		}
		if s.Backoff == 0 {
			s.Backoff = time.Second
		}
		if s.MaxBackoff == 0 {
			s.MaxBackoff = time.Minute
		}
		if s.QueueSize == 0 {
			s.QueueSize = 1000
		}
		switch s.Type {
		case "syslog":
			if s.Network == "" {
				s.Network = "udp"
			}
			if s.Facility == "" {
				s.Facility = "local0"
			}
			if s.AppName == "" {
				s.AppName = "trailwatch"
			}
		case "email":
			if s.Port == 0 {
				s.Port = 587
			}
			if s.StartTLS == nil {
				t := true
				s.StartTLS = &t
			}
		}
	}
}

// Validate checks the configuration and returns every problem found.
func (c *Config) Validate() error {
	var errs []error
	if _, err := detect.ParseLevel(c.MinLevel); err != nil {
		errs = append(errs, fmt.Errorf("min_level: %w", err))
	}
	if c.GroupWindow < 0 {
		errs = append(errs, errors.New("group_window must not be negative"))
	}
	names := map[string]bool{}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		where := fmt.Sprintf("sinks[%d] (%s)", i, s.Name)
		fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(where+": "+format, args...)) }
		if names[s.Name] {
			fail("duplicate sink name")
		}
		names[s.Name] = true
		if _, err := detect.ParseLevel(s.MinLevel); err != nil {
			fail("min_level: %v", err)
		}
		if s.Timeout < 0 || s.Backoff < 0 || s.MaxBackoff < 0 || (s.Retries != nil && *s.Retries < 0) || s.QueueSize < 0 {
			fail("timeout, retries, backoff, max_backoff and queue_size must not be negative")
		}
		switch s.Type {
		case "webhook", "slack":
			u, err := url.Parse(s.URL.Reveal())
			if s.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				fail("url must be an http or https URL")
			}
		case "syslog":
			switch s.Network {
			case "udp", "tcp", "tls":
			default:
				fail("network must be udp, tcp or tls, not %q", s.Network)
			}
			if _, _, err := net.SplitHostPort(s.Address); err != nil {
				fail("address must be host:port: %v", err)
			}
			if _, ok := facilities[strings.ToLower(s.Facility)]; !ok {
				fail("unknown facility %q", s.Facility)
			}
		case "email":
			if s.Host == "" {
				fail("host is required")
			}
			if s.From == "" || len(s.To) == 0 {
				fail("from and to are required")
			}
			if s.Username != "" && s.StartTLS != nil && !*s.StartTLS {
				fail("a password is only sent over STARTTLS: set starttls: true")
			}
		case "file":
			if s.Path == "" {
				fail("path is required")
			}
		case "":
			fail("type is required (webhook, slack, syslog, email or file)")
		default:
			fail("unknown type %q (webhook, slack, syslog, email or file)", s.Type)
		}
		if s.TLS.CAFile != "" {
			if _, err := os.Stat(s.TLS.CAFile); err != nil {
				fail("tls.ca_file: %v", err)
			}
		}
	}
	for i := range c.Suppressions {
		s := &c.Suppressions[i]
		where := fmt.Sprintf("suppressions[%d]", i)
		if s.Rule == "" && s.Principal == "" && len(s.SourceIP) == 0 && s.Account == "" && s.Region == "" {
			errs = append(errs, fmt.Errorf("%s: set at least one of rule, principal, source_ip, account, region", where))
		}
		if strings.TrimSpace(s.Reason) == "" {
			errs = append(errs, fmt.Errorf("%s: reason is required", where))
		}
		s.prefixes = s.prefixes[:0]
		for _, ip := range s.SourceIP {
			p, err := parsePrefix(ip)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: source_ip %q is not an address or CIDR prefix", where, ip))
				continue
			}
			s.prefixes = append(s.prefixes, p)
		}
	}
	return errors.Join(errs...)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// matches reports whether the suppression applies to the finding.
func (s *Suppression) matches(f *detect.Finding, now time.Time) bool {
	if !s.Until.IsZero() && now.After(s.Until) {
		return false
	}
	if s.Rule != "" && !wildMatch(s.Rule, f.RuleID) && !wildMatch(s.Rule, f.RuleName) && !wildMatch(s.Rule, f.Title) {
		return false
	}
	if s.Principal != "" && !wildMatch(s.Principal, f.Principal) {
		return false
	}
	if s.Account != "" && s.Account != f.Account {
		return false
	}
	if s.Region != "" && !wildMatch(s.Region, f.Region) {
		return false
	}
	if len(s.prefixes) > 0 {
		a, err := netip.ParseAddr(f.SourceIP)
		if err != nil {
			return false
		}
		in := false
		for _, p := range s.prefixes {
			in = in || p.Contains(a.Unmap())
		}
		if !in {
			return false
		}
	}
	return true
}

// wildMatch matches s against a pattern with * wildcards, ignoring case.
func wildMatch(pattern, s string) bool {
	if s == "" {
		return pattern == ""
	}
	p, v := strings.ToLower(pattern), strings.ToLower(s)
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == v
	}
	if !strings.HasPrefix(v, parts[0]) {
		return false
	}
	v = v[len(parts[0]):]
	for i, part := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(v, part)
		}
		j := strings.Index(v, part)
		if j < 0 {
			return false
		}
		v = v[j+len(part):]
	}
	return true
}
