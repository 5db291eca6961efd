"""Bad input, unwritable paths, file modes and documents that must still parse: each case a new
user hit (issue 11), with the exit code the README documents (2 input, 3 data, 4 upstream)."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile

import pandas as pd
import pytest

from aigap.cli import main
from data.calendar import us_calendar
from data.store import atomic_write_text

LAST = "2026-07-14"  # the embedded data's last US trading day (checked below against the store)


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> bool:
    return err.startswith("aigap: error:") and err.count("\n") == 1 and "Traceback" not in err


def test_last_day_constant_is_the_store_end(embedded):
    assert us_calendar(embedded).max() == pd.Timestamp(LAST)


@pytest.fixture(scope="module")
def archived(tmp_path_factory):
    """A screen archived on 2026-07-01 to diff against."""
    folder = tmp_path_factory.mktemp("arch")
    assert (
        main(
            [
                "screen",
                "--as-of",
                "2026-07-01",
                "--archive",
                str(folder),
                "--format",
                "csv",
                "--out",
                str(folder / "ignored.csv"),
            ]
        )
        == 0
    )
    return folder


def test_diff_with_json_keeps_one_json_document(capsys, archived):
    code, out, err = run(
        capsys,
        "screen",
        "--as-of",
        "2025-12-31",
        "--archive",
        str(archived),
        "--diff",
        "2026-07-01",
        "--format",
        "json",
    )
    assert code == 0, err
    doc = json.loads(out)  # the whole of stdout parses
    assert doc["diff"]["previous_as_of"] == "2026-07-01"
    changes = {c["ticker"]: c for c in doc["diff"]["changes"]}
    ranked_now = {r["ticker"]: r["rank"] for r in doc["rows"] if r["rank"] is not None}
    for t, c in changes.items():
        assert c["rank"] == ranked_now.get(t)
        assert c["change"] in {"entered", "left", "up", "down", "unchanged"}


def test_diff_with_csv_keeps_stdout_a_csv(capsys, archived):
    code, out, err = run(
        capsys,
        "screen",
        "--as-of",
        "2025-12-31",
        "--archive",
        str(archived),
        "--diff",
        "2026-07-01",
        "--format",
        "csv",
    )
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out))
    assert list(df.columns[:3]) == ["as_of", "rank", "ticker"]
    assert not any(ch in out for ch in "│┃━─└┘")  # no table lines in the CSV
    assert "Changes since the screen of 2026-07-01" in err


def test_export_format_follows_the_extension(capsys, tmp_path):
    wl = tmp_path / "w.xlsx"
    code, _, err = run(capsys, "screen", "--export", str(wl), "--format", "csv")
    assert code == 0, err
    assert zipfile.is_zipfile(wl) and "(xlsx)" in err
    code, _, err = run(
        capsys, "screen", "--export", str(tmp_path / "w2.xlsx"), "--watchlist-format", "csv"
    )
    assert code == 2 and one_line_error(err) and "extension .xlsx" in err
    assert not (tmp_path / "w2.xlsx").exists()
    code, _, err = run(capsys, "screen", "--export", str(tmp_path / "w.dat"))
    assert code == 2 and one_line_error(err) and "--watchlist-format" in err


@pytest.mark.parametrize("umask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        atomic_write_text("x", tmp_path / "f.txt")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == expected


def test_an_overwrite_keeps_the_old_mode(capsys, tmp_path):
    target = tmp_path / "s.csv"
    target.write_text("old")
    target.chmod(0o640)
    old = os.umask(0o077)
    try:
        code, _, err = run(capsys, "screen", "--format", "csv", "--out", str(target))
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() != "old"


@pytest.mark.parametrize("as_of", ["2030-01-01", "today"])
def test_as_of_after_the_data_screens_the_last_day_and_says_so(capsys, tmp_path, as_of):
    wl = tmp_path / "w.txt"
    code, out, err = run(
        capsys, "screen", "--as-of", as_of, "--format", "json", "--export", str(wl)
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["as_of"] == LAST and "after the end of the data" in err
    assert doc["notes"] and LAST in doc["notes"][0]
    ranked = [r["ticker"] for r in doc["rows"] if r["rank"] is not None]
    assert len(ranked) >= 10 and wl.read_text().split() == ranked


@pytest.mark.parametrize(
    "args,path",
    [
        (("screen", "--export", "/proc/aigap-nope/w.csv"), "/proc/aigap-nope/w.csv"),
        (("screen", "--export", "/proc/w.csv"), "/proc/w.csv"),
        (("screen", "--archive", "/proc/aigap-arch"), "/proc/aigap-arch"),
        (("screen", "--format", "csv", "--out", "/proc/s.csv"), "/proc/s.csv"),
        (("data", "prices", "BABA", "--out", "/proc/p.csv"), "/proc/p.csv"),
        (("backtest", "discount", "--out", "/proc/aigap-bt"), "/proc/aigap-bt"),
    ],
)
def test_unwritable_paths_name_the_path_given(capsys, args, path):
    code, out, err = run(capsys, *args)
    assert code == 2 and one_line_error(err), err
    assert f"cannot write {path}:" in err and "/." not in err  # not a temporary file's name
    assert out == ""  # refused before any work


def test_unwritable_folder_for_a_normal_user(capsys, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a 0500 folder; the /proc cases above cover root")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    code, _, err = run(capsys, "screen", "--export", str(ro / "w.csv"))
    assert code == 2 and f"cannot write {ro / 'w.csv'}: Permission denied" in err


def test_tilde_is_expanded_in_path_options(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, err = run(
        capsys,
        "screen",
        "--archive=~/arch",
        "--export=~/w.csv",
        "--format",
        "json",
        "--out=~/s.json",
    )
    assert code == 0, err
    assert (tmp_path / "home" / "arch" / f"screen-{LAST}.json").is_file()
    assert (tmp_path / "home" / "w.csv").is_file() and (tmp_path / "home" / "s.json").is_file()
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (("screen", "--as-of", "01/02/2026"), 2, "YYYY-MM-DD"),
        (("screen", "--as-of", "2026-1-2"), 2, "YYYY-MM-DD"),
        (("screen", "--as-of", "1999-01-01"), 3, "before any valuation data"),
        (
            ("data", "prices", "BABA", "--start", "2026-01-01", "--end", "2020-01-01"),
            2,
            "is after --end",
        ),
        (("data", "prices", "NOPE"), 3, "unknown ticker"),
        (("backtest", "pairs", "--pair", "AMZN:BABA"), 2, "Chinese name"),
        (("backtest", "pairs", "--pair", "BABA:AMZN", "--fees", "10"), 2, "fraction per trade"),
        (("backtest", "discount", "--slippage", "-0.01"), 2, "--slippage"),
        (("backtest", "discount", "--cap", "2"), 2, "--cap"),
        (("backtest", "discount", "--top", "0"), 2, "--top"),
        (("backtest", "pairs", "--lookback", "1"), 2, "--lookback"),
        (("backtest", "pairs", "--borrow-rate", "3"), 2, "--borrow-rate"),
        (("pairs", "scan", "--top", "-1"), 2, "--top"),
        (("backtest", "pairs", "--engine", "spark"), 2, "--engine"),
        (("backtest", "pairs", "--engine", "dask", "--workers", "0"), 2, "--workers"),
        (("screen", "--exclude-stale", "false"), 2, "--exclude-stale is a flag"),
        (("screen", "--exclude-stale=false"), 2, "--exclude-stale is a flag"),
        (("screen", "--min-market-cap", "-5"), 2, "--min-market-cap"),
        (("screen", "--diff", "x" * 300), 2, "File name too long"),  # found by Hypothesis
        (("screen", "--watchlist-format", "txt"), 2, "needs --export"),
        (("data", "prices", "BABA", "--start", "2040-01-01"), 3, "no prices of BABA"),
        (
            ("backtest", "discount", "--start", "1990-01-01", "--end", "1995-01-01"),
            3,
            "no name could be valued",
        ),
        (("screen", "--universe", "/dev/null"), 2, "nothing to screen"),
        (("data", "update", "BABA", "--data-dir", "/etc/hostname"), 2, "not a folder"),
        (("data", "update", "BABA", "--data-dir", "/proc/aigap/x"), 2, "cannot write"),
    ],
)
def test_bad_input_exit_codes(capsys, args, code, needle):
    got, out, err = run(capsys, *args)
    assert got == code and one_line_error(err) and needle in err, (got, err)
    assert out == ""


def test_help_lists_format_choices_and_version(capsys):
    code, out, _ = run(capsys, "screen", "--help")
    flat = " ".join(out.split())
    assert code == 0 and "table|csv|json" in flat and "csv|json|txt|tradingview|xlsx" in flat
    code, out, _ = run(capsys, "--version")
    from importlib.metadata import version

    assert code == 0 and out.strip() == f"aigap {version('aigap')}"


def test_debug_shows_the_traceback_and_internal_errors_are_70(capsys, monkeypatch):
    code, _, err = run(capsys, "screen", "--as-of", "01/02/2026", "--debug")
    assert code == 2 and "Traceback" in err and err.rstrip().endswith("YYYY-MM-DD or today)")

    def boom(*a, **k):
        raise RuntimeError("unexpected")

    monkeypatch.setattr("screens.screen.run_screen", boom)
    code, _, err = run(capsys, "screen")
    assert code == 70 and "internal error" in err and err.count("\n") == 1
    code, _, err = run(capsys, "screen", "--debug")
    assert code == 70 and "Traceback" in err and "RuntimeError: unexpected" in err


def test_update_without_a_store_folder_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("AIGAP_DATA_DIR", raising=False)
    code, out, err = run(capsys, "data", "update", "BABA")
    assert code == 2 and one_line_error(err) and "--data-dir" in err and out == ""


def test_links_and_devices_are_written_through_not_replaced(capsys, tmp_path):
    target = tmp_path / "real.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, _, err = run(capsys, "screen", "--format", "csv", "--out", str(link))
    assert code == 0, err
    assert link.is_symlink() and target.read_text().startswith("as_of,rank")
    code, _, err = run(capsys, "screen", "--format", "csv", "--out", "/dev/null")
    assert code == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_the_command_exits_with_the_code_of_main(monkeypatch, capsys):
    """``aigap`` (``aigap.cli:run``) exits with the code :func:`main` returns, having frozen
    what is left for the collector (the subprocess tests run it for real)."""
    import gc

    from aigap.cli import run as command

    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    with pytest.raises(SystemExit) as exited:
        command(["screen", "--as-of", "1999-01-01"])
    assert exited.value.code == 3 and frozen == [True]
    assert one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize(
    "args,unbuffered",
    [
        (["--version"], None),  # a short output, written by the flush at exit
        (["data", "status", "--format", "json"], "1"),  # written inside the command
    ],
)
def test_a_reader_that_has_gone_is_exit_1_and_silent(args, unbuffered):
    """``aigap ... | head``: the pipe's reader closes it; Python's own flush at exit printed
    "Exception ignored ... BrokenPipeError" and exited 120."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = unbuffered
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first byte
    try:
        p = subprocess.run([sys.executable, "-m", "aigap.cli", *args], stdout=write,
                           stderr=subprocess.PIPE, text=True, env=env, check=False)  # fmt: skip
    finally:
        os.close(write)
    assert (p.returncode, p.stderr) == (1, "")


@pytest.mark.parametrize(
    "args",
    [
        ["data", "status", "--format", "json"],  # 10 KB: written inside the command
        ["--version"],  # a short output, written by the flush at exit (was a traceback)
    ],
)
def test_a_full_disk_on_stdout_is_one_line(args):
    import subprocess
    import sys

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "aigap.cli", *args], stdout=full,
                           stderr=subprocess.PIPE, text=True, env=env, check=False)  # fmt: skip
    assert p.returncode == 2 and p.stderr.startswith("aigap: error: cannot write the output")
    assert p.stderr.count("\n") == 1, p.stderr


def test_an_end_after_the_data_is_said(capsys):
    code, _, err = run(
        capsys,
        "backtest",
        "pairs",
        "--pair",
        "BABA:AMZN",
        "--start",
        "2025-06-01",
        "--end",
        "2030-01-01",
        "--format",
        "json",
    )
    assert code == 0 and f"the backtest ends on {LAST}" in err


@pytest.mark.parametrize(
    "args",
    [
        ["screen", "--out", "{d}/M", "--archive", "{d}/M"],  # found by Hypothesis
        ["screen", "--out", "{d}/M.csv", "--export", "{d}/./M.csv"],
        [
            "screen",
            "--as-of",
            "2025-06-30",
            "--format",
            "json",
            "--out",
            "{d}/screen-2025-06-30.json",
            "--archive",
            "{d}",
        ],  # found by review
        [
            "backtest",
            "pairs",
            "--pair",
            "BABA:AMZN",
            "--out",
            "{d}/r.html",
            "--report",
            "{d}/r.html",
        ],
    ],
)
def test_two_outputs_on_one_path_are_refused_before_anything_is_written(capsys, tmp_path, args):
    got, _, err = run(capsys, *[a.format(d=tmp_path) for a in args])
    assert got == 2 and one_line_error(err) and "name the same path" in err, err
    assert list(tmp_path.iterdir()) == []  # nothing half-written
