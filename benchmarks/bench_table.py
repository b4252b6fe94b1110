"""Wall time of ``nent-ref table --quiet`` (issue 22: < 5 s), with the package's start-up beside it.

    python benchmarks/bench_table.py              # best of 5 runs
    python benchmarks/bench_table.py --runs 3

Each run is a fresh process, as a user types the command: ``nent-ref table --quiet`` (the console
script beside this interpreter; ``python -m nent_ref table --quiet`` where it is not installed), its
output (the default table: the closed-form gaussian suite and the paper suite) sent to /dev/null.
One untimed run comes first, so that Numba's on-disk cache is warm (a first run on a fresh checkout
compiles the kernels, which is not the figure the goal is about).  The baseline,
``python -c "import nent_ref"``, runs in turn with it in every round (same machine load), and the
ratio of the two is printed.  Reported: best and median wall time, and the CPU time of the child
(user + system, ``resource.RUSAGE_CHILDREN``), the steadier figure on a loaded machine.  Nothing here
asserts a timing.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402


def table_command() -> list:
    script = Path(sys.executable).parent / "nent-ref"
    if script.exists():
        return [str(script), "table", "--quiet"]
    return [sys.executable, "-m", "nent_ref", "table", "--quiet"]


def timed(cmd) -> tuple:
    """(wall, child CPU) seconds of one run of ``cmd``, stdout and stderr discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each command (default 5)")
    args = ap.parse_args(argv)
    table = table_command()
    base = [sys.executable, "-c", "import nent_ref"]
    print(f"bench_table: {' '.join(table)} against {' '.join(base)}, {args.runs} runs each; "
          f"{common.load_average()}", flush=True)
    t_warm = timed(table)                          # untimed: warm the Numba cache and the file cache
    timed(base)
    print(f"warm-up run of the table: {t_warm[0]:.2f} s wall ({common.load_average()})", flush=True)
    runs = {"table": [], "baseline": []}
    for _ in range(args.runs):
        runs["table"].append(timed(table))
        runs["baseline"].append(timed(base))
    for name, cmd in (("table", table), ("baseline", base)):
        walls = [w for w, _ in runs[name]]
        cpus = [c for _, c in runs[name]]
        print(f"{name:9s} best {min(walls):7.3f} s  median {statistics.median(walls):7.3f} s wall   "
              f"best CPU {min(cpus):7.3f} s   [{' '.join(cmd)}]")
    best_t = min(w for w, _ in runs["table"])
    best_b = min(w for w, _ in runs["baseline"])
    cpu_t = min(c for _, c in runs["table"])
    common.target("`nent-ref table --quiet` (default table), warm Numba cache: wall time (best of "
                  f"{args.runs})", best_t, "s", "< 5", "`python -c 'import nent_ref'` (start-up, same rounds)",
                  f"best {best_t:.2f} s wall, {cpu_t:.2f} s CPU; start-up {best_b:.3f} s "
                  f"({best_t / best_b:.1f}x); {os.cpu_count()} cores")
    print(f"summary: nent-ref table --quiet best {best_t:.2f} s wall ({cpu_t:.2f} s CPU), "
          f"{best_t / best_b:.1f}x the start-up {best_b:.3f} s ({common.load_average()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
