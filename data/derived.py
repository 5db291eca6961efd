"""Figures derived from a store, kept on disk between runs (the screen's point-in-time panel and
scores, the data checks), so that a fresh process does not rebuild them.

An entry is found again only when nothing it was derived from has changed: its key holds the
store's folder and the manifest the reading :class:`Store` holds (which names every table's
SHA-256), the size, modification time and inode of every file in the store, the caller's key
(universe content, dates, settings) and a fingerprint of the code that derives it (every
``.py`` file of the ``data``, ``screens`` and ``strategies`` packages, and the versions of
Python, numpy, pandas and pyarrow).  A table rewritten or
corrupted in place changes its file's stat, so the next run reads (and checks) it again;
``aigap data verify`` always reads every table.

The cache is best effort: an unreadable entry is recomputed, an unwritable folder is skipped.
``AIGAP_CACHE_DIR`` moves it, ``AIGAP_NO_CACHE=1`` turns it off.  Entries are pickles written
atomically into a folder only the user can read (mode 0700), and read only from a folder that
is the user's and that no one else can write; the newest :data:`KEEP` are kept.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from data.store import Store

__all__ = [
    "KEEP",
    "cache_environment",
    "cache_home",
    "code_fingerprint",
    "derived_dir",
    "load_or_compute",
    "use_numba_cache",
]

KEEP = 256  #: entries kept (the oldest are removed on write)
NO_CACHE_VAR = "AIGAP_NO_CACHE"  #: 1, true, yes or on: no derived figures are kept or read
CACHE_DIR_VAR = "AIGAP_CACHE_DIR"  #: where they are kept (default: cache_home()/derived)
_PACKAGES = ("data", "screens", "strategies")


def _xdg_cache() -> str:
    """``$XDG_CACHE_HOME``, or its default ``~/.cache`` when unset or empty."""
    return os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/aigap`` (``~/.cache/aigap``): the Numba cache and the derived figures."""
    return Path(_xdg_cache()) / "aigap"


def cache_environment() -> dict[str, str]:
    """What decides where derived figures and compiled kernels are kept, each as an explicit
    value (for a process that would otherwise inherit an older environment): the AIGAP
    variables ("" when unset, which they read as unset) and ``XDG_CACHE_HOME`` (its default
    when unset: numba reads "" as a folder)."""
    env = {k: os.environ.get(k, "") for k in (NO_CACHE_VAR, CACHE_DIR_VAR)}
    env["XDG_CACHE_HOME"] = _xdg_cache()
    return env


def use_numba_cache() -> None:
    """Numba's compiled kernels (vectorbt's and :mod:`backtests.kernel`) go to
    ``cache_home()/numba`` unless ``NUMBA_CACHE_DIR`` is set; call before importing numba."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        path = cache_home() / "numba"
        try:
            path.mkdir(parents=True, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = str(path)
        except OSError:
            pass  # a read-only home: numba falls back to its own locations


def derived_dir() -> Path | None:
    """Where derived figures are kept, or None when the cache is off."""
    if os.environ.get(NO_CACHE_VAR, "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    return Path(os.environ.get(CACHE_DIR_VAR) or cache_home() / "derived")


@functools.cache
def code_fingerprint() -> str:
    """The code that derives the figures: every ``.py`` file of :data:`_PACKAGES` (size and
    time) and the versions of Python and of the libraries the figures go through.  Taken once
    per process, when :mod:`data.store` is imported (before the code that derives figures is
    loaded), so that a file edited while a process runs never labels that process's figures as
    the new code's."""
    import numpy
    import pandas
    import pyarrow

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(
        f"{sys.version}|{numpy.__version__}|{pandas.__version__}|{pyarrow.__version__}\n".encode()
    )
    for pkg in _PACKAGES:
        for f in sorted((root / pkg).rglob("*.py")):
            st = f.stat()
            h.update(f"{f.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _store_fingerprint(store: Store) -> str | None:
    """The store as this :class:`Store` object sees it: the manifest it holds (which names
    every table's SHA-256, and the Store reads only tables that match) and the folder as it
    was opened (:attr:`data.store.Store.stamp`: size, time and inode of every file).  A store
    committed again after the object read its manifest therefore never gets this object's
    figures under the new state's key.  None when a table is kept in a plain file that
    manifest does not pin by a checksum (a store written before checksums: what such a Store
    read cannot be told from the folder, so nothing is kept).  The version a commit keeps
    from the one before is not read, and does not count."""

    from data.store import is_plain_table  # data.store uses this module

    def compute() -> str | None:
        files = store.manifest().get("files", {})
        if any(is_plain_table(n, files) for n, *_ in store.stamp):
            return None
        h = hashlib.sha256(f"{store.root.resolve()}\n".encode())
        h.update(json.dumps(store.manifest(), sort_keys=True, default=str).encode())
        h.update(repr(store.stamp).encode())
        return h.hexdigest()

    fingerprint: str | None = store.cached("derived:fingerprint", compute)
    return fingerprint


def _private(folder: Path) -> bool:
    """The cache folder is the user's own and no one else may write it (a pickle runs code
    when loaded)."""
    try:
        st = folder.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load_or_compute(store: Store, key: str, compute: Callable[[], Any]) -> Any:
    """The value derived under ``key`` from ``store``: from disk when an entry with every input
    unchanged exists, else computed and written."""
    folder = derived_dir()
    if folder is None:
        return compute()
    try:
        store_fp = _store_fingerprint(store)
    except OSError:
        return compute()
    if store_fp is None:
        return compute()
    name = hashlib.sha256(f"{code_fingerprint()}\n{store_fp}\n{key}".encode()).hexdigest()
    path = folder / f"{name}.pkl"
    if folder.is_dir() and not _private(folder):
        return compute()  # a folder others can write: neither read nor written
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except Exception:
        pass
    value = compute()
    _write(folder, path, value)
    return value


def _write(folder: Path, path: Path, value: Any) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        entries = sorted(folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-KEEP]:
            old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        pass  # a read-only or full disk: the figures are simply computed next time
