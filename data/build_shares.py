"""Dated share counts from ../shared/data, for the snapshot's ``shares`` table.

Called by :mod:`data.build_snapshot` (the only code that reads ``../shared``).  Every count keeps
its source file and a note that says what it is and how its public date was set (the filing date
for SEC figures; HKEX next-day returns + 2 business days, monthly returns month end + 5; aggregator
pages their snapshot date; annual figures their reported date, else the filing deadline).  Counts
are in listed units: ADS for an ADR (at the ADS ratio of the filing), ordinary shares for HK and
A-share lines; HK lines of ADR companies get mirror rows at the ratio.  :func:`share_counts`
marks the rows that must never be used as a count outstanding (IPO-year and pre-IPO weighted
averages, class-only or one-market-only counts, undated or back-filled figures, source glitches).
"""

# ruff: noqa: E501
from __future__ import annotations

from pathlib import Path

import pandas as pd
from pandas.tseries.offsets import BDay

from data.fundamentals import filing_lag_days
from data.shares import SHARE_COLUMNS

__all__ = ["share_counts"]

# ---------------------------------------------------------------- listing dates (first row of local price files)
LISTED = {
    "BABA": "2014-09-19",
    "KC": "2020-05-08",
    "GDS": "2016-11-02",
    "VNET": "2011-04-21",
    "TUYA": "2021-03-18",
    "BIDU": "2005-08-05",
    "JD": "2014-05-22",
    "PDD": "2018-07-26",
    "NTES": "2000-06-30",
    "BILI": "2018-03-28",
    "IQ": "2018-03-29",
    "TME": "2018-12-12",
    "9988.HK": "2019-11-26",
    "3896.HK": "2022-12-30",
    "3888.HK": "2000-01-01",
    "0268.HK": "2000-01-01",
    "0020.HK": "2021-12-30",
    "2513.HK": "2026-01-08",
    "9888.HK": "2021-03-23",
    "9618.HK": "2020-06-18",
    "9999.HK": "2020-06-11",
    "0700.HK": "2004-06-16",
    "3690.HK": "2018-09-20",
    "1024.HK": "2021-02-05",
    "0981.HK": "2004-03-18",
    "1347.HK": "2014-10-15",
    "9660.HK": "2024-10-24",
    "1810.HK": "2018-07-09",
    "0992.HK": "1994-02-14",
    "002230.SZ": "2008-05-12",
    "000977.SZ": "2000-06-08",
    "603019.SS": "2014-11-06",
    "688256.SS": "2020-07-20",
    "688981.SS": "2020-07-16",
}
HK_OF = {"BABA": "9988.HK", "BIDU": "9888.HK", "JD": "9618.HK", "NTES": "9999.HK", "KC": "3896.HK"}
FIXED_RATIO = {
    "PDD": 4,
    "TME": 2,
    "GDS": 8,
    "VNET": 6,
    "IQ": 7,
    "BILI": 1,
    "JD": 2,
    "KC": 15,
    "TUYA": 1,
}


def ntes_ratio(as_of):
    return 25 if as_of <= "2020-09-30" else 5


def mirror_ok(hk, public_date):
    """Mirror an ADR row onto its HK line only if it can matter there (public within 18 months before HK listing or later)."""
    lst = pd.Timestamp(LISTED[hk])
    return public_date and pd.Timestamp(public_date) >= lst - pd.Timedelta(days=548)


