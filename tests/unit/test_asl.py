"""The ASL file: every placeholder is filled, every Task retries, every error name is real."""

import json

import pytest
from bwp import errors
from bwp.coordination import SLOT_LEASE, WAITER_LEASE
from bwp.lake.contract import MAP_RESULTS_PREFIX
from bwp.lake.settings import Settings
from bwp.polling import MAX_ATTEMPTS, MAX_POLLS, MAX_WAIT_SECONDS

from bwp_lake import definition as statemachine

DEFINITION = statemachine.ASL_PATH.read_text()


def all_states(states=None):
    """Every state, nested Map processors included, as (name, state)."""
    for name, state in (states or json.loads(DEFINITION)["States"]).items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from all_states(processor["States"])


def test_every_placeholder_has_a_substitution_and_every_substitution_is_used():
    expected = set(statemachine.FUNCTION_PLACEHOLDERS) | {statemachine.BUCKET_PLACEHOLDER}
    assert statemachine.placeholders(DEFINITION) == expected


def test_rendering_fills_every_placeholder_and_refuses_to_leave_one_unfilled():
    arns = {
        name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in statemachine.FUNCTION_PLACEHOLDERS
    }
    arns[statemachine.BUCKET_PLACEHOLDER] = "lake"
    rendered = statemachine.render(DEFINITION, arns)
    assert "${" not in rendered
    json.loads(rendered)
    arns.pop("LandReportFunctionArn")
    with pytest.raises(KeyError, match="LandReportFunctionArn"):
        statemachine.render(DEFINITION, arns)


def test_every_task_has_a_bounded_retry_with_backoff_and_jitter():
    tasks = [(name, state) for name, state in all_states() if state["Type"] == "Task"]
    assert len(tasks) == len(statemachine.FUNCTION_PLACEHOLDERS)
    for name, state in tasks:
        assert state.get("Retry"), f"{name} has no Retry"
        for retrier in state["Retry"]:
            assert retrier["MaxAttempts"] >= 1, name
            assert retrier["BackoffRate"] >= 1, name
            assert retrier.get("JitterStrategy") == "FULL", name
            assert retrier.get("MaxDelaySeconds"), name
            # Bounded in time (a day, well inside the 7-day execution limit) and in history
            # events (three per attempt, against a child execution's 25,000).
            assert worst_case_delay_seconds(retrier) <= 26 * 3600, (name, retrier["ErrorEquals"])
            assert 3 * retrier["MaxAttempts"] <= 5000, (name, retrier["ErrorEquals"])


def worst_case_delay_seconds(retrier):
    total, delay = 0.0, retrier["IntervalSeconds"]
    for _ in range(retrier["MaxAttempts"]):
        total += min(delay, retrier["MaxDelaySeconds"])
        delay = min(delay * retrier["BackoffRate"], retrier["MaxDelaySeconds"])
    return total


RETRY_POLICY_FIELDS = ("IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy")


def test_each_group_of_errors_is_retried_with_one_policy_wherever_it_appears():
    # given every Retry entry of every Task, grouped by the errors it matches
    policies = {}
    for name, state in all_states():
        for retrier in state.get("Retry", []):
            policy = tuple(retrier.get(field) for field in RETRY_POLICY_FIELDS)
            policies.setdefault(tuple(retrier["ErrorEquals"]), {}).setdefault(policy, []).append(name)
    # then each group has one policy, copied the same into every state that retries it
    differing = {group: used for group, used in policies.items() if len(used) > 1}
    assert not differing, f"one group of errors, several retry policies: {differing}"
    # and the groups every API step shares are among them
    shared = ("Plan windows", "Start report", "Check report", "Land report")
    for group in (("ThrottlingException",), ("ApiUnavailable", "InternalServerException", "AwsUnavailable")):
        (states,) = policies[group].values()
        assert set(shared) <= set(states), group


def restart_choice():
    (choice,) = dict(all_states())["Restart allowed?"]["Choices"]
    return choice


