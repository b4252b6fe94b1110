"""Start-up cost: ``import nent_ref`` against ``import numpy, scipy, numba`` (issue 22).

    python benchmarks/bench_import.py               # 15 fresh interpreters per candidate
    python benchmarks/bench_import.py --runs 31

Each candidate is a one-line program run in a fresh interpreter (``python -c``), the candidates
interleaved round by round so that they see the same machine load.  Reported: the median wall time of
each and, for every nent_ref candidate, its difference from and ratio to the baseline in this run.

Candidates:

* ``baseline``: ``import numpy, scipy, numba`` (what any nent_ref user loads anyway);
* ``import nent_ref``: the package face alone (every public name loads on first use, PEP 562);
* ``first use``: ``import nent_ref`` and the names of a first session (processes, data types,
  ``total_entropy``), which load the core modules and the Numba kernels' module (not their compiled code);
* ``nent_ref.cli``: what the ``nent-ref`` command imports before its first row.

The interpreter start itself (``python -c pass``) is reported too and included in every figure.
Nothing here asserts a timing; ``tests/test_import.py`` checks which modules the import loads.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

CANDIDATES = {
    "interpreter": "pass",
    "baseline": "import numpy, scipy, numba",
    "import nent_ref": "import nent_ref",
    "first use": "import nent_ref as nr; nr.VP, nr.Gaussian, nr.GaussianMixture, nr.total_entropy",
    "nent_ref.cli": "import nent_ref.cli",
}


def wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per candidate (default 15)")
    args = parser.parse_args(argv)
    print(f"bench_import: {args.runs} runs per candidate, {sys.executable}; {common.load_average()}")
    for code in CANDIDATES.values():      # warm the file cache (and compile .pyc) before timing
        wall(code)
    times = {name: [] for name in CANDIDATES}
    for _ in range(args.runs):
        for name, code in CANDIDATES.items():
            times[name].append(wall(code))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    base = med["baseline"]
    for name, code in CANDIDATES.items():
        line = f"{name:16s} median {med[name] * 1e3:7.0f} ms  (min {min(times[name]) * 1e3:5.0f} ms)  [{code}]"
        if name not in ("interpreter", "baseline"):
            line += f"  vs baseline {med[name] - base:+.3f} s, {med[name] / base:.2f}x"
        print(line)
    # ``import nent_ref`` alone loads neither numpy nor scipy nor numba (PEP 562), so it is far below the
    # baseline; the target is the first use, which loads the core modules on top of the three.
    common.target("`import nent_ref` + first use (processes, data types, total_entropy) on top of numpy + "
                  "scipy + numba: extra start-up time (median)", med["first use"] - base, "s", "<= 0.3",
                  "`python -c 'import numpy, scipy, numba'` (fresh interpreters, interleaved)",
                  f"first use {med['first use']:.3f} s, baseline {base:.3f} s ({med['first use'] / base:.2f}x); "
                  f"bare `import nent_ref` {med['import nent_ref']:.3f} s; `import nent_ref.cli` "
                  f"{med['nent_ref.cli'] - base:+.3f} s; medians of {args.runs}")
    print("summary: " + "; ".join(f"{name} {med[name] - base:+.3f} s ({med[name] / base:.2f}x baseline)"
                                  for name in CANDIDATES if name not in ("interpreter", "baseline"))
          + f"; baseline {base:.3f} s ({common.load_average()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
