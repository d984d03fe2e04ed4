"""POST /graphql: the documentation's requests verbatim, and real parsing and validation of the rest."""

from __future__ import annotations

import re

import pytest

from tests.emulator.support import (
    MILLIS,
    SEED_DOWNLOAD_LINK,
    SEED_EXPIRED_RESPONSE,
    SEED_REPORT_TASK,
    SEED_START_ORDER_FEES,
    SEED_START_USER_EVENTS,
    SEED_TASK_ID,
    TIMEOUT,
    UUID4,
    classification,
)


@pytest.mark.parametrize(
    ("document", "report_type"), [(SEED_START_USER_EVENTS, "USER_EVENTS"), (SEED_START_ORDER_FEES, "ORDER_FEES")]
)
def test_the_documented_start_report_task_request_works_verbatim(api, emulator, document, report_type):
    answer = api.graphql(document, operationName="StartReportTask")
    assert list(answer) == ["data"] and list(answer["data"]["startReportTask"]) == ["taskId"]
    task_id = answer["data"]["startReportTask"]["taskId"]
    assert re.fullmatch(f"{report_type}:{UUID4}", task_id)
    (task,) = emulator.state()["tasks"]
    assert (task["startDate"], task["endDate"]) == ("2023-06-01T20:58:49.000Z", "2024-06-03T20:58:49.000Z")


def test_the_documented_report_task_request_answers_like_the_documented_response(api):
    task_id = api.start_task("USER_EVENTS")
    answer = api.graphql(SEED_REPORT_TASK.replace("example-task-id", task_id), operationName="ReportTask")
    task = answer["data"]["reportTask"]
    assert list(answer) == ["data"]
    assert list(task) == ["status", "requestTime", "lastUpdatedTime", "reportType", "taskId"]
    assert task["status"] == "STARTED" and task["reportType"] == "USER_EVENTS" and task["taskId"] == task_id
    assert re.fullmatch(MILLIS, task["requestTime"]) and re.fullmatch(MILLIS, task["lastUpdatedTime"])
    assert task["lastUpdatedTime"] > task["requestTime"]


def test_the_documented_report_task_request_for_an_unknown_id_gets_the_documented_error(api):
    assert api.graphql(SEED_REPORT_TASK, operationName="ReportTask") == SEED_EXPIRED_RESPONSE


def test_the_documented_download_link_request_works_verbatim(api):
    # given the documented request, for an id that does not exist here: the documented error shape
    answer = api.graphql(SEED_DOWNLOAD_LINK, operationName="Query")
    assert answer["data"] == {"reportDownloadLink": None}
    assert answer["errors"][0]["path"] == ["reportDownloadLink"]
    assert answer["errors"][0]["locations"] == [{"line": 2, "column": 3}]
    assert classification(answer)["errorType"] == "ResourceNotFoundException"
    # and for a completed task, the documented answer: a downloadUrl
    task_id = api.completed_task("USER_EVENTS")
    document = SEED_DOWNLOAD_LINK.replace(SEED_TASK_ID, task_id)
    answer = api.graphql(document, operationName="Query")
    assert list(answer["data"]["reportDownloadLink"]) == ["downloadUrl"]
    assert answer["data"]["reportDownloadLink"]["downloadUrl"].startswith(f"{api.base}/downloads/")


def test_variables_and_operation_names_are_honoured(api):
    task_id = api.start_task()
    document = """
        query Other { reportTask(taskId: "unknown") { status } }
        query ReportTask($id: String!) { reportTask(taskId: $id) { taskId status } }
    """
    answer = api.graphql(document, operationName="ReportTask", variables={"id": task_id})
    assert answer == {"data": {"reportTask": {"taskId": task_id, "status": "STARTED"}}}


@pytest.mark.parametrize(
    ("document", "line", "column"),
    [
        ('query ReportTask {\n  reportTask(taskId: "x") {\n    status\n  ]\n}', 4, 3),
        ('mutation {\n  startReportTask(input: { reportType: "X" } { taskId }\n}', 2, 46),
        ('// GraphQL query\nquery Q { reportTask(taskId: "x") { status } }', 1, 1),
    ],
)
def test_a_malformed_document_gets_a_syntax_error_with_its_location(api, document, line, column):
    answer = api.graphql(document)
    assert "data" not in answer
    (error,) = answer["errors"]
    assert error["message"].startswith("Syntax Error")
    assert error["locations"] == [{"line": line, "column": column}]
    assert classification(answer)["errorType"] == "ValidationException"


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ('query { reportTask(taskId: "x") { status color } }', "color"),
        ("query { reportTask { status } }", "taskId"),
        ("query { reportTask(taskId: 42) { status } }", "String"),
        ("mutation { startReportTask(input: { reportType: ORDER_FEES }) { taskId } }", "String"),
        ('query { reportTask(taskId: "x") }', "selection of subfields"),
        ('mutation { startReportTask(input: { reportType: "ORDER_FEES", color: "red" }) { taskId } }', "color"),
    ],
)
def test_a_document_the_schema_does_not_allow_gets_errors_with_locations(api, emulator, document, complaint):
    answer = api.graphql(document)
    assert "data" not in answer
    assert any(complaint in error["message"] for error in answer["errors"])
    assert all(error["locations"] for error in answer["errors"])
    assert emulator.state()["tasks"] == []


@pytest.mark.parametrize("body", [b"not json", b'["query"]', b'{"query": 1}', b'{"query": "{ x }", "variables": 1}'])
def test_a_body_that_is_not_a_graphql_request_is_a_bad_request(api, body):
    response = api.session.post(f"{api.base}/graphql", data=body, headers=api.headers(), timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["errors"]


def test_a_variable_of_the_wrong_type_is_refused_before_anything_runs(api, emulator):
    answer = api.graphql("query Q($id: String!) { reportTask(taskId: $id) { status } }", variables={"id": 7})
    assert answer["data"] is None and "$id" in answer["errors"][0]["message"]
    assert classification(answer)["errorType"] == "ValidationException"