def test_a_window_is_started_at_most_max_attempts_times():
    # given the restart choice: the attempt that just failed is restarted only below the limit
    choice = restart_choice()
    assert (choice["Variable"], choice["Next"]) == ("$.attempt", "Restart report")
    # then the limit is the one the code names, and the first attempt is attempt 1
    assert choice["NumericLessThan"] == MAX_ATTEMPTS
    processor = json.loads(DEFINITION)["States"]["Ingest each window"]
    assert processor["ItemSelector"]["attempt"] == 1
    # and every attempt polling to the cap (9 history events a poll) fits in a child execution's history
    assert MAX_ATTEMPTS * MAX_POLLS * 9 < 25_000


def test_throttling_is_retried_wherever_the_api_is_called():
    for name, state in all_states():
        if state["Type"] == "Task" and name not in ("Plan windows", "Commit curated tables", "Summarize the run"):
            retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
            assert "ThrottlingException" in retried, name


def test_every_error_name_the_asl_matches_is_raised_by_our_code_or_by_aws():
    ours = {cls.__name__ for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, Exception)}
    for name, state in all_states():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            for error in rule["ErrorEquals"]:
                assert error in ours or error.startswith(("States.", "Lambda.")), f"{name}: unknown error {error}"


def test_state_names_are_phrases_and_every_next_exists():
    states = dict(all_states())
    for name, state in states.items():
        assert name[0].isupper() and (" " in name), f"state name {name!r} should read as a phrase"
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        targets += [catcher["Next"] for catcher in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} -> {target} does not exist"


def test_every_transient_error_our_code_raises_is_retried_where_it_can_be_raised():
    # given the errors the code declares transient
    transient = {cls.__name__ for cls in errors.TRANSIENT}
    # then every API step retries every one of them, but those that only one step can raise
    states = dict(all_states())
    raised_by_one_step = {
        "CuratedCommitConflict": "Commit curated tables",
        "DownloadInterrupted": "Land report",
        "DownloadLinkExpired": "Land report",
        "TaskSlotsBusy": "Start report",
    }
    for name in ("Start report", "Check report", "Land report"):
        expected = {error for error in transient if raised_by_one_step.get(error, name) == name}
        retried = {error for retrier in states[name]["Retry"] for error in retrier["ErrorEquals"]}
        assert expected <= retried, f"{name} does not retry {expected - retried}"
    # and the commit, which calls S3 and the catalog only, retries their failures and a lost race
    retried = {error for retrier in states["Commit curated tables"]["Retry"] for error in retrier["ErrorEquals"]}
    assert {"AwsUnavailable", "CuratedCommitConflict"} <= retried
    # and nothing else of ours is retried anywhere: a permanent error fails its window at once
    ours_retried = {
        error
        for _, state in all_states()
        for retrier in state.get("Retry", [])
        for error in retrier["ErrorEquals"]
        if not error.startswith(("States.", "Lambda."))
    }
    assert ours_retried == transient


MAP = json.loads(DEFINITION)["States"]["Ingest each window"]


