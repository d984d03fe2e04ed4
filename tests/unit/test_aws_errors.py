"""AWS SDK failures: the transient ones become AwsUnavailable (retried), the rest keep their names."""

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from bwp.aws import transient_aws_errors
from bwp.errors import AwsUnavailable


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"
    )


@pytest.mark.parametrize(
    "error",
    [
        client_error("SlowDown", 503),
        client_error("InternalError", 500),
        client_error("ThrottlingException", 400),
        EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
    ],
)
def test_throttling_server_errors_and_unreachable_endpoints_are_transient(error):
    with pytest.raises(AwsUnavailable, match="landing reports/x"), transient_aws_errors("landing reports/x"):
        raise error


@pytest.mark.parametrize("code", ["AccessDenied", "NoSuchBucket"])
def test_permanent_errors_keep_their_own_name(code):
    with pytest.raises(ClientError), transient_aws_errors("landing"):
        raise client_error(code, 403 if code == "AccessDenied" else 404)
