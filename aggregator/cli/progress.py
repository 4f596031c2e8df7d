"""Progress bars per index for the CLI (rate, done/total, failures); silent when not a TTY."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from aggregator.collection.collect import Progress

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


class ProgressDisplay:
    """Use as a context manager; pass :meth:`update` to the collector as its progress callback."""

    def __init__(self, *, enabled: bool = True) -> None:
        self._bars: RichProgress | None = None
        self._tasks: dict[str, TaskID] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

            console = Console(stderr=True)
            if console.is_terminal:
                from rich.progress import Progress as RichProgress

                self._bars = RichProgress(
                    TextColumn("{task.description:>14}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]:>7.1f}/s"), TextColumn("{task.fields[failures]} failed"),
                    TimeElapsedColumn(), console=console, transient=False,
                )

    def __enter__(self) -> ProgressDisplay:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._bars is not None:
            self._bars.stop()

    def update(self, event: Progress) -> None:
        if self._bars is None:
            return
        if event.index not in self._tasks:
            self._tasks[event.index] = self._bars.add_task(event.index, total=event.total, rate=0.0, failures=0)
        rate = event.done / event.elapsed if event.elapsed > 0 else 0.0
        self._bars.update(self._tasks[event.index], completed=event.done, total=event.total,
                          rate=rate, failures=event.failures)
