"""A scheduled report cannot vanish: leases that lapse and are taken over, retries of what may
pass (refused connections, 4xx, a silent server) within the grace time, 5xx ending the slot
``failed`` with the server's words, a non-zero exit, ``aggregator deliveries`` and ``--resend``;
and still exactly once when six processes race for a slot and the winner is killed."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from loopback import Inbox, free_port, smtp_server
from scheduled import cli, command, mailing

from aggregator.app.schedule import Job, Outcome, Schedule, Scheduler, Slot
from aggregator.collection.store import Store
from aggregator.errors import DeliveryError, RetriableDeliveryError

SLOT = "weekly@2024-06-03T02:30"
SLOT_KEY = "2024-06-03T02:30 Europe/Berlin"


def _slot() -> Slot:
    return Schedule("weekly", "30 2 * * 1", "UTC").slot_at(datetime(2024, 6, 3, 2, 30))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 6, 3, 2, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


# --- the scheduler, on a fake clock ----------------------------------------------------------------


def _job(send, **options) -> Job:
    """A weekly job whose collection is done at once; ``send`` is what the test is about."""

    async def prepare(slot):
        return "message"

    return Job(Schedule("weekly", "30 2 * * 1"), prepare, send, **options)


async def test_a_failure_that_may_pass_is_retried_with_growing_waits_until_it_is_accepted(tmp_path):
    clock = Clock()
    tries: list[datetime] = []

    async def send(slot, prepared):
        tries.append(clock.now)
        if len(tries) < 3:
            raise RetriableDeliveryError("SMTP 127.0.0.1:25 (none): the server answered 451 try later")
        return Outcome(message_id="<m@x>", detail="accepted")

    job = _job(send, grace=timedelta(hours=1))
    with Store(tmp_path / "h.sqlite") as store:
        scheduler = Scheduler([job], store, owner="me", clock=clock, sleep=clock.sleep)
        assert await scheduler.deliver(job, _slot()) == "sent"
        [row] = store.deliveries("weekly")
    assert (row.state, row.attempts, row.detail) == ("sent", 3, "accepted")
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(tries)] == [30, 60]


async def test_retries_end_failed_when_the_grace_time_is_over(tmp_path):
    clock = Clock()

    async def send(slot, prepared):
        raise RetriableDeliveryError("SMTP 127.0.0.1:25 (none): ConnectionRefusedError; nothing was sent")

    job = _job(send, grace=timedelta(minutes=10))
    with Store(tmp_path / "h.sqlite") as store:
        scheduler = Scheduler([job], store, owner="me", clock=clock, sleep=clock.sleep)
        assert await scheduler.deliver(job, _slot()) == "failed"
        [row] = store.deliveries("weekly")
    assert row.state == "failed"
    assert "ConnectionRefusedError" in row.detail and "grace time is over" in row.detail
    assert clock.now == datetime(2024, 6, 3, 2, 40, tzinfo=UTC)  # retried up to the end of the grace, no further
    assert row.attempts == 6  # at 0, 30, 90, 210, 450 s, then at 600 s: the 150 s that were left
    assert scheduler.undelivered == [_slot()]


async def test_a_lapsed_lease_is_taken_over_and_a_live_one_is_not(tmp_path):
    clock = Clock()
    sent: list[str] = []

    async def send(slot, prepared):
        sent.append(slot.key)
        return Outcome(detail="accepted")

    job = _job(send, lease=timedelta(minutes=2))
    slot = _slot()
    with Store(tmp_path / "h.sqlite") as store:
        # a process claimed the slot and died without a word
        assert store.claim_delivery("weekly", slot.key, due_at=slot.due, by="dead:1", at=clock.now,
                                    lease_until=clock.now + timedelta(minutes=2))
        scheduler = Scheduler([job], store, owner="me", clock=clock, sleep=clock.sleep)
        assert await scheduler.deliver(job, slot) == "taken"  # its lease still runs
        clock.now += timedelta(minutes=2, seconds=1)
        assert await scheduler.deliver(job, slot) == "sent"
        [row] = store.deliveries("weekly")
    assert sent == [slot.key]
    assert (row.state, row.claimed_by) == ("sent", "me")


async def test_a_holder_whose_lease_was_taken_over_does_not_send(tmp_path):
    clock = Clock()
    sent: list[str] = []

    async def prepare(slot):
        # this holder stalls past its lease, and another process takes the slot over meanwhile
        store.claim_delivery("weekly", slot.key, due_at=slot.due, by="other:2", at=clock.now + timedelta(hours=1),
                             lease_until=clock.now + timedelta(hours=2))
        return "message"

    async def send(slot, prepared):
        sent.append("me")
        return Outcome()

    job = Job(Schedule("weekly", "30 2 * * 1"), prepare, send)
    with Store(tmp_path / "h.sqlite") as store:
        scheduler = Scheduler([job], store, owner="me", clock=clock, sleep=clock.sleep)
        assert await scheduler.deliver(job, _slot()) == "taken"
        [row] = store.deliveries("weekly")
    assert sent == [] and (row.state, row.claimed_by) == ("claimed", "other:2")


async def test_a_serving_scheduler_takes_over_a_slot_whose_holder_died(tmp_path):
    sent: list[str] = []
    clock = Clock()
    clock.now = datetime(2024, 6, 3, 2, 31, tzinfo=UTC)

    async def send(slot, prepared):
        sent.append(slot.key)
        scheduler.stop()
        return Outcome()

    job = _job(send, lease=timedelta(minutes=2))
    slot = _slot()
    with Store(tmp_path / "h.sqlite") as store:
        store.claim_delivery("weekly", slot.key, due_at=slot.due, by="dead:1", at=slot.due,
                             lease_until=slot.due + timedelta(minutes=2))
        scheduler = Scheduler([job], store, owner="me", clock=clock, sleep=clock.sleep, max_sleep=3600)
        await asyncio.wait_for(scheduler.serve(), 10)
        [row] = store.deliveries("weekly")
    assert sent == [slot.key] and row.state == "sent"
    assert clock.now <= slot.due + timedelta(minutes=2, seconds=1)  # right when the lease lapsed


# --- through the command, against real SMTP servers on loopback ---------------------------------------


@dataclass
class Moody(Inbox):
    """An SMTP server that answers the message data with ``replies`` in turn, then accepts."""

    replies: list[str] = field(default_factory=list)
    rcpt_delay: float = 0.0
    rcpts: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.rcpts += 1
        if self.rcpt_delay and self.rcpts == 1:  # only the first session: the one that will be killed
            await asyncio.sleep(self.rcpt_delay)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.replies:
            return self.replies.pop(0)
        return await super().handle_DATA(server, session, envelope)


def _deliveries(config) -> tuple[int, list[dict]]:
    done = cli("deliveries", "-c", str(config), "--json")
    return done.returncode, json.loads(done.stdout)


#: the grace time runs from the claim, before the collection: on a busy machine the collection
#: alone (a new process, imports, SQLite) took 28 s, so a grace of a few seconds was over before
#: the first attempt. These graces leave a minute for it, and the retries still fit in them.
GRACE_FOR_A_BUSY_MACHINE = 90


def test_4xx_replies_are_retried_and_the_slot_is_sent_once(project):
    inbox = Moody(replies=["451 4.3.0 mailbox busy", "421 4.7.0 try again later"])
    with smtp_server(inbox) as port:
        # attempts right after the collection, then 9 s and 27 s later
        config = mailing(project, port, extra_report=f"grace_seconds = {GRACE_FOR_A_BUSY_MACHINE}")
        done = cli("run", "-c", str(config), "--slot", SLOT, "--quiet")
    assert done.returncode == 0, done.stderr
    assert "attempt 1 failed: SMTP 127.0.0.1" in done.stderr and "451 4.3.0 mailbox busy" in done.stderr
    assert len(inbox.received) == 1
    code, [row] = _deliveries(config)
    assert code == 0 and (row["state"], row["attempts"]) == ("sent", 3)


def test_a_5xx_ends_the_slot_failed_with_the_servers_words_and_resend_sends_it(project):
    inbox = Moody(replies=["554 5.7.1 message rejected as spam"])
    with smtp_server(inbox) as port:
        config = mailing(project, port, extra_report="grace_seconds = 60")
        done = cli("run", "-c", str(config), "--slot", SLOT, "--quiet")
        assert done.returncode == 4, done.stderr
        assert "failed (SMTP 127.0.0.1" in done.stdout and "554 5.7.1 message rejected as spam" in done.stdout
        again = cli("run", "-c", str(config), "--slot", SLOT, "--quiet")
        assert again.returncode == 4
        assert "already failed; not sent again" in again.stdout and "--resend" in again.stdout
        code, [row] = _deliveries(config)
        assert code == 4 and (row["state"], row["attempts"]) == ("failed", 1)
        assert "554 5.7.1 message rejected as spam" in row["detail"]
        table = cli("deliveries", "-c", str(config))
        assert table.returncode == 4 and "FAILED" in table.stdout and "554 5.7.1" in table.stdout
        assert inbox.received == []
        resent = cli("run", "-c", str(config), "--slot", SLOT, "--resend", "--quiet")
    assert resent.returncode == 0, resent.stderr
    assert f"RESENDING slot {SLOT_KEY} on purpose (--resend)" in resent.stderr
    assert len(inbox.received) == 1
    code, [row] = _deliveries(config)
    assert code == 0 and row["state"] == "sent"


def test_a_refused_connection_is_retried_within_the_grace_then_fails_with_exit_4(project):
    # retried until the grace time is over (every 6 s, 12 s, 24 s ...), then it ends: a hang
    # would meet cli()'s timeout
    config = mailing(project, free_port(), extra_report="grace_seconds = 60", timeout=1)
    done = cli("run", "-c", str(config), "--slot", SLOT, "--quiet")
    assert done.returncode == 4, done.stderr
    assert "NOT DELIVERED" in done.stderr and "grace time is over" in done.stdout
    code, [row] = _deliveries(config)
    assert code == 4 and row["state"] == "failed" and row["attempts"] >= 2
    assert "nothing was sent" in row["detail"]


def test_a_server_that_never_answers_is_a_retried_timeout_not_a_hang(project):
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = mailing(project, silent.getsockname()[1], extra_report="grace_seconds = 10", timeout=1)
        done = cli("run", "-c", str(config), "--slot", SLOT, "--quiet", timeout=120)
    assert done.returncode == 4, done.stderr
    _code, [row] = _deliveries(config)
    assert row["state"] == "failed" and row["attempts"] >= 1
    assert "SMTPConnectTimeoutError" in row["detail"] and "nothing was sent" in row["detail"]


def test_resend_needs_a_named_slot(project):
    config = mailing(project, free_port())
    done = cli("run", "-c", str(config), "--slot", "weekly", "--resend")
    assert done.returncode == 2 and "--resend" in done.stderr and "Traceback" not in done.stderr


def test_a_permanent_delivery_error_is_not_retried(tmp_path):
    """The scheduler retries only what may pass; a plain DeliveryError ends the slot at once."""
    calls = []

    async def send(slot, prepared):
        calls.append(1)
        raise DeliveryError("SMTP 127.0.0.1:25 (none): the server answered 550 no")

    job = _job(send)
    with Store(tmp_path / "h.sqlite") as store:
        assert asyncio.run(Scheduler([job], store, owner="me").deliver(job, _slot())) == "failed"
    assert calls == [1]


# --- six processes, one slot, the winner killed ----------------------------------------------------


def _holder(store_path, key: str) -> str | None:
    with Store(store_path) as store:
        row = store.delivery("weekly", key)
    return row.claimed_by if row is not None and row.state == "claimed" else None


def test_two_schedulers_and_four_timers_send_a_slot_exactly_once_when_the_winner_is_killed(project):
    """Both `schedule` processes catch up the same missed slot and four `run --slot` racers fire for it;
    whoever wins is SIGKILLed mid-send, its lease lapses, and one other process sends it: one email."""
    inbox = Moody(rcpt_delay=15)  # the first sender hangs in RCPT, before any data: killed there
    with smtp_server(inbox) as port:
        config = mailing(project, port, extra_report="lease_seconds = 2\ngrace_seconds = 600")
        config.write_text(config.read_text().replace('schedule = "30 2 * * 1"', 'schedule = "*/5 * * * *"'))
        store_path = project.parent / "history.sqlite"
        while (datetime.now(UTC).minute % 5, datetime.now(UTC).second) >= (4, 0):
            time.sleep(1)  # not near a slot boundary: every process must race for the same latest slot
        now = datetime.now(UTC)
        schedule = Schedule("weekly", "*/5 * * * *", "Europe/Berlin")
        latest = schedule.latest(now)
        assert latest is not None
        previous = schedule.latest(latest.due - timedelta(minutes=1))
        assert previous is not None
        with Store(store_path) as store:  # the report ran before: on start, each scheduler catches up
            store.claim_delivery("weekly", previous.key, due_at=previous.due, by="earlier", at=previous.due)
            store.finish_delivery("weekly", previous.key, "sent", at=previous.due)
        procs = [subprocess.Popen(command("schedule", "-c", str(config)), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        procs += [subprocess.Popen(command("run", "-c", str(config), "--slot", "weekly", "--quiet"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        try:
            deadline = time.monotonic() + 120
            while inbox.rcpts == 0 or _holder(store_path, latest.key) is None:
                assert time.monotonic() < deadline, "nobody started sending"
                time.sleep(0.05)
            winner = _holder(store_path, latest.key)
            assert winner is not None
            pid = int(winner.rpartition(":")[2])
            victim = next(p for p in procs if p.pid == pid)
            os.kill(pid, signal.SIGKILL)
            victim.communicate(timeout=30)
            racers = [p for p in procs[2:] if p is not victim]
            outs = [p.communicate(timeout=120) for p in racers]
            assert [p.returncode for p in racers] == [0] * len(racers), outs
            for p in procs[:2]:
                if p is not victim:
                    p.send_signal(signal.SIGTERM)
                    _, err = p.communicate(timeout=60)
                    assert p.returncode == 0, err
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.communicate()
        time.sleep(0.5)  # the SMTP server's thread hands over the last message
    assert len(inbox.received) == 1
    with Store(store_path) as store:
        row = store.delivery("weekly", latest.key)
    assert row is not None and row.state == "sent" and row.claimed_by != winner


# --- several reports: one retrying holds up no other; a resend is a new message -------------------


@dataclass
class Timed(Inbox):
    """An SMTP server that answers the first ``busy`` messages with a 4xx, and notes when each came."""

    busy: int = 0
    events: list[tuple[str, float]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.busy:
            self.busy -= 1
            self.events.append(("451", time.monotonic()))
            return "451 4.3.0 mailbox busy, try later"
        self.events.append(("250", time.monotonic()))
        return await super().handle_DATA(server, session, envelope)


def _mailing_job(name: str, port: int, sent: set[str], everyone: int, stop) -> Job:
    """A report due every minute, mailed through the SMTP server on ``port``; stops the scheduler
    once ``everyone`` reports were sent."""
    from reports.mail import SmtpSettings, compose, send
    from reports.message import EmailParts

    async def prepare(slot):
        parts = EmailParts(subject=f"{name} {slot.key}", html="<p>the report</p>", text="the report", images=(),
                           attachment_name="report.html", attachment=b"<p>the report</p>")
        return compose(parts, sender="reports@example.org", recipients=[f"{name}@example.org"])

    async def deliver(slot, message):
        settings = SmtpSettings(host="127.0.0.1", port=port, security="none", allow_plaintext=True, timeout=5,
                                deadline=20)
        await send(message, settings)  # a 4xx is a RetriableDeliveryError: the scheduler retries it
        sent.add(name)
        if len(sent) == everyone:
            stop()
        return Outcome(message_id=message["Message-ID"], detail="accepted")

    return Job(Schedule(name, "* * * * *"), prepare, deliver, grace=timedelta(seconds=20))


async def test_a_report_waiting_to_retry_does_not_hold_up_the_others(tmp_path):
    slow, quick = Timed(busy=2), Timed()
    sent: set[str] = set()
    with smtp_server(slow) as slow_port, smtp_server(quick) as quick_port, Store(tmp_path / "h.sqlite") as store:
        # the real clock, shifted so that the next minute (a slot of both reports) is half a second away
        now = datetime.now(UTC)
        shift = now.replace(second=59, microsecond=500_000) - now
        scheduler: Scheduler

        def stop() -> None:
            scheduler.stop()

        jobs = [_mailing_job("slow", slow_port, sent, 2, stop), _mailing_job("quick", quick_port, sent, 2, stop)]
        scheduler = Scheduler(jobs, store, owner="me", clock=lambda: datetime.now(UTC) + shift)
        await asyncio.wait_for(scheduler.serve(), 120)
        states = {(row.report, row.state, row.attempts) for name in ("slow", "quick") for row in store.deliveries(name)}
    assert states == {("slow", "sent", 3), ("quick", "sent", 1)}
    assert [code for code, _ in slow.events] == ["451", "451", "250"]
    [(_, quick_sent)] = quick.events
    # the healthy report went out while the other waited to retry, not after it was done
    assert quick_sent < slow.events[1][1]
    assert len(quick.received) == len(slow.received) == 1


def test_resend_sends_a_new_message_with_a_message_id_of_its_own(project):
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = mailing(project, port, extra_report="grace_seconds = 600")
        first = cli("run", "-c", str(config), "--slot", SLOT, "--quiet")
        assert first.returncode == 0, first.stderr
        again = cli("run", "-c", str(config), "--slot", SLOT, "--quiet")
        assert again.returncode == 0 and "already sent; not sent again" in again.stdout
        resent = cli("run", "-c", str(config), "--slot", SLOT, "--resend", "--quiet")
    assert resent.returncode == 0, resent.stderr
    [(_, original), (_, copy)] = inbox.received
    assert original["Message-ID"] != copy["Message-ID"]
    assert original["Subject"] == copy["Subject"]
    assert f"RESENDING slot {SLOT_KEY} on purpose (--resend)" in resent.stderr
    assert f"RESENT with a new Message-ID {copy['Message-ID']}" in resent.stderr
    code, [row] = _deliveries(config)
    assert code == 0 and row["state"] == "sent"
