"""Benchmark: `cxml train churn` on the IBM Telco table as a user runs it, wall time, on an idle
machine and with one or two other busy processes (a server, another job) holding cores.

Usage: python -m benchmarks.train_cli [--data ../shared/data] [--busy 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CXML = str(Path(sys.executable).with_name("cxml"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    table = args.data / "telco-ibm" / "Telco-Customer-Churn.csv"
    print("| other busy processes | wall seconds | ROC-AUC (5-fold) |")
    print("|---|---|---|")
    for busy in args.busy:
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            with tempfile.TemporaryDirectory() as folder:
                started = time.perf_counter()
                done = subprocess.run(
                    [
                        CXML,
                        "train",
                        "churn",
                        "--customers",
                        str(table),
                        "--label-column",
                        "Churn",
                        "--positive",
                        "Yes",
                        "--map",
                        "customerID=customer_id",
                    ],
                    cwd=folder,
                    env={**os.environ, "CXML_MLFLOW_TRACKING_URI": f"sqlite:///{folder}/m.db"},
                    capture_output=True,
                    text=True,
                )
                seconds = time.perf_counter() - started
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        auc = next(line for line in done.stdout.splitlines() if line.strip().startswith("model"))
        print(f"| {busy} | {seconds:.1f} | {auc.split()[2]} |", flush=True)


if __name__ == "__main__":
    main()
