package alert

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/detect"
)

// facilities are the syslog facility codes (RFC 5424 section 6.2.1).
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9,
	"authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// severity maps alert levels to syslog severities.
func severity(l detect.Level) int {
	switch l {
	case detect.LevelCritical:
		return 2 // critical
	case detect.LevelHigh:
		return 3 // error
	case detect.LevelMedium:
		return 4 // warning
	case detect.LevelLow:
		return 5 // notice
	}
	return 6 // informational
}

// sdID is the structured data ID of trailwatch's parameters. 32473 is the
// private enterprise number reserved for documentation (RFC 5612).
const sdID = "trailwatch@32473"

// syslogSink sends RFC 5424 messages over UDP (one per datagram), TCP or
// TLS (with octet-counting framing, RFC 6587 3.4.1 and RFC 5425).
type syslogSink struct {
	network, addr string
	facility      int
	app, host     string
	tls           *tls.Config
	timeout       time.Duration
	conn          net.Conn
}

func newSyslog(c SinkConfig) (*syslogSink, error) {
	s := &syslogSink{network: c.Network, addr: c.Address, facility: facilities[strings.ToLower(c.Facility)],
		app: c.AppName, host: c.Hostname, timeout: c.Timeout}
	if s.host == "" {
		if h, err := os.Hostname(); err == nil {
			s.host = h
		} else {
			s.host = "-"
		}
	}
	if c.Network == "tls" {
		cfg, err := tlsConfig(c.TLS, hostOf(c.Address))
		if err != nil {
			return nil, err
		}
		s.tls = cfg
	}
	return s, nil
}

// format renders an alert as an RFC 5424 message (without framing).
func (s *syslogSink) format(a Alert, now time.Time) []byte {
	pri := s.facility*8 + severity(a.Level)
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s %s %d ALERT [%s", pri, now.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		headerField(s.host, 255), headerField(s.app, 48), os.Getpid(), sdID)
	param := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, ` %s="%s"`, k, sdEscape(v))
		}
	}
	param("id", a.ID)
	param("rule", a.RuleID)
	param("ruleName", a.RuleName)
	param("severity", a.Level.String())
	param("principal", a.Principal)
	param("sourceIP", a.SourceIP)
	param("account", a.Account)
	param("region", a.Region)
	param("count", strconv.FormatInt(a.Count, 10))
	param("firstSeen", a.FirstSeen.UTC().Format(time.RFC3339))
	param("lastSeen", a.LastSeen.UTC().Format(time.RFC3339))
	if len(a.EventIDs) > 0 {
		param("eventID", a.EventIDs[0])
	}
	b.WriteString("] ")
	b.WriteString(strings.ReplaceAll(a.Summary(), "\n", " "))
	return []byte(b.String())
}

// headerField makes a header field printable US-ASCII without spaces, at
// most n characters, "-" when empty.
func headerField(s string, n int) string {
	out := []byte{}
	for i := 0; i < len(s) && len(out) < n; i++ {
		if c := s[i]; c > 32 && c < 127 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return string(out)
}

// sdEscape escapes a structured data parameter value (RFC 5424 6.3.3).
func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

func (s *syslogSink) Send(ctx context.Context, a Alert) error {
	msg := s.format(a, time.Now())
	if s.network == "udp" {
		conn, err := (&net.Dialer{Timeout: s.timeout}).DialContext(ctx, "udp", s.addr)
		if err != nil {
			return fmt.Errorf("syslog: %w", err)
		}
		defer conn.Close()
		_ = conn.SetWriteDeadline(time.Now().Add(s.timeout))
		if _, err := conn.Write(msg); err != nil {
			return fmt.Errorf("syslog: %w", err)
		}
		return nil
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	frame := append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.conn.Write(frame); err != nil {
		_ = s.conn.Close()
		s.conn = nil // reconnect on the retry
		return fmt.Errorf("syslog: %w", err)
	}
	return nil
}

func (s *syslogSink) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: s.timeout}
	var conn net.Conn
	var err error
	if s.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fmt.Errorf("syslog: %w", err)
	}
	s.conn = conn
	return nil
}

func (s *syslogSink) Close() error {
	if s.conn != nil {
		err := s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}
