"""The API client against the emulator on loopback: token cache, documents, headers, error names."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
import requests
from bwp import errors
from bwp.client import BwpClient
from bwp.credentials import Credentials, SecretsManagerCredentials
from moto import mock_aws

from bwp_lake.emulator import Emulator, EmulatorConfig

DAY = ("2024-08-22T00:00:00Z", "2024-08-23T00:00:00Z")


class FixedCredentials:
    def __init__(self, client_id="local-client", client_secret="local-secret", target_id="local-target"):
        self.credentials = Credentials(clientId=client_id, clientSecret=client_secret, targetId=target_id)
        self.refreshed = 0

    def get(self) -> Credentials:
        return self.credentials

    def refresh(self) -> None:
        self.refreshed += 1


@pytest.fixture
def emulator():
    with Emulator(EmulatorConfig(seed=3, rows_per_day=10, generation_seconds=30.0)) as running:
        yield running


def client_for(base_url: str, credentials=None, timeout=(2.0, 5.0)) -> BwpClient:
    return BwpClient(
        session=requests.Session(),
        token_url=f"{base_url}/token",
        graphql_url=f"{base_url}/graphql",
        api_version="2024-11-01",
        credentials=credentials or FixedCredentials(),
        timeout=timeout,
    )


def test_a_report_goes_from_start_to_download_link_with_one_token(emulator):
    client = client_for(emulator.base_url)
    task_id = client.start_report_task("ORDER_FEES", *DAY)
    assert task_id.startswith("ORDER_FEES:")
    assert client.report_task(task_id).status in {"STARTED", "RUNNING"}
    emulator.advance(300)  # past the report's generation time, within the token's 15 minutes
    task = client.report_task(task_id)
    assert (task.status, task.report_type, task.task_id) == ("COMPLETED", "ORDER_FEES", task_id)
    assert client.report_download_link(task_id).startswith(emulator.base_url)
    # the token was requested once and reused for all four calls
    assert emulator.state()["calls"]["token"] == 1


def test_a_token_expired_at_the_api_is_refreshed_once_and_the_call_succeeds(emulator):
    client = client_for(emulator.base_url)
    task_id = client.start_report_task("USER_EVENTS", *DAY)
    emulator.advance(3600)  # past the token's 15 minutes on the API's clock
    assert client.report_task(task_id).status == "COMPLETED"
    assert emulator.state()["calls"]["token"] == 2


@pytest.mark.parametrize(
    ("faults", "raised"),
    [
        ({"throttle_rate": 1.0}, errors.ThrottlingException),
        ({"internal_error_rate": 1.0}, errors.InternalServerException),
        ({"http_500_rate": 1.0}, errors.ApiUnavailable),
    ],
)
def test_api_failures_raise_the_errors_the_state_machine_retries(emulator, faults, raised):
    client = client_for(emulator.base_url)
    client.start_report_task("ORDER_FEES", *DAY)  # a token first, so the fault hits GraphQL
    emulator.set_faults(**faults)
    with pytest.raises(raised):
        client.start_report_task("ORDER_FEES", *DAY)


def test_an_unknown_task_is_resource_not_found_with_the_apis_message(emulator):
    with pytest.raises(errors.ResourceNotFoundException, match="invalid or expired taskId"):
        client_for(emulator.base_url).report_task("ORDER_FEES:00000000-0000-4000-8000-000000000000")


def test_an_invalid_report_type_is_a_validation_error_naming_the_code(emulator):
    with pytest.raises(errors.ValidationException, match="InvalidReportType"):
        client_for(emulator.base_url).start_report_task("INVENTORY", *DAY)


def test_values_are_escaped_into_the_document_not_spliced(emulator):
    # a task id with a quote cannot break out of its string literal
    with pytest.raises(errors.ResourceNotFoundException):
        client_for(emulator.base_url).report_task('X") { status } #')


def test_wrong_credentials_are_access_denied_and_the_secret_is_read_again_next_time(emulator):
    credentials = FixedCredentials(client_secret="wrong")
    with pytest.raises(errors.AccessDeniedException, match="clientSecret"):
        client_for(emulator.base_url, credentials).start_report_task("ORDER_FEES", *DAY)
    # the refusal is final: one token request, and the secret is re-read before the next call
    assert credentials.refreshed == 1
    assert emulator.state()["calls"]["token"] == 1


def test_a_slow_api_times_out_instead_of_hanging(emulator):
    emulator.set_faults(latency_ms=5000)
    with pytest.raises(errors.ApiUnavailable, match="timed out"):
        client_for(emulator.base_url, timeout=(0.5, 0.5)).start_report_task("ORDER_FEES", *DAY)


def test_an_unreachable_api_is_transient():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(errors.ApiUnavailable):
        client_for(f"http://127.0.0.1:{port}").start_report_task("ORDER_FEES", *DAY)


@mock_aws
def test_credentials_come_from_the_secret_once_and_bad_secrets_are_named_without_values():
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secrets.create_secret(
        Name="good", SecretString=json.dumps({"clientId": "id", "clientSecret": "s3cr3t-value", "targetId": "t"})
    )
    secrets.create_secret(Name="bad", SecretString=json.dumps({"clientId": "id", "clientSecret": "s3cr3t-value"}))
    provider = SecretsManagerCredentials(secrets, "good")
    assert provider.get().client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(provider.get())
    secrets.put_secret_value(
        SecretId="good", SecretString=json.dumps({"clientId": "id2", "clientSecret": "x", "targetId": "t"})
    )
    assert provider.get().client_id == "id"  # cached
    provider.refresh()
    assert provider.get().client_id == "id2"
    with pytest.raises(errors.CredentialsMisconfigured, match="lacks a field") as refused:
        SecretsManagerCredentials(secrets, "bad").get()
    assert "s3cr3t-value" not in str(refused.value)
