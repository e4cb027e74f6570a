"""Stop the read path's background threads before the interpreter exits.

The mapped-shard verifier, the resident-array preloader and the prefetcher are daemon
threads that spend their time in native code with the GIL released (numba kernels, blosc,
network reads). A daemon thread still there when the interpreter finalises is ended with
pthread_exit as it takes the GIL back, which unwinds through numba's compiled frames: the
process then aborts ("terminate called without an active exception", exit status 134) after
the user's script has finished. Seen once in ~30 runs of a script that exits right after its
first tracks batch, while the verifier was mid-pass. At exit `stopping` is set and each
registered thread is joined: they check it between steps of a few milliseconds.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref

stopping = threading.Event()
"""Set at interpreter exit: background loops return at their next step."""

_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def start(thread: threading.Thread) -> threading.Thread:
    """Start a background daemon `thread` that is joined at exit (its loop checks `stopping`)."""
    _threads.add(thread)
    thread.start()
    return thread


@atexit.register
def _join_all(timeout: float = 5.0) -> None:
    """Stop and join the threads, waiting `timeout` seconds in all (a prefetch may be in a
    network read; past the deadline the process exits as before)."""
    stopping.set()
    deadline = time.monotonic() + timeout
    for thread in list(_threads):
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
