#!/usr/bin/env bash
# The production flow on one machine: CloudTrail-style delivery into a local
# S3-compatible server (VersityGW), S3 event notifications on a local SQS
# (fauxqs), and trailwatch collecting the queue. Everything binds to
# 127.0.0.1 and is stopped on exit.
#
#   scripts/local-aws.sh            # generate, deliver, collect, query
#   KEEP=1 scripts/local-aws.sh     # leave the servers running (Ctrl-C stops them)
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/.cache/tools"
if [ ! -x "$tools/bin/versitygw" ]; then
  echo "installing VersityGW (a few minutes, once)"
  GOBIN="$tools/bin" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
if [ ! -x "$tools/node_modules/.bin/fauxqs" ]; then
  npm install --no-audit --no-fund --prefix "$tools" fauxqs@1.9.2
fi
go build -tags duckdb_arrow -o "$tools/bin/trailwatch" ./cmd/trailwatch
tw="$tools/bin/trailwatch"

work="$(mktemp -d)"
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=trailwatch AWS_SECRET_ACCESS_KEY=trailwatch-local-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
s3port=${S3_PORT:-7070} sqsport=${SQS_PORT:-7071}
mkdir -p "$work/s3" "$work/meta"
"$tools/bin/versitygw" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --region us-east-1 \
  --port "127.0.0.1:$s3port" --quiet posix --sidecar "$work/meta" "$work/s3" &
FAUXQS_DIR="$tools/node_modules/fauxqs" FAUXQS_PORT=$sqsport node internal/testsrv/fauxqs.mjs >/dev/null &
for port in $s3port $sqsport; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3port" AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$sqsport"

set -x
# 1. CloudTrail delivers: log files, digests (signature in the object's metadata) and
#    S3 access logs land in their buckets; S3 announces each object on the queue.
queue=$("$tw" gen --dir "$work/logs" --hours 3 --upload --notify trailwatch-local --s3-path-style)
# 2. The collector drains the queue: fetch, parse, store, then delete each message.
"$tw" --db "$work/tw.duckdb" collect --queue-url "$queue" --s3-path-style --drain --progress never
# 3. Collecting again adds nothing; the same objects found by listing are skipped too.
"$tw" --db "$work/tw.duckdb" backfill "s3://$(ls "$work/s3" | grep cloudtrail | head -1)" --s3-path-style --progress never
# 4. Query what arrived.
"$tw" --db "$work/tw.duckdb" query "SELECT recipientAccountId AS account, awsRegion AS region, count(*) AS events
  FROM cloudtrail_events GROUP BY ALL ORDER BY events DESC LIMIT 10"
"$tw" --db "$work/tw.duckdb" alerts
set +x
if [ -n "${KEEP:-}" ]; then
  echo "servers: S3 $AWS_ENDPOINT_URL_S3, SQS $AWS_ENDPOINT_URL_SQS, queue $queue, database $work/tw.duckdb (Ctrl-C stops)"
  wait
fi
