"""Runs AWS CLI command lines (one per line on stdin, shell-quoted) in one
process with the real AWS CLI driver, and prints one JSON line per command:
{"line": ..., "rc": ...}. Every command is sent to --endpoint-url
$TRAILWATCH_ENDPOINT; a request that reaches it proves the CLI accepted the
command (its parameters were parsed and validated against the service
model)."""
import json
import os
import shlex
import socket
import sys

from awscli.clidriver import create_clidriver

# S3 and S3 Control put the bucket or account in the host name
# (<account>.127.0.0.1): resolve those to the local endpoint.
_getaddrinfo = socket.getaddrinfo


def _local(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".127.0.0.1"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _local
driver = create_clidriver()

for line in sys.stdin.read().splitlines():
    line = line.strip()
    if not line:
        continue
    argv = shlex.split(line)
    if not argv or argv[0] != "aws":
        print(json.dumps({"line": line, "rc": -1}), flush=True)
        continue
    argv += ["--endpoint-url", os.environ["TRAILWATCH_ENDPOINT"]]
    devnull = open(os.devnull, "w")
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = devnull
    try:
        rc = driver.main(argv[1:])
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except Exception:
        rc = 255
    finally:
        sys.stdout, sys.stderr = out, err
        devnull.close()
    print(json.dumps({"line": line, "rc": rc}), flush=True)
