"""Run the installed AWS CLI's `cloudtrail validate-logs` on a local copy of a bucket.

The real command (awscli.customizations.cloudtrail.validation: its traverser,
validator, messages and exit code) runs unchanged; only the AWS clients are
replaced by fakes that read the directory the way trailwatch verify --local
does:

  TW_ROOT    directory holding one directory per bucket (<root>/<bucket>/AWSLogs/...)
  TW_KEYS    public keys, the output of `aws cloudtrail list-public-keys`
  TW_BUCKET  the trail's bucket (describe-trails answer)
  TW_PREFIX  the trail's key prefix (optional)
  TW_ORG     organization id, for an organization trail (optional)

Arguments are those of `aws cloudtrail validate-logs` (without --s3-bucket the
fake describe-trails answers). A digest's S3 metadata comes from its
<key>.metadata.json sidecar. Used by internal/cli's peer test to record the
AWS CLI's output next to trailwatch's.
"""

import io
import json
import os
import sys

from botocore.exceptions import ClientError

import awscli.customizations.cloudtrail.validation as validation

ROOT = os.environ["TW_ROOT"]


def _keys(bucket):
    base = os.path.join(ROOT, bucket)
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if f.startswith(".") or f.endswith(".metadata.json"):
                continue
            out.append(os.path.relpath(os.path.join(dirpath, f), base).replace(os.sep, "/"))
    return sorted(out)


class _Pages:
    def __init__(self, keys):
        self._keys = keys

    def search(self, expression):
        return iter(self._keys)


class _Paginator:
    def paginate(self, Bucket, Marker="", Prefix=""):
        return _Pages([k for k in _keys(Bucket) if k.startswith(Prefix) and k > Marker])


class FakeS3:
    def get_bucket_location(self, Bucket):
        return {"LocationConstraint": None}

    def get_paginator(self, name):
        assert name == "list_objects", name
        return _Paginator()

    def get_object(self, Bucket, Key):
        path = os.path.join(ROOT, Bucket, *Key.split("/"))
        if not os.path.isfile(path):
            raise ClientError(
                {"Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."}},
                "GetObject",
            )
        meta = {}
        if os.path.isfile(path + ".metadata.json"):
            with open(path + ".metadata.json") as f:
                raw = json.load(f)
            raw = raw.get("Metadata", raw)
            for k, v in raw.items():
                k = k.lower()
                if k.startswith("x-amz-meta-"):
                    k = k[len("x-amz-meta-"):]
                meta[k] = v
        with open(path, "rb") as f:
            return {"Body": io.BytesIO(f.read()), "Metadata": meta}


class FakeCloudTrail:
    def list_public_keys(self, StartTime, EndTime):
        with open(os.environ["TW_KEYS"]) as f:
            data = json.load(f)
        keys = data.get("PublicKeyList") or data.get("publicKeyList") or []
        return {"PublicKeyList": [{"Fingerprint": k["Fingerprint"], "Value": k["Value"]} for k in keys]}

    def describe_trails(self, **kwargs):
        arn = _arg("--trail-arn")
        trail = {"TrailARN": arn, "S3BucketName": os.environ["TW_BUCKET"]}
        if os.environ.get("TW_PREFIX"):
            trail["S3KeyPrefix"] = os.environ["TW_PREFIX"]
        if os.environ.get("TW_ORG"):
            trail["IsOrganizationTrail"] = True
        return {"trailList": [trail]}


class FakeOrganizations:
    def describe_organization(self):
        return {"Organization": {"Id": os.environ.get("TW_ORG", "")}}


def _arg(name):
    args = sys.argv[1:]
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def _client(session, service, **kwargs):
    return {"s3": FakeS3, "cloudtrail": FakeCloudTrail, "organizations": FakeOrganizations}[service]()


validation.create_nested_client = _client

if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "fake")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "fake")
    from awscli.clidriver import create_clidriver

    args = sys.argv[1:]
    if _arg("--region") is None:
        args = ["--region", "us-east-1"] + args
    sys.exit(create_clidriver().main(["cloudtrail", "validate-logs"] + args))
