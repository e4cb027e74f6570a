"""Concurrent use of one store: threads sharing a Dataset, a reader process while tracks are added."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import gvl_zarr as gvl
from conftest import COVERAGE, FASTA, SAMPLES, STAT1, TILES, bigwig_table, write_small


def test_threads_sharing_one_dataset_read_what_one_thread_reads(tiles_dataset: Path) -> None:
    """Eight threads reading random batches through one Dataset (one cache, one set of
    open arrays) get exactly the serial results, with a cache small enough to evict."""
    ds = gvl.Dataset.open(tiles_dataset, FASTA, cache_bytes="2MiB", jitter=0, return_tracks="bigwig")
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, len(ds), 16) for _ in range(48)]
    serial = [ds[b] for b in batches]
    shared = gvl.Dataset.open(tiles_dataset, FASTA, cache_bytes="2MiB", jitter=0, return_tracks="bigwig")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda b: shared[b], batches))
    for (h0, t0), (h1, t1) in zip(serial, results, strict=True):
        np.testing.assert_array_equal(h0, h1)
        np.testing.assert_array_equal(t0, t1)


READER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import gvl_zarr as gvl

    path, want_path, seconds, fasta = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    want = np.load(want_path)
    ds = gvl.Dataset.open(path, fasta, jitter=0, return_tracks="bigwig")
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        again = gvl.Dataset.open(path, fasta, jitter=0, return_tracks="bigwig") if n % 5 == 0 else ds
        haps, tracks = again[:, :]
        np.testing.assert_array_equal(haps.view(np.uint8), want["haps"])
        np.testing.assert_array_equal(tracks, want["tracks"])
        n += 1
    print(n, gvl.Dataset.open(path).available_tracks)
    """
)


def test_reader_process_while_tracks_are_added(tmp_path: Path) -> None:
    """A process re-opening and reading the store while `update` adds two tracks and
    `write_transformed_track` adds then replaces one never sees a torn store: every read
    equals the dataset as written, and the tracks appear whole."""
    path = write_small(tmp_path / "c.gvl", TILES, SAMPLES[:3], length=2048, max_jitter=8)
    haps, tracks = gvl.Dataset.open(path, FASTA, jitter=0, return_tracks="bigwig")[:, :]
    np.savez(tmp_path / "want.npz", haps=haps.view(np.uint8), tracks=tracks)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(path), str(tmp_path / "want.npz"), "6", FASTA],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    table = bigwig_table(tmp_path, SAMPLES[:3], [COVERAGE, STAT1, COVERAGE])
    for name in ("second", "third"):
        gvl.update(path, gvl.BigWigs.from_table(name, table), progress=False)
    writer = gvl.Dataset.open(path, FASTA)
    for _ in range(2):  # a new track, then replacing it
        writer.write_transformed_track("neg", "bigwig", lambda d, r, s, t: -t.data, overwrite=True, progress=False)
    out, err = reader.communicate(timeout=300)
    assert reader.returncode == 0, err[-3000:]
    n_reads, listed = out.split(" ", 1)
    assert int(n_reads) > 0
    assert listed.strip() == "['bigwig', 'second', 'third', 'neg']"


TRANSFORMER = textwrap.dedent(
    """
    import sys, time
    import gvl_zarr as gvl

    path, fasta, name = sys.argv[1], sys.argv[2], sys.argv[3]

    def slow_double(ds_idx, r_idx, s_idx, tracks):
        time.sleep(0.05)
        return gvl.Ragged.from_offsets(tracks.data * 2, tracks.shape, tracks.offsets)

    print("start", flush=True)
    gvl.Dataset.open(path, fasta).write_transformed_track(name, "bigwig", slow_double, overwrite=True, progress=False)
    print("done", flush=True)
    """
)


def _track(ds: gvl.Dataset, name: str) -> np.ndarray:
    return ds.with_settings(return_tracks=name)[:, :][1]


