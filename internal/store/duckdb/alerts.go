package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/alert"
	"github.com/trailwatch/trailwatch/internal/detect"
)

var _ alert.Store = (*Store)(nil)

// alertsDDL returns the statements that create the alerts table: one row
// per alert (a group of findings of one rule about one principal), with
// its status.
func (s *Store) alertsDDL() []string {
	return []string{`CREATE TABLE IF NOT EXISTS alerts (
		id VARCHAR PRIMARY KEY,   -- stable: derived from rule, principal and group window
		rule_id VARCHAR,          -- the Sigma rule id
		rule_name VARCHAR,        -- the rule's name (tw_... for built-in rules)
		title VARCHAR,
		level VARCHAR,            -- informational, low, medium, high, critical
		status VARCHAR,           -- open, acknowledged, closed
		first_seen TIMESTAMPTZ,
		last_seen TIMESTAMPTZ,
		count BIGINT,             -- findings grouped in the alert
		principal VARCHAR,
		source_ip VARCHAR,
		account VARCHAR,
		region VARCHAR,
		log VARCHAR,              -- cloudtrail, cloudtrail_insights or s3_server_access
		event_ids VARCHAR[],      -- a sample of the events (at most 10)
		tags VARCHAR[],
		details JSON,
		note VARCHAR,             -- why the status was changed
		created_at TIMESTAMPTZ,
		updated_at TIMESTAMPTZ)`}
}

