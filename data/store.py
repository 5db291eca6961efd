"""The local data store: a folder of parquet tables plus ``manifest.json``.

The embedded snapshot (``data/snapshot``) is one such folder, read-only.  A user store (from
``--data-dir`` or ``AIGAP_DATA_DIR``) has the same layout and is written atomically by
``aigap data update``.

Canonical frames
----------------
``prices``: long, one row per (date, ticker): ``open high low close volume``; adjusted close in the
listing currency; FX series under their Yahoo symbols (``CNY=X``, ``HKD=X``: local per USD).
``fundamentals``: long, one row per (ticker, fiscal_year), money in millions of ``currency``,
per-share figures per listed unit, ``public_date`` = the date the figures became public.
``valuations``: long, one row per (date, ticker, source) valuation snapshot, money in USD.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.derived import code_fingerprint, load_or_compute
from data.errors import (
    AigapError,
    CorruptFileError,
    DataError,
    InputError,
    OutputPathError,
    UnknownTickerError,
)

code_fingerprint()  # the code as loaded now labels every figure this process keeps

__all__ = [
    "EMBEDDED",
    "FX_CURRENCY",
    "FX_SYMBOLS",
    "PRICE_COLUMNS",
    "TABLES",
    "Store",
    "atomic_write_bytes",
    "atomic_write_parquet",
    "atomic_write_text",
    "open_store",
    "price_currency",
    "resolve_store",
]

EMBEDDED = Path(__file__).resolve().parent / "snapshot"
TABLES = (
    "prices",
    "fundamentals",
    "corporate_actions",
    "shares",
    "sec_facts",
    "valuations",
)
FX_SYMBOLS = {"CNY": "CNY=X", "HKD": "HKD=X"}
#: the currency of each FX series
FX_CURRENCY = {sym: ccy for ccy, sym in FX_SYMBOLS.items()}
#: columns of the prices table: adjusted OHLC in ``currency``, ``close_traded`` the close as
#: printed on its date (no later dividend or split adjustment; NaN where unknown) and
#: ``traded_estimated`` (its dividend factor was filled across a gap in the record); FX rows are
#: local per USD
PRICE_COLUMNS = [
    "date",
    "ticker",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "currency",
    "close_traded",
    "traded_estimated",
]


def price_currency(ticker: str, universe) -> str:
    """The unit of a stored price: the listing currency, or e.g. ``CNY per USD`` for FX."""
    fx = {v: k for k, v in FX_SYMBOLS.items()}
    if ticker in fx:
        return f"{fx[ticker]} per USD"
    if isinstance(universe, dict):  # the raw TOML mapping during the snapshot build
        for section in ("china", "us", "benchmarks"):
            if ticker in universe.get(section, {}):
                return str(universe[section][ticker].get("currency", "USD"))
        return "USD"
    return universe[ticker].currency if ticker in universe.listings else "USD"


ENV_VAR = "AIGAP_DATA_DIR"
MANIFEST = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _final_mode(path: Path) -> int:
    """An overwrite keeps the old file's permissions; a new file gets what ``open`` would give
    it under the process umask (``mkstemp`` creates 0600 files, whose mode would survive the
    rename)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some filesystems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """A temporary path in the same folder, renamed onto ``path`` only if the block succeeds
    (flushed to disk first): never a half-written file, and a failed write leaves the old file
    as it was.  An OS error names the path asked for, not the temporary file.  A symbolic link
    is followed (the link stays); a FIFO or device is written into, not replaced."""
    asked = path
    if path.is_symlink():  # write the file the link points to; the link stays a link
        path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():  # a FIFO or a device (/dev/null): write into it
        try:
            yield path
        except OSError as e:
            raise OutputPathError(asked, e.strerror or type(e).__name__) from None
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise OutputPathError(asked, e.strerror or type(e).__name__) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, _final_mode(path))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, AigapError):
            raise OutputPathError(asked, e.strerror or type(e).__name__) from None
        raise


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    with _atomic_target(path) as tmp:
        df.to_parquet(tmp, index=False, compression="zstd")