def test_killed_transformed_track_leaves_the_dataset_as_it_was(tmp_path: Path) -> None:
    """SIGKILL at several moments of `write_transformed_track` (a new track, then replacing
    one) leaves every listed track reading as before; the next call succeeds."""
    path = write_small(tmp_path / "k.gvl", TILES, SAMPLES[:3], length=2048, max_jitter=8)
    ds = gvl.Dataset.open(path, FASTA, jitter=0)
    ds.write_transformed_track("double", "bigwig", lambda d, r, s, t: t, progress=False)  # to be replaced
    want = {n: gvl.Dataset.open(path, FASTA, jitter=0, return_tracks=n)[:, :][1] for n in ("bigwig", "double")}
    rng = np.random.default_rng(11)
    for name in ("fresh", "double"):
        for delay in rng.uniform(0.3, 2.5, 3):
            proc = subprocess.Popen(
                [sys.executable, "-c", TRANSFORMER, str(path), FASTA, name], stdout=subprocess.PIPE, text=True
            )
            assert proc.stdout.readline().strip() == "start"
            time.sleep(delay)
            proc.kill()
            proc.wait()
            reopened = gvl.Dataset.open(path, FASTA, jitter=0)
            assert {"bigwig", "double"} <= set(reopened.available_tracks)
            np.testing.assert_array_equal(_track(reopened, "bigwig"), want["bigwig"])
            double = _track(reopened, "double")
            # replaced or not, never torn: the old values, or (killed after the swap) the new ones
            if not np.array_equal(double, want["double"]):
                assert name == "double"
                np.testing.assert_array_equal(double, want["bigwig"] * 2)
            if "fresh" in reopened.available_tracks:  # listed only when whole
                np.testing.assert_array_equal(_track(reopened, "fresh"), want["bigwig"] * 2)
    done = subprocess.run(
        [sys.executable, "-c", TRANSFORMER, str(path), FASTA, "fresh"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = gvl.Dataset.open(path, FASTA, jitter=0, return_tracks="fresh")[:, :][1]
    np.testing.assert_array_equal(fresh, want["bigwig"] * 2)


def test_persistent_dataloader_workers_read_two_epochs(tiles_dataset: Path) -> None:
    """`num_workers=2, persistent_workers=True` on a local store: each of two epochs yields
    every instance once, equal to reading it directly."""
    plain = gvl.Dataset.open(tiles_dataset, FASTA, jitter=0, return_tracks="bigwig").subset_to(regions=range(6))
    ds = plain.with_settings(return_indices=True)
    loader = ds.to_dataloader(batch_size=8, shuffle=True, num_workers=2, persistent_workers=True)
    haps_all, tracks_all = plain[:]
    for epoch in range(2):
        seen = []
        for haps, tracks, idx, _, _ in loader:
            idx = idx.numpy()
            np.testing.assert_array_equal(haps.numpy(), haps_all[idx].view(np.uint8))
            np.testing.assert_array_equal(tracks.numpy(), tracks_all[idx])
            seen.append(idx)
        assert sorted(np.concatenate(seen).tolist()) == list(range(len(ds))), epoch


def test_open_maps_track_shards_in_the_background_and_forks_cleanly(tiles_dataset: Path) -> None:
    """`open` of a local store maps its track shards and reads its shard indexes in a background
    thread (`_warm`); a fork right after `open` waits for that thread, and the child reads
    what the parent reads."""
    import os
    import pickle

    from gvl_zarr import _warm

    ds = gvl.Dataset.open(tiles_dataset, FASTA, jitter=0, return_tracks="bigwig")
    batch = np.arange(0, len(ds), 7)
    read, write = os.pipe()
    pid = os.fork()  # joins the warm thread first (os.register_at_fork)
    if pid == 0:  # child: read and send back, then leave without running the parent's exit handlers
        try:
            os.write(write, pickle.dumps(ds[batch]))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        child = pickle.loads(f.read())
    os.waitpid(pid, 0)
    for thread in _warm._threads:
        thread.join(30)
    mapped = [m for track in ds._data.tracks.values() for m in track.intervals.mapped or ()]
    assert mapped and all(m._buf is not None for m in mapped)
    # and read the shard indexes a first batch needs, so it reads only chunks
    first = _warm._first_read(ds._data)
    assert first and all(ds._data.cache.cached(a._index_key((0,) * len(a.shape))) for a in first)
    for got, want in zip(child, ds[batch], strict=True):
        np.testing.assert_array_equal(got, want)


def test_open_loads_the_read_kernels_before_it_returns(tiles_dataset: Path) -> None:
    """A fresh process's `open` sets numba up and loads the cached read kernels in a thread it
    joins before returning, so a batch straight after `open` waits for none of it."""
    import subprocess
    import sys

    gvl.Dataset.open(tiles_dataset, FASTA)[0, 0]  # compiled and in numba's disk cache now
    code = (
        "import threading, gvl_zarr as gvl\n"
        "from gvl_zarr._kernels.haplotypes import reconstruct\n"
        f"ds = gvl.Dataset.open({str(tiles_dataset)!r}, {str(FASTA)!r})\n"
        "names = [t.name for t in threading.enumerate()]\n"
        "assert reconstruct.overloads and 'gvl_zarr-kernels' not in names, names\n"
        "ds[0, 0]\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_background_threads_are_stopped_and_joined_at_exit(tiles_dataset: Path) -> None:
    """The exit handler stops the verifier, preloader and warm-up threads and joins them (one
    ended inside a nogil kernel during finalisation aborted a finished script), and the
    process exits 0."""
    script = textwrap.dedent(
        """
        import sys, threading
        import numpy as np
        import gvl_zarr as gvl
        from gvl_zarr import _shutdown

        ds = gvl.Dataset.open(sys.argv[1], sys.argv[2], jitter=0, return_tracks="bigwig")
        ds[np.arange(0, len(ds), 5)]
        started = sorted(t.name for t in threading.enumerate() if t.name.startswith("gvl_zarr-"))
        _shutdown._join_all()
        alive = sorted(t.name for t in threading.enumerate() if t.name.startswith("gvl_zarr-") and t.is_alive())
        print(",".join(started), "|", ",".join(alive))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tiles_dataset), FASTA], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    started, alive = (part.strip() for part in done.stdout.strip().rsplit("|", 1))
    assert "gvl_zarr-preload" in started and alive == ""
