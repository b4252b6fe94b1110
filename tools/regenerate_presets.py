"""Check or rebuild nent_ref/reference/presets.json, the stored numbers of nent_ref's own data presets.

    python tools/regenerate_presets.py           # check: the recipe reproduces the stored numbers
    python tools/regenerate_presets.py --write   # rebuild the file from the recipe

The presets ``gaussian-<D>d``, ``dirac-<D>d`` and ``mixture-<D>d`` are data: nent_ref reads their numbers
from the file and never recomputes them.  Their recipe (``nent_ref.suites.cases.preset_recipe``: seed
20261122, numpy's PCG64 ``default_rng``; the Gaussian covariances through QR and a matrix product) gives
numbers whose last bits depend on the CPU and BLAS kernel, so the check compares within
``cases.PRESET_RTOL`` (max-norm relative, 1e-12), never bit for bit.

``--write`` keeps every stored preset that the recipe reproduces within that tolerance (so rebuilding on
another machine changes nothing), takes the recipe's numbers for presets that are new or differ beyond
it, and rewrites the provenance.  Exit status: 0 when every preset agrees (check) or the file was written,
1 when some preset differs beyond the tolerance (check), 2 on a usage error.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from nent_ref.suites import cases

FILE = Path(__file__).resolve().parents[1] / "nent_ref" / cases.PRESETS_FILE

PROVENANCE = {
    "generator": "nent_ref.suites.cases.preset_recipe (rebuild: python tools/regenerate_presets.py --write)",
    "seed": 20261122,
    "bit_generator": "numpy.random.default_rng (PCG64), one stream per preset",
    "recipes": {
        "gaussian-<D>d": "default_rng([20261122, 1, D]): mean = uniform(-1, 1, D); q, r = qr(standard_normal((D, D))); "
                         "q *= sign(diag(r)); lam = uniform(0.25, 1, D); cov = (q * lam) @ q.T, symmetrised "
                         "0.5 (cov + cov^T)",
        "dirac-<D>d": "default_rng([20261122, 2, D]): point = uniform(-1, 1, D)",
        "mixture-<D>d": "default_rng([20261122, 3, D, 5, 0]): weights = 1/5 each; means = uniform(-2, 2, (5, D)); "
                        "stds = uniform(0.5, 1, 5) (isotropic standard deviations)",
    },
    "machine_dependence": "the Gaussian covariances go through QR and a matrix product, whose last bits depend on "
                          "the CPU and BLAS kernel; the stored numbers are those of the machine that wrote the "
                          "file (for gaussian-3d/6d/9d, the numbers nent_ref's shipped default table carried when "
                          "they became data), and the recipe reproduces them within PRESET_RTOL = 1e-12 "
                          "(max-norm relative) on any machine",
    "dims": {"gaussian": list(cases.DIMS), "dirac": list(cases.DIMS), "mixture": list(cases.MIXTURE_DIMS)},
}


def differences(stored: dict) -> dict:
    """Preset name -> list of differences between the recipe and ``stored`` (missing presets included)."""
    out = {}
    for name in cases.own_preset_names():
        if name not in stored:
            out[name] = ["not stored"]
            continue
        diff = cases.preset_differences(cases.preset_recipe(name), stored[name])
        if diff:
            out[name] = diff
    return out


def max_relative_gap(stored: dict) -> dict:
    """Preset name -> the largest max-norm relative difference of any of its arrays (recipe vs stored)."""
    gaps = {}
    for name in cases.own_preset_names():
        if name not in stored:
            continue
        fresh, kept = cases.preset_recipe(name), stored[name]
        gap = 0.0
        for key, val in kept.items():
            if isinstance(val, list):
                b = np.asarray(val, dtype=float)
                gap = max(gap, float(np.max(np.abs(np.asarray(fresh[key], dtype=float) - b)) / np.max(np.abs(b))))
        gaps[name] = gap
    return gaps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rebuild the file (keeping presets within tolerance)")
    parser.add_argument("--file", type=Path, default=FILE, help=f"the presets file (default {FILE})")
    args = parser.parse_args(argv)
    stored = json.loads(args.file.read_text())["presets"] if args.file.exists() else {}
    diff = differences(stored)
    for name, gap in max_relative_gap(stored).items():
        print(f"{name}: recipe vs stored, largest relative difference {gap:.2e} (tolerance {cases.PRESET_RTOL:g})")
    if not args.write:
        for name, lines in diff.items():
            print(f"{name}: " + "; ".join(lines), file=sys.stderr)
        return 1 if diff else 0
    presets = {name: (cases.preset_recipe(name) if name in diff else stored[name])
               for name in cases.own_preset_names()}
    record = {"provenance": PROVENANCE, "presets": presets}
    args.file.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.file}: {len(presets)} presets ({len(diff)} taken from the recipe)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
