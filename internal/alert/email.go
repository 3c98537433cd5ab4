package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// emailSink sends each alert as a plain-text e-mail over SMTP, upgrading
// the connection with STARTTLS (required unless configured off) before
// authenticating.
type emailSink struct {
	addr, host     string
	startTLS       bool
	tls            *tls.Config
	user, password string
	from           string
	to             []string
	timeout        time.Duration
}

func newEmail(c SinkConfig) (*emailSink, error) {
	s := &emailSink{addr: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), host: c.Host, startTLS: c.StartTLS == nil || *c.StartTLS,
		user: c.Username, password: c.Password.Reveal(), from: c.From, to: c.To, timeout: c.Timeout}
	cfg, err := tlsConfig(c.TLS, c.Host)
	if err != nil {
		return nil, err
	}
	s.tls = cfg
	return s, nil
}

func (s *emailSink) Send(ctx context.Context, a Alert) error {
	err := s.send(ctx, a)
	return scrub(err, s.password)
}

func (s *emailSink) send(ctx context.Context, a Alert) error {
	conn, err := (&net.Dialer{Timeout: s.timeout}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("trailwatch.localhost"); err != nil {
		return fmt.Errorf("smtp HELO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.tls); err != nil {
			return fmt.Errorf("smtp STARTTLS: %w", err)
		}
	} else if s.startTLS {
		return errors.New("smtp: the server does not offer STARTTLS, which is required (starttls: true)")
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.password, s.host)); err != nil {
			return fmt.Errorf("smtp AUTH: %w", err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	for _, to := range s.to {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(s.message(a, time.Now())); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	return c.Quit()
}

// message renders the e-mail (headers and a quoted-printable body).
func (s *emailSink) message(a Alert, now time.Time) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	subject := fmt.Sprintf("[trailwatch] %s: %s", strings.ToUpper(a.Level.String()), a.Title)
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@trailwatch>\r\n",
		s.from, strings.Join(s.to, ", "), mime.QEncoding.Encode("utf-8", subject), now.Format(time.RFC1123Z), hex.EncodeToString(id))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n")
	fmt.Fprintf(&b, "X-Trailwatch-Alert: %s\r\n\r\n", a.ID)
	qp := quotedprintable.NewWriter(&b)
	fmt.Fprintf(qp, "%s\r\n\r\n", a.Summary())
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(qp, "%-12s %s\r\n", k+":", v)
		}
	}
	line("Alert", a.ID)
	line("Rule", a.RuleID+" "+a.RuleName)
	line("Severity", a.Level.String())
	line("Principal", a.Principal)
	line("Source IP", a.SourceIP)
	line("Account", a.Account)
	line("Region", a.Region)
	line("Events", strconv.FormatInt(a.Count, 10))
	line("First seen", a.FirstSeen.UTC().Format(time.RFC3339))
	line("Last seen", a.LastSeen.UTC().Format(time.RFC3339))
	line("Event IDs", strings.Join(a.EventIDs, ", "))
	fmt.Fprintf(qp, "\r\nAcknowledge with: trailwatch alerts ack %s\r\n", a.ID)
	_ = qp.Close()
	return b.Bytes()
}

func (s *emailSink) Close() error { return nil }