def share_count_rows(root: Path) -> pd.DataFrame:
    """Every dated share count in ``root`` (../shared/data), one row per count."""
    D = str(root / "fundamentals") + "/"
    rows: list[dict] = []

    def add(ticker, as_of, public_date, shares_m, kind, source_file, note):
        rows.append(
            dict(
                ticker=ticker,
                as_of=as_of or "",
                public_date=public_date or "",
                shares_millions=None if shares_m is None else round(float(shares_m), 4),
                kind=kind,
                source_file=source_file,
                note=note,
            )
        )

    # ---------------------------------------------------------------- A. SEC companyfacts slices (ADR)
    f = "share_counts/sec_companyfacts_slices/sec_share_counts_adr.csv"
    s = pd.read_csv(D + f, dtype=str)
    s["val"] = s["val"].astype(float)
    s = s[s.concept != "EntityListingDepositoryReceiptRatio"]
    s = s[s.ticker != "BIDU"]  # only 2007-2010 in the dump: outside 2016-2026
    s = s[
        ~(
            (s.ticker == "PDD")
            & (s.concept == "WeightedAverageNumberOfShareOutstandingBasicAndDiluted")
        )
    ]  # duplicate of PDD basic/diluted

    def sec_ord_to_ads(t, val, end, basis):
        """val in ordinary shares of the filing's basis -> (ADS count, ordinary count on today's HK basis)."""
        if t == "BABA":
            if isinstance(basis, str) and basis.startswith("pre-subdivision"):
                return val / 1.0, val * 8.0  # 1 ADS = 1 old share = 8 new shares
            return val / 8.0, val
        if t == "NTES":
            return val / ntes_ratio(end), val
        return val / FIXED_RATIO[t], val

    cov = s[s.concept == "EntityCommonStockSharesOutstanding"]
    for _, r in cov.iterrows():
        if r.end < "2014-12-31":
            continue
        ads, ordn = sec_ord_to_ads(r.ticker, r.val, r.end, r.basis_note)
        ratio_txt = {
            "BABA": ("1 (pre-subdivision basis)" if str(r.basis_note).startswith("pre") else "8"),
            "NTES": str(ntes_ratio(r.end)),
            "TME": "2",
        }[r.ticker]
        note = (
            f"20-F cover EntityCommonStockSharesOutstanding {int(r.val):,} ordinary at {r.end}; ADS ratio {ratio_txt}; "
            f"accn {r.accn}"
        )
        add(r.ticker, r.end, r.filed, ads / 1e6, "cover_outstanding", f, note)
        hk = HK_OF.get(r.ticker)
        if hk and mirror_ok(hk, r.filed):
            add(
                hk,
                r.end,
                r.filed,
                ordn / 1e6,
                "cover_outstanding",
                f,
                f"HK-line mirror of {r.ticker} 20-F cover count, ordinary shares"
                + (
                    " (x8 to post-2019-07-30 basis)"
                    if r.ticker == "BABA" and str(r.basis_note).startswith("pre")
                    else ""
                )
                + "; "
                f"{hk} listed {LISTED[hk]}" + ("; before HK listing" if r.end < LISTED[hk] else ""),
            )

    w = s[s.concept != "EntityCommonStockSharesOutstanding"].copy()
    w["days"] = (pd.to_datetime(w.end) - pd.to_datetime(w.start)).dt.days
    w = w[(w.days >= 350) & (w.end >= "2014-12-31")]
    KIND = {
        "WeightedAverageNumberOfDilutedSharesOutstanding": "weighted_diluted",
        "AdjustedWeightedAverageShares": "weighted_diluted",
        "WeightedAverageNumberOfShareOutstandingBasicAndDiluted": "weighted_diluted",
        "WeightedAverageNumberOfSharesOutstandingBasic": "weighted_basic",
        "WeightedAverageShares": "weighted_basic",
    }
    for (t, c, st, en), g in w.groupby(["ticker", "concept", "start", "end"]):
        g = g.sort_values("filed")
        r = g.iloc[0]
        ads, ordn = sec_ord_to_ads(t, r.val, en, r.basis_note)
        later = g.iloc[1:]
        later_txt = ""
        if len(later):
            diff = later[later.val != r.val]
            later_txt = f"; also in {len(later)} later filing(s)"
            if len(diff):
                later_txt += (
                    " (restated: "
                    + ", ".join(
                        f"{int(v):,} filed {fd}" for v, fd in zip(diff.val, diff.filed, strict=True)
                    )
                    + ")"
                )
        flag = r.ipo_flag if isinstance(r.ipo_flag, str) else ""
        warn = ""
        if flag == "IPO-period":
            warn = "IPO-PERIOD weighted average: understates the count outstanding after the IPO - do not use as a count outstanding; "
        elif flag == "pre-IPO":
            warn = "PRE-IPO weighted average (excludes preferred unless as-converted) - not a count outstanding; "
        extra = ""
        if t == "GDS":
            extra = "concept = basic AND diluted combined; "
        if t == "TME":
            extra = (
                "IFRS "
                + ("adjusted (diluted)" if c.startswith("Adjusted") else "basic")
                + " weighted shares; "
            )
        if t == "IQ" and en == "2017-12-31" and "Diluted" in c:
            extra += "about 9.5x basic (preferred as converted): doubtful as a share count; "
        basis = f"; basis: {r.basis_note}" if isinstance(r.basis_note, str) else ""
        note = f"{warn}{extra}FY {st}..{en}, {int(r.val):,} ordinary, first filed {r.filed} ({r.form}, accn {r.accn}){later_txt}{basis}"
        add(t, en, r.filed, ads / 1e6, KIND[c], f, note)
        hk = HK_OF.get(t)
        if hk and mirror_ok(hk, r.filed):
            add(
                hk,
                en,
                r.filed,
                ordn / 1e6,
                KIND[c],
                f,
                f"HK-line mirror (ordinary shares) of {t} row; " + note,
            )

    # ---------------------------------------------------------------- B. BABA share repurchase updates (6-K exhibit 99.1)
    f = "share_counts/pages/BABA_sec_share_repurchase_updates.txt"
    APR = (
        "https://www.sec.gov/Archives/edgar/data/1577552/000110465924042245/tm2410529d1_ex99-1.htm"
    )
    baba_tab = [
        ("2022-06-30", 2648),
        ("2022-09-30", 2626),
        ("2022-12-31", 2585),
        ("2023-03-31", 2566),
        ("2023-06-30", 2549),
        ("2023-09-30", 2531),
        ("2023-12-31", 2499),
    ]
    for d, ads in baba_tab:
        pub_note = (
            'public_date = conservative month-end of the April-2024 exhibit (file says "filed ~April 2024"; exact day not in file); '
            "the figure was probably first public in an earlier quarterly release not stored locally"
        )
        if d >= "2022-09-30":
            pub_note += "; also repeated in the 2024-07-02 / 2024-10-02 exhibits"
        add(
            "BABA",
            d,
            "2024-04-30",
            ads,
            "balance_outstanding",
            f,
            f'6-K ex.99.1 table "Outstanding shares (Mn ADSs)" quarter-end, point-in-time; {pub_note}; {APR}',
        )
        add(
            "9988.HK",
            d,
            "2024-04-30",
            ads * 8,
            "balance_outstanding",
            f,
            f"= {ads}M ADS x 8 (ordinary); ADS figure rounded to 1M so ordinary is +/-4M; {pub_note}",
        )
    for d, ords, ads, pub, src in [
        ("2024-03-31", 19469, 2434, "2024-04-30", APR + " (filed ~April 2024; month-end used)"),
        (
            "2024-06-30",
            19024,
            2378,
            "2024-07-02",
            "https://www.sec.gov/Archives/edgar/data/1577552/000110465924077061/tm2418711d1_ex99-1.htm (dated 2024-07-02)",
        ),
        (
            "2024-09-30",
            18620,
            2327,
            "2024-10-02",
            "https://www.sec.gov/Archives/edgar/data/1577552/000110465924105192/tm2425406d1_ex99-1.htm (dated 2024-10-02)",
        ),
    ]:
        add(
            "BABA",
            d,
            pub,
            ads,
            "balance_outstanding",
            f,
            f"{ords:,}M ordinary = {ads:,}M ADS outstanding (company figure); {src}",
        )
        add(
            "9988.HK",
            d,
            pub,
            ords,
            "balance_outstanding",
            f,
            f"{ords:,}M ordinary outstanding (company figure); {src}",
        )
    JAN = "https://www.sec.gov/Archives/edgar/data/1577552/000110465924000045/tm241392d1_ex99-1.htm (dated 2024-01-02)"
    for d, ords, ads in [("2023-12-31", 20000, 2500), ("2022-12-31", 20700, 2600)]:
        add(
            "BABA",
            d,
            "2024-01-02",
            ads,
            "balance_outstanding",
            f,
            f'ROUNDED to 0.1bn in the source ("{ords / 1000:.1f} billion ordinary (equivalent of {ads / 1000:.1f} billion ADSs)"); exact figure in the April-2024 table; {JAN}',
        )
        add(
            "9988.HK",
            d,
            "2024-01-02",
            ords,
            "balance_outstanding",
            f,
            f"ROUNDED to 0.1bn in the source; {JAN}",
        )
    etn = (
        "DOUBTFUL: ETNet news page, year NOT stated (inferred Sep-30-2025 from the buyback-authorisation context); "
        "public_date = Sep-2025 quarter results release 2025-11-25 (nasdaq earningsHistory BABA.json), conservative"
    )
    add(
        "BABA",
        "2025-09-30",
        "2025-11-25",
        2319,
        "balance_outstanding",
        f,
        "18,552M ordinary = 2,319M ADS; " + etn,
    )
    add(
        "9988.HK",
        "2025-09-30",
        "2025-11-25",
        18552,
        "balance_outstanding",
        f,
        "18,552M ordinary; " + etn,
    )
    add(
        "BABA",
        "",
        "",
        19070 / 8,
        "aggregator_rounded",
        f,
        'UNDATED stocknear BABAF snapshot "19.07B shares outstanding" (ordinary) / 8; no as_of or public date -> not usable point-in-time',
    )
    add(
        "9988.HK",
        "",
        "",
        19070,
        "aggregator_rounded",
        f,
        "UNDATED stocknear BABAF snapshot 19.07B ordinary; not usable point-in-time",
    )

    # ---------------------------------------------------------------- C. GDS 10jqka equity page
    f = "share_counts/pages/GDS_10jqka_equity.txt"
    gds = [  # announce, change date, ordinary (10k shares), reason
        ("2019-03-13", None, 100706.96, "excerpt truncated after the value: change date not shown"),
        ("2019-12-04", "2019-06-30", 116588.33, "20190101-20190630 issuance (periodic report)"),
        (
            "2019-12-04",
            "2019-12-04",
            116588.33,
            'periodic report; same value as the 2019-06-30 row (10jqka dates "定期报告" rows on the announcement day)',
        ),
        ("2019-12-10", "2019-12-10", 120983.93, "periodic report (定期报告)"),
        (
            "2020-04-17",
            "2019-12-31",
            121643.27,
            "20190101-20191231 issuance (20-F filed 2020-04-17)",
        ),
        ("2020-10-19", "2020-06-30", 127858.66, "20200101-20200630 issuance"),
        ("2020-10-19", "2020-10-14", 131117.92, "periodic report (定期报告)"),
        ("2020-10-30", "2020-11-02", 147117.92, "HK primary listing (港股首发上市) new shares"),
        ("2020-11-06", "2020-11-12", 149517.92, "over-allotment exercised (行使超额配股权)"),
        ("2021-02-04", "2021-02-04", 149518.04, "per HKEX securities disclosure"),
        ("2022-04-29", "2022-04-15", 152443.30, "per periodic report (20-F)"),
        ("2023-03-15", "2023-03-15", 152443.30, "per HKEX securities disclosure"),
        ("2024-04-29", "2023-12-31", 152443.30, "header table (证券总股本 19055.41万 ADS-eq)"),
        ("2024-04-29", "2024-03-31", 155518.09, "header table (证券总股本 19439.76万 ADS-eq)"),
    ]
    for ann, chg, wan, why in gds:
        ordn = wan * 1e4
        as_of = chg or ann
        pub = max(ann, chg) if chg else ann
        note = (
            f"10jqka 股本结构: {ordn:,.0f} ordinary (万股 {wan}) / 8 = ADS; announce {ann}, change {chg or 'n/a'}; {why}; "
            "excludes 150,000 preferred shares listed separately 2020-2023; page snapshot date unknown"
        )
        if chg is None:
            note += "; as_of set to the announcement date (upper bound), most likely the FY2018 20-F count"
        if chg and chg > ann:
            note += "; public_date = change date (announced in advance)"
        add("GDS", as_of, pub, ordn / 8 / 1e6, "balance_outstanding", f, note)

    # ---------------------------------------------------------------- D. HK pages
    f = "share_counts/hk_pages/share_counts_hk.csv"
    h = pd.read_csv(D + f, dtype=str)

    def bd(date, n):
        return (pd.Timestamp(date) + BDay(n)).strftime("%Y-%m-%d")

    def month_ret_pub(month_end):
        return (pd.Timestamp(month_end) + pd.offsets.MonthEnd(0) + BDay(5)).strftime("%Y-%m-%d")

    HK_PUB = {  # row index -> (ticker(s), as_of, public_date, kind, extra note)
        0: (
            ["3690.HK"],
            "2024-08-30",
            "2024-08-30",
            "hkex_filing",
            'CLASS B ONLY (DI form "Others"): excludes Class A WVR shares - NOT the total count; public = DI form date in fn (DA20240830)',
        ),
        1: (
            ["3690.HK"],
            "2025-12-05",
            "2025-12-05",
            "aggregator_rounded",
            "all classes (A+B); public = snapshot date",
        ),
        2: (
            ["3690.HK"],
            "",
            "2024-03-22",
            "aggregator_rounded",
            "UNDATED capital.com/Refinitiv; page shows next earnings 2024-03-22 so snapshot is before it: public_date = 2024-03-22 as an upper bound; as_of unknown (probably late 2023); low confidence",
        ),
        3: (
            ["1024.HK"],
            "2021-02-10",
            "2021-02-10",
            "hkex_filing",
            'CLASS B ONLY (DI form "Others"): excludes Class A WVR shares - NOT the total count; public = DI form date in fn (DA20210210)',
        ),
        4: (
            ["1024.HK"],
            "2025-09-18",
            "2025-09-18",
            "aggregator_rounded",
            "all classes; public = snapshot date",
        ),
        5: (
            ["1024.HK"],
            "",
            "2025-05-31",
            "aggregator_rounded",
            "UNDATED stockanalysis snapshot taken after the 2025-03-21 results; public_date 2025-05-31 = conservative guess (before the next quarterly report, late May 2025 - general knowledge); as_of >= 2025-03-21",
        ),
        6: (
            ["1024.HK"],
            "",
            "2026-03-31",
            "aggregator_rounded",
            "UNDATED stockanalysis snapshot taken after 2025-11-19; public_date 2026-03-31 = conservative guess (before FY2025 results); as_of >= 2025-11-19",
        ),
        7: (
            ["0981.HK", "688981.SS"],
            "2020-07-20",
            "2020-07-23",
            "hkex_filing",
            "NDDR opening balance filed 2020-07-23; APPEARS TO BE A+H TOTAL (HK + the new STAR shares, before STAR over-allotment); equals xbx 总市值/close on 2020-07-21 (7,424.03M) -> A+H total confirmed",
        ),
        8: (
            ["0981.HK"],
            "2020-09-15",
            bd("2020-09-15", 2),
            "hkex_filing",
            "HK SHARES ONLY; RMB (A) shares 1,938,463,000 on the same date (sum A+H = 7,697.7M); public = as_of + 2 business days (NDDR, estimated)",
        ),
        9: (
            ["688981.SS"],
            "2020-09-15",
            bd("2020-09-15", 2),
            "hkex_filing",
            "RMB (A/STAR) SHARES ONLY; HK shares 5,759,278,359 same date; public est. as_of + 2 business days",
        ),
        10: (
            ["0981.HK"],
            "2022-05-26",
            bd("2022-05-26", 2),
            "hkex_filing",
            "HK SHARES ONLY (Japanese machine translation, digits without separators); public est. as_of + 2 business days",
        ),
        11: (
            ["0981.HK", "688981.SS"],
            "2025-02-05",
            "2025-02-05",
            "aggregator_rounded",
            "A+H TOTAL (HK + STAR); public = snapshot date",
        ),
        12: (
            ["0981.HK"],
            "2025-11-30",
            month_ret_pub("2025-11-30"),
            "hkex_filing",
            "HK SHARES ONLY (monthly return, Tiger AI summary); STAR A shares 1,999,562,549 same date (A+H = 8,000.2M); public est. = month end + 5 business days",
        ),
        13: (
            ["688981.SS"],
            "2025-11-30",
            month_ret_pub("2025-11-30"),
            "hkex_filing",
            "STAR A SHARES ONLY; HK shares 6,000,614,360 same date (A+H = 8,000.2M); public est. month end + 5 business days",
        ),
        14: (
            ["0268.HK"],
            "2019-04-30",
            bd("2019-05-24", 2),
            "hkex_filing",
            "NDDR opening balance (same NDDR closes 2019-05-24); public est. closing date + 2 business days",
        ),
        15: (
            ["0268.HK"],
            "2019-05-24",
            bd("2019-05-24", 2),
            "hkex_filing",
            "NDDR closing balance; public est. + 2 business days",
        ),
        16: (
            ["0268.HK"],
            "2019-06-30",
            month_ret_pub("2019-07-31"),
            "hkex_filing",
            "from the Jul-2019 monthly return (preceding month close); public est. = Jul month end + 5 business days (conservative; also in the Jun return)",
        ),
        17: (
            ["0268.HK"],
            "2019-07-31",
            month_ret_pub("2019-07-31"),
            "hkex_filing",
            "monthly return close; public est. month end + 5 business days",
        ),
        18: (
            ["0268.HK"],
            "2019-08-31",
            month_ret_pub("2019-09-30"),
            "hkex_filing",
            "from the Sep-2019 monthly return (preceding month close); public est. Sep month end + 5 business days (conservative)",
        ),
        19: (
            ["0268.HK"],
            "2020-06-30",
            month_ret_pub("2020-07-31"),
            "hkex_filing",
            "from the Jul-2020 monthly return (preceding month close); public est. Jul month end + 5 business days (conservative)",
        ),
        20: (
            ["0268.HK"],
            "2020-07-31",
            month_ret_pub("2020-07-31"),
            "hkex_filing",
            "monthly return close; public est. month end + 5 business days",
        ),
        21: (
            ["0268.HK"],
            "2025-08-15",
            "2025-08-15",
            "aggregator_rounded",
            "public = snapshot date",
        ),
        22: (
            ["3888.HK"],
            "2025-08-22",
            "2025-08-22",
            "aggregator_rounded",
            "public = snapshot date",
        ),
        23: (
            ["3888.HK"],
            "2025-11-27",
            "2025-11-27",
            "aggregator_rounded",
            "public = snapshot date",
        ),
        24: (
            ["0020.HK"],
            "2022-06-24",
            bd("2022-06-24", 1),
            "hkex_filing",
            "A+B total (7,528,760,000 A + 25,978,640,000 B) from a German summary of the buyback announcement; public est. + 1 business day",
        ),
        25: (
            ["0020.HK"],
            "2025-03-31",
            "2025-03-31",
            "aggregator_rounded",
            'FactSet "Total Number of Shares" (page also shows 36.39B "Number of Shares", likely Class B); public = page close date',
        ),
        26: (
            ["0020.HK"],
            "2025-09-02",
            "2025-09-02",
            "aggregator_rounded",
            "all classes (current class B 38.06B); public = snapshot date",
        ),
        27: (
            ["9660.HK"],
            "2025-02-21",
            "2025-02-21",
            "aggregator_rounded",
            "all classes; public = snapshot date",
        ),
        28: (
            ["9660.HK"],
            "2025-06-27",
            "2025-06-27",
            "aggregator_rounded",
            "all classes (class B 11.76B); public = snapshot date",
        ),
        29: (
            ["9660.HK"],
            "2025-09-30",
            month_ret_pub("2025-10-31"),
            "hkex_filing",
            "CLASS B ONLY (from Oct-2025 monthly return, previous month end); Class A 2,124,389,270 unchanged in Oct -> A+B ~13,881M; public est. Oct month end + 5 business days",
        ),
        30: (
            ["9660.HK"],
            "2025-10-28",
            "2025-10-28",
            "aggregator_rounded",
            "all classes (class B 12.53B); public = snapshot date",
        ),
        31: (
            ["9660.HK"],
            "2025-10-31",
            month_ret_pub("2025-10-31"),
            "hkex_filing",
            "CLASS A ONLY (WVR); add Class B 12,527,495,715 -> A+B 14,651.9M (sum not in source); public est. month end + 5 business days",
        ),
        32: (
            ["9660.HK"],
            "2025-10-31",
            month_ret_pub("2025-10-31"),
            "hkex_filing",
            "CLASS B ONLY; add Class A 2,124,389,270 -> A+B 14,651.9M; public est. month end + 5 business days",
        ),
        33: (
            ["1347.HK"],
            "",
            "2025-11-06",
            "aggregator_rounded",
            "UNDATED; A+H total presumably (current class 1.33B = HK shares); page shows next est. earnings 2025-11-06 so public_date 2025-11-06 is an upper bound; as_of ~Aug-Nov 2025",
        ),
        34: (
            ["2513.HK"],
            "2026-01-08",
            "2026-01-08",
            "hkex_filing",
            "total issued on listing (H + unlisted shares), before over-allotment; allotment-results announcement (usually the day before listing); public = listing date (conservative)",
        ),
        37: (
            ["3896.HK"],
            "2020-12-31",
            "2022-05-02",
            "balance_outstanding",
            "shares ISSUED (incl. shares held by depositary/treasury) - overstates outstanding; from FY2021 20-F R51 (20-F filed 2022-05-02 per KC 6-K ex.99.1 Sep-2022); FY2020 20-F (Apr 2021) likely had it earlier but is not stored",
        ),
        38: (
            ["3896.HK"],
            "2020-12-31",
            "2022-05-02",
            "balance_outstanding",
            "shares OUTSTANDING (excl. depositary/treasury); from FY2021 20-F R51 filed 2022-05-02 (conservative; the FY2020 20-F of ~Apr 2021 probably showed it first); before HK listing (2022-12-30)",
        ),
        39: (
            ["3896.HK"],
            "2021-12-31",
            "2022-05-02",
            "balance_outstanding",
            "shares ISSUED - overstates outstanding; FY2021 20-F filed 2022-05-02",
        ),
        40: (
            ["3896.HK"],
            "2021-12-31",
            "2022-05-02",
            "balance_outstanding",
            "shares OUTSTANDING; FY2021 20-F filed 2022-05-02; before HK listing (2022-12-30)",
        ),
        41: (
            ["0700.HK"],
            "2018-09-27",
            bd("2018-09-27", 2),
            "hkex_filing",
            "NDDR opening balance; issued shares incl. repurchased-not-cancelled; public est. + 2 business days",
        ),
        42: (
            ["0700.HK"],
            "2018-11-30",
            month_ret_pub("2018-12-31"),
            "hkex_filing",
            "from Dec-2018 monthly return (preceding month close); public est. Dec month end + 5 business days (conservative)",
        ),
        43: (
            ["0700.HK"],
            "2018-12-31",
            month_ret_pub("2018-12-31"),
            "hkex_filing",
            "monthly return close; issued incl. repurchased-not-cancelled; public est. month end + 5 business days",
        ),
        44: (
            ["0700.HK"],
            "2022-08-15",
            "2022-08-15",
            "aggregator_rounded",
            'macroaxis "9.6 B" (2 significant figures); low precision',
        ),
        45: (
            ["0700.HK"],
            "2024-11-21",
            "2024-11-21",
            "aggregator_rounded",
            'twelvedata; YEAR INFERRED (2024) from "mrq Jun 30, 2024" on the page',
        ),
        46: (
            ["0700.HK"],
            "2025-11-25",
            bd("2025-11-25", 2),
            "hkex_filing",
            "APPROXIMATE as_of (NDDR covering 18-25 Nov 2025); issued incl. repurchased-not-cancelled; public est. + 2 business days",
        ),
        47: (
            ["0700.HK"],
            "2025-11-28",
            bd("2025-11-28", 2),
            "hkex_filing",
            "issued incl. repurchased-not-cancelled (Tencent); public est. + 2 business days",
        ),
        48: (
            ["1810.HK"],
            "2024-11-30",
            month_ret_pub("2024-11-30"),
            "hkex_filing",
            "CLASS B ONLY; Class A 4,517,510,134 same date -> A+B 24,967.5M (sum not in source); public est. month end + 5 business days",
        ),
        49: (
            ["1810.HK"],
            "2024-11-30",
            month_ret_pub("2024-11-30"),
            "hkex_filing",
            "CLASS A ONLY; Class B 20,450,006,878 same date -> A+B 24,967.5M; public est. month end + 5 business days",
        ),
        50: (
            ["1810.HK"],
            "2025-11-20",
            bd("2025-11-20", 2),
            "hkex_filing",
            "CLASS B ONLY (NDDR closing balance); Class A ~4.51bn not given; public est. + 2 business days",
        ),
        51: (
            ["1810.HK"],
            "2026-02-02",
            bd("2026-02-02", 2),
            "hkex_filing",
            "A+B total issued (4,511,553,144 A + 21,539,047,934 B); public est. + 2 business days",
        ),
        52: (
            ["1810.HK"],
            "2026-02-03",
            bd("2026-02-03", 2),
            "hkex_filing",
            "A+B total issued EXCLUDING treasury; public est. + 2 business days",
        ),
        53: (
            ["1810.HK"],
            "2026-02-03",
            bd("2026-02-03", 2),
            "hkex_filing",
            "CLASS B ONLY (closing balance); public est. + 2 business days",
        ),
    }
    for i, r in h.iterrows():
        if r.ticker == "0100.HK":
            continue  # MiniMax: not in the universe
        tks, as_of, pub, kind, extra = HK_PUB[i]
        val = float(r.shares)
        for tk in tks:
            note = f"{extra}; source page {r.source}; unit_note: {r.unit_note}"
            if "ROUNDED" in str(r.unit_note):
                note = "ROUNDED 3 s.f.; " + note
            add(tk, as_of, pub, val / 1e6, kind, f, note)
            if tk == "3896.HK":
                add("KC", as_of, pub, val / 15 / 1e6, kind, f, "ADS = ordinary / 15; " + note)

    # ---------------------------------------------------------------- E. A-share observed rows (Overwatch-mercy/stock-data)
    for fn, _tk in [
        ("002230_000977_observed_rows.csv", None),
        ("603019_observed_rows.csv", "603019.SS"),
        ("688256_observed_rows.csv", "688256.SS"),
        ("688981_observed_rows.csv", "688981.SS"),
    ]:
        f = "share_counts/ashare_observed/" + fn
        a = pd.read_csv(D + f, comment="#", dtype=str)
        for _, r in a.iterrows():
            code = r.code.zfill(6)
            t = {
                "002230": "002230.SZ",
                "000977": "000977.SZ",
                "603019": "603019.SS",
                "688256": "688256.SS",
                "688981": "688981.SS",
            }[code]
            tot = float(r.total_shares)
            flt = float(r.float_shares)
            note = f"总股本 {tot:,.0f}, 流通股本 {flt:,.0f}; daily vendor row, public = row date"
            if t == "002230.SZ" and r.date == "2026-06-25":
                note = (
                    "GLITCH: total written equal to float (single-row source error; real total 2,402,079,841) - do not use; "
                    + note
                )
            if t == "688256.SS":
                if r.date < "2026-05-08":
                    note = (
                        "DOUBTFUL / BACK-FILLED: 628,292,969 = 421,685,170 + 0.49 x 421,648,570 (shares excl. 36,600 treasury), i.e. the count AFTER "
                        "the 2026-05-08 bonus issue written onto 2025 rows; consistent only with forward-adjusted prices, not raw; "
                        + note
                    )
                else:
                    note = (
                        "post-2026-05-08 bonus issue count (= 421,685,170 + 0.49 x 421,648,570); total == float in source; "
                        + note
                    )
            if t == "688981.SS":
                note = "A+H TOTAL company count (流通股本 = A-share float only); " + note
                if r.date in ("2026-06-30",):
                    note += "; 2026-06-30/07-01 rows duplicated in source"
            if t == "603019.SS" and r.date < "2016":
                note = "IPO-era count, later bonus issues (2016, 2019, 2020) change it; " + note
            add(t, r.date, r.date, tot / 1e6, "ashare_total", f, note)
            if t == "688981.SS":
                add(
                    "0981.HK",
                    r.date,
                    r.date,
                    tot / 1e6,
                    "ashare_total",
                    f,
                    "mirror for the HK line: " + note,
                )

    # ---------------------------------------------------------------- F. pit_annual_hk_ashare/shares_outstanding.csv
    f = "pit_annual_hk_ashare/shares_outstanding.csv"
    so = pd.read_csv(D + f, dtype=str)
    for _, r in so.iterrows():
        v = float(r.shares_outstanding_millions)
        if "aijingu" in r.source:
            add(
                r.ticker,
                r.date,
                r.date,
                v,
                "ashare_total",
                f,
                "company announcement: total 421,685,170 incl. 36,600 treasury, BEFORE the 0.49/share capital-reserve bonus issue (ex 2026-05-08 per README); "
                + r.source,
            )
        elif r.ticker == "3690.HK":
            add(
                r.ticker,
                r.date,
                r.date,
                v,
                "aggregator_rounded",
                f,
                "ROUNDED 6.11B (foxbusiness MPNGF); same as stockanalysis all-class total of Dec 2025 -> read as A+B total; "
                + r.source,
            )
        else:
            add(
                r.ticker,
                r.date,
                r.date,
                v,
                "aggregator_rounded",
                f,
                "stockanalysis snapshot, rounded to 0.01M; pre-bonus-issue basis; " + r.source,
            )

    # ---------------------------------------------------------------- G. extra sources (not in the brief's list; flagged)
    # G1: xbx A-share price files: total shares = 总市值 / 收盘价 (DERIVED), at change points and at key dates.
    f = "prices/ashare_xbx_ganlei333/"
    KEYS = [
        "2015-12-31",
        "2016-06-30",
        "2016-12-31",
        "2017-06-30",
        "2017-12-31",
        "2018-06-30",
        "2018-12-31",
        "2019-06-28",
        "2019-12-31",
        "2020-06-30",
        "2020-12-31",
        "2021-06-30",
        "2021-12-31",
        "2022-01-14",
    ]
    for fn, t in [
        ("sh603019.csv", "603019.SS"),
        ("sh688256.csv", "688256.SS"),
        ("sh688981.csv", "688981.SS"),
        ("sz000977.csv", "000977.SZ"),
        ("sz002230.csv", "002230.SZ"),
    ]:
        x = pd.read_csv(str(root) + "/" + f + fn, skiprows=1)
        x["tot"] = x["总市值"] / x["收盘价"]
        x = x[x["交易日期"] >= "2015-06-01"].reset_index(drop=True)
        if t == "688981.SS":
            x = x[x["交易日期"] != "2021-10-27"]  # one-row glitch (3,947.5M)
        keep = set()
        prev = None
        for i, r in x.iterrows():
            if prev is None or abs(r.tot - prev) / prev > 0.001:
                keep.add(i)
                prev = r.tot
        for k in KEYS:
            sub = x[x["交易日期"] <= k]
            if len(sub):
                keep.add(sub.index[-1])
        for i in sorted(keep):
            r = x.loc[i]
            note = (
                f"EXTRA SOURCE, DERIVED: 总市值 {r['总市值']:,.0f} / raw close {r['收盘价']} (xbx/邢不行 daily file, raw prices); "
                "change points (>0.1%) plus key dates; public = trading date"
            )
            if t == "688981.SS":
                note = "A+H TOTAL (matches the 2020-07-20 NDDR 7,424.03M); " + note
            add(t, r["交易日期"], r["交易日期"], r.tot / 1e6, "ashare_total", f + fn, note)
            if t == "688981.SS":
                add(
                    "0981.HK",
                    r["交易日期"],
                    r["交易日期"],
                    r.tot / 1e6,
                    "ashare_total",
                    f + fn,
                    "mirror for the HK line: " + note,
                )

    # G2: Overwatch-mercy 603019 file in prices/ (2026-01-12 onward)
    f = "prices/ashare_overwatchmercy/603019_2026-01-12_to_2026-07-17.csv"
    x = pd.read_csv(str(root) + "/" + f, dtype=str)
    add(
        "603019.SS",
        x.iloc[0]["日期"],
        x.iloc[0]["日期"],
        float(x.iloc[0]["总股本（股）"]) / 1e6,
        "ashare_total",
        f,
        "EXTRA SOURCE: 总股本 unchanged 1,463,115,784 on every row 2026-01-12..2026-07-17; public = row date",
    )

    # G3: nasdaq fundamentals snapshots (sharesB, listed units = ADS) and yfinance info snapshots
    f = "fundamentals/nasdaq_snapshots/fundamentals_snapshots_history.csv"
    n = pd.read_csv(D + "nasdaq_snapshots/fundamentals_snapshots_history.csv")
    ch = ["BABA", "KC", "GDS", "VNET", "TUYA", "BIDU", "JD", "PDD", "NTES", "BILI", "IQ", "TME"]
    n = n[n.ticker.isin(ch) & n.sharesB.notna()].copy()
    n["d"] = n.commit_date.str[:10]
    for t, g in n.groupby("ticker"):
        g = g.sort_values("commit_date").drop_duplicates("sharesB")
        for _, r in g.iterrows():
            note = (
                "EXTRA SOURCE: nasdaq sharesB (ADS-equivalents, 3 decimals in bn) snapshot; underlying as-of date unknown; "
                "public = commit date"
            )
            if t == "JD":
                note += "; 1.366bn ADS = 2.73bn ordinary looks low vs JD total (may exclude Class B): doubtful"
            add(t, r.d, r.d, r.sharesB * 1e3, "aggregator_rounded", f, note)
            hk = HK_OF.get(t)
            ratio = {"BABA": 8, "BIDU": 8, "JD": 2, "NTES": 5, "KC": 15}.get(t)
            if hk:
                add(
                    hk,
                    r.d,
                    r.d,
                    r.sharesB * 1e3 * ratio,
                    "aggregator_rounded",
                    f,
                    f"HK-line mirror: nasdaq {t} sharesB x {ratio}; " + note,
                )
    f = "fundamentals/yfinance_info_snapshots/snapshots_history.csv"
    y = pd.read_csv(D + "yfinance_info_snapshots/snapshots_history.csv")
    y = y[y.ticker.isin(ch) & y.shares_outstanding.notna()].copy()
    y["d"] = y.commit_date.str[:10]
    for t, g in y.groupby("ticker"):
        g = g.sort_values("commit_date").drop_duplicates("shares_outstanding")
        for _, r in g.iterrows():
            note = "EXTRA SOURCE: yfinance Ticker.info sharesOutstanding snapshot (ADS for ADRs); public = commit date"
            if t == "BABA":
                note += "; 2,386M ADS is ABOVE the company Sep-2025 2,319M: yfinance count basis unclear, doubtful"
            add(t, r.d, r.d, r.shares_outstanding / 1e6, "aggregator_rounded", f, note)
            hk = HK_OF.get(t)
            if hk:
                ratio = {"BABA": 8, "JD": 2}[t]
                add(
                    hk,
                    r.d,
                    r.d,
                    r.shares_outstanding / 1e6 * ratio,
                    "aggregator_rounded",
                    f,
                    f"HK-line mirror x{ratio}; " + note,
                )

    # ---------------------------------------------------------------- H. annual weighted diluted shares from the fundamentals files
    IPO_YEAR = {
        ("KC", 2020),
        ("TUYA", 2021),
        ("PDD", 2018),
        ("GDS", 2016),
        ("9660.HK", 2024),
        ("0020.HK", 2021),
        ("1810.HK", 2018),
        ("1347.HK", 2023),
    }
    PRE_IPO = {
        ("KC", 2017),
        ("KC", 2018),
        ("KC", 2019),
        ("TUYA", 2019),
        ("TUYA", 2020),
        ("PDD", 2016),
        ("PDD", 2017),
        ("GDS", 2015),
        ("9660.HK", 2021),
        ("9660.HK", 2022),
        ("9660.HK", 2023),
        ("0020.HK", 2020),
        ("1810.HK", 2015),
        ("1810.HK", 2016),
        ("1810.HK", 2017),
    }
    SPECIAL = {
        (
            "0020.HK",
            2020,
        ): "identical 33,282.4 in 2020 and 2021: vendor placeholder before the Dec-2021 IPO",
        (
            "0020.HK",
            2021,
        ): "identical 33,282.4 in 2020 and 2021: vendor placeholder; IPO 2021-12-30",
        ("1810.HK", 2015): "vendor pre-IPO placeholder (22,376 in 2015-2017)",
        (
            "1347.HK",
            2023,
        ): "STAR A-share listing Aug-2023 inside the year: weighted average understates the year-end count (FY2024 1,721)",
        (
            "VNET",
            2024,
        ): "jump from 150 (FY2023) to 290: check basis (preferred conversion in 2024 or an ordinary/ADS mix-up)",
        ("NTES", 2018): "ADS at 25 ordinary/ADS (ratio became 5 on 2020-10-01)",
        ("NTES", 2019): "ADS at 25 ordinary/ADS (ratio became 5 on 2020-10-01)",
        ("NTES", 2020): "ADS at 5 ordinary/ADS",
        ("KC", 2021): "FY2020/2021 ordinary/15; 20-F outstanding at 2021-12-31 = 243.1M ADS",
        (
            "9660.HK",
            2024,
        ): "IPO 2024-10-24 inside the year; pre-IPO share basis conflicts between vendors",
    }
    for f, hkfile in [
        ("pit_annual/fundamentals_annual.csv", False),
        ("pit_annual_hk_ashare/fundamentals_annual.csv", True),
    ]:
        a = pd.read_csv(D + f)
        a = a[a.diluted_shares.notna()]
        if not hkfile:
            a = a[a.ticker.isin(ch)]
        for _, r in a.iterrows():
            t, fy = r.ticker, int(r.fiscal_year)
            pe = r.period_end
            # the one public-date rule of the fundamentals table (data.fundamentals)
            if isinstance(r.reported_date, str) and r.reported_date:
                pub = (pd.Timestamp(r.reported_date) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
                how = "public = the day after the reported date"
            else:
                lag = filing_lag_days(t, foreign_issuer=not t.endswith((".HK", ".SS", ".SZ")))
                pub = (pd.Timestamp(pe) + pd.Timedelta(days=lag)).strftime("%Y-%m-%d")
                how = f"public = period end + {lag} days (filing deadline, no reported date)"
            lst = LISTED[t]
            if pub < lst:
                pub, how = lst, how + "; moved to listing date (first public in prospectus)"
            flags = []
            if (t, fy) in IPO_YEAR:
                flags.append(
                    "IPO-YEAR weighted average: understates the count outstanding after the IPO - DO NOT use as a count outstanding"
                )
            if (t, fy) in PRE_IPO:
                flags.append(
                    "PRE-IPO weighted average (preferred excluded or vendor placeholder) - not a count outstanding"
                )
            if (t, fy) in SPECIAL:
                flags.append(SPECIAL[(t, fy)])
            if hkfile and t != "0700.HK":
                flags.append("vendor (stockanalysis etc.) latest presentation, maybe restated")
            if t == "0700.HK":
                flags.append("stockanalysis TCEHY counts; Tencent EPS uses adjusted earnings")
            if t == "0992.HK":
                flags.append("converted from ADR basis x20")
            if t in ("KC", "GDS", "VNET", "PDD") and fy <= 2023:
                flags.append("vendor printed ordinary shares; divided by ADS ratio in the file")
            note = "; ".join([*flags, f"FY{fy} (period end {pe}) weighted diluted", how])
            add(t, pe, pub, r.diluted_shares, "weighted_diluted", f, note)
            hk = HK_OF.get(t)
            if hk and pub >= (pd.Timestamp(LISTED[hk]) - pd.Timedelta(days=548)).strftime(
                "%Y-%m-%d"
            ):
                ratio = {
                    "BIDU": 8,
                    "NTES": (25 if pe <= "2020-09-30" else 5),
                    "KC": 15,
                    "JD": 2,
                    "BABA": 8,
                }[t]
                add(
                    hk,
                    pe,
                    pub,
                    r.diluted_shares * ratio,
                    "weighted_diluted",
                    f,
                    f"HK-line mirror (x{ratio} ordinary); " + note,
                )

    out = pd.DataFrame(rows)
    out["source_file"] = out.source_file.where(
        out.source_file.str.startswith(("prices/", "fundamentals/")),
        "fundamentals/" + out.source_file,
    )
    return out.sort_values(["ticker", "as_of", "public_date", "kind"]).reset_index(drop=True)


#: notes that make a count unusable as shares outstanding (see the module doc)
UNUSABLE = (
    "IPO-YEAR",
    "IPO-PERIOD",
    "PRE-IPO",
    "CLASS A ONLY",
    "CLASS B ONLY",
    "HK SHARES ONLY",
    "RMB (A/STAR) SHARES ONLY",
    "STAR A SHARES ONLY",
    "GLITCH",
    "UNDATED",
    "DOUBTFUL / BACK-FILLED",
    "shares ISSUED",
    "about 9.5x basic",
)


def share_counts(src: Path) -> pd.DataFrame:
    """The ``shares`` table: :func:`share_count_rows` with ``basis_date`` (the share basis of
    the figure: its public date) and ``usable``."""
    s = share_count_rows(src)
    s = s[s["public_date"].astype(str).str.len() > 0].copy()
    s["as_of"] = pd.to_datetime(s["as_of"].where(s["as_of"] != "", s["public_date"]))
    s["public_date"] = pd.to_datetime(s["public_date"])
    s["basis_date"] = s["public_date"]
    note = s["note"].astype(str)
    s["usable"] = ~note.apply(lambda n: any(k in n for k in UNUSABLE))
    s = s.rename(columns={"source_file": "source"})
    cols = SHARE_COLUMNS
    return s[cols].sort_values(["ticker", "as_of", "public_date", "kind"]).reset_index(drop=True)
