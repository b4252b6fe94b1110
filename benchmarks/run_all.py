"""Run every benchmark in this folder, one after the other (one command).

    python benchmarks/run_all.py           # default sizes of each benchmark
    python benchmarks/run_all.py --quick   # the smaller sizes, where a benchmark has them

Needs the ``bench`` extra (``pip install -e '.[bench]'``, for POT).  Each benchmark prints its own
same-run ratios against its named baselines; nothing here asserts a timing.
"""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK_FLAGS = {"bench_mixture.py": ["--quick"], "bench_ot.py": ["--quick"],
               "bench_sde.py": ["--repeat", "2"], "bench_neural.py": []}


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    status = 0
    for script in sorted(HERE.glob("bench_*.py")):
        args = QUICK_FLAGS.get(script.name, []) if quick else []
        print(f"\n===== {script.name} {' '.join(args)}", flush=True)
        status |= subprocess.call([sys.executable, str(script), *args])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
