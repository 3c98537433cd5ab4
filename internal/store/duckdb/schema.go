package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// schemaVersion is bumped when the tables change incompatibly.
const schemaVersion = "1"

// columnTypes overrides the SQL type derived from the Arrow type where the
// table wants a narrower one (DuckDB casts on insert).
var columnTypes = map[string]string{
	"httpstatus":  "INTEGER",
	"source_line": "INTEGER",
}

// sqlType maps the Arrow types the builders produce to DuckDB types.
func sqlType(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.StringType:
		return "VARCHAR"
	case *arrow.TimestampType:
		return "TIMESTAMPTZ"
	case *arrow.BooleanType:
		return "BOOLEAN"
	case *arrow.Int64Type:
		return "BIGINT"
	case *arrow.Int32Type:
		return "INTEGER"
	case *arrow.Uint64Type:
		return "UBIGINT"
	case *arrow.StructType:
		parts := make([]string, len(t.Fields()))
		for i, f := range t.Fields() {
			parts[i] = quoteIdent(f.Name) + " " + sqlType(f.Type)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	case *arrow.ListType:
		return sqlType(t.Elem()) + "[]"
	}
	panic(fmt.Sprintf("duckdb: no SQL type for %s", t)) // a programming error in the builders
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// createTable returns CREATE TABLE for a builder's Arrow schema, so the
// table and the batches can never disagree.
func createTable(name string, schema *arrow.Schema) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n", name)
	for i, f := range schema.Fields() {
		typ := sqlType(f.Type)
		if o, ok := columnTypes[f.Name]; ok {
			typ = o
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "  %s %s", quoteIdent(f.Name), typ)
	}
	b.WriteString("\n)")
	return b.String()
}

// ddl is everything the database holds besides the record tables.
var ddl = []string{
	`CREATE TABLE IF NOT EXISTS tw_meta (key VARCHAR PRIMARY KEY, value VARCHAR)`,
	`CREATE TABLE IF NOT EXISTS tw_objects (
		object_key VARCHAR PRIMARY KEY, -- canonical key: from AWSLogs/ on, or the access log name, or the URI
		uri VARCHAR,                    -- where it was read from (s3://bucket/key or a path)
		kind VARCHAR,
		size BIGINT,
		etag VARCHAR,
		records BIGINT,
		skipped BIGINT,
		error VARCHAR,                  -- why it was (partly) quarantined
		ingested_at TIMESTAMPTZ,
		sha256 VARCHAR)                 -- SHA-256 of a CloudTrail log file's uncompressed bytes`,
	// Databases made before the sha256 column.
	`ALTER TABLE tw_objects ADD COLUMN IF NOT EXISTS sha256 VARCHAR`,
	`CREATE TABLE IF NOT EXISTS quarantine (
		object VARCHAR, kind VARCHAR, reason VARCHAR, size BIGINT, time TIMESTAMPTZ)`,
	`CREATE TABLE IF NOT EXISTS tw_checkpoints (name VARCHAR PRIMARY KEY, value VARCHAR, updated_at TIMESTAMPTZ)`,
	// The Parquet files of the large tables (paths relative to the data directory).
	`CREATE TABLE IF NOT EXISTS tw_files (tbl VARCHAR, path VARCHAR, day DATE, rows BIGINT, bytes BIGINT,
		min_time TIMESTAMPTZ, max_time TIMESTAMPTZ, added_at TIMESTAMPTZ)`,

	// principal(userIdentity): who acted, as one string.
	`CREATE OR REPLACE MACRO principal(ui) AS
		coalesce(ui.arn, ui.sessionContext.sessionIssuer.arn, ui.principalId, ui.invokedBy, ui.type)`,
	// principal_name(userIdentity): a short name: the user or role name.
	`CREATE OR REPLACE MACRO principal_name(ui) AS
		coalesce(nullif(ui.userName, ''), nullif(ui.sessionContext.sessionIssuer.userName, ''),
			CASE WHEN ui.type = 'Root' THEN 'root' END,
			regexp_extract(ui.arn, '[:/]([^:/]+)$', 1), ui.invokedBy, ui.principalId)`,
}

