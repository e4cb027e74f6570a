"""A job run in a thread beside the caller's work, its error re-raised where it is joined.

A write reads its tracks (BigWig worker processes, rows appended here) while the genotypes
are parsed: the two phases used to run one after the other, leaving the worker processes
idle during the genotype read (kit write: ~2.5 s of genotypes before any track read).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Background:
    """Runs `job(cancel)` in a thread; `join` waits and re-raises its exception, `stop`
    sets `cancel` (the job checks it between steps) and waits, discarding any error."""

    def __init__(self, job: Callable[[threading.Event], None]) -> None:
        self.cancel = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(job,), name="gvl-zarr-background", daemon=True)
        self._thread.start()

    def _run(self, job: Callable[[threading.Event], None]) -> None:
        try:
            job(self.cancel)
        except BaseException as exc:  # re-raised in the joining thread
            self._error = exc

    def join(self) -> None:
        try:
            self._thread.join()
        except BaseException:
            self.stop()
            raise
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def stop(self) -> None:
        self.cancel.set()
        self._thread.join()
        self._error = None
