"""Benchmark: what the spreadsheet-safe CSV writer (issue #25) adds to a score export.

Usage: python -m benchmarks.csv_safe [--rows 1000000]
A score-shaped frame (customer id, band, reasons as JSON text, probability), with 1 % of the
ids starting with a formula character; times ``spreadsheet_safe_frame`` + ``csv_quoting``
against pandas' own ``to_csv`` of the same frame.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cxml.io import csv_quoting, spreadsheet_safe_frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    rng = np.random.default_rng(0)
    ids = np.array([f"C{i:07d}" for i in range(rows)], dtype=object)
    ids[rng.random(rows) < 0.01] = "=HYPERLINK(1)"
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "band": rng.choice(["high", "medium", "low"], rows),
            "reasons": ['[{"feature": "said_leave", "quote": "I will switch"}]'] * rows,
            "probability": rng.random(rows),
        }
    )
    start = time.perf_counter()
    safe = spreadsheet_safe_frame(frame)
    quoting = csv_quoting(safe)
    made_safe = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        safe.to_csv(Path(folder) / "scores.csv", index=False, quoting=quoting)
        written = time.perf_counter() - start
    print(f"rows {rows:,}: made safe {made_safe:.2f} s, to_csv {written:.2f} s")


if __name__ == "__main__":
    main()
