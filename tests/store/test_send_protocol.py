"""The send protocol against the fake SendGrid: the attempt is written before the call and the
outcome after, so two hosts never both send a key, a crash between SendGrid's 202 and the write
never sends a customer email twice (the CSM gets the message to check and resend), a refusal
can be retried, and Slack, which may repeat, is simply posted again."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fakes import FakeSendGrid, FakeSlack
from support import acme, settings_for
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from activities.render import Renderer
from activities.slack import SlackActivities
from activities.store import Ledger, PostgresLedger, SqliteLedger
from csrunner.domain.errors import DELIVERY_UNKNOWN, TRANSIENT
from csrunner.domain.messages import EmailRequest, ResendRequest, SlackRequest, UnsureEmail


def _request(key: str) -> EmailRequest:
    account = acme()
    return EmailRequest(
        key=key, account=account, contact=account.contact("champion"), template="onboarding_welcome"
    )


def _email(settings, ledger: Ledger) -> EmailActivities:
    return EmailActivities(settings, Renderer(settings.templates_dir), ledger)


def test_two_hosts_racing_the_same_keys_send_each_once(tmp_path, database_url):
    with FakeSendGrid() as sg:
        hosts = [  # own DATA_DIRs, one DATABASE_URL
            _email(settings_for(tmp_path / name, sg), PostgresLedger(database_url, name))
            for name in ("host-a", "host-b")
        ]
        keys = [f"wf-{i}/onboarding/day0-welcome" for i in range(8)]

        def send(host: EmailActivities, key: str, start: threading.Barrier) -> str:
            start.wait()
            try:
                return "duplicate" if host.send_email(_request(key)).duplicate else "sent"
            except ApplicationError as e:
                assert e.type == TRANSIENT and "retry later" in e.message  # the other is sending it
                return "in flight"

        with ThreadPoolExecutor(2) as pool:
            for key in keys:
                start = threading.Barrier(2)
                outcomes = sorted(pool.map(lambda h, k=key, b=start: send(h, k, b), hosts))
                assert outcomes in (["duplicate", "sent"], ["in flight", "sent"])
        for host in hosts:  # the losers' retries find the outcome
            assert all(host.send_email(_request(k)).duplicate for k in keys)
            host.ledger.close()
    assert sorted(sg.custom_arg_values("idempotency_key")) == sorted(keys)
    assert len(sg.messages) == len(keys)


def test_an_attempt_with_no_outcome_is_not_sent_again_but_resent_on_request(tmp_path):
    key = "wf/onboarding/day0-welcome"
    with FakeSendGrid() as sg:
        settings = settings_for(tmp_path, sg)
        crashed = SqliteLedger(tmp_path / "l.sqlite3", "dead-worker")
        crashed.begin(key, "sendgrid", "to ana")  # then the process died: no outcome
        email = _email(settings, SqliteLedger(tmp_path / "l.sqlite3", "w2", in_flight_seconds=0))
        with pytest.raises(ApplicationError) as caught:
            email.send_email(_request(key))
        assert caught.value.type == DELIVERY_UNKNOWN and caught.value.non_retryable
        unsure = UnsureEmail.model_validate(caught.value.details[0])
        assert sg.messages == []
        assert unsure.key == key and unsure.to == "ana@acme.example" and unsure.subject and unsure.text
        resend = ResendRequest(key=f"{key}#resend-1", email=unsure)
        first, again = email.resend_email(resend), email.resend_email(resend)
    assert not first.duplicate and again.duplicate
    assert sg.custom_arg_values("idempotency_key") == {f"{key}#resend-1": 1}
    assert sg.messages[0]["subject"] == unsure.subject


def test_a_500_then_a_retry_sends_once(tmp_path):
    key = "wf/onboarding/day0-welcome"
    with FakeSendGrid() as sg:
        ledger = SqliteLedger(tmp_path / "l.sqlite3", "w1")
        email = _email(settings_for(tmp_path, sg), ledger)
        sg.fail_next(500)
        with pytest.raises(ApplicationError) as caught:
            email.send_email(_request(key))
        assert caught.value.type == TRANSIENT and ledger.row(key)["state"] == "failed"
        assert not email.send_email(_request(key)).duplicate
        assert email.send_email(_request(key)).duplicate
    assert [r.status for r in sg.requests] == [500, 202]
    assert sg.count_custom_arg("idempotency_key", key) == 1


def test_a_429_is_not_retried_before_its_reset_even_by_another_worker(tmp_path):
    """The reset is kept with the failure: a worker killed after the 429, whose attempt Temporal
    retries at once, or another host, still waits for it."""
    key = "wf/onboarding/day0-welcome"
    reset = {
        "X-RateLimit-Limit": "600",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + 30:.0f}",
    }
    with FakeSendGrid() as sg:
        settings = settings_for(tmp_path, sg)
        email = _email(settings, SqliteLedger(tmp_path / "l.sqlite3", "w1"))
        sg.fail_next(429, headers=reset)
        with pytest.raises(ApplicationError) as limited:
            email.send_email(_request(key))
        other = _email(settings, SqliteLedger(tmp_path / "l.sqlite3", "w2"))
        with pytest.raises(ApplicationError) as early:
            other.send_email(_request(key))
    assert limited.value.type == TRANSIENT and early.value.type == TRANSIENT
    for e in (limited.value, early.value):
        assert e.next_retry_delay is not None and 25 <= e.next_retry_delay.total_seconds() <= 31
    assert [r.status for r in sg.requests] == [429]  # the early retry never reached SendGrid


def test_a_refused_connection_may_be_retried(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    settings = settings_for(tmp_path).model_copy(
        update={"sendgrid_api_key": "SG.test-key", "sendgrid_api_host": f"http://127.0.0.1:{port}"}
    )
    ledger = SqliteLedger(tmp_path / "l.sqlite3", "w1")
    with pytest.raises(ApplicationError) as caught:
        _email(settings, ledger).send_email(_request("k"))
    assert caught.value.type == TRANSIENT and ledger.row("k")["state"] == "failed"


def test_a_request_left_without_an_answer_is_unknown(tmp_path):
    """SendGrid took the request and the connection dropped: maybe sent, so never re-sent."""
    server = socket.create_server(("127.0.0.1", 0))

    def swallow() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.close()

    threading.Thread(target=swallow, daemon=True).start()
    host = f"http://127.0.0.1:{server.getsockname()[1]}"
    settings = settings_for(tmp_path).model_copy(
        update={"sendgrid_api_key": "SG.test-key", "sendgrid_api_host": host}
    )
    ledger = SqliteLedger(tmp_path / "l.sqlite3", "w1")
    with pytest.raises(ApplicationError) as caught:
        _email(settings, ledger).send_email(_request("k"))
    server.close()
    assert caught.value.type == DELIVERY_UNKNOWN and ledger.row("k")["state"] == "unknown"


def test_slack_with_an_unknown_outcome_is_posted_again(tmp_path):
    """Internal messages may repeat: no attempt row stops them."""

    class DiesAfterPosting(SqliteLedger):
        died = False

        def put(self, key, channel, result):
            if not self.died:
                self.died = True
                raise RuntimeError("the worker died before writing the outcome")
            super().put(key, channel, result)

    with FakeSlack() as slack:
        settings = settings_for(tmp_path, slack=slack)
        activities = SlackActivities(
            settings, Renderer(settings.templates_dir), DiesAfterPosting(tmp_path / "l")
        )
        account = acme().model_copy(update={"metrics": {"nps_score": 2, "nps_comment": "slow"}})
        req = SlackRequest(key="wf/nps", account=account, to="U01CARLOS", template="nps_detractor")
        with pytest.raises(RuntimeError):
            activities.post_slack(req)
        assert not activities.post_slack(req).duplicate
        assert activities.post_slack(req).duplicate
    assert len(slack.messages) == 2
