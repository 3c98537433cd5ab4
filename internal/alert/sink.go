package alert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Sink delivers alerts somewhere. Send is called from one goroutine at a
// time. Errors must not contain secrets.
type Sink interface {
	Send(ctx context.Context, a Alert) error
	Close() error
}

// NewSink builds the sink a (validated, defaulted) configuration describes.
func NewSink(c SinkConfig) (Sink, error) {
	switch c.Type {
	case "webhook":
		return newWebhook(c, false), nil
	case "slack":
		return newWebhook(c, true), nil
	case "syslog":
		return newSyslog(c)
	case "email":
		return newEmail(c)
	case "file":
		return newFile(c)
	}
	return nil, fmt.Errorf("unknown sink type %q", c.Type)
}

// tlsConfig builds a client TLS configuration.
func tlsConfig(c TLSConfig, host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in, documented
	if c.ServerName != "" {
		cfg.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s holds no PEM certificates", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// redactURL keeps only a URL's scheme and host: paths and queries of
// webhook URLs carry tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return redacted
	}
	return u.Scheme + "://" + u.Host + "/" + redacted
}

// scrub removes a secret's value from an error message, in case a library
// quoted it.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, redacted)
			changed = true
		}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s %s: %v", uerr.Op, redactURL(uerr.URL), scrub(uerr.Err, secrets...))
	}
	if changed {
		return errors.New(msg)
	}
	return err
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