// viewDDL holds the convenience views; they read the Parquet-backed
// views, so they are created after them.
var viewDDL = []string{
	// events: one flat row per CloudTrail event with the fields most
	// questions need; everything else is in cloudtrail_events.
	`CREATE OR REPLACE VIEW events AS
	SELECT eventTime AS time, recipientAccountId AS account, awsRegion AS region,
		eventSource AS source, eventName AS event,
		userIdentity.type AS user_type, principal(userIdentity) AS principal,
		principal_name(userIdentity) AS user_name, userIdentity.accessKeyId AS access_key,
		sourceIPAddress AS ip, userAgent AS user_agent, errorCode AS error_code, errorMessage AS error_message,
		readOnly AS read_only, eventCategory AS category, eventID AS event_id, requestParameters, responseElements,
		source_object
	FROM cloudtrail_events`,

	`CREATE OR REPLACE VIEW console_logins AS
	SELECT eventTime AS time, recipientAccountId AS account, userIdentity.type AS user_type,
		principal(userIdentity) AS principal, principal_name(userIdentity) AS user_name,
		sourceIPAddress AS ip, userAgent AS user_agent,
		coalesce(responseElements->>'$.ConsoleLogin', CASE WHEN errorMessage IS NOT NULL THEN 'Failure' END) AS outcome,
		additionalEventData->>'$.MFAUsed' AS mfa_used,
		errorMessage AS error_message, eventID AS event_id
	FROM cloudtrail_events
	WHERE eventSource = 'signin.amazonaws.com' AND eventName = 'ConsoleLogin'`,

	`CREATE OR REPLACE VIEW errors AS
	SELECT eventTime AS time, recipientAccountId AS account, awsRegion AS region, eventSource AS source,
		eventName AS event, principal(userIdentity) AS principal, sourceIPAddress AS ip,
		errorCode AS error_code, errorMessage AS error_message, eventID AS event_id
	FROM cloudtrail_events WHERE errorCode IS NOT NULL`,

	`CREATE OR REPLACE VIEW access_denied AS
	SELECT * FROM errors
	WHERE error_code IN ('AccessDenied', 'AccessDeniedException', 'Client.UnauthorizedOperation', 'UnauthorizedOperation', 'UnauthorizedAccess')
		OR error_code LIKE '%AccessDenied%' OR error_code LIKE '%Unauthorized%'`,

	`CREATE OR REPLACE VIEW root_activity AS
	SELECT eventTime AS time, recipientAccountId AS account, awsRegion AS region, eventSource AS source,
		eventName AS event, sourceIPAddress AS ip, userAgent AS user_agent, errorCode AS error_code, eventID AS event_id
	FROM cloudtrail_events
	WHERE userIdentity.type = 'Root' AND coalesce(userIdentity.invokedBy, '') = '' AND eventType IS DISTINCT FROM 'AwsServiceEvent'`,

	`CREATE OR REPLACE VIEW changes AS
	SELECT * FROM events WHERE read_only IS NOT TRUE AND category IS DISTINCT FROM 'Data'`,

	`CREATE OR REPLACE VIEW s3_requests AS
	SELECT requesttime AS time, bucket_name AS bucket, operation, key, requester, remoteip AS ip,
		httpstatus AS status, errorcode AS error_code, bytessent AS bytes_sent, objectsize AS object_size,
		totaltime AS total_ms, useragent AS user_agent, authtype AS auth_type, tlsversion AS tls_version,
		source_object, source_line
	FROM s3_access_logs`,
}

// migrate creates the native tables (idempotently) and records the schema
// version. The Parquet-backed tables are views made by initParquet; the
// views and macros below are created after them.
func (s *Store) migrate(ctx context.Context, conn *sql.Conn) error {
	stmts := []string{
		createTable("cloudtrail_insights", newEventCols(true).schema()),
		createTable("cloudtrail_digests", newDigestCols().schema()),
	}
	stmts = append(stmts, ddl...)
	stmts = append(stmts, s.alertsDDL()...)
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create schema: %w\n%s", err, q)
		}
	}
	return s.checkVersion(ctx, conn)
}

// createViews creates the convenience views.
func (s *Store) createViews(ctx context.Context, conn *sql.Conn) error {
	for _, q := range viewDDL {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create views: %w\n%s", err, q)
		}
	}
	return nil
}

// checkVersion records the schema version, or refuses a newer one.
func (s *Store) checkVersion(ctx context.Context, conn *sql.Conn) error {
	var err error
	var v string
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(value), '') FROM tw_meta WHERE key = 'schema_version'`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch v {
	case "":
		_, err = conn.ExecContext(ctx, `INSERT INTO tw_meta VALUES ('schema_version', ?)`, schemaVersion)
	case schemaVersion:
	default:
		err = fmt.Errorf("the database has schema version %s; this trailwatch understands version %s", v, schemaVersion)
	}
	return err
}
