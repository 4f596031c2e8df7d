"""Schedules: slots across DST over a simulated year, at most once across restarts and
processes, one catch-up after downtime, graceful SIGTERM; and the delivery log in the store."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from loopback import Inbox, smtp_server
from scheduled import cli, mailing, scheduled

from aggregator.app.schedule import Job, Outcome, Schedule, Scheduler, Slot, place
from aggregator.collection.store import SCHEMA_VERSION, Store

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


class FakeClock:
    """Time that moves only when the scheduler sleeps; stops the scheduler at ``end``."""

    def __init__(self, start: datetime, end: datetime) -> None:
        # kept in UTC: adding a timedelta to a zoned datetime moves its wall clock, not time
        self.now, self.end = start.astimezone(UTC), end.astimezone(UTC)
        self.scheduler: Scheduler | None = None

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        if self.now >= self.end and self.scheduler is not None:
            self.scheduler.stop()
        await asyncio.sleep(0)


def recording_job(schedule: Schedule, clock: FakeClock, sent: list[tuple[str, datetime]], **kwargs) -> Job:
    async def prepare(slot: Slot) -> str:
        return slot.key

    async def send(slot: Slot, prepared: str) -> Outcome:
        sent.append((prepared, clock.now))
        return Outcome(detail="recorded")

    return Job(schedule=schedule, prepare=prepare, send=send, **kwargs)


async def run_for(store: Store, schedule: Schedule, start: datetime, end: datetime,
                  sent: list[tuple[str, datetime]], **kwargs) -> Scheduler:
    clock = FakeClock(start, end)
    scheduler = Scheduler([recording_job(schedule, clock, sent, **kwargs)], store, clock=clock, sleep=clock.sleep,
                          owner="test", max_sleep=30 * 86400)
    clock.scheduler = scheduler
    await scheduler.serve()
    return scheduler


# --- placing wall-clock slots on the timeline -------------------------------------------------


@pytest.mark.parametrize(("zone", "local", "utc"), [
    (BERLIN, datetime(2024, 3, 31, 2, 30), datetime(2024, 3, 31, 1, 0)),    # skipped: when 02:00 became 03:00
    (BERLIN, datetime(2024, 10, 27, 2, 30), datetime(2024, 10, 27, 0, 30)),  # twice: the first (CEST)
    (BERLIN, datetime(2024, 7, 1, 2, 30), datetime(2024, 7, 1, 0, 30)),
    (NEW_YORK, datetime(2024, 3, 10, 2, 30), datetime(2024, 3, 10, 7, 0)),   # skipped: 03:00 EDT
    (NEW_YORK, datetime(2024, 11, 3, 1, 30), datetime(2024, 11, 3, 5, 30)),  # twice: the first (EDT)
    (NEW_YORK, datetime(2024, 11, 3, 2, 30), datetime(2024, 11, 3, 7, 30)),  # after the fold: EST
])
def test_place_follows_the_classic_cron_rule(zone, local, utc):
    assert place(local, zone) == utc.replace(tzinfo=UTC)


# --- a simulated year ---------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
async def test_daily_0230_runs_exactly_once_every_local_day_of_a_year(tmp_path, zone):
    tz = ZoneInfo(zone)
    sent: list[tuple[str, datetime]] = []
    with Store(tmp_path / "h.sqlite") as store:
        await run_for(store, Schedule("daily", "30 2 * * *", zone),
                      datetime(2024, 1, 1, tzinfo=tz), datetime(2025, 1, 1, tzinfo=tz), sent)
        logged = store.deliveries("daily")
    days = Counter(at.astimezone(tz).date() for _, at in sent)
    expected = {date(2024, 1, 1) + timedelta(days=n) for n in range(366)}
    assert set(days) == expected  # no skipped day
    assert set(days.values()) == {1}  # no doubled day
    times = Counter(at.astimezone(tz).strftime("%H:%M") for _, at in sent)
    assert times == {"02:30": 365, "03:00": 1}  # the spring-forward day runs when the clock jumps
    assert [d.state for d in logged] == ["sent"] * 366
    assert len({d.slot for d in logged}) == 366


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
async def test_weekly_monday_0230_runs_exactly_once_a_week_for_a_year(tmp_path, zone):
    tz = ZoneInfo(zone)
    sent: list[tuple[str, datetime]] = []
    with Store(tmp_path / "h.sqlite") as store:
        await run_for(store, Schedule("weekly", "30 2 * * 1", zone),
                      datetime(2024, 1, 1, tzinfo=tz), datetime(2025, 1, 1, tzinfo=tz), sent)
    weeks = Counter(at.astimezone(tz).isocalendar()[:2] for _, at in sent)
    assert len(weeks) == 53 and set(weeks.values()) == {1}  # 2024 has 53 Mondays
    assert {at.astimezone(tz).strftime("%a %H:%M") for _, at in sent} == {"Mon 02:30"}


# --- restarts, downtime, other processes --------------------------------------------------------


async def test_a_restart_never_sends_a_slot_twice(tmp_path):
    schedule = Schedule("daily", "30 2 * * *", "Europe/Berlin")
    sent: list[tuple[str, datetime]] = []
    with Store(tmp_path / "h.sqlite") as store:
        cut = datetime(2024, 3, 31, 3, 10, tzinfo=BERLIN)  # just after the DST-day slot ran
        await run_for(store, schedule, datetime(2024, 3, 25, tzinfo=BERLIN), cut, sent)
        await run_for(store, schedule, cut, datetime(2024, 4, 5, tzinfo=BERLIN), sent)  # restarted at once
        assert Counter(key for key, _ in sent).most_common(1)[0][1] == 1
        assert len(sent) == 11  # March 25 ... April 4
        assert all(d.state == "sent" for d in store.deliveries("daily"))


async def test_one_catch_up_after_downtime_and_the_missed_slots_logged(tmp_path, caplog):
    schedule = Schedule("daily", "30 2 * * *", "America/New_York")
    sent: list[tuple[str, datetime]] = []
    with Store(tmp_path / "h.sqlite") as store:
        down = datetime(2024, 6, 10, 12, tzinfo=NEW_YORK)
        await run_for(store, schedule, datetime(2024, 6, 1, tzinfo=NEW_YORK), down, sent)
        before = len(sent)
        back = datetime(2024, 6, 14, 10, 0, tzinfo=NEW_YORK)  # down from the 10th, noon, to the 14th, 10:00
        await run_for(store, schedule, back, datetime(2024, 6, 16, tzinfo=NEW_YORK), sent)
        catch_up = sent[before]
        assert catch_up == ("2024-06-14T02:30 America/New_York", back)  # at once, for the latest missed slot
        assert [k for k, _ in sent[before + 1:]] == ["2024-06-15T02:30 America/New_York"]
        states = {d.slot[:10]: d.state for d in store.deliveries("daily")}
        assert [states[f"2024-06-{day}"] for day in (11, 12, 13)] == ["skipped"] * 3
        assert states["2024-06-14"] == "sent"
    assert "3 missed slot(s) skipped" in caplog.text


async def test_catch_up_can_be_turned_off(tmp_path):
    schedule = Schedule("daily", "30 2 * * *", "UTC")
    sent: list[tuple[str, datetime]] = []
    with Store(tmp_path / "h.sqlite") as store:
        await run_for(store, schedule, datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 3, tzinfo=UTC), sent)
        await run_for(store, schedule, datetime(2024, 6, 6, 12, tzinfo=UTC), datetime(2024, 6, 7, tzinfo=UTC), sent,
                      catch_up=False)
        assert [k[:10] for k, _ in sent] == ["2024-06-01", "2024-06-02"]
        assert [d.state for d in store.deliveries("daily")][2:] == ["skipped"] * 4


async def test_a_first_start_has_nothing_to_catch_up(tmp_path):
    sent: list[tuple[str, datetime]] = []
    with Store(tmp_path / "h.sqlite") as store:
        await run_for(store, Schedule("weekly", "30 2 * * 1", "UTC"), datetime(2024, 6, 5, tzinfo=UTC),
                      datetime(2024, 6, 9, tzinfo=UTC), sent)
    assert sent == []


async def test_two_schedulers_on_one_store_deliver_each_slot_once(tmp_path):
    schedule = Schedule("daily", "30 2 * * *", "Europe/Berlin")
    sent: list[tuple[str, datetime]] = []
    start, end = datetime(2024, 10, 20, tzinfo=BERLIN), datetime(2024, 11, 5, tzinfo=BERLIN)
    with Store(tmp_path / "h.sqlite") as one, Store(tmp_path / "h.sqlite") as two:
        await asyncio.gather(run_for(one, schedule, start, end, sent), run_for(two, schedule, start, end, sent))
    assert len(sent) == 16
    assert Counter(k for k, _ in sent).most_common(1)[0][1] == 1


CLAIMER = textwrap.dedent("""
    import json, random, sys, time
    from datetime import UTC, datetime, timedelta
    from aggregator.collection.store import Store
    store = Store(sys.argv[1])
    start = datetime(2024, 1, 1, tzinfo=UTC)
    order = list(range(1000))
    random.Random(sys.argv[2]).shuffle(order)  # each process in its own order: they collide often
    while time.time() < float(sys.argv[3]):  # start together
        time.sleep(0.001)
    won = [n for n in order if store.claim_delivery(
        "weekly", f"slot-{n}", due_at=start + timedelta(days=n), by=sys.argv[2], at=start)]
    print(json.dumps(won))
