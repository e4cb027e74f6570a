"""The output folder of a write: what may be replaced, the `.partial-*` folder, stale ones.

A write builds `<out>.partial-<id>` and renames it onto `<out>` when complete. The partial
folder holds a small owner file (host, pid) so a later write to the same path can tell a
folder left by a killed write (SIGKILL, power loss: no cleanup could run) from one another
live process is filling, and remove only the former.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator

from .errors import DatasetExistsError

OWNER_FILE = ".gvl_zarr_writer.json"


def _remote(out: str) -> bool:
    """Whether `out` is a URL (fsspec) rather than a local path; the checks here are local."""
    return "://" in out and not out.startswith("file://")


def is_dataset(path: str) -> bool:
    """Whether `path` is a folder holding a gvl_zarr store (any format version)."""
    meta = os.path.join(path, "zarr.json")
    try:
        with open(meta) as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return False
    attrs = doc.get("attributes") or {}
    return doc.get("node_type") == "group" and "format_version" in attrs


def check_replaceable(out: str, overwrite: bool) -> None:
    """Raise `DatasetExistsError` unless writing to `out` may go ahead.

    `overwrite=True` replaces only a gvl_zarr dataset (or an empty folder): a folder of other
    files, or a plain file, is never deleted.
    """
    if _remote(out) or not os.path.lexists(out):
        return
    if not overwrite:
        raise DatasetExistsError(f"{out} already exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    if os.path.isdir(out) and not os.path.islink(out) and (is_dataset(out) or not os.listdir(out)):
        return
    kind = "file" if not os.path.isdir(out) else "folder that is not a gvl_zarr dataset"
    raise DatasetExistsError(
        f"{out} is a {kind}; overwrite=True only replaces gvl_zarr datasets, so nothing was changed. "
        "Fix: choose another output path, or move that path away yourself."
    )


def new_partial(out: str) -> str:
    """A fresh `<out>.partial-<id>` path (not created yet)."""
    return f"{out.rstrip('/')}.partial-{uuid.uuid4().hex[:8]}"


def claim(tmp: str) -> None:
    """Record this process as the owner of the partial folder `tmp` (which must exist)."""
    if not os.path.isdir(tmp):  # a remote store: no owner file
        return
    with open(os.path.join(tmp, OWNER_FILE), "w") as fh:
        json.dump({"host": socket.gethostname(), "pid": os.getpid()}, fh)


def release(tmp: str) -> None:
    """Drop the owner file before `tmp` becomes the dataset."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(tmp, OWNER_FILE))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(out: str) -> list[str]:
    """Remove `<out>.partial-*` and `<out>.old-*` folders whose writer is gone; warn naming them.

    A folder whose owner is a live process on this host, or any process on another host, is
    kept (and named in a warning).
    """
    removed: list[str] = []
    if _remote(out):
        return removed
    base = out.rstrip("/")
    host = socket.gethostname()
    stale = glob.glob(glob.escape(base) + ".partial-*")
    if os.path.exists(out):  # else an `.old-*` may hold the only copy of the previous dataset
        stale += glob.glob(glob.escape(base) + ".old-*")
    for path in sorted(stale):
        owner = _owner(path)
        if owner is not None and (owner.get("host") != host or _alive(int(owner.get("pid", -1)))):
            if owner.get("pid") != os.getpid():
                warnings.warn(
                    f"{path} belongs to a write still running (host {owner.get('host')}, pid {owner.get('pid')}); "
                    "left in place. Remove it by hand if no such write is running.",
                    stacklevel=3,
                )
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if removed:
        warnings.warn(
            f"removed {len(removed)} folder(s) left by interrupted writes to {out}: {', '.join(removed)}.",
            stacklevel=3,
        )
    return removed


def _owner(path: str) -> dict | None:
    try:
        with open(os.path.join(path, OWNER_FILE)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold back SIGINT for the block (the swap of a finished store onto its path), then raise it.

    Interrupted between its two renames, the swap would leave neither the old nor the new
    dataset at the path.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def discard(tmp: str, timeout: float = 10.0) -> None:
    """Remove the partial folder `tmp` of a failed or interrupted write.

    An interrupt stops the main thread while zarr's I/O thread may still be writing chunks
    into `tmp` (a folder removed at once reappeared with a few arrays in it), so zarr's
    pending operations are awaited first, at most `timeout` seconds.
    """
    with deferred_interrupts():
        _drain_zarr_io(timeout)
        shutil.rmtree(tmp, ignore_errors=True)


def _drain_zarr_io(timeout: float) -> None:
    try:
        from zarr.core.sync import _get_loop  # zarr>=3.0,<3.2: the loop of its I/O thread

        loop = _get_loop()
    except (ImportError, RuntimeError):
        return

    async def settle() -> None:
        me = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    future = asyncio.run_coroutine_threadsafe(settle(), loop)
    with contextlib.suppress(Exception):
        future.result(timeout + 1)


def exit_on_sigterm() -> Callable[[], None]:
    """Until the returned function is called, SIGTERM (`kill`, a batch scheduler's time limit)
    raises SystemExit(143) so the write cleans up as for Ctrl-C. Only from the main thread
    and only where SIGTERM still has its default action; otherwise nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None

    def handler(signum, frame) -> None:
        _sigterm[0] = True
        raise SystemExit(128 + signum)

    _sigterm[0] = False
    signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL)


_sigterm = [False]


def check_sigterm() -> None:
    """Raise SystemExit(143) if SIGTERM came during the write. The handler's own raise is
    lost when the signal lands in a finalizer or a Cython callback (Python prints "Exception
    ignored" and goes on): seen as a test's write loop running on ~1 time in 10 after
    SIGTERM. The writer calls this between steps and before publishing."""
    if _sigterm[0]:
        raise SystemExit(128 + signal.SIGTERM)
