"""Command-line tool ``nent-ref``: ground-truth tables, theory figures and model validation.

Sub-commands
------------
``nent-ref table [--suite NAME] [--format json|csv] [--out FILE]``
    Print a ground-truth table.  Every row is a flat mapping of column name to
    value; entropies are in nats.  A suite is a function ``rows(options)`` named in
    :data:`SUITES`; ``all`` runs every suite.
``nent-ref figures [--out DIR]``
    Render the theory figures (PNG and PDF, with the plotted data as CSV beside
    each) into ``DIR`` (default ``figures/``).
``nent-ref validate package.module:function --data PRESET --process NAME``
    Validate a user's score model against exact ground truth (:func:`nent_ref.validate`);
    exits 1 when a check fails.

Suites and figures are looked up lazily by dotted path so that a slow or optional
module is imported only when asked for.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import io
import json
import math
import sys
from pathlib import Path

from ._version import __version__

#: Table suites: name -> "module:function".  The function takes a
#: :class:`TableOptions` and returns a list of flat dicts (one per row).
SUITES: dict[str, str] = {
    "empirical": "nent_ref.mixture:empirical_rows",
    "default": "nent_ref.cases:default_rows",
    "gaussian": "nent_ref.cases:gaussian_rows",
    "mixture": "nent_ref.mixture:mixture_rows",
    "paper": "nent_ref.cases:paper_rows",
    "rg": "nent_ref.rg:table_rows",
    "speed-limit": "nent_ref.speed:table_rows",
    "statmech": "nent_ref.statmech:table_rows",
}

#: Figures: name -> "module:function".  The function takes an output directory
#: (pathlib.Path) and a :class:`TableOptions` and returns the list of files written.
FIGURES: dict[str, str] = {
    "gaussian_rate": "nent_ref.figures:gaussian_rate_figure",
    "transport_rates": "nent_ref.figures:transport_figure",
    "stot_vs_kappa": "nent_ref.figures:kappa_figure",
    "memoriser": "nent_ref.figures:memoriser_figure",
    "speed_limit_efficiency": "nent_ref.figures:efficiency_figure",
    "fluctuation_theorem": "nent_ref.figures:fluctuation_figure",
    "neural_vs_total": "nent_ref.figures:neural_figure",
    "rg_kl_flow": "nent_ref.rg:kl_flow_figure",
}


class TableOptions:
    """Options shared by all suites (seed, workers, progress)."""

    def __init__(self, seed: int = 0, workers: int = 1, quiet: bool = False,
                 scheduler: str | None = None):
        self.seed = int(seed)
        self.workers = int(workers)
        self.quiet = bool(quiet)
        self.scheduler = scheduler

    def progress(self, message: str) -> None:
        """Write a progress line to stderr unless ``--quiet``."""
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def executor_for(options):
    """Context manager giving the executor a suite should pass to Monte Carlo (``executor=``).

    ``--scheduler ADDRESS``: a dask.distributed client's executor (needs the ``dask`` extra);
    ``--workers N`` with N > 1: a ``ProcessPoolExecutor(N)``; otherwise ``None`` (in-process).
    Monte Carlo results do not depend on the choice (independent streams per block).
    """
    scheduler = getattr(options, "scheduler", None)
    workers = int(getattr(options, "workers", 1) or 1)
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs dask.distributed: pip install 'nent_ref[dask]'") from None
        client = Client(scheduler)
        try:
            yield client.get_executor()
        finally:
            client.close()
    elif workers > 1:
        # spawn, not fork: the parent may already run Numba's OpenMP threads, which fork would break
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
    else:
        yield None


def _resolve(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _jsonable(value):
    """Turn numpy scalars and non-finite floats into JSON-safe values."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def table_rows(suite: str, options: TableOptions | None = None) -> list[dict]:
    """Compute the rows of one suite (or of every suite for ``"all"``)."""
    options = options or TableOptions()
    # "all": every suite once ("default" is only gaussian + paper again)
    names = [n for n in SUITES if n != "default"] if suite == "all" else [suite]
    rows: list[dict] = []
    for name in names:
        if name not in SUITES:
            raise ValueError(f"unknown suite {name!r}; choose from {sorted(SUITES) + ['all']}")
        options.progress(f"nent-ref: computing suite {name!r}")
        for row in _resolve(SUITES[name])(options):
            rows.append({"suite": name, **row})
    return rows


def format_rows(rows: list[dict], fmt: str, suite: str) -> str:
    """Render rows as JSON (with a header) or CSV (union of columns)."""
    if fmt == "json":
        doc = {"nent_ref_version": __version__, "suite": suite, "units": "nats",
               "rows": [_jsonable(r) for r in rows]}
        return json.dumps(doc, indent=1) + "\n"
    if fmt == "csv":
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _jsonable(v) for k, v in row.items()})
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}; choose 'json' or 'csv'")


