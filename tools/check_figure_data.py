"""Check that regenerated figure data agree with the committed ones, within the documented tolerance.

    python tools/check_figure_data.py [--ref HEAD] [--dir figures] [--fresh DIR] [--root REPO]

For every figure CSV committed at ``--ref`` (default HEAD) under ``--dir`` (default figures/), compares
the file in the work tree (as the main job ``nent-ref figures`` rewrote it; or the file of that name in
``--fresh DIR``, e.g. figures rendered under another BLAS thread count) with the committed text
(``git show REF:figures/x.csv``) by ``nent_ref.suites.figure_data.compare_figure_csv``: same header, rows and
strings; numbers within FIGURE_DATA_RTOL = 1e-6 relative plus an absolute part (1e-12 of the column's
largest magnitude; for standard errors and error bounds, 1e-9 of the value they belong to).  Last-bit
differences between CPUs and BLAS kernels pass; a changed figure does not.  Never compares bytes.

Exit status: 0 when every file agrees, 1 when some file differs or is missing, 2 on a usage error
(not a git checkout, unknown ref).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from nent_ref.suites.figure_data import compare_figure_csv

ROOT = Path(__file__).resolve().parents[1]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="HEAD", help="the commit holding the reference CSVs (default HEAD)")
    parser.add_argument("--dir", default="figures", help="the figure folder, relative to the repository root")
    parser.add_argument("--fresh", type=Path, default=None,
                        help="compare the CSVs in this folder instead of the work tree's (default: ROOT/DIR)")
    parser.add_argument("--root", type=Path, default=ROOT, help=f"the repository (default {ROOT})")
    args = parser.parse_args(argv)
    fresh_dir = args.fresh if args.fresh is not None else args.root / args.dir
    try:
        names = [n for n in _git(args.root, "ls-tree", "--name-only", f"{args.ref}:{args.dir}").split() if n.endswith(".csv")]
    except subprocess.CalledProcessError as exc:
        print(f"check_figure_data: cannot list {args.ref}:{args.dir}: {exc.stderr.strip()}", file=sys.stderr)
        return 2
    problems = []
    for name in names:
        fresh = fresh_dir / name
        if not fresh.exists():
            problems.append(f"{fresh}: missing")
            continue
        committed = _git(args.root, "show", f"{args.ref}:{args.dir}/{name}")
        problems += compare_figure_csv(committed, fresh.read_text(), f"{args.dir}/{name}")
    for line in problems[:50]:
        print(line)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more")
    if not names:
        problems.append(f"no CSV files at {args.ref}:{args.dir}")
    print(f"check_figure_data: {len(names)} CSV files in {fresh_dir} against {args.ref}:{args.dir}: "
          + ("all agree within tolerance" if not problems else f"{len(problems)} differences beyond tolerance"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
