#!/usr/bin/env python3
"""Upload or download one file with SSE-C through boto3's CRT transfer manager
(s3transfer.crt.CRTTransferManager on awscrt's S3Client), against a path-style endpoint.
bench/transfer.sh runs it as a peer of ssec-manager, the aws CLI and rclone.

Usage: crt_transfer.py up|down FILE s3://BUCKET/KEY --endpoint URL --key-file RAW32
                       [--region R] [--ca-bundle PEM] [--show-client] [--crt-log LEVEL]
Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (botocore's usual chain).
Run it with the python of scripts/ensure-crt.sh (a venv with `boto3[crt]`).

Why the manager is assembled here rather than taken from boto3:
boto3's own route (`S3Transfer(client, TransferConfig(preferred_transfer_client="crt"))`,
i.e. boto3.crt.create_crt_transfer_manager) ignores the client's endpoint_url and Config:
  - boto3/crt.py `_create_crt_request_serializer` builds the request serializer from a NEW
    botocore Session with {'region_name': region, 'endpoint_url': None}, so requests go to
    https://BUCKET.s3.REGION.amazonaws.com (virtual host) -> AWS_IO_DNS_INVALID_NAME;
  - boto3/crt.py `_create_crt_client` passes use_ssl=True, fixed, so even an endpoint_url and
    addressing_style=path from AWS_CONFIG_FILE (which that new Session does read) end in TLS
    spoken to a plain-http server (AWS_IO_SOCKET_CLOSED).
The pieces underneath take both settings, so this script builds the same manager from them:
create_s3_crt_client(region, credentials, use_ssl=<scheme is https>) and
BotocoreCRTRequestSerializer(session, {region_name, endpoint_url,
config=Config(s3={"addressing_style": "path"})}), then CRTTransferManager(client, serializer,
config=TransferConfig(preferred_transfer_client="crt")).
"""
import argparse
import logging
import os
import sys
from urllib.parse import urlsplit

import awscrt
import awscrt.io
import boto3
import botocore.session
import s3transfer
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from s3transfer.crt import (
    BotocoreCRTCredentialsWrapper,
    BotocoreCRTRequestSerializer,
    CRTTransferManager,
    create_s3_crt_client,
)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("direction", choices=["up", "down"])
    p.add_argument("file")
    p.add_argument("url", help="s3://BUCKET/KEY")
    p.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:3900")
    p.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    p.add_argument("--key-file", required=True, help="the raw 32-byte SSE-C key")
    p.add_argument("--ca-bundle", help="PEM to trust for an https endpoint")
    p.add_argument("--show-client", action="store_true",
                   help="print to stderr which transfer manager runs and the URL it sends to")
    p.add_argument("--crt-log", metavar="LEVEL",
                   help="awscrt's own log on stderr (Error, Warn, Info, Debug, Trace)")
    return p.parse_args()


def build_manager(endpoint, region, ca_bundle):
    session = botocore.session.Session()
    creds = session.get_credentials()
    if creds is None:
        sys.exit("crt_transfer: no credentials (set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
    provider = BotocoreCRTCredentialsWrapper(creds).to_crt_credentials_provider()
    https = urlsplit(endpoint).scheme == "https"
    crt_client = create_s3_crt_client(
        region, crt_credentials_provider=provider, use_ssl=https,
        verify=(ca_bundle if https and ca_bundle else None))
    serializer = BotocoreCRTRequestSerializer(session, {
        "region_name": region,
        "endpoint_url": endpoint,
        "config": Config(s3={"addressing_style": "path"}),
    })
    config = TransferConfig(preferred_transfer_client="crt")
    return CRTTransferManager(crt_client, serializer, config=config), serializer


def main():
    a = parse_args()
    if a.crt_log:
        awscrt.io.init_logging(getattr(awscrt.io.LogLevel, a.crt_log), "stderr")
    url = urlsplit(a.url)
    if url.scheme != "s3" or not url.netloc or not url.path.lstrip("/"):
        sys.exit("crt_transfer: the object must be s3://BUCKET/KEY")
    bucket, key = url.netloc, url.path.lstrip("/")
    with open(a.key_file, "rb") as f:
        sse_key = f.read()
    if len(sse_key) != 32:
        sys.exit("crt_transfer: the SSE-C key file must hold 32 raw bytes")
    extra = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": sse_key}

    manager, serializer = build_manager(a.endpoint, a.region, a.ca_bundle)
    if a.show_client:
        # The URL the serializer builds is the one the CRT connects to (it takes the Host
        # header and path from it); path style means ENDPOINT/BUCKET/KEY.
        probe = serializer._client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
        print("crt_transfer: manager %s.%s (boto3 %s, s3transfer %s, awscrt %s); requests to %s"
              % (type(manager).__module__, type(manager).__name__, boto3.__version__,
                 s3transfer.__version__, awscrt.__version__, probe.split("?")[0]),
              file=sys.stderr)
    with manager:
        if a.direction == "up":
            future = manager.upload(a.file, bucket, key, extra_args=extra)
        else:
            future = manager.download(bucket, key, a.file, extra_args=extra)
        future.result()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    main()
