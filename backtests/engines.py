"""Where a sweep runs: in this process (``local``) or on an existing distributed engine
(``dask``: a ``dask.distributed`` scheduler, or a local cluster of worker processes).

A sweep is cut into chunks that are independent (one pair and one lookback of the pairs grid);
each chunk is a pure function of its arguments, so the result does not depend on where or in
which order chunks ran.  At most ``2 x workers`` chunks are in flight at once and results are
gathered as they complete, so memory stays bounded whatever the size of the grid.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from data.derived import cache_environment
from data.errors import AigapError, InputError, ProviderError

__all__ = ["ENGINES", "map_chunks"]

ENGINES = ("local", "dask")
#: the scheduler of an existing Dask cluster (``tcp://host:8786``); unset: a local cluster
DASK_ADDRESS_VAR = "AIGAP_DASK_ADDRESS"
#: how a local cluster starts its worker processes: forked from one server process that has
#: imported distributed, numpy and pandas once (Dask's default, ``spawn``, starts each worker
#: as a new interpreter that imports them again: about 1 s of CPU per worker, measured).  The
#: server keeps the environment of its start (the first local cluster of this process), so
#: each worker is given what it reads of the environment (where derived figures are kept) as
#: it is when the worker starts (:func:`data.derived.cache_environment`).
LOCAL_START_METHOD = "forkserver"


@contextmanager
def _dask_client(workers: int | None) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(
            "--engine dask needs dask.distributed: pip install 'aigap[dask]'"
        ) from None
    address = os.environ.get(DASK_ADDRESS_VAR)
    if address:
        try:
            client = Client(address, timeout="10s")
        except OSError as e:
            raise ProviderError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    n = workers or max(1, (os.cpu_count() or 2))
    with (
        dask.config.set({"distributed.worker.multiprocessing-method": LOCAL_START_METHOD}),
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=cache_environment(),
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@dataclass(frozen=True)
class _Raised:
    """A chunk's :class:`~data.errors.AigapError`, returned as its value with the worker's
    traceback: the caller raises it again, and the cluster does not log a failed task (a
    traceback per chunk before the one-line error)."""

    error: AigapError
    trace: str


def _errors_returned(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except AigapError as e:
        return _Raised(e, traceback.format_exc())


def map_chunks(
    fn: Callable[..., Any],
    chunks: Sequence[tuple],
    *,
    engine: str = "local",
    workers: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list:
    """``[fn(*c) for c in chunks]``, computed on ``engine``; results in the order of
    ``chunks``.  ``on_done`` is called with 1 after each chunk (a progress bar)."""
    if engine not in ENGINES:
        raise InputError(f"--engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if engine == "local":
        out = []
        for c in chunks:
            out.append(fn(*c))
            if on_done:
                on_done(1)
        return out
    from distributed import as_completed, wait

    results: list = [None] * len(chunks)
    with _dask_client(workers) as client:
        window = 2 * max(1, len(client.scheduler_info().get("workers", {})) or 1)
        running: dict = {}  # future: position in chunks
        pool = as_completed()

        def submit(i: int) -> None:
            fut = client.submit(_errors_returned, fn, *chunks[i], pure=False)
            running[fut] = i
            pool.add(fut)

        for i in range(min(window, len(chunks))):
            submit(i)
        nxt = window
        for fut in pool:
            got = fut.result()
            i = running.pop(fut)
            if isinstance(got, _Raised):
                # the chunks in flight end first: cancelled ones would each log a warning
                wait(list(running))
                got.error.add_note(f"in the worker:\n{got.trace}")  # for --debug
                raise got.error
            results[i] = got
            fut.release()
            if on_done:
                on_done(1)
            if nxt < len(chunks):
                submit(nxt)
                nxt += 1
    return results
