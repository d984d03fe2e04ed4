"""Several merchants (stores) served at once: each its own credentials, tasks, limit and data."""

from __future__ import annotations

from datetime import date

import pytest

from bwp_lake.emulator import EmulatorConfig
from bwp_lake.emulator.config import DEFAULT_CLIENT_ID, Merchant, derived_merchants
from bwp_lake.emulator.reports import report_bytes
from tests.emulator.support import ApiClient, classification

DAY, DAY_START, DAY_END = date(2024, 8, 22), "2024-08-22T00:00:00Z", "2024-08-23T00:00:00Z"


@pytest.fixture
def two_stores(make_emulator):
    emulator = make_emulator(merchants=derived_merchants(2, seed=7))
    first, second = (ApiClient(emulator, credentials) for credentials in emulator.all_credentials)
    return emulator, first, second


def test_each_merchant_gets_a_token_for_its_own_target_only(two_stores):
    # given two stores, each with a token of its own
    _, first, second = two_stores
    assert first.token_response().status_code == 200 and second.token_response().status_code == 200
    assert "errors" not in first.start() and "errors" not in second.start()
    # when the first store's token is sent with the second store's target id
    crossed = {**first.headers(), "x-api-target-id": second.credentials["targetId"]}
    answer = first.post_graphql('query { reportTask(taskId: "ORDER_FEES:x") { status } }', headers=crossed).json()
    # then it is refused as any target the credentials may not use is
    assert classification(answer) == {
        "type": "AccessDeniedError",
        "errorType": "AccessDeniedException",
        "errorCode": 403,
    }
    assert answer["errors"][0]["message"] == "x-api-target-id is 'store-2', not a target these credentials may use"
    assert answer["data"] == {"reportTask": None}


def test_one_merchants_secret_does_not_open_another_merchants_client(two_stores):
    _, first, second = two_stores
    response = first.token_response(client_secret=second.credentials["clientSecret"])
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_the_five_task_limit_counts_per_merchant(two_stores):
    # given five tasks in progress for the first store
    emulator, first, second = two_stores
    for _ in range(5):
        first.start_task()
    # when the second store starts five of its own
    started = [second.start_task() for _ in range(5)]
    # then they are all accepted, while each store's sixth is throttled
    assert len(started) == 5
    for client in (first, second):
        assert classification(client.start())["errorType"] == "ThrottlingException"
    state = emulator.state()
    assert [task["targetId"] for task in state["tasks"]] == ["store-1"] * 5 + ["store-2"] * 5
    most = [(merchant["targetId"], merchant["maxConcurrentInProgress"]) for merchant in state["merchants"]]
    assert most == [("store-1", 5), ("store-2", 5)]
    assert state["maxConcurrentInProgress"] == 5


def test_a_merchants_task_does_not_exist_for_another_merchant(two_stores):
    # given a completed task of the first store
    emulator, first, second = two_stores
    task_id = first.completed_task()
    never = second.task("ORDER_FEES:00000000-0000-4000-8000-000000000000")
    # when the second store asks for its status or its link, then it is not found, as an unknown id is
    assert second.task(task_id) == never
    link = second.link(task_id)
    assert classification(link)["errorType"] == "ResourceNotFoundException" and link["data"] == {
        "reportDownloadLink": None
    }
    # and the owner still sees it
    assert first.status(task_id) == "COMPLETED" and "errors" not in first.link(task_id)


def test_two_merchants_reports_of_the_same_day_differ_and_each_is_its_own_seeds(two_stores):
    emulator, first, second = two_stores
    served = [
        client.get(client.download_url(client.completed_task("ORDER_FEES", DAY_START, DAY_END))).content
        for client in (first, second)
    ]
    assert served[0] != served[1]
    expected = [
        b"".join(report_bytes("ORDER_FEES", DAY, merchant.seed, emulator.config.rows_per_day))
        for merchant in emulator.config.merchants
    ]
    assert served == expected


def test_the_state_counts_calls_per_merchant(two_stores):
    # given the first store starting a task and downloading it, and the second querying once
    emulator, first, second = two_stores
    task_id = first.completed_task()
    first.get(first.download_url(task_id))
    second.task(task_id)
    # then each store's calls are its own, and the totals are their sum
    state = emulator.state()
    calls = {merchant["targetId"]: merchant["calls"] for merchant in state["merchants"]}
    assert calls == {
        # two tokens: completing the task moved the clock past the first one's fifteen minutes
        "store-1": {"token": 2, "startReportTask": 1, "reportTask": 1, "reportDownloadLink": 1, "download": 1},
        "store-2": {"token": 1, "startReportTask": 0, "reportTask": 1, "reportDownloadLink": 0, "download": 0},
    }
    assert state["calls"] == {name: calls["store-1"][name] + calls["store-2"][name] for name in state["calls"]}
    emulator.reset()
    assert all(set(merchant["calls"].values()) == {0} for merchant in emulator.state()["merchants"])


def test_by_default_one_merchant_is_served_with_todays_credentials_and_seed():
    config = EmulatorConfig(seed=3)
    assert config.merchants == (Merchant("local-target", DEFAULT_CLIENT_ID, "local-secret", 3),)
    assert EmulatorConfig(client_secret="other").merchants[0].client_secret == "other"


def test_derived_stores_are_numbered_from_one_each_with_the_next_seed():
    assert derived_merchants(3, seed=7) == (
        Merchant("store-1", "store-1-client", "store-1-secret", 7),
        Merchant("store-2", "store-2-client", "store-2-secret", 8),
        Merchant("store-3", "store-3-client", "store-3-secret", 9),
    )


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"merchants": (Merchant("a", "c1", "s", 1), Merchant("a", "c2", "s", 2))}, "own target id; shared: a"),
        ({"merchants": (Merchant("a", "c", "s", 1), Merchant("b", "c", "s", 2))}, "own client id; shared: c"),
        ({"merchants": (Merchant("a", "c", "", 1),)}, "must not be empty"),
        ({"merchants": derived_merchants(2, seed=1), "target_id": "t"}, "either merchants or client_id"),
    ],
)
def test_a_bad_list_of_merchants_is_refused_naming_the_problem(settings, problem):
    with pytest.raises(ValueError, match=problem):
        EmulatorConfig(**settings)


@pytest.mark.parametrize("count", [0, 101])
def test_a_number_of_stores_out_of_range_is_refused(count):
    with pytest.raises(ValueError, match="between 1 and 100"):
        derived_merchants(count, seed=7)
