"""Which SAF-T grouping code (næringsspesifikasjon) an NS 4102 account maps to, for the SAF-T Financial export.

SAF-T 1.30 makes `GroupingCategory` and `GroupingCode` mandatory on every account. Bilagsbro does not know a
tenant's chart of accounts, only the account numbers its documents use, so the code is chosen by rule:

1. a tenant's own choice (`overrides`: account → grouping code), else
2. the account's first four digits when they are a grouping code themselves (1920 → 1920), else
3. the NS 4102 range the account falls in (`RANGES`, below: 1930 → 1920 Bankinnskudd, 2700 → 2740
   Oppgjørskonto merverdiavgift, 4300 → 4005 Varekostnader).

[unverified] The ranges are our reading of NS 4102 against the code list; Regnskap Norge's own mapping of the
standard accounts (copyrighted, "only in connection with SAF-T mapping") was not among our sources. Codes of the
petroleum industry (3001–3005, 4001–4003, …) are only ever chosen by an exact match. An accountant should check
the mapping of a real chart; `overrides` is where a tenant's own answer goes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.norway.grouping_codes import CATEGORY_OF, DESCRIPTION_OF

# (first account of an NS 4102 range, the grouping code its accounts map to), ascending.
RANGES: tuple[tuple[int, str], ...] = tuple(
    (int(start), code) for start, code in (pair.split(":") for pair in """
    1000:1000 1020:1020 1070:1070 1080:1080 1100:1105 1115:1115 1120:1120 1130:1130 1140:1140 1150:1150 1160:1160
    1180:1180 1200:1205 1220:1221 1225:1225 1230:1238 1250:1205 1280:1280 1290:1290 1300:1313 1320:1320 1330:1332
    1340:1340 1350:1350 1360:1360 1370:1370 1380:1380 1390:1390 1400:1400 1490:1490 1500:1500 1530:1530 1560:1560
    1570:1570 1780:1780 1800:1800 1810:1810 1830:1830 1840:1840 1880:1880 1900:1900 1920:1920 1950:1950
    2000:2000 2010:2010 2020:2020 2030:2030 2040:2043 2050:2050 2080:2080 2100:2100 2120:2120 2130:2130 2160:2160
    2180:2180 2200:2200 2210:2210 2220:2220 2250:2250 2260:2260 2280:2280 2290:2290 2300:2310 2320:2320 2330:2330
    2340:2380 2400:2400 2460:2460 2500:2500 2510:2510 2600:2600 2700:2740 2770:2770 2790:2790 2800:2800 2900:2900
    2910:2910 2920:2920 2930:2949 2950:2950 2970:2970 2980:2980 2990:2990
    3000:3000 3100:3100 3200:3200 3300:3300 3400:3400 3500:3500 3600:3600 3650:3650 3695:3695 3700:3700 3710:3710
    3800:3880 3900:3900
    4000:4005 4290:4295 4300:4005 4500:4500 4600:4005 4990:4995
    5000:5000 5300:5300 5400:5400 5420:5420 5500:5900 5600:5600 5700:5900 5950:5950
    6000:6000 6050:6050 6100:6100 6200:6200 6300:6300 6340:6340 6350:6350 6360:6395 6400:6400 6440:6440 6500:6500
    6600:6600 6690:6695 6700:6700 6800:6995
    7000:7000 7020:7020 7040:7040 7080:7080 7099:7099 7100:7155 7160:7165 7200:7295 7300:7330 7350:7350 7370:7370
    7400:7400 7420:7420 7440:7440 7490:7490 7500:7500 7560:7565 7600:7600 7650:7650 7700:7700 7800:7830 7860:7860
    7880:7880 7890:7890 7900:7700
    8000:8005 8030:8030 8050:8050 8060:8060 8070:8079 8080:8080 8090:8090 8100:8100 8110:8115 8130:8130 8150:8150
    8160:8160 8170:8179 8300:8300 8400:8800
    """.split())
)
_STARTS = [start for start, _ in RANGES]
_DIGITS = re.compile(r"\d{4}")
# An account outside NS 4102's classes 1–8 (class 9 is internal, letters are no account number) still needs a
# code to be valid SAF-T 1.30. The XSD offers no "unmapped" code; 7700 Annen kostnad is the least wrong, and the
# export says in its header comment how many accounts took it.
FALLBACK = "7700"


@dataclass(frozen=True)
class Grouping:
    category: str  # GroupingCategory, e.g. "balanseverdiForOmloepsmiddel"
    code: str  # GroupingCode, e.g. "1920"
    description: str  # the code's Norwegian description, e.g. "Bankinnskudd"
    how: str  # "override", "exact", "range" or "fallback"


def grouping(account: str, overrides: Mapping[str, str] | None = None) -> Grouping:
    """The grouping code of one account number (see the module's docstring for the rule)."""
    chosen = (overrides or {}).get(account)
    if chosen is not None:
        if chosen not in CATEGORY_OF:
            raise ValueError(f"{chosen!r} (for account {account}) is not a grouping code of the næringsspesifikasjon")
        return _of(chosen, "override")
    head = account.strip()[:4]
    if not (_DIGITS.fullmatch(head) and head[0] in "12345678"):
        return _of(FALLBACK, "fallback")
    if head in CATEGORY_OF:
        return _of(head, "exact")
    index = bisect.bisect_right(_STARTS, int(head)) - 1
    return _of(RANGES[index][1], "range") if index >= 0 else _of(FALLBACK, "fallback")


def _of(code: str, how: str) -> Grouping:
    return Grouping(CATEGORY_OF[code], code, DESCRIPTION_OF[code], how)