def render_figures(out: Path, options: TableOptions | None = None,
                   names: list[str] | None = None) -> list[Path]:
    """Render the named figures (default: all) into ``out``; return the files."""
    options = options or TableOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in names or list(FIGURES):
        if name not in FIGURES:
            raise ValueError(f"unknown figure {name!r}; choose from {sorted(FIGURES)}")
        options.progress(f"nent-ref: rendering figure {name!r}")
        written.extend(Path(p) for p in _resolve(FIGURES[name])(out, options))
    return written


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nent-ref", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=0, help="master seed for Monte Carlo (default 0)")
    common.add_argument("--workers", type=int, default=1, help="worker processes for Monte Carlo")
    common.add_argument("--scheduler", default=None, help="dask scheduler address (optional)")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")

    t = sub.add_parser("table", parents=[common], help="print a ground-truth table")
    t.add_argument("--suite", default="default", choices=sorted(SUITES) + ["all"],
                   help="which table (default: the closed-form gaussian suite + the paper suite)")
    t.add_argument("--format", default="json", choices=["json", "csv"], help="output format (default json)")
    t.add_argument("--out", default=None, help="write to this file instead of stdout")

    f = sub.add_parser("figures", parents=[common], help="render the theory figures")
    f.add_argument("--out", default="figures", help="output directory (default figures/)")
    f.add_argument("--only", nargs="*", default=None, choices=sorted(FIGURES),
                   help="render only these figures")
    _add_validate_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nent-ref`` console script."""
    args = _build_parser().parse_args(argv)
    if args.command == "validate":
        return _run_validate(args)
    options = TableOptions(seed=args.seed, workers=args.workers, quiet=args.quiet,
                           scheduler=args.scheduler)
    if args.command == "table":
        text = format_rows(table_rows(args.suite, options), args.format, args.suite)
        if args.out:
            Path(args.out).write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    if args.command == "figures":
        for path in render_figures(Path(args.out), options, args.only):
            options.progress(f"wrote {path}")
        return 0
    return 2  # pragma: no cover - argparse enforces the choices


# --------------------------------------------------------------------------- validate (nent_ref.validation)
def _add_validate_parser(sub) -> None:
    """``nent-ref validate package.module:function --data PRESET|FILE.npz --process NAME``."""
    v = sub.add_parser("validate", help="validate a score model against exact ground truth",
                       description="Validate a score model e(x, s) (or score(x, s) with --score) against exact "
                                   "ground truth; prints the report and exits 1 when a check fails.")
    v.add_argument("model", help="package.module:function, called as f(x, s) with x (M, D), s (M,)")
    v.add_argument("--data", required=True,
                   help="data preset (gaussian-<D>d, dirac-<D>d, mixture-<D>d) or a .npz file "
                        "(mean+cov, weights+means+covs, or points)")
    v.add_argument("--process", required=True, choices=["vp", "vp16", "vp20", "vpx", "sl"],
                   help="forward process (vp = vp16, the paper's VP 0.1 -> 16)")
    v.add_argument("--score", action="store_true", help="the model returns the full score, not e")
    v.add_argument("--factory", action="store_true",
                   help="call the target as f(data, process) first to build the model")
    v.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    v.add_argument("--n-samples", type=int, default=2 ** 15, help="Monte Carlo samples (default 32768)")
    v.add_argument("--s0", type=float, default=None, help="start time (default 0, 1e-5 for Dirac data)")
    v.add_argument("--s1", type=float, default=None, help="end time (default T, T - 1e-5 for SL)")
    v.add_argument("--threshold", type=float, default=5.0, help="pass threshold in standard errors (default 5)")
    v.add_argument("--workers", type=int, default=1, help="worker processes (the model must be picklable)")
    v.add_argument("--no-curves", action="store_true", help="skip the per-time rate curves")
    v.add_argument("--json", action="store_true", help="print the report as JSON")


def _run_validate(args) -> int:
    import os
    from .validation import load_data, process_presets, validate
    if os.getcwd() not in sys.path:       # resolve user modules from the working directory, as python -m does
        sys.path.insert(0, os.getcwd())
    try:
        target = _resolve(args.model)
    except (ImportError, AttributeError, ValueError) as exc:
        print(f"nent-ref validate: cannot load {args.model!r} (expected package.module:function): {exc}",
              file=sys.stderr)
        return 2
    try:
        data = load_data(args.data)
        process = process_presets()[args.process]
        model = target(data, process) if args.factory else target
        with executor_for(TableOptions(workers=args.workers)) as executor:
            report = validate(model, data, process, args.s0, args.s1, score=args.score, n_samples=args.n_samples,
                              seed=args.seed, threshold=args.threshold, curves=not args.no_curves,
                              executor=executor)
    except ValueError as exc:
        print(f"nent-ref validate: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report)
    return 0 if report.passed else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