""")


def test_processes_racing_for_the_same_slots_each_win_distinct_ones(tmp_path):
    path = tmp_path / "h.sqlite"
    Store(path).close()  # migrated once, as a scheduler would have
    go = str(time.time() + 1.5)
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, str(path), f"p{k}", go], stdout=subprocess.PIPE, text=True)
        for k in range(2)
    ]
    won = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(won[0] + won[1]) == list(range(1000))  # every slot once: no double, no loss
    with Store(path) as store:
        owners = Counter(d.claimed_by for d in store.deliveries("weekly"))
    assert owners == +Counter({"p0": len(won[0]), "p1": len(won[1])})


# --- stopping -------------------------------------------------------------------------------------


def _slot() -> Slot:
    return Schedule("weekly", "30 2 * * 1", "UTC").slot_at(datetime(2024, 6, 3, 2, 30))


async def test_sigterm_while_sending_finishes_the_send_first(tmp_path):
    events: list[str] = []

    async def prepare(slot):
        return "message"

    async def send(slot, prepared):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-send
        await asyncio.sleep(0.2)
        events.append("sent whole")
        return Outcome(message_id="<m@x>", detail="1 recipient")

    with Store(tmp_path / "h.sqlite") as store:
        scheduler = Scheduler([], store, owner="test")
        scheduler.install_signal_handlers()
        try:
            state = await scheduler.deliver(Job(Schedule("weekly", "30 2 * * 1"), prepare, send), _slot())
        finally:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        assert (state, events, scheduler.stopping) == ("sent", ["sent whole"], True)
        [row] = store.deliveries("weekly")
        assert (row.state, row.message_id) == ("sent", "<m@x>")


async def test_sigterm_while_preparing_gives_the_slot_back(tmp_path):
    async def prepare(slot):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(30)  # a long collection, abandoned
        raise AssertionError("not reached")

    async def send(slot, prepared):
        raise AssertionError("nothing may be sent")

    with Store(tmp_path / "h.sqlite") as store:
        scheduler = Scheduler([], store, owner="test")
        scheduler.install_signal_handlers()
        try:
            state = await asyncio.wait_for(
                scheduler.deliver(Job(Schedule("weekly", "30 2 * * 1"), prepare, send), _slot()), 5)
        finally:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        assert state == "released"
        assert store.deliveries("weekly") == []  # the slot can run again


async def test_a_failed_send_is_logged_and_never_retried(tmp_path):
    from aggregator.errors import DeliveryError

    calls = []

    async def prepare(slot):
        return None

    async def send(slot, prepared):
        calls.append(slot.key)
        raise DeliveryError("SMTP 127.0.0.1:1 (tls): the server answered 554 no")

    job = Job(Schedule("weekly", "30 2 * * 1"), prepare, send)
    with Store(tmp_path / "h.sqlite") as store:
        scheduler = Scheduler([job], store, owner="test")
        assert await scheduler.deliver(job, _slot()) == "failed"
        assert await scheduler.deliver(job, _slot()) == "taken"
        [row] = store.deliveries("weekly")
        assert (row.state, row.detail) == ("failed", "SMTP 127.0.0.1:1 (tls): the server answered 554 no")
    assert len(calls) == 1


# --- the store's delivery log ---------------------------------------------------------------------


def test_a_version_1_history_gains_the_delivery_log(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    from aggregator.collection.store import MIGRATIONS

    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 2
        at = datetime(2024, 1, 1, tzinfo=UTC)
        assert store.claim_delivery("r", "s", due_at=at, by="me", at=at)
        assert not store.claim_delivery("r", "s", due_at=at, by="you", at=at)
        assert store.release_delivery("r", "s", by="you") is False  # only the claimant may
        assert store.release_delivery("r", "s", by="me") is True
        assert store.last_delivery("r") is None


# --- the command ---------------------------------------------------------------------------------


def test_schedule_command_stops_cleanly_on_sigterm(project):
    config = scheduled(project)
    proc = subprocess.Popen([sys.executable, "-m", "aggregator", "schedule", "-c", str(config)],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "next at" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, "".join(lines) + rest
    assert "weekly: '30 2 * * 1' in Europe/Berlin, next at" in "".join(lines)
    assert "schedule: stopped" in rest


def test_run_slot_delivers_once_however_often_the_timer_fires(project):
    config = scheduled(project)
    run = [sys.executable, "-m", "aggregator", "run", "-c", str(config), "--slot", "weekly@2024-06-03T02:30"]
    first = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "slot 2024-06-03T02:30 Europe/Berlin of weekly: sent (written to" in first.stdout
    again = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0
    assert "already sent; not sent again" in again.stdout
    with Store(project.parent / "history.sqlite") as store:
        assert [d.state for d in store.deliveries("weekly")] == ["sent"]
        assert len(store.runs()) == 1  # the second firing did not even collect


# --- end to end through a real SMTP relay on loopback -------------------------------------------


@pytest.fixture
def relay():
    inbox = Inbox()
    with smtp_server(inbox) as port:
        yield inbox, port


def test_run_slot_mails_the_report_once(project, relay):
    handler, port = relay
    config = mailing(project, port)
    for _ in range(2):
        done = cli("run", "-c", str(config), "--slot", "weekly@2024-06-03T02:30", "--quiet")
        assert done.returncode == 0, done.stderr
    [(envelope, message)] = handler.received
    assert envelope == ["ann@example.org", "bob@example.org"]
    assert message["Subject"] == "Test report"
    assert message["From"] == "Reports <reports@example.org>"
    assert message["Message-ID"].endswith("@example.org>")
    assert [p.get_content_type() for p in message.walk()][:3] == [
        "multipart/mixed", "multipart/alternative", "text/plain",
    ]
    assert "Ann Archer" in message.get_body(("plain",)).get_content()
    with Store(project.parent / "history.sqlite") as store:
        [row] = store.deliveries("weekly")
    assert row.state == "sent" and row.detail == "accepted by the server for 2 recipient(s)"
    assert row.message_id == message["Message-ID"]


def test_run_email_reports_a_refused_recipient_and_eml_writes_the_message(project, relay, tmp_path):
    handler, port = relay
    handler.refuse = {"bob@example.org"}
    config = mailing(project, port)
    eml = tmp_path / "out.eml"
    done = cli("run", "-c", str(config), "--email", "--eml", str(eml), "--quiet")
    assert done.returncode == 4  # a report not delivered to everyone: the delivery exit code
    assert "REFUSED bob@example.org: 550" in done.stderr
    assert [envelope for envelope, _ in handler.received] == [["ann@example.org"]]
    from email import message_from_bytes
    from email.policy import default

    written = message_from_bytes(eml.read_bytes(), policy=default)
    assert [a.addr_spec for a in written["To"].addresses] == ["ann@example.org", "bob@example.org"]
    assert written.get_body(("html",)).get_content().startswith("<!DOCTYPE html>")


def test_the_smtp_password_comes_from_the_environment_and_is_never_shown(project, relay):
    _, port = relay
    config = mailing(project, port, 'username = "reports"\npassword = "${SMTP_TEST_PASSWORD}"')
    missing = cli("validate-config", str(config))
    assert missing.returncode == 2 and "SMTP_TEST_PASSWORD is not set" in missing.stderr
    secret = "sentinel-Pa55word-never-shown"
    done = cli("run", "-c", str(config), "--email", "--quiet", env={"SMTP_TEST_PASSWORD": secret})
    assert done.returncode == 4  # this relay offers no login: a clear delivery error
    assert "SMTP 127.0.0.1" in done.stderr
    assert secret not in done.stdout + done.stderr
    with Store(project.parent / "history.sqlite") as store:
        assert secret not in json.dumps([d.detail for d in store.deliveries()])


def test_demo_eml_lets_anyone_look_at_the_email(tmp_path):
    from email import message_from_bytes
    from email.policy import default

    eml = tmp_path / "demo.eml"
    done = cli("demo", "--dir", str(tmp_path / "demo"), "--subjects", "30", "--quiet", "--eml", str(eml))
    assert done.returncode == 0, done.stderr
    assert f"email: {eml}" in done.stdout
    message = message_from_bytes(eml.read_bytes(), policy=default)
    assert message["Subject"] == "Influence report (demo data)"
    kinds = [p.get_content_type() for p in message.walk()]
    assert kinds[:5] == ["multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html"]
    assert "image/png" in kinds
    assert len(message.get_body(("html",)).get_content().encode()) <= 90_000
