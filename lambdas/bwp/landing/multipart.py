"""An S3 multipart upload written as a stream: parts fill, upload behind, and complete or abort.

At most ``MAX_PARTS_IN_FLIGHT`` parts wait for S3 while the next one fills, so memory stays flat
whatever the object's size. The object appears only when the upload completes; an aborted upload
leaves nothing behind, so an object is written whole or not at all.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from bwp.observability import logger

DEFAULT_PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts, except the last one
# One part uploading while the next waits and a third fills: uploads overlap the download.
MAX_PARTS_IN_FLIGHT = 2


class MultipartUpload:
    """Parts of at least ``part_size`` bytes, uploaded by one background thread while the next fills."""

    def __init__(self, s3, bucket: str, key: str, part_size: int, content_type: str = "application/gzip") -> None:
        self._s3, self._bucket, self._key, self._part_size = s3, bucket, key, part_size
        # application/gzip and no Content-Encoding: with Content-Encoding: gzip, HTTP clients
        # (browsers, some SDKs) would silently inflate the object on download, and the bytes would
        # no longer match bytesOut. Athena recognises gzip by the .csv.gz suffix, not by headers.
        # CRC32 per part lets S3 check each part's bytes end to end, as boto3's transfer manager does.
        self._upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, ChecksumAlgorithm="CRC32"
        )["UploadId"]
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-upload")
        self._in_flight: deque[Future] = deque()
        self._done: list[dict] = []
        self._buffer = bytearray()
        self.parts = 0
        self.bytes_out = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_out += len(data)
        if len(self._buffer) >= self._part_size:
            self._send()

    def _send(self) -> None:
        # A failed part stops the landing at the next part, not at the end.
        while self._in_flight and (self._in_flight[0].done() or len(self._in_flight) >= MAX_PARTS_IN_FLIGHT):
            self._done.append(self._in_flight.popleft().result())
        self.parts += 1
        # The filled buffer itself goes to S3 (no copy of the part) and a new one fills.
        part, self._buffer = self._buffer, bytearray()
        self._in_flight.append(self._pool.submit(self._upload_part, self.parts, part))

    def _upload_part(self, number: int, body: bytearray) -> dict:
        answer = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]}

    def complete(self) -> None:
        if self._buffer:
            self._send()
        self._done.extend(future.result() for future in self._in_flight)
        self._in_flight.clear()
        self._pool.shutdown()
        self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._done},
        )

    def abort(self) -> None:
        for future in self._in_flight:
            future.cancel()
        self._pool.shutdown(wait=True)
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
        except Exception:
            # The original error matters more; the bucket's lifecycle rule removes the parts later.
            logger.exception("could not abort the multipart upload", extra={"key": self._key})