// UpsertAlerts inserts alerts or merges them into the stored alerts with
// the same ID: first and last seen widen, the event sample grows to 10, the
// status and note are kept, and the count is added (add) or the larger one
// kept. Each ID may appear once. It does not wait for the ingest
// transaction: the alerts table is written in transactions of its own.
func (s *Store) UpsertAlerts(ctx context.Context, alerts []alert.Alert, add bool) error {
	if len(alerts) == 0 {
		return nil
	}
	count := "greatest(alerts.count, excluded.count)"
	if add {
		count = "alerts.count + excluded.count"
	}
	// The rows travel as one JSON document per chunk, unpacked by DuckDB:
	// one INSERT per alert holds memory per statement until the
	// transaction ends (out of memory at about 1,500 alerts) and costs
	// ~0.5 ms each; bound parameters cost about as much per row.
	q := `INSERT INTO alerts (id, rule_id, rule_name, title, level, status, first_seen, last_seen, count, principal, source_ip,
			account, region, log, event_ids, tags, details, note, created_at, updated_at)
		SELECT r.id, r.rule_id, r.rule_name, r.title, r.level, r.status, r.first_seen, r.last_seen, r.count, r.principal, r.source_ip,
			r.account, r.region, r.log, coalesce(r.event_ids, []), coalesce(r.tags, []), r.details, NULL, r.created_at, r.updated_at
		FROM (SELECT unnest(from_json(CAST(? AS JSON), '` + alertRowsType + `')) AS r)
		ON CONFLICT (id) DO UPDATE SET
			first_seen = least(alerts.first_seen, excluded.first_seen),
			last_seen = greatest(alerts.last_seen, excluded.last_seen),
			count = ` + count + `,
			event_ids = CASE WHEN len(alerts.event_ids) >= 10 THEN alerts.event_ids
				ELSE list_slice(list_distinct(list_concat(alerts.event_ids, excluded.event_ids)), 1, 10) END,
			source_ip = coalesce(alerts.source_ip, excluded.source_ip),
			updated_at = excluded.updated_at`
	seen := make(map[string]bool, len(alerts))
	rows := make([]alertRow, 0, len(alerts))
	now := s.opts.Now().UTC()
	for _, a := range alerts {
		if seen[a.ID] {
			return fmt.Errorf("store alerts: alert %s is given twice", a.ID)
		}
		seen[a.ID] = true
		status := a.Status
		if status == "" {
			status = alert.StatusOpen
		}
		updated := a.UpdatedAt
		if updated.IsZero() {
			updated = now
		}
		details := a.Details
		if details == nil {
			details = map[string]string{}
		}
		rows = append(rows, alertRow{ID: a.ID, RuleID: a.RuleID, RuleName: alertNullable(a.RuleName), Title: a.Title, Level: a.Level.String(),
			Status: string(status), FirstSeen: a.FirstSeen.UTC(), LastSeen: a.LastSeen.UTC(), Count: a.Count, Principal: alertNullable(a.Principal),
			SourceIP: alertNullable(a.SourceIP), Account: alertNullable(a.Account), Region: alertNullable(a.Region), Log: alertNullable(a.Log),
			EventIDs: a.EventIDs, Tags: a.Tags, Details: details, CreatedAt: now, UpdatedAt: updated.UTC()})
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store alerts: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	const chunk = 2048
	for start := 0; start < len(rows); start += chunk {
		doc, err := json.Marshal(rows[start:min(start+chunk, len(rows))])
		if err != nil {
			return fmt.Errorf("store alerts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, q, string(doc)); err != nil {
			return fmt.Errorf("store alerts: %w", cleanError(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store alerts: %w", err)
	}
	return nil
}

// alertRow is an alert as UpsertAlerts hands it to DuckDB, and
// alertRowsType its from_json structure.
type alertRow struct {
	ID        string            `json:"id"`
	RuleID    string            `json:"rule_id"`
	RuleName  any               `json:"rule_name"`
	Title     string            `json:"title"`
	Level     string            `json:"level"`
	Status    string            `json:"status"`
	FirstSeen time.Time         `json:"first_seen"`
	LastSeen  time.Time         `json:"last_seen"`
	Count     int64             `json:"count"`
	Principal any               `json:"principal"`
	SourceIP  any               `json:"source_ip"`
	Account   any               `json:"account"`
	Region    any               `json:"region"`
	Log       any               `json:"log"`
	EventIDs  []string          `json:"event_ids"`
	Tags      []string          `json:"tags"`
	Details   map[string]string `json:"details"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

const alertRowsType = `[{"id":"VARCHAR","rule_id":"VARCHAR","rule_name":"VARCHAR","title":"VARCHAR","level":"VARCHAR",` +
	`"status":"VARCHAR","first_seen":"TIMESTAMPTZ","last_seen":"TIMESTAMPTZ","count":"BIGINT","principal":"VARCHAR",` +
	`"source_ip":"VARCHAR","account":"VARCHAR","region":"VARCHAR","log":"VARCHAR","event_ids":["VARCHAR"],"tags":["VARCHAR"],` +
	`"details":"JSON","created_at":"TIMESTAMPTZ","updated_at":"TIMESTAMPTZ"}]`

func alertNullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// AlertFilter selects alerts for ListAlerts.
type AlertFilter struct {
	Statuses []alert.Status // empty: any
	MinLevel detect.Level
	Since    time.Time // last seen at or after; zero: any
	Rule     string    // rule id or name; empty: any
	Limit    int       // 0: no limit
}

// ListAlerts returns the stored alerts matching the filter, most recent
// first. A database made before alerts existed has none.
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]alert.Alert, error) {
	var where []string
	var args []any
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	var levels []string
	for l := f.MinLevel; l <= detect.LevelCritical; l++ {
		levels = append(levels, l.String())
	}
	where = append(where, "level IN ("+placeholders(len(levels))+")")
	for _, l := range levels {
		args = append(args, l)
	}
	if !f.Since.IsZero() {
		where = append(where, "last_seen >= ?")
		args = append(args, f.Since.UTC())
	}
	if f.Rule != "" {
		where = append(where, "(rule_id = ? OR rule_name = ?)")
		args = append(args, f.Rule, f.Rule)
	}
	q := `SELECT id, rule_id, coalesce(rule_name, ''), title, level, status, first_seen, last_seen, count, coalesce(principal, ''),
			coalesce(source_ip, ''), coalesce(account, ''), coalesce(region, ''), coalesce(log, ''),
			array_to_string(coalesce(event_ids, []), ','), array_to_string(coalesce(tags, []), ','), coalesce(CAST(details AS VARCHAR), '{}'),
			coalesce(note, ''), updated_at
		FROM alerts WHERE ` + strings.Join(where, " AND ") + ` ORDER BY last_seen DESC, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		if isMissingAlertsTable(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list alerts: %w", cleanError(err))
	}
	defer rows.Close()
	var out []alert.Alert
	for rows.Next() {
		var a alert.Alert
		var level, status, ids, tags, details string
		var updated sql.NullTime
		if err := rows.Scan(&a.ID, &a.RuleID, &a.RuleName, &a.Title, &level, &status, &a.FirstSeen, &a.LastSeen, &a.Count,
			&a.Principal, &a.SourceIP, &a.Account, &a.Region, &a.Log, &ids, &tags, &details, &a.Note, &updated); err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		a.Level, _ = detect.ParseLevel(level)
		a.Status = alert.Status(status)
		a.EventIDs = splitAlertList(ids)
		a.Tags = splitAlertList(tags)
		_ = json.Unmarshal([]byte(details), &a.Details)
		a.UpdatedAt = updated.Time
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

func splitAlertList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func isMissingAlertsTable(err error) bool {
	return strings.Contains(err.Error(), "Table with name alerts does not exist")
}

// ErrAlertNotFound is returned (wrapped) when an alert ID matches nothing.
var ErrAlertNotFound = errors.New("no such alert")

// SetAlertStatus changes the status (and note) of alerts given by ID or
// by a unique ID prefix of at least 6 characters, and returns the IDs it
// changed.
func (s *Store) SetAlertStatus(ctx context.Context, ids []string, status alert.Status, note string) ([]string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("update alerts: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var changed []string
	now := s.opts.Now().UTC()
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if len(id) < 6 {
			return nil, fmt.Errorf("alert ID %q is too short (give at least 6 characters)", id)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM alerts WHERE id = ? OR starts_with(id, ?)`, id, id)
		if err != nil {
			if isMissingAlertsTable(err) {
				return nil, fmt.Errorf("%w: %s", ErrAlertNotFound, id)
			}
			return nil, fmt.Errorf("update alerts: %w", cleanError(err))
		}
		var found []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, err
			}
			found = append(found, v)
		}
		rows.Close()
		switch {
		case len(found) == 0:
			return nil, fmt.Errorf("%w: %s", ErrAlertNotFound, id)
		case len(found) > 1 && !containsAlertID(found, id):
			return nil, fmt.Errorf("alert ID prefix %s is ambiguous (%d alerts)", id, len(found))
		case len(found) > 1:
			found = []string{id}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET status = ?, note = ?, updated_at = ? WHERE id = ?`,
			string(status), alertNullable(note), now, found[0]); err != nil {
			return nil, fmt.Errorf("update alert %s: %w", found[0], cleanError(err))
		}
		changed = append(changed, found[0])
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update alerts: %w", err)
	}
	return changed, nil
}

func containsAlertID(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
