package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// webhook posts alerts as JSON: the Alert itself (webhook) or a Slack
// incoming-webhook message (slack).
type webhook struct {
	url     string
	headers map[string]string
	slack   bool
	client  *http.Client
}

func newWebhook(c SinkConfig, slack bool) *webhook {
	h := map[string]string{}
	for k, v := range c.Headers {
		h[k] = v.Reveal()
	}
	return &webhook{url: c.URL.Reveal(), headers: h, slack: slack, client: &http.Client{Timeout: c.Timeout}}
}

// webhookPayload is the JSON body of the webhook sink.
type webhookPayload struct {
	Source string `json:"source"` // always "trailwatch"
	Alert  Alert  `json:"alert"`
}

func (w *webhook) Send(ctx context.Context, a Alert) error {
	var body []byte
	var err error
	if w.slack {
		body, err = json.Marshal(slackMessage(a))
	} else {
		body, err = json.Marshal(webhookPayload{Source: "trailwatch", Alert: a})
	}
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return scrub(fmt.Errorf("webhook request for %s: %w", redactURL(w.url), err), w.secrets()...)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "trailwatch")
	for k, v := range w.headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return scrub(err, w.secrets()...)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{code: resp.StatusCode, to: redactURL(w.url)}
	}
	return nil
}

func (w *webhook) secrets() []string {
	s := []string{w.url}
	for _, v := range w.headers {
		s = append(s, v)
	}
	return s
}

func (w *webhook) Close() error {
	w.client.CloseIdleConnections()
	return nil
}

// statusError is a non-2xx HTTP response. 4xx responses other than 408 and
// 429 are not retried.
type statusError struct {
	code int
	to   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s answered %d %s", e.to, e.code, http.StatusText(e.code))
}

// permanent reports whether retrying cannot help.
func (e *statusError) permanent() bool {
	return e.code >= 400 && e.code < 500 && e.code != http.StatusRequestTimeout && e.code != http.StatusTooManyRequests
}

// slackMessage renders an alert for a Slack incoming webhook.
func slackMessage(a Alert) map[string]any {
	emoji := map[string]string{"critical": ":rotating_light:", "high": ":red_circle:", "medium": ":large_orange_circle:",
		"low": ":large_yellow_circle:", "informational": ":white_circle:"}[a.Level.String()]
	var fields []map[string]any
	add := func(name, v string) {
		if v != "" {
			fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + name + "*\n" + slackEscape(v)})
		}
	}
	add("Severity", a.Level.String())
	add("Principal", a.Principal)
	add("Source IP", a.SourceIP)
	add("Account", a.Account)
	add("Region", a.Region)
	add("Events", fmt.Sprintf("%d (%s to %s)", a.Count, a.FirstSeen.UTC().Format(time.RFC3339), a.LastSeen.UTC().Format(time.RFC3339)))
	text := fmt.Sprintf("%s %s", emoji, a.Summary())
	return map[string]any{
		"text": slackEscape(text),
		"blocks": []map[string]any{
			{"type": "header", "text": map[string]any{"type": "plain_text", "text": truncate(a.Title, 150)}},
			{"type": "section", "fields": fields},
			{"type": "context", "elements": []map[string]any{{"type": "mrkdwn", "text": slackEscape("alert " + a.ID + " · rule " + a.RuleID +
				" · event " + strings.Join(a.EventIDs[:min(len(a.EventIDs), 3)], ", "))}}},
		},
	}
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
