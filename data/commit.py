"""Writing a new version of a store so that a crash cannot leave a mix of two versions.

Every changed table is written under a content-addressed name (``prices.<sha12>.parquet``, flushed
to disk); then ``manifest.json``, which names each table's file with its size and SHA-256, is
replaced atomically: that rename is the commit.  Only then are the files of versions older than
the previous one removed (a reader that opened the previous version a moment before still finds
its files).  A process killed at any moment leaves the old manifest with the old files, or the
new manifest with the new files; a reader checks each file against the manifest before using it.

Writers hold a lock on the store (``.aigap.lock``), so two ``aigap data update`` runs cannot
interleave their commits.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from data.errors import OutputPathError, StoreLockedError
from data.store import MANIFEST, atomic_write_bytes, atomic_write_text, plain_tables, sha256

__all__ = ["LOCK_FILE", "commit_tables", "file_entries", "parquet_bytes", "store_lock"]

LOCK_FILE = ".aigap.lock"
_VERSIONED = re.compile(r"(?P<name>[a-z_]+)\.[0-9a-f]{12}\.parquet")
_TEMPORARY = re.compile(r"\..+\.(parquet|json)\..+")  # mkstemp names of _atomic_target


@contextmanager
def store_lock(root: str | Path, timeout: float = 0.0) -> Iterator[None]:
    """Exclusive write access to a store, or :class:`StoreLockedError` after ``timeout``
    seconds.  The lock is released by the OS if the holder dies (even by SIGKILL)."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(root / LOCK_FILE), timeout=timeout)
        lock.acquire()
    except Timeout:
        raise StoreLockedError(root) from None
    except OSError as e:
        raise OutputPathError(root, e.strerror or type(e).__name__) from None
    try:
        yield
    finally:
        lock.release()


def parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, compression="zstd")
    return buf.getvalue()


def _entry(file: str, data: bytes) -> dict:
    return {"file": file, "bytes": len(data), "sha256": sha256(data)}


def file_entries(root: str | Path, names: list[str]) -> dict[str, dict]:
    """Manifest entries of the plain ``<name>.parquet`` files in ``root`` (the snapshot build
    and stores written before checksums)."""
    root = Path(root)
    out = {}
    for name in names:
        path = root / f"{name}.parquet"
        if path.is_file():
            out[name] = _entry(path.name, path.read_bytes())
    return out


def commit_tables(root: str | Path, tables: dict[str, pd.DataFrame], manifest: dict) -> dict:
    """Write ``tables`` as a new version of the store at ``root`` with ``manifest`` (its other
    keys kept as given) and return the manifest written.  Call it holding :func:`store_lock`."""
    root = Path(root)
    previous = dict(manifest.get("files") or {})
    files = dict(previous)
    files.update(file_entries(root, plain_tables(root, files)))  # checked from now on
    for name, df in sorted(tables.items()):
        data = parquet_bytes(df)
        file = f"{name}.{sha256(data)[:12]}.parquet"
        if not (root / file).is_file() or (root / file).read_bytes() != data:
            atomic_write_bytes(data, root / file)
        files[name] = _entry(file, data)
    new = {**manifest, "files": dict(sorted(files.items()))}
    atomic_write_text(json.dumps(new, indent=1, sort_keys=True) + "\n", root / MANIFEST)
    remove_unreferenced(root, new["files"], keep=previous)
    return new


def remove_unreferenced(
    root: Path, files: dict[str, dict], keep: dict[str, dict] | None = None
) -> list[str]:
    """Delete table files neither the new manifest nor the previous one (``keep``) names, and
    temporary files of interrupted writes; any other file in the folder is left alone.  The
    previous version's files stay one commit longer, for a reader that opened it just before."""
    used = {e["file"] for e in files.values()} | {e["file"] for e in (keep or {}).values()}
    removed = []
    for p in sorted(root.iterdir()):
        m = _VERSIONED.fullmatch(p.name)
        stale_plain = p.suffix == ".parquet" and p.stem in files and p.name not in used
        if (m and p.name not in used) or stale_plain or _TEMPORARY.fullmatch(p.name):
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed
