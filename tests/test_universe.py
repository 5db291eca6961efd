from __future__ import annotations

import pytest

from data.errors import UniverseError
from data.universe import SEGMENTS, load_universe

REQUIRED_CHINA = [
    "BABA",
    "BIDU",
    "JD",
    "PDD",
    "NTES",
    "BILI",
    "IQ",
    "TME",
    "KC",
    "GDS",
    "VNET",
    "TUYA",
    "0700.HK",
    "9988.HK",
    "9888.HK",
    "3690.HK",
    "1024.HK",
    "1810.HK",
    "0981.HK",
    "0992.HK",
    "9618.HK",
    "9999.HK",
    "002230.SZ",
    "000977.SZ",
    "603019.SS",
    "688256.SS",
    "688981.SS",
    "3896.HK",
    "3888.HK",
    "0268.HK",
    "0020.HK",
    "1347.HK",
    "9660.HK",
    "2513.HK",
]
REQUIRED_US = [
    "MSFT",
    "GOOGL",
    "AMZN",
    "META",
    "ORCL",
    "CRM",
    "NOW",
    "ADBE",
    "PLTR",
    "SNOW",
    "NVDA",
    "AMD",
    "AVGO",
    "MRVL",
    "QCOM",
    "INTC",
    "ARM",
    "SMCI",
    "DELL",
    "EQIX",
    "DLR",
    "NFLX",
    "AAPL",
]


def test_default_universe_holds_every_required_name(universe):
    assert set(REQUIRED_CHINA) <= set(universe.china)
    assert set(REQUIRED_US) <= set(universe.us)
    assert set(universe.benchmarks) >= {"KWEB", "MCHI", "FXI", "CQQQ", "QQQ", "SPY", "SOXX", "IGV"}
    assert set(universe.segments) == set(SEGMENTS)
    for a, b in [("BABA", "9988.HK"), ("BIDU", "9888.HK"), ("JD", "9618.HK"), ("NTES", "9999.HK")]:
        assert universe[a].cross_listing == b and universe[b].cross_listing == a
    assert ("BABA", "AMZN") in universe.pairs


def test_peer_groups(universe):
    assert universe.peers_of("GDS") == ("EQIX", "DLR")  # own group from the file
    chips = universe.peers_of("688256.SS")
    assert "NVDA" in chips and all(universe[t].segment == "chips" for t in chips)


@pytest.mark.parametrize(
    ("ticker", "symbol"),
    [
        ("BABA", "NYSE:BABA"),
        ("0700.HK", "HKEX:700"),
        ("688256.SS", "SSE:688256"),
        ("002230.SZ", "SZSE:002230"),
        ("BIDU", "NASDAQ:BIDU"),
    ],
)
def test_tradingview_symbols(universe, ticker, symbol):
    assert universe[ticker].tradingview == symbol


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[china.X]\nvenue='NYSE'\nsegment='space'\n", "unknown segment"),
        ("[china.X]\nvenue='NYSE'\nsegment='cloud'\npeers=['NOPE']\n", "peer NOPE"),
        ("pairs=[['A','B']]\n", "pair"),
        ("[china.X\n", "not valid TOML"),
        ("[china.X]\nsegment='cloud'\n", "malformed"),
        # each field of the type it has in the packaged file (these were tracebacks: a list
        # where a ticker goes is unhashable, a list of segments no table, a text tilt no float)
        ("[china.X]\nvenue='NYSE'\nsegment='cloud'\npeers=[['A']]\n", r"ticker in peers of X"),
        ("[china.X]\nvenue='NYSE'\nsegment='cloud'\npeers='AMZN'\n", "peers of X must be a list"),
        ("[china.X]\nvenue='NYSE'\nsegment='cloud'\ncross_listing={a=1}\n", "cross_listing"),
        ("[china.X]\nvenue='NYSE'\nsegment='cloud'\nads_ratio=nan\n", "ads_ratio of X"),
        ("[china.X]\nvenue='NYSE'\nsegment='cloud'\nname=['x']\n", "name of X must be text"),
        ("[china]\nX=1\n", "entry X must be a table"),
        ("pairs=[1]\n", "pair 1 must name"),
        ("pairs='ab'\n", "pairs must be a list"),
        ("segments=['cloud']\n", r"\[segments\] must be a table"),
        ("segments={cloud=[1]}\n", "label of segment cloud"),
        ("tilt='x'\n", r"\[tilt\] must be a table"),
        ("tilt={cloud='x'}\n", "tilt weight of cloud"),
        ("tilt={cloud=inf}\n", "tilt weight of cloud"),
        ("[china.X]\nvenue='NYSE'\nsegment='cloud'\nads_ratio=1" + "0" * 400 + "\n", "ads_ratio"),
        # a value that spans lines is shown on one (a key of two lines, a multi-line string)
        ('[china."a\\nb"]\nsegment="cloud"\n', r"entry 'a\\nb' is malformed"),
        ("[china.X]\nvenue='NYSE'\nsegment='cloud'\npeers=['''a\nb''']\n", r"peer 'a\\nb' of X"),
    ],
)
def test_bad_universe_files_give_one_line_errors(tmp_path, text, message):
    p = tmp_path / "u.toml"
    p.write_text(text)
    with pytest.raises(UniverseError, match=message) as e:
        load_universe(p)
    assert "\n" not in str(e.value)


def test_numbers_may_be_written_as_text_and_names_as_numbers(tmp_path):
    p = tmp_path / "u.toml"
    p.write_text(
        "tilt={cloud='1.25'}\n[china.X]\nvenue='NYSE'\nsegment='cloud'\nads_ratio='8'\n"
        "name=700\n[us.A]\nvenue='NASDAQ'\nsegment='cloud'\n"
    )
    u = load_universe(p)
    assert (u["X"].ads_ratio, u["X"].name, u.tilt["cloud"]) == (8.0, "700", 1.25)


def test_missing_universe_file(tmp_path):
    with pytest.raises(UniverseError, match="not found"):
        load_universe(tmp_path / "none.toml")
