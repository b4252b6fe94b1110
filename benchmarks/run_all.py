"""Run every benchmark in this folder with one command, in both BLAS configurations.

    python benchmarks/run_all.py                   # default sizes of each benchmark
    python benchmarks/run_all.py --quick           # the smaller sizes, where a benchmark has them
    python benchmarks/run_all.py --only mixture,sde --config unset

Every ``bench_*.py`` runs in its own subprocess.  OpenBLAS chooses its kernel once, when numpy is
imported, from ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``, which the project's machines set (they
select an older kernel; numpy baselines can run up to 1.8x faster without them).  So a benchmark with
numpy baselines runs twice:

* ``machine``: the variables exactly as this environment has them (nothing here sets them);
* ``unset``: both removed in that benchmark's subprocess alone, OpenBLAS picks the kernel of the detected core.

Where the machine sets neither variable the two configurations are the same, and each benchmark runs once.

Each benchmark prints the kernel threadpoolctl saw and the load average in its first and last line;
this script ends with the ``summary:`` line of every run.  Needs the ``bench`` extra
(``pip install -e '.[bench]'``: POT, threadpoolctl).  Nothing here asserts a timing.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

#: arguments of each benchmark under --quick
QUICK_FLAGS = {"bench_mixture.py": ["--quick"], "bench_ot.py": ["--quick"],
               "bench_sde.py": ["--repeat", "2"], "bench_neural.py": [],
               "bench_precision.py": ["--quick"], "bench_import.py": ["--runs", "7"]}

#: benchmarks without numpy/scipy/POT baselines (their ratios compare nent_ref designs with each other):
#: one configuration is enough
NO_NUMPY_BASELINE = {"bench_neural.py", "bench_precision.py", "bench_import.py"}


def run(script, args, config):
    env = common.blas_environment(config)
    shown = ", ".join(f"{v}={env[v]}" for v in common.BLAS_VARS if v in env) or "both unset"
    print(f"\n===== {script.name} {' '.join(args)}   [BLAS configuration {config!r}: {shown}]", flush=True)
    proc = subprocess.Popen([sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    summary = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.startswith("summary:"):
            summary.append(line.strip())
    return proc.wait(), summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the smaller sizes, where a benchmark has them")
    ap.add_argument("--config", choices=("both", "machine", "unset"), default="both",
                    help="BLAS configuration(s) for benchmarks with numpy baselines (default both)")
    ap.add_argument("--only", default=None, help="comma-separated topics, e.g. mixture,sde (default: all)")
    args = ap.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {f"bench_{t.strip()}.py" for t in args.only.split(",")}
        unknown = wanted - {s.name for s in scripts}
        if unknown:
            raise SystemExit(f"no such benchmark: {sorted(unknown)}; have {[s.name for s in scripts]}")
        scripts = [s for s in scripts if s.name in wanted]
    print(f"run_all: {len(scripts)} benchmarks; {common.load_average()}")
    status = 0
    results = []
    for script in scripts:
        extra = QUICK_FLAGS.get(script.name, []) if args.quick else []
        configs = ["machine", "unset"] if args.config == "both" else [args.config]
        if script.name in NO_NUMPY_BASELINE or not common.machine_sets_blas():
            configs = configs[:1]              # no numpy baseline, or the machine sets neither variable
        for config in configs:
            rc, summary = run(script, extra, config)
            status |= rc
            results.append((script.name, config, rc, summary))
    print("\n===== summaries")
    for name, config, rc, summary in results:
        for line in summary or ["(no summary line)"]:
            print(f"{name} [{config}]{' exit ' + str(rc) if rc else ''}: {line}")
    return status


if __name__ == "__main__":
    sys.exit(main())
