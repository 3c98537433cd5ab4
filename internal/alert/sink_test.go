package alert

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailwatch/trailwatch/internal/detect"
)

// testAlert is what the sinks send in these tests.
func testAlert() Alert {
	return Alert{ID: "4f2a9c0d1e2b3c4d", RuleID: "0b2d6f3e-1a2b-5c3d-9e4f-5a6b7c8d9e0f", RuleName: "tw_cloudtrail_logging_stopped",
		Title: `CloudTrail Logging Stopped or Trail Deleted`, Level: detect.LevelCritical, Status: StatusOpen,
		FirstSeen: t0, LastSeen: t0.Add(time.Minute), Count: 2, Principal: `arn:aws:iam::111122223333:user/bob "the ]builder\"`,
		SourceIP: "203.0.113.78", Account: "111122223333", Region: "us-east-1", EventIDs: []string{"e1", "e2"}}
}

// sendOne delivers one alert through a manager with a single sink and
// returns the manager (closed) and the log.
func sendOne(t *testing.T, sc SinkConfig, a Alert) (*Manager, string) {
	t.Helper()
	var logs bytes.Buffer
	cfg := Config{Sinks: []SinkConfig{sc}}
	m, err := NewManager(cfg, Options{Notify: true, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	f := detect.Finding{RuleID: a.RuleID, RuleName: a.RuleName, Title: a.Title, Level: a.Level, Kind: "match", Time: a.FirstSeen,
		EventID: a.EventIDs[0], Principal: a.Principal, SourceIP: a.SourceIP, Account: a.Account, Region: a.Region}
	m.Add(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return m, logs.String()
}

func sent(t *testing.T, m *Manager, sink, result string) float64 {
	return counterValue(t, m.m.deliveries.WithLabelValues(sink, result))
}

func TestWebhookSink(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost || r.URL.Path != "/hooks/tok3n" {
			http.Error(w, "bad request", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	m, _ := sendOne(t, SinkConfig{Type: "webhook", URL: Secret(srv.URL + "/hooks/tok3n"), Headers: map[string]Secret{"Authorization": "Bearer xyz"}}, testAlert())
	if got := sent(t, m, "webhook", "sent"); got != 1 {
		t.Fatalf("sent %v", got)
	}
	var p webhookPayload
	if err := json.Unmarshal(bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Source != "trailwatch" || p.Alert.RuleName != "tw_cloudtrail_logging_stopped" || p.Alert.Level != detect.LevelCritical ||
		p.Alert.Principal != testAlert().Principal || p.Alert.EventIDs[0] != "e1" || auth != "Bearer xyz" {
		t.Errorf("payload %s, auth %q", bodies[0], auth)
	}
	if !strings.Contains(string(bodies[0]), `"severity":"critical"`) {
		t.Errorf("severity is not a name: %s", bodies[0])
	}
}

func TestSlackSink(t *testing.T) {
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	m, _ := sendOne(t, SinkConfig{Type: "slack", URL: Secret(srv.URL + "/services/T000/B000/XXXX")}, testAlert())
	if sent(t, m, "slack", "sent") != 1 {
		t.Fatal("not sent")
	}
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type   string `json:"type"`
			Text   *struct{ Type, Text string }
			Fields []struct{ Type, Text string }
		} `json:"blocks"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Text, "[CRITICAL] CloudTrail Logging Stopped") || !strings.Contains(msg.Text, ":rotating_light:") {
		t.Errorf("text %q", msg.Text)
	}
	if len(msg.Blocks) != 3 || msg.Blocks[0].Type != "header" || msg.Blocks[0].Text.Text != testAlert().Title || len(msg.Blocks[1].Fields) < 5 {
		t.Errorf("blocks %s", body)
	}
}

// TestWebhookRetries checks retries with backoff on server errors, no
// retries on client errors, and that failures show in the metrics without
// the URL's token in the logs.
func TestWebhookRetries(t *testing.T) {
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/bad"):
			http.Error(w, "no", http.StatusForbidden)
		case n <= 2:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	retries := 3
	sc := SinkConfig{Type: "webhook", URL: Secret(srv.URL + "/SECRET-TOKEN-1234"), Retries: &retries, Backoff: 10 * time.Millisecond}
	start := time.Now()
	m, logs := sendOne(t, sc, testAlert())
	if sent(t, m, "webhook", "sent") != 1 || counterValue(t, m.m.retries.WithLabelValues("webhook")) != 2 || calls != 3 {
		t.Errorf("sent %v, retries %v, calls %d", sent(t, m, "webhook", "sent"), counterValue(t, m.m.retries.WithLabelValues("webhook")), calls)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Errorf("no backoff between attempts")
	}
	if strings.Contains(logs, "SECRET-TOKEN-1234") || !strings.Contains(logs, "503") {
		t.Errorf("logs: %s", logs)
	}

	calls = 0
	sc.URL = Secret(srv.URL + "/SECRET-TOKEN-1234/bad")
	m, logs = sendOne(t, sc, testAlert())
	if sent(t, m, "webhook", "failed") != 1 || calls != 1 {
		t.Errorf("a 403 was retried (%d calls) or not counted", calls)
	}
	if strings.Contains(logs, "SECRET-TOKEN-1234") {
		t.Errorf("token in logs: %s", logs)
	}
}

// TestSecretsNeverLogged makes every sink fail against closed ports and
// checks that no secret reaches the logs.
func TestSecretsNeverLogged(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	zero := 0
	for _, sc := range []SinkConfig{
		{Type: "webhook", URL: Secret("http://" + addr + "/hook/WEBHOOK-SECRET-9"), Headers: map[string]Secret{"X-Api-Key": "HEADER-SECRET-8"}},
		{Type: "slack", URL: Secret("http://" + addr + "/services/T1/B2/SLACK-SECRET-7")},
		{Type: "email", Host: "127.0.0.1", Port: mustPort(addr), Username: "u", Password: "SMTP-PASSWORD-6", From: "a@b.c", To: []string{"d@e.f"}},
		{Type: "syslog", Network: "tcp", Address: addr},
	} {
		sc.Retries = &zero
		m, logs := sendOne(t, sc, testAlert())
		if sent(t, m, sc.Type, "failed") != 1 {
			t.Errorf("%s: failure not counted", sc.Type)
		}
		for _, secret := range []string{"WEBHOOK-SECRET-9", "HEADER-SECRET-8", "SLACK-SECRET-7", "SMTP-PASSWORD-6"} {
			if strings.Contains(logs, secret) {
				t.Errorf("%s: secret %s in logs: %s", sc.Type, secret, logs)
			}
		}
		if !strings.Contains(logs, "alert delivery failed") {
			t.Errorf("%s: failure not logged: %s", sc.Type, logs)
		}
	}
}

func mustPort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// rfc5424 matches a message: PRI VERSION TIMESTAMP HOSTNAME APP-NAME
// PROCID MSGID STRUCTURED-DATA MSG.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S{1,255}) (\S{1,48}) (\d+|-) (\S{1,32}) (\[trailwatch@32473(?: [a-zA-Z]+="(?:[^"\\\]]|\\["\\\]])*")+\]) (.+)$`)

func checkSyslog(t *testing.T, msg string) {
	t.Helper()
	m := rfc5424.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not an RFC 5424 message: %q", msg)
	}
	if m[1] != "130" { // local0 (16) * 8 + critical (2)
		t.Errorf("PRI %s, want 130", m[1])
	}
	if m[3] != "trailwatch-test" || m[4] != "trailwatch" || m[6] != "ALERT" {
		t.Errorf("header %q", m[0][:60])
	}
	if !strings.Contains(m[7], `principal="arn:aws:iam::111122223333:user/bob \"the \]builder\\\""`) || !strings.Contains(m[7], `severity="critical"`) {
		t.Errorf("structured data %s", m[7])
	}
	if !strings.HasPrefix(m[8], "[CRITICAL] CloudTrail Logging Stopped") {
		t.Errorf("message %q", m[8])
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 64<<10)
		n, _, err := pc.ReadFrom(buf)
		if err == nil {
			got <- string(buf[:n])
		}
	}()
	m, _ := sendOne(t, SinkConfig{Type: "syslog", Network: "udp", Address: pc.LocalAddr().String(), Hostname: "trailwatch-test"}, testAlert())
	if sent(t, m, "syslog", "sent") != 1 {
		t.Fatal("not sent")
	}
	select {
	case msg := <-got:
		checkSyslog(t, msg)
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram")
	}
}

// readFrames reads octet-counted syslog frames (RFC 6587 3.4.1).
func readFrames(t *testing.T, c net.Conn, n int) []string {
	t.Helper()
	r := bufio.NewReader(c)
	var out []string
	for range n {
		l, err := r.ReadString(' ')
		if err != nil {
			t.Fatalf("frame length: %v", err)
		}
		size, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			t.Fatalf("frame length %q", l)
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(buf))
	}
	return out
}

func syslogStream(t *testing.T, l net.Listener, sc SinkConfig) {
	t.Helper()
	got := make(chan []string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got <- readFrames(t, c, 2)
	}()
	// Two alerts on one connection: the framing must separate them.
	m, err := NewManager(Config{Sinks: []SinkConfig{sc}}, Options{Notify: true})
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert()
	f := detect.Finding{RuleID: a.RuleID, Title: a.Title, Level: a.Level, Time: t0, EventID: "e1", Principal: a.Principal}
	m.Add(f)
	f.Principal = "arn:aws:iam::111122223333:user/other"
	m.Add(f)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case msgs := <-got:
		checkSyslog(t, msgs[0])
		if !strings.Contains(msgs[1], `principal="arn:aws:iam::111122223333:user/other"`) {
			t.Errorf("second frame %q", msgs[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frames")
	}
	if sent(t, m, sc.Name, "sent") != 2 {
		t.Errorf("sent %v", sent(t, m, sc.Name, "sent"))
	}
}

func TestSyslogTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	syslogStream(t, l, SinkConfig{Type: "syslog", Name: "syslog", Network: "tcp", Address: l.Addr().String(), Hostname: "trailwatch-test"})
}

func TestSyslogTLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	syslogStream(t, l, SinkConfig{Type: "syslog", Name: "syslog", Network: "tls", Address: l.Addr().String(), Hostname: "trailwatch-test",
		TLS: TLSConfig{CAFile: caFile}})
}

func TestSyslogTLSUntrusted(t *testing.T) {
	cert, _ := selfSigned(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	zero := 0
	m, logs := sendOne(t, SinkConfig{Type: "syslog", Network: "tls", Address: l.Addr().String(), Retries: &zero}, testAlert())
	if sent(t, m, "syslog", "failed") != 1 || !strings.Contains(logs, "certificate") {
		t.Errorf("an untrusted certificate was accepted: %s", logs)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and writes it (the CA) to a
// file.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "trailwatch test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, p
}

// smtpBackend records the messages a real go-smtp server receives, and
// whether the session was upgraded with STARTTLS before the message.
type smtpBackend struct {
	mu       sync.Mutex
	messages []smtpMessage
}

type smtpMessage struct {
	from   string
	to     []string
	data   []byte
	tls    bool
	authed string
}

type smtpSession struct {
	be   *smtpBackend
	conn *smtp.Conn
	msg  smtpMessage
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{be: b, conn: c}, nil
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alerts" || pass != "correct horse" {
			return errors.New("invalid credentials")
		}
		s.msg.authed = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.from = from
	_, s.msg.tls = s.conn.TLSConnectionState()
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	s.be.mu.Lock()
	s.be.messages = append(s.be.messages, s.msg)
	s.be.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.msg = smtpMessage{authed: s.msg.authed} }
func (s *smtpSession) Logout() error { return nil }

// startSMTP runs a go-smtp server on 127.0.0.1, with STARTTLS when cert is
// set, until the test ends.
func startSMTP(t *testing.T, cert *tls.Certificate) (*smtpBackend, string) {
	t.Helper()
	be := &smtpBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return be, l.Addr().String()
}

func TestEmailSink(t *testing.T) {
	cert, caFile := selfSigned(t)
	be, addr := startSMTP(t, &cert)
	m, logs := sendOne(t, SinkConfig{Type: "email", Host: "127.0.0.1", Port: mustPort(addr), Username: "alerts", Password: "correct horse",
		From: "trailwatch@example.com", To: []string{"soc@example.com", "oncall@example.com"}, TLS: TLSConfig{CAFile: caFile}}, testAlert())
	if sent(t, m, "email", "sent") != 1 {
		t.Fatalf("not sent: %s", logs)
	}
	if len(be.messages) != 1 {
		t.Fatalf("%d messages", len(be.messages))
	}
	msg := be.messages[0]
	if !msg.tls || msg.authed != "alerts" || msg.from != "trailwatch@example.com" || len(msg.to) != 2 {
		t.Errorf("session: tls %v, auth %q, from %q, to %v", msg.tls, msg.authed, msg.from, msg.to)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(msg.data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	body, _ := io.ReadAll(quotedprintable.NewReader(parsed.Body))
	if subject != "[trailwatch] CRITICAL: CloudTrail Logging Stopped or Trail Deleted" || parsed.Header.Get("X-Trailwatch-Alert") != m.Alerts()[0].ID {
		t.Errorf("headers %v (subject %q)", parsed.Header, subject)
	}
	if !strings.Contains(string(body), "Principal:   arn:aws:iam::111122223333:user/bob") || !strings.Contains(string(body), "trailwatch alerts ack") {
		t.Errorf("body %s", body)
	}
}

func TestEmailRequiresStartTLS(t *testing.T) {
	_, addr := startSMTP(t, nil) // no TLS: no STARTTLS offered
	zero := 0
	m, logs := sendOne(t, SinkConfig{Type: "email", Host: "127.0.0.1", Port: mustPort(addr), Username: "alerts", Password: "correct horse",
		From: "a@example.com", To: []string{"b@example.com"}, Retries: &zero}, testAlert())
	if sent(t, m, "email", "failed") != 1 || !strings.Contains(logs, "does not offer STARTTLS") {
		t.Errorf("sent without STARTTLS: %s", logs)
	}
	if strings.Contains(logs, "correct horse") {
		t.Error("password in logs")
	}
}

func TestFileSink(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out", "alerts.jsonl")
	for range 2 {
		m, _ := sendOne(t, SinkConfig{Type: "file", Path: p}, testAlert())
		if sent(t, m, "file", "sent") != 1 {
			t.Fatal("not sent")
		}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var a Alert
		if err := json.Unmarshal([]byte(l), &a); err != nil || a.RuleName != "tw_cloudtrail_logging_stopped" || a.Count != 1 {
			t.Errorf("line %s: %v", l, err)
		}
	}
}

func TestSinkMinLevelAndQueue(t *testing.T) {
	var n int
	var mu sync.Mutex
	arrived := make(chan struct{}, 10)
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-block
		mu.Lock()
		n++
		mu.Unlock()
	}))
	defer srv.Close()
	m, err := NewManager(Config{Sinks: []SinkConfig{{Type: "webhook", URL: Secret(srv.URL), MinLevel: "high", QueueSize: 1}}}, Options{Notify: true})
	if err != nil {
		t.Fatal(err)
	}
	add := func(i int, lvl detect.Level) {
		f := finding(fmt.Sprint(i), "p", t0)
		f.Level = lvl
		m.Add(f)
	}
	add(0, detect.LevelLow) // below the sink's level
	add(1, detect.LevelHigh)
	<-arrived                    // in flight
	add(2, detect.LevelHigh)     // queued
	add(3, detect.LevelCritical) // dropped: the queue is full
	add(4, detect.LevelCritical) // dropped
	close(block)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n != 2 || sent(t, m, "webhook", "dropped") != 2 || sent(t, m, "webhook", "sent") != 2 {
		t.Errorf("delivered %d, dropped %v", n, sent(t, m, "webhook", "dropped"))
	}
}