def atomic_write_bytes(data: bytes, path: Path) -> None:
    with _atomic_target(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(text: str, path: Path) -> None:
    atomic_write_bytes(text.encode("utf-8"), path)


class Store:
    """Read access to one store folder (tables are loaded once, on first use)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._cache: dict[str, Any] = {}
        if not self.table_path("prices").is_file():
            raise DataError(f"no data store at {self.root} (no prices table)")
        #: the folder as opened (with the manifest just read): what this object's figures
        #: derive from (:mod:`data.derived`)
        self.stamp = folder_stamp(self.root)

    @property
    def embedded(self) -> bool:
        return self.root.resolve() == EMBEDDED.resolve()

    def cached(self, key: str, compute: Callable[[], Any], *, persist: bool = False) -> Any:
        """A value derived from this store's tables, computed once per :class:`Store` object;
        with ``persist``, also kept on disk between processes (:mod:`data.derived`: ``key`` must
        then name every input besides the store and the code)."""
        if key not in self._cache:
            if persist:
                self._cache[key] = load_or_compute(self, key, compute)
            else:
                self._cache[key] = compute()
        return self._cache[key]

    def table_path(self, name: str) -> Path:
        """The file of a table: the one the manifest names (a committed version), else the
        plain ``<name>.parquet`` of a store written before checksums."""
        entry = self.manifest().get("files", {}).get(name)
        return self.root / (entry["file"] if entry else f"{name}.parquet")

    def has_table(self, name: str) -> bool:
        return self.table_path(name).is_file()

    def table(self, name: str) -> pd.DataFrame:
        """A table, checked against the manifest's checksum when it has one: a truncated or
        corrupted file raises :class:`CorruptFileError` and is never used."""
        if name not in self._cache:
            path = self.table_path(name)
            if not path.is_file():
                raise DataError(f"data store {self.root} has no {name} table")
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise DataError(
                    f"{path} was removed while reading (a concurrent `aigap data update` "
                    "committed twice); run the command again"
                ) from None
            entry = self.manifest().get("files", {}).get(name)
            if entry and (len(data) != entry["bytes"] or sha256(data) != entry["sha256"]):
                raise CorruptFileError(
                    path, f"{len(data):,} bytes, checksum differs from the manifest"
                )
            try:
                self._cache[name] = pd.read_parquet(io.BytesIO(data))
            except Exception as e:  # pyarrow raises several unrelated types
                raise CorruptFileError(path, f"unreadable: {e}") from None
        return self._cache[name]

    def version(self) -> str:
        """The version of the store this object reads, the same on every machine that holds
        a copy: its manifest's tables with their sizes and checksums, and the checksum of
        each table kept in a plain file the manifest does not name (a store written before
        checksums)."""

        def compute() -> str:
            files = self.manifest().get("files", {})
            plain = {}
            for name in plain_tables(self.root, files):
                path = self.root / f"{name}.parquet"
                try:
                    with open(path, "rb") as fh:
                        plain[name] = hashlib.file_digest(fh, "sha256").hexdigest()
                except OSError as e:
                    raise DataError(f"cannot read {path}: {e.strerror or e}") from None
            return json.dumps({"files": files, "plain": plain}, sort_keys=True)

        version: str = self.cached("store:version", compute)
        return version

    def manifest(self) -> dict:
        if "manifest" not in self._cache:
            path = self.root / MANIFEST
            try:
                doc = json.loads(path.read_text()) if path.is_file() else {}
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise CorruptFileError(path, f"unreadable: {e}") from None
            if not isinstance(doc, dict):
                raise CorruptFileError(path, "not a JSON object")
            _check_files_block(path, doc.get("files", {}))
            self._cache["manifest"] = doc
        return self._cache["manifest"]

    # ------------------------------------------------------------------ prices
    def tickers(self) -> list[str]:
        return sorted(self.table("prices")["ticker"].unique().tolist())

    def close(
        self,
        tickers: Iterable[str] | None = None,
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
        *,
        strict: bool = True,
    ) -> pd.DataFrame:
        """Wide ``date x ticker`` adjusted closes as stored (listing currency).

        ``strict``: unknown tickers raise :class:`UnknownTickerError`; otherwise they are left out.
        """
        p = self._wide_close()
        if tickers is not None:
            tickers = list(dict.fromkeys(tickers))
            missing = [t for t in tickers if t not in p.columns]
            if missing and strict:
                raise UnknownTickerError(missing, f"the data store {self.root}")
            p = p[[t for t in tickers if t in p.columns]]
        if start is not None:
            p = p.loc[pd.Timestamp(start) :]
        if end is not None:
            p = p.loc[: pd.Timestamp(end)]
        return p.dropna(how="all")

    def _wide_close(self) -> pd.DataFrame:
        return self._wide_column("close")

    def _refuse_repeats(self, px: pd.DataFrame) -> None:
        """A prices table that gives one (date, ticker) more than once is refused (which close
        is the day's?)."""
        repeats = px.duplicated(["date", "ticker"])
        if repeats.any():
            at = px[repeats].iloc[0]
            raise CorruptFileError(
                self.table_path("prices"),
                f"{int(repeats.sum())} extra row(s) for a (date, ticker) given before, e.g. "
                f"{at['ticker']} on {pd.Timestamp(at['date']).date()}",
            )

    def _prices_layout(self) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex, pd.Index]:
        """Where each row of the prices table goes in the wide ``date x ticker`` layout (its
        row and column there), and that layout's dates and tickers, in order: worked out once
        for every column (``DataFrame.pivot`` works it out again for each, 3x slower)."""
        if "prices_layout" not in self._cache:
            px = self.table("prices")
            rows, days = pd.factorize(px["date"], sort=True)
            cols, tickers = pd.factorize(px["ticker"], sort=True)
            cells = rows.astype(np.int64) * max(len(tickers), 1) + cols
            if np.count_nonzero(np.bincount(cells)) < len(cells):  # a (date, ticker) twice
                self._refuse_repeats(px)
            index = pd.DatetimeIndex(days, name="date")
            self._cache["prices_layout"] = (rows, cols, index, pd.Index(tickers))
        layout: tuple[np.ndarray, np.ndarray, pd.DatetimeIndex, pd.Index]
        layout = self._cache["prices_layout"]
        return layout

    def _wide_column(self, column: str) -> pd.DataFrame:
        """``date x ticker`` of one column of the prices table, as floats (empty if the store
        lacks it): for the tables the toolkit writes (datetime dates, text tickers), the frame
        ``DataFrame.pivot`` gives, made without it."""
        key = f"wide_{column}"
        if key not in self._cache:
            px = self.table("prices")
            if column not in px.columns:
                if column == "close":
                    raise CorruptFileError(self.table_path("prices"), "no close column")
                w = pd.DataFrame(index=self._wide_close().index)
            elif not len(px) or px["date"].isna().any() or px["ticker"].isna().any():
                self._refuse_repeats(px)  # then pivot's own rules for these
                w = px.assign(v=px[column].astype("float64"))
                w = w.pivot(index="date", columns="ticker", values="v").sort_index()
                w.columns.name = None
            else:
                rows, cols, index, tickers = self._prices_layout()
                values = np.full((len(index), len(tickers)), np.nan)
                values[rows, cols] = px[column].to_numpy(dtype="float64")
                w = pd.DataFrame(values, index=index, columns=tickers)
            self._cache[key] = w
        return self._cache[key]

    def traded_close(self, tickers: Iterable[str]) -> pd.DataFrame:
        """Wide ``date x ticker`` closes as traded on each date (listing currency; NaN where the
        store has none, e.g. a store written before ``close_traded`` existed)."""
        return self._wide_column("close_traded").reindex(columns=list(dict.fromkeys(tickers)))

    def traded_estimated(self, tickers: Iterable[str]) -> pd.DataFrame:
        """Wide ``date x ticker``: True where the traded close rests on an estimated dividend
        factor (False where observed, or where the store does not say)."""
        w = self._wide_column("traded_estimated").reindex(columns=list(dict.fromkeys(tickers)))
        return w.fillna(0.0).astype(bool)

    def fx(self, currency: str) -> pd.Series:
        """Units of ``currency`` per USD, by date (1.0 for USD)."""
        if currency == "USD":
            return pd.Series(1.0, index=self._wide_close().index, name="USD=X")
        sym = FX_SYMBOLS.get(currency)
        if sym is None or sym not in self._wide_close().columns:
            raise DataError(f"no FX series for {currency} in the data store {self.root}")
        return self._wide_close()[sym].dropna()

    # ------------------------------------------------------------------ status
    def status(
        self, currencies: dict[str, str] | None = None, universe_tickers: Iterable[str] = ()
    ) -> pd.DataFrame:
        """One row per ticker: source(s), first date, last date, rows, currency.

        ``universe_tickers`` without any stored price are listed with zero rows (a gap shown,
        not hidden)."""
        px = self.table("prices")
        g = px.groupby("ticker")["date"].agg(["min", "max", "count"])
        sources = {
            s["ticker"]: "+".join(seg["source"] for seg in s.get("segments", []))
            for s in self.manifest().get("series", [])
        }
        currencies = currencies or {}
        stored_ccy = (
            px.drop_duplicates("ticker", keep="last").set_index("ticker")["currency"].to_dict()
            if "currency" in px.columns
            else {}
        )
        rows = []
        for t in dict.fromkeys([*universe_tickers, *g.index]):
            ccy = stored_ccy.get(t) or currencies.get(t) or FX_CURRENCY.get(t, "")
            if t in g.index:
                r = g.loc[t]
                rows.append(
                    {
                        "ticker": t,
                        "source": sources.get(t, "unknown"),
                        "first_date": r["min"].date().isoformat(),
                        "last_date": r["max"].date().isoformat(),
                        "rows": int(r["count"]),
                        "currency": ccy,
                    }
                )
            else:
                rows.append(
                    {
                        "ticker": t,
                        "source": "none",
                        "first_date": None,
                        "last_date": None,
                        "rows": 0,
                        "currency": ccy,
                    }
                )
        return pd.DataFrame(rows)


def _check_files_block(path: Path, files: object) -> None:
    """The manifest's table entries: ``{name: {"file": str, "bytes": int, "sha256": str}}``."""
    ok = isinstance(files, dict) and all(
        isinstance(e, dict)
        and isinstance(e.get("file"), str)
        and "/" not in e["file"]
        and isinstance(e.get("bytes"), int)
        and isinstance(e.get("sha256"), str)
        for e in files.values()
    )
    if not ok:
        raise CorruptFileError(path, "its table entries are malformed")


def resolve_store(data_dir: str | Path | None = None) -> Store:
    """``--data-dir``, else ``$AIGAP_DATA_DIR`` (``~`` expanded), else the embedded snapshot.
    A store already opened in this process and unchanged on disk since is reused, with its
    tables and the values derived from them (:meth:`Store.cached`)."""
    if data_dir:
        return open_store(Path(data_dir))
    env = os.environ.get(ENV_VAR)
    if env:
        return open_store(Path(os.path.expanduser(env)))
    return open_store(EMBEDDED)


def is_plain_table(filename: str, files: dict) -> bool:
    """Whether a file of a store folder is a table kept in a plain ``<name>.parquet`` that
    ``files`` (a manifest's) does not name: written before checksums, so the store reads it
    unchecked.  (A ``<name>.<sha12>.parquet`` the manifest does not name is a version kept
    from the previous commit, never read.)"""
    stem, dot, ext = filename.rpartition(".")
    return bool(dot) and ext == "parquet" and "." not in stem and stem not in files


def plain_tables(root: Path, files: dict) -> list[str]:
    """The tables of the folder ``root`` kept in plain files (:func:`is_plain_table`)."""
    return [
        p.stem
        for p in sorted(root.glob("*.parquet"))
        if is_plain_table(p.name, files) and p.is_file()
    ]


def folder_stamp(root: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Every visible file of ``root`` (name, size, modification time, inode; one stat each):
    whether a store folder changed, for reusing an open store and for keyed derived figures."""
    out = []
    for p in sorted(root.iterdir()):
        if not p.name.startswith("."):
            try:
                st = p.stat()
            except OSError:  # removed since the listing (a commit's clean-up), or a link to
                continue  # nothing or into a loop: not a file of the store
            if stat.S_ISREG(st.st_mode):
                out.append((p.name, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(out)


_OPEN: dict[tuple, Store] = {}
_OPEN_MAX = 8


def open_store(root: Path) -> Store:
    """The :class:`Store` at ``root``, reused while none of its files changed (a commit
    replaces the manifest; an in-place edit changes a file's time and size):
    :func:`folder_stamp`."""
    try:
        stamp = folder_stamp(root) if root.is_dir() else ()
    except OSError:
        stamp = ()
    key = (str(root.resolve()), stamp)
    store = _OPEN.get(key)
    if store is None:
        store = Store(root)
        if len(_OPEN) >= _OPEN_MAX:
            _OPEN.clear()
        _OPEN[key] = store
    return store


def update_target(data_dir: str | Path | None) -> Path:
    """Where ``aigap data update`` may write: ``--data-dir`` or ``$AIGAP_DATA_DIR``, a folder
    (new or holding a store), never the embedded snapshot."""
    target = data_dir or os.environ.get(ENV_VAR)
    if not target:
        raise InputError(
            "aigap data update writes to a user store: pass --data-dir DIR or set "
            f"{ENV_VAR} (the embedded snapshot is read-only)"
        )
    root = Path(os.path.expanduser(str(target)))
    if root.exists() and not root.is_dir():
        raise OutputPathError(root, "it is a file, not a folder")
    if root.resolve() == EMBEDDED.resolve():
        raise InputError("the embedded snapshot is read-only; pass another --data-dir")
    return root


def _seed_files() -> list[Path]:
    return sorted(f for f in EMBEDDED.iterdir() if f.suffix in (".parquet", ".json"))


def seed_store(root: Path) -> bool:
    """Make ``root`` a copy of the embedded snapshot unless it holds a store (call it holding
    the store's lock).  The tables are copied first and the manifest last, so an interrupted
    copy leaves no manifest and is simply copied again.  Returns whether it copied."""
    names = {f.name for f in _seed_files()}
    present = [p for p in root.iterdir() if not p.name.startswith(".")]
    if (root / MANIFEST).is_file():
        Store(root)  # a store: opens (or says it has no prices table)
        return False
    if any(p.name not in names for p in present):
        raise DataError(f"{root} holds files that are not an aigap store; refusing to write")
    for f in _seed_files():
        if f.name != MANIFEST:
            atomic_write_bytes(f.read_bytes(), root / f.name)
    atomic_write_bytes((EMBEDDED / MANIFEST).read_bytes(), root / MANIFEST)
    return True


def unseed_store(root: Path) -> None:
    """Remove a copy :func:`seed_store` made (a first update that received nothing); the
    manifest goes first, so an interruption leaves an incomplete copy, never a store."""
    (root / MANIFEST).unlink(missing_ok=True)
    for f in _seed_files():
        (root / f.name).unlink(missing_ok=True)
