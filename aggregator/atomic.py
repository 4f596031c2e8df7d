"""Files written whole or not at all: every file we write goes through here.

A file is written to a temporary file in the same folder, flushed and fsynced, and then
renamed over the target (an atomic replacement on POSIX and Windows). A crash, a kill or a
full disk while writing leaves the previous file as it was, never a truncated or empty one;
the folder is fsynced too, so the rename itself survives a power cut. The new file gets the
permissions the old one had (or the usual ones for a new file), not the temporary file's
private 0600.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal, overload


@overload
def atomic_open(path: str | Path, mode: Literal["w"] = "w", *, encoding: str = "utf-8",
                newline: str | None = None) -> contextlib.AbstractContextManager[IO[str]]: ...
@overload
def atomic_open(path: str | Path, mode: Literal["wb"], *, encoding: str = "utf-8",
                newline: str | None = None) -> contextlib.AbstractContextManager[IO[bytes]]: ...
def atomic_open(path: str | Path, mode: str = "w", *, encoding: str = "utf-8",
                newline: str | None = None) -> contextlib.AbstractContextManager[IO[Any]]:
    """Open ``path`` for writing (``"w"`` text or ``"wb"`` bytes); it replaces the target only if
    the ``with`` block ends without an exception."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    return _atomic(Path(path), mode, encoding, newline)


@contextmanager
def _atomic(path: Path, mode: str, encoding: str, newline: str | None) -> Iterator[IO[Any]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        handle: IO[Any] = (open(fd, "w", encoding=encoding, newline=newline) if mode == "w"  # noqa: SIM115
                           else open(fd, "wb"))  # noqa: SIM115 (closed by the with below)
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def write_atomic(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` whole, or leave ``path`` as it was; returns ``path``."""
    path = Path(path)
    if isinstance(data, bytes):
        with atomic_open(path, "wb") as binary:
            binary.write(data)
    else:
        with atomic_open(path, "w", encoding=encoding, newline="") as handle:
            handle.write(data)
    return path


def _mode_for(path: Path) -> int:
    """The target's current permissions, or those of a new file under this process's umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    """Make the rename durable; not every system can open a folder (Windows), which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
