"""AWS SDK failures that are worth retrying, under one name the state machine retries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from bwp.errors import AwsUnavailable

_THROTTLED = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"})
_UNREACHABLE = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


@contextmanager
def transient_aws_errors(what: str) -> Iterator[None]:
    """Raise ``AwsUnavailable`` for throttling, 5xx and connection failures; others pass as they are.

    The SDK has already retried these a few times; what is left for the state machine is a
    retry with a longer backoff. Permanent errors (access denied, no such bucket) keep their
    own names and fail the window at once.
    """
    try:
        yield
    except _UNREACHABLE as error:
        raise AwsUnavailable(f"{what}: {type(error).__name__}") from error
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLED or status >= 500:
            raise AwsUnavailable(f"{what}: {code or 'HTTP'} {status}") from error
        raise


def object_exists(s3, bucket: str, key: str) -> bool:
    """Whether ``key`` is in ``bucket`` now (a HEAD request; a 404 is an answer, not an error)."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if not_found(error):
            return False
        raise
    return True


def not_found(error: ClientError) -> bool:
    """S3's answer that the object is not there (GET says NoSuchKey, HEAD a bare 404)."""
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")
