"""pyiceberg's FileIO over a boto3 S3 client: every metadata, manifest and data file of the tables
is read and written through the client the caller passes in.

pyiceberg's own FileIOs (pyarrow's S3 filesystem, fsspec's s3fs) open their own HTTP connections:
moto's in-process mock, which the unit tests and the local twin run S3 on, never sees them, and in
AWS they would be a second SDK with its own credentials, retries and timeouts. With this one the
tables take the same client as every other step, in AWS, in the twin and in the tests alike.

pyiceberg builds a FileIO from string properties alone (``py-io-impl``), in places the catalog
cannot reach (``load_file_io``), so the client is named in the properties by a key into this
module's registry (``file_io_properties``), which holds it for as long as its owner does.
"""

from __future__ import annotations

import io
import weakref
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError
from pyiceberg.io import PY_IO_IMPL, FileIO, InputFile, InputStream, OutputFile, OutputStream
from pyiceberg.typedef import EMPTY_DICT, Properties

from bwp.aws import not_found

CLIENT_PROPERTY = "bwp.s3-client"
_SCHEMES = ("s3", "s3a", "s3n")
_CLIENTS: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def file_io_properties(s3) -> dict[str, str]:
    """Catalog properties under which pyiceberg reads and writes every file through ``s3``."""
    key = f"{id(s3):x}"
    _CLIENTS[key] = s3
    return {PY_IO_IMPL: f"{S3ClientFileIO.__module__}.{S3ClientFileIO.__qualname__}", CLIENT_PROPERTY: key}


def s3_location(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def bucket_and_key(location: str) -> tuple[str, str]:
    parsed = urlparse(location)
    if parsed.scheme not in _SCHEMES or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an S3 object location: {location!r}")
    return parsed.netloc, parsed.path.lstrip("/")


class S3ClientFileIO(FileIO):
    def __init__(self, properties: Properties = EMPTY_DICT) -> None:
        super().__init__(properties)
        try:
            self._s3 = _CLIENTS[properties[CLIENT_PROPERTY]]
        except KeyError:
            raise ValueError(f"no S3 client registered for the catalog (property {CLIENT_PROPERTY})") from None

    def new_input(self, location: str) -> InputFile:
        return _S3InputFile(self._s3, location)

    def new_output(self, location: str) -> OutputFile:
        return _S3OutputFile(self._s3, location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        path = location if isinstance(location, str) else location.location
        bucket, key = bucket_and_key(path)
        self._s3.delete_object(Bucket=bucket, Key=key)


class _S3InputFile(InputFile):
    def __init__(self, s3, location: str) -> None:
        super().__init__(location)
        self._s3 = s3
        self._bucket, self._key = bucket_and_key(location)
        self._size: int | None = None

    def __len__(self) -> int:
        if self._size is None:
            try:
                self._size = int(self._s3.head_object(Bucket=self._bucket, Key=self._key)["ContentLength"])
            except ClientError as error:
                if not_found(error):
                    raise FileNotFoundError(self.location) from error
                raise
        return self._size

    def exists(self) -> bool:
        try:
            len(self)
        except FileNotFoundError:
            return False
        return True

    def open(self, seekable: bool = True) -> InputStream:
        return _RangedReader(self._s3, self._bucket, self._key, len(self))


class _RangedReader(io.RawIOBase):
    """A seekable, read-only object: each read is one ranged GET of the bytes asked for, so a
    Parquet footer or one column chunk is fetched without the rest of the file."""

    def __init__(self, s3, bucket: str, key: str, size: int) -> None:
        super().__init__()
        self._s3, self._bucket, self._key, self._size = s3, bucket, key, size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        end = min(self._position + len(buffer), self._size)
        if end <= self._position:
            return 0
        response = self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end - 1}")
        data = response["Body"].read()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._position
        buffer = bytearray(max(0, min(size, self._size - self._position)))
        read = self.readinto(buffer) if buffer else 0
        return bytes(buffer[:read])


class _S3OutputFile(OutputFile):
    def __init__(self, s3, location: str) -> None:
        super().__init__(location)
        self._s3 = s3
        self._bucket, self._key = bucket_and_key(location)

    def __len__(self) -> int:
        return len(self.to_input_file())

    def exists(self) -> bool:
        return self.to_input_file().exists()

    def to_input_file(self) -> InputFile:
        return _S3InputFile(self._s3, self.location)

    def create(self, overwrite: bool = False) -> OutputStream:
        if not overwrite and self.exists():
            raise FileExistsError(self.location)
        return _PutOnClose(self._s3, self._bucket, self._key)


class _PutOnClose(io.BytesIO):
    """The file's bytes, put as one object when closed: metadata and manifest files are small,
    and an object that appears whole or not at all is what a reader of the table must see."""

    def __init__(self, s3, bucket: str, key: str) -> None:
        super().__init__()
        self._s3, self._bucket, self._key = s3, bucket, key

    def close(self) -> None:
        if not self.closed:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=self.getvalue())
        super().close()

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is not None:
            super().close()  # a write that failed half-way leaves no object
        else:
            self.close()
