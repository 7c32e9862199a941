"""Benchmark: the import time of the API (``carbonstream serve``, the demo), each in a new
interpreter, with the report renderers left to the first report (the code's path) and
with them imported at start-up as before (matplotlib, fontTools, openpyxl: the baseline).

Alternating rounds; prints one JSON object per line: the median seconds of each and the
ratio lazy / eager.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

LAZY = "import carbonstream.api.app"
EAGER = (
    "import carbonstream.api.app, carbonstream.monthly.pdf, carbonstream.monthly.xlsx,"
    " carbonstream.footprint.pdf"
)
HEAVY = ("matplotlib", "fontTools", "openpyxl")


def emit(metric: str, value: float, unit: str, **extra: Any) -> None:
    line = {"bench": "startup", "metric": metric, "value": value, "unit": unit} | extra
    print(json.dumps(line), flush=True)


def seconds(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="two rounds")
    a = ap.parse_args()
    check = f"{LAZY}; import sys; assert not {{*sys.modules}} & {set(HEAVY)!r}"
    subprocess.run([sys.executable, "-c", check], check=True)  # and warms the .pyc files
    took: dict[str, list[float]] = {"lazy": [], "eager": []}
    for _ in range(2 if a.quick else a.rounds):
        took["eager"].append(seconds(EAGER))
        took["lazy"].append(seconds(LAZY))
    med = {k: statistics.median(v) for k, v in took.items()}
    emit("import_api_s", med["eager"], "s", path="eager", rounds=len(took["eager"]))
    emit(
        "import_api_s",
        med["lazy"],
        "s",
        path="lazy",
        vs="eager",
        ratio=med["lazy"] / med["eager"],
        rounds=len(took["lazy"]),
    )


if __name__ == "__main__":
    main()
