// Package detect is trailwatch's detection engine: it evaluates Sigma rules
// (https://sigmahq.io) against CloudTrail events and Amazon S3 server access
// log records as they are parsed, and turns matches into findings.
//
// Rules are plain Sigma YAML: detection rules (search identifiers, value
// modifiers, conditions, keywords) and Sigma correlation rules (event_count,
// value_count, temporal, temporal_ordered). One extension is added for
// "first seen" detections: a correlation of type first_seen, which fires
// when a group (e.g. a principal) shows a value (a region, an IP address,
// a user agent, an API) it never showed before, after a learning period.
//
// Field names are CloudTrail's own (userIdentity.arn,
// requestParameters.bucketName, errorCode, ...); for S3 server access logs
// they are the column names of AWS's Athena table (remoteip, requester,
// operation, key, httpstatus, ...). Logsources:
//
//	product: aws, service: cloudtrail              CloudTrail events
//	product: aws, service: cloudtrail_insights     CloudTrail Insights events
//	product: aws, service: s3_server_access        S3 server access log records
//
// The engine is built for ingest: rules are indexed by the values of
// eventName and eventSource their conditions require (or operation for
// access logs), so that each record is evaluated only against candidate
// rules; nested JSON documents are decoded lazily, only when a candidate
// rule needs them; and Engine.Observe is safe for concurrent use by the
// pipeline's workers. Correlation state is kept by event time, in memory,
// within the bounds of Limits.
package detect