def test_the_map_reads_its_windows_from_the_plan_object_not_from_a_payload():
    # given the Distributed Map: its items come from the S3 object Plan windows wrote
    assert "ItemsPath" not in MAP and "Items" not in MAP
    reader = MAP["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert reader["Parameters"] == {"Bucket.$": "$.plan.bucket", "Key.$": "$.plan.key"}


def test_the_map_writes_every_childs_result_to_the_bucket_and_tolerates_every_failure():
    # given the Map's results: they go to result files under the contract's prefix, not to its output
    writer = MAP["ResultWriter"]
    assert writer["Resource"] == "arn:aws:states:::s3:putObject"
    assert writer["Parameters"]["Bucket"] == "${" + statemachine.BUCKET_PLACEHOLDER + "}"
    assert writer["Parameters"]["Prefix"] + "/" == MAP_RESULTS_PREFIX
    # and no child's failure fails the Map: Summarize always runs and records it
    assert MAP["ToleratedFailurePercentage"] == 100
    assert "ToleratedFailureCount" not in MAP and MAP["Next"] == "Commit curated tables"
    assert "Catch" not in MAP


def test_the_commit_runs_once_after_the_map_and_summarize_always_follows_it():
    # given the commit state: one task after the Map, reading the Map's result files
    commit = json.loads(DEFINITION)["States"]["Commit curated tables"]
    assert commit["Parameters"]["mapResults"] == {
        "bucket.$": "$.results.ResultWriterDetails.Bucket",
        "key.$": "$.results.ResultWriterDetails.Key",
    }
    # then a lost race is retried with backoff and jitter, a bounded number of times
    (conflict,) = [r for r in commit["Retry"] if "CuratedCommitConflict" in r["ErrorEquals"]]
    assert conflict["JitterStrategy"] == "FULL" and conflict["BackoffRate"] > 1 and conflict["MaxAttempts"] <= 10
    # and whatever it ends with, its output or its error goes to Summarize under $.commit
    assert commit["Next"] == "Summarize the run" and commit["ResultPath"] == "$.commit"
    assert commit["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.commit", "Next": "Summarize the run"}]
    assert json.loads(DEFINITION)["States"]["Summarize the run"]["Parameters"]["commit.$"] == "$.commit"


def test_summarize_is_handed_locations_and_settings_never_the_windows():
    parameters = json.loads(DEFINITION)["States"]["Summarize the run"]["Parameters"]
    assert parameters["plan.$"] == "$.plan"
    assert parameters["mapResults"] == {
        "bucket.$": "$.results.ResultWriterDetails.Bucket",
        "key.$": "$.results.ResultWriterDetails.Key",
    }
    assert not any(value in ("$", "$.results") for value in parameters.values())


def task_calling(placeholder):
    """The Task state that invokes the function the definition names ``placeholder``."""
    (state,) = [state for _, state in all_states() if state.get("Resource") == "${" + placeholder + "}"]
    return state


def request_seconds():
    """How long one request to the API may take: its connect and read timeouts."""
    return Settings.default_of("connect_timeout_seconds") + Settings.default_of("read_timeout_seconds")


def test_a_slots_lease_outlasts_the_longest_gap_between_two_polls():
    # given the loop that renews a slot's lease: each Check report of a task in progress renews it,
    # after a Wait of the polling's waitSeconds
    wait = dict(all_states())["Wait for report"]
    assert (wait["SecondsPath"], wait["Next"]) == ("$.report.waitSeconds", "Check report")
    check = task_calling("CheckReportFunctionArn")
    # when the longest Wait is followed by a check that every one of its retries fails but the
    # last, each failed attempt ending within one request's timeouts
    retriers = check["Retry"]
    attempts = 1 + sum(retrier["MaxAttempts"] for retrier in retriers)
    gap = (
        MAX_WAIT_SECONDS + sum(worst_case_delay_seconds(retrier) for retrier in retriers) + attempts * request_seconds()
    )
    # then the lease has not run out: a live window's slot is never taken for a dead one's
    assert gap < SLOT_LEASE.total_seconds(), (gap, SLOT_LEASE)


def test_a_waiters_lease_outlasts_the_longest_gap_between_two_asks_for_a_slot():
    # given the retry that makes a waiting window ask again: TaskSlotsBusy on Start report
    (busy,) = [
        retrier
        for retrier in task_calling("StartReportFunctionArn")["Retry"]
        if retrier["ErrorEquals"] == ["TaskSlotsBusy"]
    ]
    # when it waits its longest (full jitter never waits longer than the capped delay) and asks
    # again within one request's timeouts
    gap = busy["MaxDelaySeconds"] + request_seconds()
    # then its place in the queue is still held: a window waits its turn, not behind late comers
    assert gap < WAITER_LEASE.total_seconds(), (gap, WAITER_LEASE)
