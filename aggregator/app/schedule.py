"""Reports on cron schedules, delivered at most once per slot.

A *slot* is one firing of a report's cron expression on the wall clock of its time zone,
named by that wall-clock time (``2024-03-31T02:30 Europe/Berlin``). croniter does the calendar
arithmetic on naive wall-clock times, where there is no daylight saving; each wall-clock slot is
then placed on the real timeline with the classic cron rule:

- a time skipped by a spring-forward change runs at the moment the clock jumps (02:30 on the
  day Berlin goes from 02:00 to 03:00 runs at 03:00 CEST);
- a time that happens twice in a fall-back change runs once, at its first occurrence.

So every local day (or week) of a daily (weekly) schedule has exactly one slot, across DST.

At most once: before anything is collected or sent, the slot is *claimed* in the store's
delivery log, whose primary key is (report, slot). A claim is a *lease*: its holder renews it
while it collects, sends and waits to retry; a second claim of the same slot fails, in this
process, after a restart, or in another process sharing the file, unless the lease lapsed (its
holder died): then one other process takes the slot over. Only the winner runs the report.

Only the SMTP server's acceptance marks a slot ``sent``. A failure before that (the connection
refused, TLS failing, a 4xx reply: :class:`~aggregator.errors.RetriableDeliveryError`) is
retried with growing waits until the slot's grace time is over; a permanent refusal (5xx), a
failure to collect, or an answer lost after the message went out (sending again could deliver
it twice) ends the slot ``failed``, with the reason in the log. A process stopped before
sending gives its claim back (the slot can then run again).

After downtime, one catch-up: the latest missed slot is delivered and the older missed ones
are logged and recorded as ``skipped`` (not one report per missed slot). A report that never
ran before has nothing to catch up. SIGTERM stops the loop; a report being sent is finished
first, one being collected (or waiting to retry) is abandoned and its claim given back.

Reports are delivered side by side: one waiting to retry holds up no other report's slot.
``run --slot NAME@TIME --resend`` sends a slot again on purpose, with a Message-ID of its own
(mail clients drop a message whose Message-ID they have seen), and the log says it is a resend.

``aggregator run --slot NAME`` gives system cron or a systemd timer the same guarantees: it
claims the latest due slot of report NAME the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aggregator.app.memory import give_back
from aggregator.collection.store import Delivery, Store
from aggregator.errors import AggregatorError, ConfigError, Problem, RetriableDeliveryError
from aggregator.models import utc_now

if TYPE_CHECKING:
    from aggregator.app.config import Config, ReportConfig

log = logging.getLogger(__name__)

#: how long the loop sleeps at most before looking at the clock again (suspend, clock changes)
MAX_SLEEP = 300.0
#: how far back a catch-up looks for the last slot it missed
CATCH_UP_WINDOW = timedelta(days=400)
#: DST changes move a wall-clock time by at most this much
_SHIFT = timedelta(hours=3)
#: how long a claim holds without renewal (the holder renews it every third of that)
DEFAULT_LEASE = timedelta(minutes=2)
#: how long after its due time (or its first claim, if later) a slot may still be delivered
DEFAULT_GRACE = timedelta(hours=6)
#: the first wait before retrying a send (then twice as long each time, up to RETRY_MAX)
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=15)


def place(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant (UTC) a naive wall-clock time stands for, by the classic cron rule."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first  # exists (if it exists twice, fold=0 is its first occurrence)
    # skipped by a spring-forward change: the moment the clock jumped past it
    lo = local.replace(tzinfo=zone, fold=1).astimezone(UTC)  # before the jump
    hi = first  # after it
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) < local:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


@dataclass(frozen=True)
class Slot:
    report: str
    #: the wall-clock time of the slot, naive, in ``zone``
    local: datetime
    zone: str
    #: when it is due, UTC
    due: datetime
    #: sent again on purpose (``run --slot NAME@TIME --resend``): its email gets a Message-ID of
    #: its own, since mail clients drop a message whose Message-ID they have already seen
    resend: bool = False

    @property
    def key(self) -> str:
        return f"{self.local:%Y-%m-%dT%H:%M} {self.zone}"


class Schedule:
    """A report's cron expression on its zone's wall clock."""

    def __init__(self, report: str, cron: str, zone: str = "UTC") -> None:
        from croniter import croniter

        if not croniter.is_valid(cron):
            raise ConfigError([Problem(f"report {report}", f"not a cron expression: {cron!r}")])
        self.report = report
        self.cron = cron
        self.zone_name = zone
        self.zone = ZoneInfo(zone)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def slot_at(self, local: datetime) -> Slot:
        return Slot(self.report, local, self.zone_name, place(local, self.zone))

    def between(self, after: datetime, until: datetime) -> list[Slot]:
        """Slots due in ``(after, until]``, in order."""
        from croniter import croniter

        found = []
        it = croniter(self.cron, self._local(after) - _SHIFT)
        end = self._local(until) + _SHIFT
        while True:
            local: datetime = it.get_next(datetime)
            if local > end:
                break
            slot = self.slot_at(local)
            if after < slot.due <= until:
                found.append(slot)
        return sorted(found, key=lambda s: (s.due, s.local))

    def next_after(self, moment: datetime) -> Slot:
        """The first slot due strictly after ``moment``."""
        from croniter import croniter

        it = croniter(self.cron, self._local(moment) - _SHIFT)
        while True:
            slot = self.slot_at(it.get_next(datetime))
            if slot.due > moment:
                return slot

    def latest(self, moment: datetime) -> Slot | None:
        """The last slot due at or before ``moment`` (looking back up to a year), if any."""
        for days in (2, 9, 33, 400):
            found = self.between(moment - timedelta(days=days), moment)
            if found:
                return found[-1]
        return None


@dataclass(frozen=True)
class Outcome:
    """What a delivery did, for the log (never a secret)."""

    run_id: str | None = None
    message_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Job:
    """One scheduled report: how to prepare it (collect, render: may be abandoned) and send it."""

    schedule: Schedule
    prepare: Callable[[Slot], Awaitable[Any]]
    send: Callable[[Slot, Any], Awaitable[Outcome]]
    catch_up: bool = True
    grace: timedelta = DEFAULT_GRACE
    lease: timedelta = DEFAULT_LEASE

    @property
    def name(self) -> str:
        return self.schedule.report

    def retry_wait(self, attempt: int) -> timedelta:
        """The wait after failed attempt ``attempt`` (1, 2, ...): doubling, a tenth of the grace at first
        if that is shorter (a short grace still gets several attempts)."""
        first: timedelta = min(RETRY_FIRST, self.grace / 10)
        wait: timedelta = min(first * 2 ** (attempt - 1), RETRY_MAX)
        return wait


def owner_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Scheduler:
    """Runs jobs on their slots; ``clock`` and ``sleep`` can be replaced (tests use a fake clock)."""

    def __init__(
        self,
        jobs: Sequence[Job],
        store: Store,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        owner: str | None = None,
        max_sleep: float = MAX_SLEEP,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ConfigError([Problem("report", "two scheduled reports share a name")])
        self.jobs = list(jobs)
        self.store = store
        self._clock = clock
        self._sleep = sleep
        self.owner = owner or owner_token()
        self.max_sleep = max_sleep
        self._stop = asyncio.Event()
        #: collections under way (one per report being delivered): a stop abandons them
        self._preparing: set[asyncio.Future[Any]] = set()
        #: slots held by other processes, taken over if their lease lapses
        self._watched: dict[tuple[str, str], tuple[Job, Slot]] = {}
        #: slots this scheduler ended ``failed`` (the command's exit code says so)
        self.undelivered: list[Slot] = []

    def clock(self) -> datetime:
        """Now, in UTC (arithmetic on zoned datetimes would follow the wall clock)."""
        return self._clock().astimezone(UTC)

    # -- stopping ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop soon: a report being prepared is abandoned, one being sent is finished first."""
        if not self._stop.is_set():
            log.info("stopping: %s", "abandoning the reports being prepared" if self._preparing else "idle")
        self._stop.set()
        for preparing in self._preparing:
            preparing.cancel()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
                loop.add_signal_handler(sig, self.stop)

    async def _wait(self, seconds: float) -> None:
        if self._sleep is not None:  # a fake clock's sleep: it advances the clock itself
            await self._sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    # -- delivering ---------------------------------------------------------------------------

    async def deliver(self, job: Job, slot: Slot, *, resend: bool = False) -> str:
        """Claim, prepare and send one slot; returns what became of it: ``sent``, ``failed``,
        ``taken`` (another process holds it, or it is finished), ``released`` (stopped before
        sending). ``resend``: send it again on purpose, whatever became of it before."""
        now = self.clock()
        if resend:
            claimed = self.store.reclaim_delivery(job.name, slot.key, due_at=slot.due, by=self.owner, at=now,
                                                  lease_until=now + job.lease)
        else:
            claimed = self.store.claim_delivery(job.name, slot.key, due_at=slot.due, by=self.owner, at=now,
                                                lease_until=now + job.lease)
        if not claimed:
            return "taken"
        row = self.store.delivery(job.name, slot.key)
        started = now if resend or row is None else row.claimed_at
        deadline = max(slot.due, started) + job.grace
        if row is not None and row.detail.startswith("taken over"):
            log.warning("%s: slot %s %s", job.name, slot.key, row.detail)
        if resend:
            log.warning("%s: RESENDING slot %s on purpose (--resend)%s", job.name, slot.key,
                        f"; {row.detail}" if row is not None and row.detail else "")
        if now > deadline:
            return self._failed(job, slot, f"not delivered within its grace time ({_span(job.grace)} after "
                                           f"{max(slot.due, started):%Y-%m-%d %H:%M} UTC)")
        log.info("%s: delivering slot %s", job.name, slot.key)
        slot = replace(slot, resend=resend)
        renewer = asyncio.ensure_future(self._keep_lease(job, slot))
        try:
            prepared = await self._prepare(job, slot)
            if prepared is _RELEASED:
                return "released"
            return await self._send(job, slot, prepared, deadline)
        except _NotDeliveredError as failed:
            return self._failed(job, slot, failed.detail, attempted=failed.attempted)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _prepare(self, job: Job, slot: Slot) -> Any:
        preparing = asyncio.ensure_future(job.prepare(slot))
        self._preparing.add(preparing)
        try:
            return await preparing
        except asyncio.CancelledError:
            self._release(job, slot, "stopped before sending")
            if self.stopping:
                return _RELEASED
            raise
        except Exception as exc:
            raise _NotDeliveredError(_describe(exc)) from None
        finally:
            self._preparing.discard(preparing)

    async def _send(self, job: Job, slot: Slot, prepared: Any, deadline: datetime) -> str:
        """Send, retrying what may work later until ``deadline``; only the server's acceptance is ``sent``."""
        attempt = 0
        while True:
            attempt += 1
            if not self._renew(job, slot):
                log.warning("%s: slot %s was taken over by another process; not sending it", job.name, slot.key)
                return "taken"
            try:
                outcome = await job.send(slot, prepared)  # never cancelled by stop(): no half-sent mail
            except RetriableDeliveryError as exc:
                wait = min(job.retry_wait(attempt), deadline - self.clock())
                if self.stopping or wait.total_seconds() < 0.001:
                    why = "stopped" if self.stopping else "its grace time is over"
                    raise _NotDeliveredError(f"{exc} (attempt {attempt}; {why}, not retried)", attempted=True) from None
                log.warning("%s: slot %s, attempt %d failed: %s; retrying in %s", job.name, slot.key, attempt,
                            exc, _span(wait))
                self._renew(job, slot, attempt=f"attempt {attempt} failed: {exc}"[:2000])
                await self._wait(wait.total_seconds())
                if self.stopping:
                    self._release(job, slot, "stopped while waiting to retry")
                    return "released"
                continue
            except Exception as exc:
                raise _NotDeliveredError(_describe(exc), attempted=True) from None
            break
        self.store.finish_delivery(job.name, slot.key, "sent", at=self.clock(), run_id=outcome.run_id,
                                   message_id=outcome.message_id, detail=outcome.detail, attempted=True)
        log.info("%s: slot %s %s%s", job.name, slot.key,
                 f"RESENT with a new Message-ID {outcome.message_id}" if slot.resend and outcome.message_id
                 else "delivered", f" ({outcome.detail})" if outcome.detail else "")
        return "sent"

    def _renew(self, job: Job, slot: Slot, *, attempt: str | None = None) -> bool:
        return self.store.renew_delivery(job.name, slot.key, by=self.owner, until=self.clock() + job.lease,
                                         attempt=attempt)

    async def _keep_lease(self, job: Job, slot: Slot) -> None:
        """Renew the lease every third of its length, while the slot is being prepared or sent."""
        while True:
            await asyncio.sleep(job.lease.total_seconds() / 3)
            self._renew(job, slot)

    def _release(self, job: Job, slot: Slot, why: str) -> None:
        self.store.release_delivery(job.name, slot.key, by=self.owner)
        log.warning("%s: %s slot %s; it will run again", job.name, why, slot.key)

    def _failed(self, job: Job, slot: Slot, detail: str, *, attempted: bool = False) -> str:
        # only while the slot is still this process's: a holder that lost its lease must not mark
        # failed a slot another process is delivering (a send that succeeded is recorded regardless)
        self.store.finish_delivery(job.name, slot.key, "failed", at=self.clock(), detail=detail[:2000],
                                   attempted=attempted, by=self.owner)
        self.undelivered.append(slot)
        log.error("%s: slot %s NOT DELIVERED: %s", job.name, slot.key, detail)
        return "failed"

    async def deliver_or_wait(self, job: Job, slot: Slot, *, resend: bool = False,
                              poll: float = 1.0) -> tuple[str, Delivery | None]:
        """:meth:`deliver`, and while another process holds the slot, wait for it: for its
        outcome, or for its lease to lapse (then take the slot over). Returns this process's
        result and the slot's row as it ended."""
        said = False
        while True:
            state = await self.deliver(job, slot, resend=resend)
            row = self.store.delivery(job.name, slot.key)
            if state != "taken" or row is None or row.state != "claimed" or self.stopping:
                return state, row
            if not said:
                log.info("%s: slot %s is being delivered by %s; waiting for it (or for its lease to lapse)",
                         job.name, slot.key, row.claimed_by)
                said = True
            lapse = ((row.lease_until or self.clock()) - self.clock()).total_seconds()
            await self._wait(min(poll, max(lapse, 0.01)))
            if self.stopping:
                return "released", row

    def _skip(self, job: Job, slots: Sequence[Slot], why: str) -> None:
        for slot in slots:
            if self.store.claim_delivery(job.name, slot.key, due_at=slot.due, by=self.owner, at=self.clock(),
                                         state="skipped"):
                self.store.finish_delivery(job.name, slot.key, "skipped", at=self.clock(), detail=why)
        if slots:
            log.warning("%s: %d missed slot(s) skipped (%s … %s): %s", job.name, len(slots),
                        slots[0].key, slots[-1].key, why)

    async def catch_up(self, now: datetime) -> None:
        """One delivery for the latest slot missed since each report last ran; older ones are logged.

        Slots still ``claimed`` (a holder that died, or one at work now) are watched: one whose
        lease lapses is taken over. The reports' deliveries run side by side."""
        await asyncio.gather(*(self._deliver_or_watch(job, slot) for job, slot in self._missed(now)))

    def _missed(self, now: datetime) -> list[tuple[Job, Slot]]:
        """The catch-up slot of each report that missed some (older missed slots are skipped)."""
        due: list[tuple[Job, Slot]] = []
        for job in self.jobs:
            for row in self.store.deliveries(job.name):
                if row.state == "claimed":
                    self._watch(job, row.slot)
            last = self.store.last_delivery(job.name)
            if last is None:
                continue  # never ran: nothing was missed
            missed = job.schedule.between(max(last.due_at, now - CATCH_UP_WINDOW), now)
            if not missed:
                continue
            if not job.catch_up:
                self._skip(job, missed, "catch-up is off for this report")
                continue
            self._skip(job, missed[:-1], f"covered by the catch-up delivery of {missed[-1].key}")
            log.info("%s: catching up slot %s (missed while not running)", job.name, missed[-1].key)
            due.append((job, missed[-1]))
        return due

    def _watch(self, job: Job, key: str) -> None:
        local = datetime.strptime(key[:16], "%Y-%m-%dT%H:%M")
        self._watched[(job.name, key)] = (job, job.schedule.slot_at(local))

    async def _deliver_or_watch(self, job: Job, slot: Slot) -> None:
        if await self.deliver(job, slot) == "taken":
            self._watch(job, slot.key)

    def _lapsed(self, now: datetime) -> tuple[list[tuple[Job, Slot]], datetime | None]:
        """Watched slots whose holder's lease lapsed (to take over), and when to look again."""
        wake: datetime | None = None
        lapsed = []
        for key, (job, slot) in list(self._watched.items()):
            row = self.store.delivery(job.name, slot.key)
            if row is None or row.state != "claimed" or row.claimed_by == self.owner:
                del self._watched[key]
                continue
            if row.lease_lapsed(now):
                del self._watched[key]
                lapsed.append((job, slot))
            elif row.lease_until is not None:
                wake = row.lease_until if wake is None else min(wake, row.lease_until)
        return lapsed, wake

    async def serve(self) -> None:
        """Catch up once, then run every job on its slots until :meth:`stop`.

        Each report's delivery runs on its own, so one that waits to retry (for hours, within its
        grace time) holds up no other report; a report's next slot waits for its own delivery
        to end (then the slots that passed meanwhile make one run)."""
        start = self.clock()
        #: deliveries under way, by (report, slot)
        running: dict[tuple[str, str], asyncio.Future[None]] = {}

        def begin(job: Job, slot: Slot) -> None:
            running[(job.name, slot.key)] = asyncio.ensure_future(self._deliver_or_watch(job, slot))

        for job, slot in self._missed(start):
            begin(job, slot)
        cursor = {job.name: start for job in self.jobs}
        try:
            while not self.stopping and self.jobs:
                for key, task in list(running.items()):
                    if task.done():
                        del running[key]
                        task.result()  # a bug in a delivery stops the scheduler, as it always did
                        give_back()  # what the report's comparison freed, while the process waits
                now = self.clock()
                lapsed, lapse = self._lapsed(now)
                for job, slot in lapsed:
                    begin(job, slot)
                busy = {name for name, _ in running}
                idle = [job for job in self.jobs if job.name not in busy]
                upcoming = [job.schedule.next_after(cursor[job.name]).due for job in idle]
                wake = min(upcoming + ([lapse] if lapse else []), default=None)
                if wake is None or wake > now:
                    seconds = self.max_sleep if wake is None else (wake - now).total_seconds()
                    await self._pause(min(seconds + (0.01 if wake == lapse else 0), self.max_sleep), running.values())
                    continue
                for job in idle:
                    due = job.schedule.between(cursor[job.name], now)
                    if not due:
                        continue
                    cursor[job.name] = due[-1].due
                    # several slots passed at once (a long delivery, a suspended machine): one run
                    self._skip(job, due[:-1], f"covered by {due[-1].key}")
                    begin(job, due[-1])
        finally:
            # a stop (or a delivery's bug) lets a send finish and gives back what was being
            # prepared or waiting to retry
            self.stop()
            results = await asyncio.gather(*running.values(), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def _pause(self, seconds: float, running: Collection[asyncio.Future[None]]) -> None:
        """Wait ``seconds``, or less: until a stop, or until one of the ``running`` deliveries ends."""
        if not running:
            await self._wait(seconds)
            return
        if self._sleep is not None:
            # a fake clock moves only when someone sleeps: the deliveries go first, then time
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            return
        stopped: asyncio.Future[Any] = asyncio.ensure_future(self._stop.wait())
        waited: set[asyncio.Future[Any]] = {stopped, *running}
        try:
            await asyncio.wait(waited, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()


class _NotDeliveredError(Exception):
    """A delivery that ends ``failed`` (internal: carries the reason to :meth:`Scheduler._failed`)."""

    def __init__(self, detail: str, *, attempted: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        #: whether a sending attempt failed (counted in the delivery log), not the collection
        self.attempted = attempted


#: what :meth:`Scheduler._prepare` returns when a stop abandoned the collection
_RELEASED = object()


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, AggregatorError) else f"{type(exc).__name__}: {exc}"


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.3g} s"
    return f"{seconds / 60:.3g} min" if seconds < 7200 else f"{seconds / 3600:.3g} h"


# -- the app's jobs: collect, render, mail ---------------------------------------------------


def build_jobs(config: Config) -> list[Job]:
    """One job per ``[[report]]`` that has a schedule."""
    jobs = [report_job(config, report) for report in config.reports if report.schedule]
    if not jobs:
        raise ConfigError([Problem("report", "no report has a schedule (add schedule = \"30 2 * * 1\" to one)")])
    return jobs


def report_job(config: Config, report: ReportConfig) -> Job:
    from aggregator.app.api import check_writable, output_kind

    if report.recipients and config.smtp is None:
        raise ConfigError([Problem("smtp", f"report {report.name!r} has recipients but the config has no [smtp]")])
    output_kind(report.out, flag=f"report {report.name}: out")  # before any slot is claimed
    check_writable(report.out, f"report {report.name}: out")
    schedule = Schedule(report.name, report.schedule or "", report.timezone)

    async def prepare(slot: Slot) -> Any:
        return await prepare_report(config, report, slot)

    async def send(slot: Slot, prepared: Any) -> Outcome:
        return await send_report(config, prepared)

    return Job(schedule=schedule, prepare=prepare, send=send, catch_up=report.catch_up,
               grace=timedelta(seconds=report.grace_seconds), lease=timedelta(seconds=report.lease_seconds))


@dataclass(frozen=True)
class Prepared:
    run_id: str
    path: str
    message: Any  # an email.message.EmailMessage, or None without recipients


async def prepare_report(config: Config, report: ReportConfig, slot: Slot | None) -> Prepared:
    """Collect and compare, write the report file, and build the addressed email (if any)."""
    from aggregator.app.api import Aggregator

    result = await Aggregator(config.for_report(report)).run()
    path = await asyncio.to_thread(result.write, report.out)
    message = None
    if report.recipients and config.smtp is not None:
        message = await asyncio.to_thread(compose_email, config, report, result.outcome, slot)
    return Prepared(run_id=result.run_id, path=str(path), message=message)


def compose_email(config: Config, report: ReportConfig, outcome: Any, slot: Slot | None,
                  written: str | None = None) -> Any:
    """The message of ``report`` for ``outcome``; ``written``: where this run wrote its report, when
    not the report's own ``out`` (the email names the full standing's CSV beside it)."""
    from reports.email import build_email
    from reports.mail import compose, message_id, parse_address
    from reports.model import build_view

    assert config.smtp is not None
    sender = config.smtp.sender
    # fixed by report and slot, so racing deliveries compose the same message; a resend on
    # purpose gets its own, or the recipients' mail clients would drop it as a duplicate
    name = slot.key + (f" resent {uuid.uuid4().hex}" if slot.resend else "") if slot else outcome.run.id
    msgid = message_id(report.name, name, parse_address(sender, "smtp.sender"))
    parts = build_email(build_view(outcome), subject=report.email_subject,
                        max_attachment_bytes=int(report.email_attachment_max_mb * 1e6),
                        full_report=written or str(report.out))
    return compose(parts, sender=sender, recipients=report.recipients, msgid=msgid)


async def send_report(config: Config, prepared: Prepared) -> Outcome:
    if prepared.message is None:
        return Outcome(run_id=prepared.run_id, detail=f"written to {prepared.path}; no recipients")
    from reports.mail import send

    result = await send(prepared.message, smtp_settings(config))
    detail = f"accepted by the server for {len(result.accepted)} recipient(s)"
    if result.refused:
        refused = "; ".join(f"{address}: {why}" for address, why in result.refused.items())
        detail += f"; REFUSED {len(result.refused)}: {refused}"
        log.warning("some recipients were refused: %s", refused)
    return Outcome(run_id=prepared.run_id, message_id=prepared.message["Message-ID"], detail=detail)


def smtp_settings(config: Config) -> Any:
    from reports.mail import SmtpSettings

    smtp = config.smtp
    if smtp is None:
        raise ConfigError([Problem("smtp", "sending email needs an [smtp] table in the config")])
    return SmtpSettings(
        host=smtp.host, port=smtp.effective_port, security=smtp.security, allow_plaintext=smtp.allow_plaintext,
        username=smtp.username, password=smtp.password, ca_file=smtp.ca_file, timeout=smtp.timeout,
        deadline=smtp.deadline,
    )


async def serve(config: Config, *, clock: Callable[[], datetime] = utc_now) -> list[Slot]:
    """``aggregator schedule``: run every scheduled report until SIGTERM or SIGINT; returns the
    slots that ended ``failed`` while it ran."""
    jobs = build_jobs(config)
    with Store(config.store.path) as store:
        scheduler = Scheduler(jobs, store, clock=clock)
        scheduler.install_signal_handlers()
        for job in jobs:
            log.info("%s: %r in %s, next at %s", job.name, job.schedule.cron, job.schedule.zone_name,
                     job.schedule.next_after(clock()).key)
        await scheduler.serve()
    return scheduler.undelivered
