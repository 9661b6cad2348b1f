"""Proves the S3 server named by the environment (scripts/s3 start prints it) works for
a real client, boto3: PUT, ranged GET, a multipart upload completed and one aborted,
DELETE. Everything under <prefix>/s3-check/<random>/, removed at the end.
Run it with `scripts/s3 check <dir>`; it exits non-zero on the first failure."""

import os
import sys
import uuid
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

MIB = 1024 * 1024


def expect(condition, what):
    if not condition:
        sys.exit(f"s3 check failed: {what}")


def missing(s3, bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


def main():
    url = urlparse(os.environ["ORDERCHAT_TEST_S3_URL"])
    expect(url.scheme == "s3" and url.netloc, "ORDERCHAT_TEST_S3_URL is s3://bucket/prefix")
    bucket = url.netloc
    base = f"{url.path.strip('/')}/s3-check/{uuid.uuid4().hex}".lstrip("/")
    # Endpoint, keys and region come from AWS_* (botocore reads AWS_ENDPOINT_URL).
    s3 = boto3.client("s3")

    key = f"{base}/hello.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"hello, range world", ContentType="text/plain")
    part = s3.get_object(Bucket=bucket, Key=key, Range="bytes=7-11")
    expect(part["ResponseMetadata"]["HTTPStatusCode"] == 206, "ranged GET answers 206")
    expect(part["Body"].read() == b"range", "ranged GET returns the range")
    expect(part["ContentRange"] == "bytes 7-11/18", f"Content-Range: {part['ContentRange']}")

    # Multipart: every part but the last must be at least 5 MiB, as on AWS.
    big = f"{base}/big.bin"
    first, last = b"a" * (5 * MIB), b"b" * MIB
    upload = s3.create_multipart_upload(Bucket=bucket, Key=big)["UploadId"]
    parts = []
    for number, body in enumerate([first, last], start=1):
        etag = s3.upload_part(Bucket=bucket, Key=big, UploadId=upload, PartNumber=number, Body=body)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key=big, UploadId=upload, MultipartUpload={"Parts": parts})
    expect(s3.head_object(Bucket=bucket, Key=big)["ContentLength"] == 6 * MIB, "multipart size")
    seam = s3.get_object(Bucket=bucket, Key=big, Range=f"bytes={5 * MIB - 2}-{5 * MIB + 1}")["Body"].read()
    expect(seam == b"aabb", "multipart parts joined in order")

    aborted = f"{base}/aborted.bin"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=aborted)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=aborted, UploadId=upload, PartNumber=1, Body=first)
    s3.abort_multipart_upload(Bucket=bucket, Key=aborted, UploadId=upload)
    pending = s3.list_multipart_uploads(Bucket=bucket, Prefix=aborted).get("Uploads", [])
    expect(not pending, "an aborted upload is gone")
    expect(missing(s3, bucket, aborted), "an aborted upload leaves no object")

    for name in (key, big):
        s3.delete_object(Bucket=bucket, Key=name)
        expect(missing(s3, bucket, name), f"{name} deleted")
    print(f"s3 check passed: {os.environ.get('AWS_ENDPOINT_URL', 'AWS')} bucket {bucket}")


if __name__ == "__main__":
    try:
        main()
    except (BotoCoreError, ClientError) as error:
        sys.exit(f"s3 check failed: {error}")
