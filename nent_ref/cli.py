"""Command-line tool ``nent-ref``: ground-truth tables, theory figures and model validation.

Sub-commands
------------
``nent-ref table [--suite NAME] [--format json|csv] [--out FILE]``
    Print a ground-truth table.  Every row is a flat mapping of column name to
    value; entropies are in nats; a row of the diffusion suites carries its case
    specification (``spec``, see ``compute``), and infinities are null with a reason.  A suite is a function ``rows(options)`` named in
    :data:`SUITES`; ``all`` runs every suite.  ``--out`` is checked (its directory
    exists and is writable) before anything is computed.
``nent-ref figures [--out DIR]``
    Render the theory figures (PNG and PDF, with the plotted data as CSV beside
    each) into ``DIR`` (default ``figures/``), which is created up front.
``nent-ref validate package.module:function --data PRESET --process NAME [--beta-max ...] [--base 2]``
    Validate a user's score model against exact ground truth (:func:`nent_ref.validate`): quality
    gates (``--max-l-em``, ``--max-l-em-fraction``, ``--max-kl-bound``) and consistency checks.
    The target is a model ``f(x, s)`` (a numpy function, a torch module or a jit-compiled JAX
    function); with ``--factory`` it is called as ``f(data, process)`` to build the model.
    ``--prediction`` (e, score, eps, v, x0) and ``--time-input`` (s, timestep, sigma, log_snr) say what the
    model returns and takes.  A diffusers model: ``nent-ref validate PIPELINE_DIR --data ...`` (unet/ and
    scheduler/ read locally) or ``nent-ref validate pkg.mod:unet --scheduler-config scheduler_config.json``;
    the scheduler gives the process and the prediction type.  ``--data-range 0,255`` reads ``--data`` as
    images (folder, file, .npy/.npz) scaled to [-1, 1].
``nent-ref compute SPEC [--format json|csv] [--base 2] [--out FILE]``
    Ground truth for any case: SPEC is a case specification file (JSON, or TOML on Python >= 3.11;
    ``-`` reads JSON from stdin) holding one spec, a list of them or ``{"cases": [...]}`` (format in
    docs/specs.md).  One row per case, as in ``table``: each quantity with its stderr, error bound and
    method, and the canonical spec.  ``--base 2`` reports entropies in bits.  Progress on stderr.
``nent-ref plot SPEC [--out DIR] [--style paper|talk]``
    A figure of one's own case (:func:`nent_ref.plot`): for every case of SPEC the rate with its error
    band, the cumulative S_tot, KL to equilibrium, the speed limit and (with a ``model``) S_NN against
    S_tot, as PNG, PDF and the CSV of the plotted numbers; ``--style talk`` for slides.
``nent-ref conformance --emit FILE``
    Write the canonical conformance cases (inputs only, no answers; docs/conformance.md).
``nent-ref reproduce headline [--quick] [--out DIR] [--retrain] [--quiet]``
    The paper's headline measurement on scikit-learn's 8x8 digits (docs/headline.md): S_NN of small
    PyTorch score networks against training-set size, with the memoriser's and the Gaussian fit's exact
    S_tot beside it.  Writes ``headline.json``, ``headline.csv``, ``headline_fit.json`` and the figure
    ``headline.png``/``.pdf`` into DIR (default ``headline-results``); reuses the weights in
    ``DIR/weights`` or the shipped ones (``--retrain`` trains anew, about 10 CPU-minutes).  ``--quick``
    measures 3 sizes, one seed, with fewer samples.  Needs ``pip install 'nent_ref[headline]'``.
``nent-ref check CLAIMS [--cases FILE] [--threshold 5] [--digits N] [--json] [--report FILE]``
    Grade another implementation's claimed numbers against the reference (z-score combining both
    standard errors, error bounds and the rounding of claims given to N significant digits); prints a readable report (JSON with ``--json``, also written
    to ``--report FILE``) and exits 1 when any claim fails, 2 when the claims file is bad.

Exit status
-----------
0
    success (for ``validate``: every quality gate and every consistency check passed).
1
    a check failed: for ``validate``, a quality gate failed or was inconclusive (the model is too far
    from the exact optimum, or not shown to be within the gate) while the consistency checks passed;
    for ``check``, a claim failed.
5
    ``validate``: a consistency check failed (an identity that holds for any model did not: the
    report's numbers cannot be trusted; wrong ground truth, data or process mismatch, a false claim).
    Takes precedence over 1.
2
    usage or input error: bad arguments, unknown data preset or process, a target that
    cannot be loaded (missing module or attribute, not callable, not ``package.module:function``),
    an output path that cannot be written, invalid values rejected by nent_ref.
3
    the user's model (or its factory, or the import of its module) raised an exception, or the
    model returned an unusable output (NaN, inf, values whose square overflows, a wrong shape) or
    wrote into its input (:class:`nent_ref.ModelError`); the message names the model and the
    exception and where it was raised, or the time of the bad output.
4
    internal error: nent_ref itself failed unexpectedly (a bug; the traceback is printed).
141
    standard output was closed early (e.g. piped into ``head``); nothing more is printed,
    as for any tool stopped by SIGPIPE (128 + 13).

The command is a thin layer over :mod:`nent_ref.suites` (tables, figures, validation report and
executor); it imports only their public API.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import io
import json
import os
import sys
import traceback
from pathlib import Path

from ._version import __version__
from .core.mixture import Empirical
from .core.progress import quiet_progress
from .quantities.predictions import TIME_INPUTS
from .suites.executor import TableOptions, executor_for
from .suites.tables import SUITES, format_rows, table_rows
from .suites.validation import EXIT_CONSISTENCY_FAILED, EXIT_QUALITY_FAILED  # noqa: F401  (exit codes of validate)
from .suites.validation import (DEFAULT_GATE_Z, DEFAULT_MAX_KL_BOUND, DEFAULT_MAX_L_EM, DEFAULT_MAX_L_EM_FRACTION,
                                PROCESS_FAMILIES, ModelError, adapt, load_data, make_process, process_family,
                                process_presets, validate)
from .suites import conformance as _conformance
from .suites import specs as _specs
from .suites.spec_quantities import ModelRaised


# Loaded by the commands that need them, not at start-up (`nent-ref table` never draws a figure; issue 22).
def render_figures(out, options, names):
    """:func:`nent_ref.suites.figures.render_figures` (imported on first use)."""
    from .suites.figures import render_figures as render
    return render(out, options, names)


class _FigureNames:
    """The names of the registered figures, for ``figures --only`` (argparse's ``choices``), read from
    :data:`nent_ref.suites.figures.FIGURES` only when a figure name is checked or listed."""

    def _names(self):
        from .suites.figures import FIGURES
        return sorted(FIGURES)

    def __contains__(self, name):
        return name in self._names()

    def __iter__(self):
        return iter(self._names())

#: Exit codes of the ``nent-ref`` command (see the module docstring and ``nent-ref --help``).
EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_MODEL_RAISED, EXIT_INTERNAL, EXIT_BROKEN_PIPE = 0, 1, 2, 3, 4, 141
# validate also exits EXIT_QUALITY_FAILED (1 = EXIT_CHECK_FAILED: a quality gate failed) and
# EXIT_CONSISTENCY_FAILED (5: a consistency check failed), defined with the report in suites.validation.

EXIT_CODES_HELP = """exit status:
  0    success (validate: every quality gate and consistency check passed)
  1    a check failed (validate: a quality gate failed or was inconclusive, the numbers being consistent;
       check: a claim failed)
  5    validate: a consistency check failed (the report's numbers cannot be trusted); precedes 1
  2    usage or input error (bad arguments, unknown preset or process, a target that cannot be
       loaded, an output path that cannot be written, values rejected by nent_ref)
  3    the user's model, its factory or the import of its module raised an exception, or the model
       returned NaN/inf/overflowing values or a wrong shape, or wrote into its input
  4    internal error in nent_ref (a bug: the traceback is printed)
  141  standard output closed early (e.g. piped into head)"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``nent-ref validate: error: ... (see nent-ref validate --help)``, exit 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _int_at_least(minimum: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer >= {minimum} (got {text!r})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be an integer >= {minimum} (got {value})")
        return value
    return parse


def _real(what: str, *, minimum: float | None = None, strict: bool = False, not_one: bool = False):
    """argparse type: a finite real number (>= or > ``minimum``; not 1 with ``not_one``), naming the option."""
    bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
    need = f"a finite number{bound}{' other than 1' if not_one else ''}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be {need} (got {text!r})") from None
        ok = value == value and abs(value) != float("inf")
        if ok and minimum is not None:
            ok = value > minimum if strict else value >= minimum
        if ok and not_one:
            ok = value != 1.0
        if not ok:
            raise argparse.ArgumentTypeError(f"{what} must be {need} (got {text!r})")
        return value
    return parse


def _build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="nent-ref", description=__doc__.splitlines()[0], epilog=EXIT_CODES_HELP,
                     formatter_class=formatter)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=_int_at_least(0, "--seed"), default=0,
                        help="master seed for Monte Carlo, an integer >= 0 (default 0)")
    common.add_argument("--workers", type=_int_at_least(1, "--workers"), default=1,
                        help="worker processes for Monte Carlo")
    common.add_argument("--scheduler", default=None, help="dask scheduler address (optional)")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")

    t = sub.add_parser("table", parents=[common], help="print a ground-truth table", epilog=EXIT_CODES_HELP,
                       formatter_class=formatter)
    t.add_argument("--suite", default="default", choices=sorted(SUITES) + ["all"],
                   help="which table (default: the closed-form gaussian suite + the paper suite)")
    t.add_argument("--format", default="json", choices=["json", "csv"], help="output format (default json)")
    t.add_argument("--out", default=None,
                   help="write to this file instead of stdout (its directory must exist; checked first)")

    f = sub.add_parser("figures", parents=[common], help="render the theory figures", epilog=EXIT_CODES_HELP,
                       formatter_class=formatter)
    f.add_argument("--out", default="figures", help="output directory, created if needed (default figures/)")
    # an explicit metavar: argparse builds the default one by iterating the choices, which would load the
    # figures module (and matplotlib) for every command; %(choices)s is expanded only when help is printed
    f.add_argument("--only", nargs="*", default=None, choices=_FigureNames(), metavar="NAME",
                   help="render only these figures (names: %(choices)s)")
    parser.validate_parser = _add_validate_parser(sub, formatter)
    _add_spec_parsers(sub, formatter)
    _add_plot_parser(sub, formatter)
    _add_schema_parser(sub, formatter)
    r = sub.add_parser("reproduce", help="reproduce a paper measurement (headline: S_NN against training-set size)",
                       description="Reproduce the neural-entropy paper's headline measurement on scikit-learn's 8x8 "
                                   "digits with ground truth beside it (docs/headline.md).  Needs the optional extra "
                                   "nent_ref[headline] (torch, scikit-learn, tqdm).",
                       epilog=EXIT_CODES_HELP, formatter_class=formatter)
    r.add_argument("experiment", choices=["headline"], help="which measurement")
    r.add_argument("--quick", action="store_true",
                   help="3 sizes (16, 256, 1797), one seed, fewer Monte Carlo samples (under a minute)")
    r.add_argument("--out", default="headline-results", help="output directory, created if needed")
    r.add_argument("--retrain", action="store_true", help="train the networks anew instead of reusing weights")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary on stderr")
    return parser


class _UsageError(Exception):
    """A usage or input problem found by the command itself (exit 2)."""


# ModelError (nent_ref.core.checks, a ValueError): the user's model, its factory or its module raised, or the
# model returned an unusable output (NaN, inf, overflowing values, a wrong shape) or wrote into its input.  The
# message names the model (and, for a raise, the exception and where it was raised); exit status 3.


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" at {last.filename}:{last.lineno} (in {last.name})"


def _model_error(what: str, exc: Exception) -> ModelError:
    return ModelError(f"{what} raised {type(exc).__name__}: {exc}{_where(exc)}")


def _shape(a) -> str:
    return str(getattr(a, "shape", type(a).__name__))


class _UserModel:
    """Wraps the user's model so that an exception raised inside it becomes a :class:`ModelError`.

    Attributes (e.g. ``kl_data_model``) are forwarded; a forwarded method keeps raising ValueError
    (``validate`` reads that as "not available") and wraps every other exception.  Picklable whenever the
    model is (``--workers``).
    """

    def __init__(self, fn, label: str):
        self._fn = fn
        self._label = label
        for attr in ("__module__", "__qualname__", "__name__", "__doc__"):   # validate's description
            try:
                setattr(self, attr, getattr(fn, attr))
            except AttributeError:
                pass

    def __call__(self, x, s, *args, **kwargs):
        try:
            return self._fn(x, s, *args, **kwargs)
        except Exception as exc:
            raise _model_error(f"the model {self._label} (called with x of shape {_shape(x)}, "
                               f"s of shape {_shape(s)})", exc) from exc

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self._fn, name)
        if not callable(attr):
            return attr
        label = f"{self._label}.{name}"

        def method(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except ValueError:
                raise
            except Exception as exc:
                raise _model_error(f"the model method {label}", exc) from exc
        return method

    def __repr__(self):
        return repr(self._fn)


def _load_target(spec: str):
    """The callable named by ``package.module:function`` (``function`` may be dotted: ``Class.method``).

    A malformed spec, a missing module, a missing attribute and a non-callable are :class:`_UsageError`
    (exit 2); an exception raised while importing the user's module is a :class:`ModelError` (exit 3).
    """
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path or any(not part for part in attr_path.split(".")):
        raise _UsageError(f"cannot load {spec!r}: expected the form package.module:function "
                          "(a module importable from the working directory, a colon, then the function)")
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise _UsageError(f"cannot load {spec!r}: no module named {missing!r} (searched the working "
                              "directory and sys.path)") from None
        raise _model_error(f"importing the module {module_name!r}", exc) from exc
    except Exception as exc:
        raise _model_error(f"importing the module {module_name!r}", exc) from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise _UsageError(f"cannot load {spec!r}: {getattr(obj, '__name__', module_name)!r} has no "
                              f"attribute {part!r}") from None
    if not callable(obj):
        raise _UsageError(f"cannot load {spec!r}: it is a {type(obj).__name__}, not a callable "
                          "(expected a model f(x, s), or a factory f(data, process) with --factory)")
    return obj


def _check_output_file(out: str) -> Path:
    """``--out FILE`` must be writable: its directory exists and FILE is not a directory (checked first)."""
    path = Path(out)
    if path.is_dir():
        raise _UsageError(f"--out {out!r} is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise _UsageError(f"--out {out!r}: the directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _UsageError(f"--out {out!r} is not writable")
    return path


def _prepare_output_dir(out: str) -> Path:
    """``figures --out DIR``: create DIR up front (with parents) and check it is writable."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise _UsageError(f"--out {out!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"--out {out!r}: cannot create the directory ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise _UsageError(f"--out {out!r} is not writable")
    return path


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass                                     # stdout without a file descriptor (e.g. captured in tests)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nent-ref`` console script; returns the exit status (see the module docstring).

    Argument errors exit through argparse (``SystemExit(2)``, one line on stderr).
    """
    try:
        parser = _build_parser()
        args = parser.parse_args(argv)
    except BrokenPipeError:                      # `nent-ref --help | head`
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    if (args.command == "validate" and args.process is None and args.scheduler_config is None
            and not _is_pipeline_dir(args.model)):
        parser.validate_parser.error("the following arguments are required: --process (or --scheduler-config, or a diffusers "
                  "pipeline directory as the model)")
    prog = f"nent-ref {args.command}"
    try:
        with quiet_progress(bool(getattr(args, "quiet", False))):     # --quiet: no bar anywhere
            return _dispatch(args)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except ModelError as exc:
        print(f"{prog}: {exc}.  This is an error in the user's code, not in nent-ref: call it directly on "
              "such inputs to debug it (a model f(x, s) gets x of shape (M, D) and s of shape (M,); with "
              "--factory, f(data, process) must return such a model).", file=sys.stderr)
        return EXIT_MODEL_RAISED
    except (_UsageError, ValueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:                       # e.g. the output file vanished or the disk is full
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:
        traceback.print_exc()
        print(f"{prog}: internal error in nent-ref {__version__} (a bug; please report it with the "
              "traceback above)", file=sys.stderr)
        return EXIT_INTERNAL


def _dispatch(args) -> int:
    if args.command == "validate":
        return _run_validate(args)
    if args.command == "reproduce":
        return _run_reproduce(args)
    if args.command in _SPEC_COMMANDS:
        return _SPEC_COMMANDS[args.command](args)
    options = TableOptions(seed=args.seed, workers=args.workers, quiet=args.quiet, scheduler=args.scheduler)
    if args.command == "table":
        out = _check_output_file(args.out) if args.out else None      # before computing anything
        text = format_rows(table_rows(args.suite, options), args.format, args.suite)
        if out is not None:
            out.write_text(text)
        else:
            _write_stdout(text)
        return EXIT_OK
    if args.command == "figures":
        out = _prepare_output_dir(args.out)
        written = render_figures(out, options, args.only)
        if not args.quiet:
            print(f"nent-ref figures: wrote {len(written)} files to {out}", file=sys.stderr)
        return EXIT_OK
    raise _UsageError(f"unknown command {args.command!r}")  # pragma: no cover - argparse enforces it


# --------------------------------------------------------------------------- validate (nent_ref.suites.validation)
def _add_validate_parser(sub, formatter=argparse.RawDescriptionHelpFormatter) -> argparse.ArgumentParser:
    """``nent-ref validate package.module:function --data PRESET|FILE.npz --process NAME [parameters]``."""
    v = sub.add_parser(
        "validate", help="validate a score model against exact ground truth",
        description="Validate a score model e(x, s) (or score(x, s) with --score) against exact ground truth. "
                    "The report leads with quality (L_EM in nats and as a fraction of S_tot, the likelihood "
                    "bound, per-time rates) judged against gates, then the consistency checks (identities that "
                    "hold for any model). The target may be a numpy function, a torch module or a jit-compiled "
                    "JAX function (evaluated in fixed-size batches; see nent_ref.quantities.adapters).",
        epilog=_VALIDATE_EPILOG + "\n\n" + EXIT_CODES_HELP, formatter_class=formatter)
    v.add_argument("model", help="package.module:function (or :object, e.g. a torch module), called as f(x, s) "
                                 "with x (M, D), s (M,); with --factory, called once as f(data, process) to "
                                 "build that model; or a diffusers pipeline directory (its unet/ and "
                                 "scheduler/ read locally, docs/ecosystem.md)")
    v.add_argument("--data", required=True,
                   help="data preset (gaussian-<D>d, dirac-<D>d, mixture-<D>d) or a .npz file "
                        "(mean+cov, weights+means+covs, or points), or a training set of images (.npy/.npz "
                        "stack, scaled with --data-range)")
    v.add_argument("--process", default=None, choices=sorted(process_presets()),
                   help="forward process preset (vp = vp16, the paper's VP 0.1 -> 16; vpx: kappa 0.1; cosine: "
                        "offset 0.008; sl: sigma0 0.1; ve: sigma 0.01 -> 50), changed by the parameters below; "
                        "not with --scheduler-config or a pipeline directory, which give the process")
    d = v.add_argument_group("models in other conventions (diffusers, EDM; nent_ref.quantities.predictions)")
    d.add_argument("--scheduler-config", default=None, metavar="PATH",
                   help="a diffusers scheduler_config.json (or a folder with one): the process (DDPM/DDIM betas, "
                        "N steps) and the prediction type; the model then takes (x, timestep) like a diffusers "
                        "UNet (images of --sample-shape or of the model's config)")
    d.add_argument("--prediction", default=None, choices=list(_PREDICTION_CHOICES),
                   help="what the model returns: e, score, eps, v, x0 (diffusers' epsilon, v_prediction, "
                        "sample); default the scheduler's prediction_type, else e")
    d.add_argument("--time-input", default=None, choices=list(TIME_INPUTS),
                   help="what the model takes instead of s: s, timestep (t = s N - 1), sigma, log_snr; default "
                        "timestep with a scheduler, else s")
    d.add_argument("--sample-shape", default=None, metavar="C,H,W",
                   help="image shape the model takes (rows are reshaped to it and its output flattened)")
    d.add_argument("--data-range", default=None, metavar="LOW,HIGH",
                   help="--data are images (folder, image file, .npy, or .npz with --data-array) stored in "
                        "[LOW, HIGH] (e.g. 0,255), scaled to [-1, 1] as diffusers trains")
    d.add_argument("--data-array", default=None, help="the array of an .npz holding images (with --data-range)")
    p = v.add_argument_group("process parameters (override the preset's; each applies to its family only)")
    p.add_argument("--beta-min", type=_real("--beta-min"), default=None, help="VP: beta at s = 0")
    p.add_argument("--beta-max", type=_real("--beta-max"), default=None, help="VP: beta at s = 1")
    p.add_argument("--kappa", type=_real("--kappa"), default=None, help="VP, cosine: equilibrium standard deviation")
    p.add_argument("--offset", type=_real("--offset"), default=None, help="cosine: the schedule's offset s")
    p.add_argument("--sigma0", type=_real("--sigma0"), default=None, help="SL: equilibrium standard deviation")
    p.add_argument("--sigma-min", type=_real("--sigma-min"), default=None, help="VE: noise level at s = 0")
    p.add_argument("--sigma-max", type=_real("--sigma-max"), default=None, help="VE: noise level at s = 1")
    g = v.add_argument_group("quality gates (in nats; 'none' turns a gate off)")
    g.add_argument("--max-l-em", type=_gate_value("--max-l-em"), default=DEFAULT_MAX_L_EM,
                   help=f"largest L_EM in nats (default {DEFAULT_MAX_L_EM:g})")
    g.add_argument("--max-l-em-fraction", type=_gate_value("--max-l-em-fraction"), default=DEFAULT_MAX_L_EM_FRACTION,
                   help=f"largest L_EM / S_tot (default {DEFAULT_MAX_L_EM_FRACTION:g})")
    g.add_argument("--max-kl-bound", type=_gate_value("--max-kl-bound"), default=DEFAULT_MAX_KL_BOUND,
                   help="largest likelihood bound KL(p_s1 || p_eq) + L_EM in nats (default: none)")
    g.add_argument("--gate-z", type=_real("--gate-z", minimum=0.0), default=DEFAULT_GATE_Z,
                   help=f"a gate passes when value + z sigma <= limit (default z = {DEFAULT_GATE_Z:g})")
    v.add_argument("--base", type=_real("--base", minimum=0.0, strict=True, not_one=True), default=None, help="report in this base: 2 for bits (default nats)")
    v.add_argument("--score", action="store_const", const=True, default=None,
                   help="the model returns the full score, not e (an adapter's kind says so by itself)")
    v.add_argument("--factory", action="store_true",
                   help="call the target as f(data, process) first to build the model")
    v.add_argument("--seed", type=_int_at_least(0, "--seed"), default=0, help="master seed (default 0)")
    v.add_argument("--n-samples", type=_int_at_least(2, "--n-samples"), default=None,
                   help="Monte Carlo samples (default 32768 over 32 time strata; with --rtol/--atol the pilot)")
    v.add_argument("--rtol", type=_real("--rtol", minimum=0.0), default=None,
                   help="precision target: stop when every stderr <= max(rtol |value|, atol) (S_NN, L_EM, C)")
    v.add_argument("--atol", type=_real("--atol", minimum=0.0), default=None, help="absolute precision target in nats (see --rtol)")
    v.add_argument("--batch-size", type=_int_at_least(1, "--batch-size"), default=None,
                   help="rows per model call, every call padded to it (default: the adapter's, else 256)")
    v.add_argument("--s0", type=_real("--s0", minimum=0.0), default=None, help="start time (default 0, 1e-5 for Dirac data)")
    v.add_argument("--s1", type=_real("--s1", minimum=0.0), default=None, help="end time (default T, T - 1e-5 for SL and cosine)")
    v.add_argument("--threshold", type=_real("--threshold", minimum=0.0, strict=True), default=5.0,
                   help="consistency checks: pass threshold in standard errors (default 5)")
    v.add_argument("--workers", type=_int_at_least(1, "--workers"), default=1,
                   help="worker processes (the model must be picklable)")
    v.add_argument("--no-curves", action="store_true", help="skip the per-time rate curves")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    return v


_VALIDATE_EPILOG = f"""verdict:
  A quality gate passes when value + z sigma <= limit (the data show the model is within it),
  fails when value - z sigma > limit, and is inconclusive otherwise (more --n-samples decide).
  Defaults: L_EM <= {DEFAULT_MAX_L_EM:g} nats, L_EM / S_tot <= {DEFAULT_MAX_L_EM_FRACTION:g}, z = {DEFAULT_GATE_Z:g}.
  S_NN / S_tot near 1 is not evidence of quality. The consistency checks hold for any model:
  they fail only when the numbers cannot be trusted."""


def _gate_value(option: str):
    def parse(text: str):
        if text.strip().lower() in ("none", "off"):
            return None
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be a number >= 0 or 'none' (got {text!r})") from None
        if not value >= 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{option} must be a finite number >= 0 or 'none' (got {text!r})")
        return value
    return parse


_PREDICTION_CHOICES = ("e", "score", "eps", "v", "x0", "epsilon", "v_prediction", "sample")


def _floats(option: str, text: str, n=None):
    try:
        vals = [float(p) for p in str(text).split(",")]
    except ValueError:
        raise _UsageError(f"{option} must be comma-separated numbers (got {text!r})") from None
    if n is not None and len(vals) != n:
        raise _UsageError(f"{option} must be {n} comma-separated numbers (got {text!r})")
    return vals


def _is_pipeline_dir(text: str) -> bool:
    path = Path(text)
    return path.is_dir() and (path / "scheduler" / "scheduler_config.json").is_file() and (path / "unet").is_dir()


def _load_pipeline_unet(path: Path):
    """The UNet of a local diffusers pipeline directory (``unet/``), loaded without any download."""
    try:
        import diffusers
    except ImportError:
        raise _UsageError(f"{path} is a diffusers pipeline directory; reading it needs diffusers "
                          "(pip install diffusers torch==2.13.0)") from None
    cfg = json.loads((path / "unet" / "config.json").read_text())
    cls = getattr(diffusers, cfg.get("_class_name", "UNet2DModel"), None)
    if cls is None:
        raise _UsageError(f"{path / 'unet'}: unknown model class {cfg.get('_class_name')!r}")
    try:
        return cls.from_pretrained(str(path / "unet"), local_files_only=True)
    except Exception as exc:
        raise _model_error(f"loading {path / 'unet'}", exc) from exc


def _validate_data(args):
    if args.data_range is None:
        if args.data_array is not None:
            raise _UsageError("--data-array goes with --data-range (images)")
        return load_data(args.data)
    lo, hi = _floats("--data-range", args.data_range, 2)
    try:
        return Empirical.from_images(args.data, value_range=(lo, hi), array=args.data_array)
    except ValueError as exc:
        raise _UsageError(f"--data {args.data}: {exc}") from None


def _validate_process(args):
    """The process of ``--process NAME`` and its parameter options (an option of another family is a usage
    error naming the options that do apply)."""
    given = {name: getattr(args, name) for name in ("beta_min", "beta_max", "kappa", "offset", "sigma0",
                                                      "sigma_min", "sigma_max") if getattr(args, name) is not None}
    family = process_family(args.process)
    for name in given:
        if name not in PROCESS_FAMILIES[family]:
            allowed = ", ".join("--" + n.replace("_", "-") for n in PROCESS_FAMILIES[family] if n != "T")
            raise _UsageError(f"--{name.replace('_', '-')} does not apply to --process {args.process} "
                              f"(a {family} process; its parameters: {allowed})")
    return make_process(args.process, **given)


_FACTORY_HINT = "did you mean --factory?"


def _looks_like_factory(target) -> bool:
    """True when the target's first two parameters are named like (data, process)."""
    try:
        names = list(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return False
    return len(names) >= 2 and names[0] in ("data", "dataset") and names[1] in ("process", "proc", "sde")


def _probe_model(target, model, data, process, label: str) -> None:
    """Call the model once on 2 points before the (long) validation: a factory given without --factory
    shows up here (it returns a model, or fails on the arrays it takes for data and process; then, if
    ``target(data, process)`` does return a callable, the target is a factory)."""
    import numpy as np
    try:
        x = np.asarray(data.sample(2, seed=0), dtype=float)
    except Exception:                            # data without samples: any points of the right shape
        x = np.zeros((2, int(data.dim)))
    s = np.array([0.25, 0.5]) * float(process.T)
    try:
        out = model(x, s)
    except ModelError as exc:
        cause = exc.__cause__
        if isinstance(cause, (TypeError, AttributeError, ValueError, KeyError, IndexError)):
            try:
                built = target(data, process)
            except Exception:
                built = None
            if callable(built):
                raise _UsageError(f"{label} fails when called as f(x, s) ({type(cause).__name__}: {cause}) "
                                  f"but {label}(data, process) returns a model; {_FACTORY_HINT}") from None
        raise
    if callable(out):
        raise _UsageError(f"{label}(x, s) returned a callable ({type(out).__name__}): it looks like a factory "
                          f"f(data, process) that builds the model; {_FACTORY_HINT}")


def _run_validate(args) -> int:
    if os.getcwd() not in sys.path:       # resolve user modules from the working directory, as python -m does
        sys.path.insert(0, os.getcwd())
    pipeline = _is_pipeline_dir(args.model)
    if pipeline or args.scheduler_config is not None:
        return _run_validate_diffusers(args, pipeline)
    target = _load_target(args.model)
    label = args.model
    if not args.factory and _looks_like_factory(target):
        names = ", ".join(list(inspect.signature(target).parameters)[:2])
        raise _UsageError(f"{label} takes ({names}): it builds a model rather than being one; {_FACTORY_HINT}")
    data = _validate_data(args)
    process = _validate_process(args)
    if args.factory:
        try:
            built = target(data, process)
        except Exception as exc:
            err = _model_error(f"the factory {label}(data, process)", exc)
            raise ModelError(f"{err}; if {label} is itself the model f(x, s), drop --factory") from exc
        if not callable(built):
            raise _UsageError(f"the factory {label}(data, process) returned a {type(built).__name__}, not a "
                              "callable model f(x, s)")
        model = _UserModel(adapt(built), f"{label}(data, process)")      # a torch module / JAX function
    else:
        model = _UserModel(adapt(target), label)
        _probe_model(target, model, data, process, label)
    if args.workers > 1:
        import pickle
        try:
            pickle.dumps(model)
        except Exception as exc:
            raise _UsageError(f"--workers {args.workers} sends the model to worker processes, but it cannot be "
                              f"pickled ({type(exc).__name__}: {exc}); use --workers 1 or a module-level "
                              "model") from None
    pred = args.prediction
    wrap = {} if pred is None and args.time_input is None else \
        {"prediction": _PREDICTION_NAMES.get(pred, pred), "time_input": args.time_input}
    return _finish_validate(args, model, data, process, **wrap)


_PREDICTION_NAMES = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}


def _finish_validate(args, model, data, process, **wrap) -> int:
    with executor_for(TableOptions(workers=args.workers)) as executor:
        report = validate(model, data, process, args.s0, args.s1, score=args.score, n_samples=args.n_samples,
                          rtol=args.rtol, atol=args.atol, seed=args.seed, threshold=args.threshold, curves=not args.no_curves,
                          executor=executor, chunk_size=args.batch_size, max_l_em=args.max_l_em,
                          max_l_em_fraction=args.max_l_em_fraction, max_kl_bound=args.max_kl_bound,
                          gate_z=args.gate_z, base=args.base, **wrap)
    _write_stdout((report.to_json() if args.json else str(report)) + "\n")
    return report.exit_code          # 0, EXIT_QUALITY_FAILED (1) or EXIT_CONSISTENCY_FAILED (5)


def _run_validate_diffusers(args, pipeline: bool) -> int:
    """A diffusers model: a pipeline directory (unet/ + scheduler/), or MODEL + --scheduler-config."""
    if args.process is not None:
        raise _UsageError("--process does not go with --scheduler-config or a pipeline directory (the scheduler "
                          "config gives the process)")
    given = [n for n in ("beta_min", "beta_max", "kappa", "offset", "sigma0", "sigma_min", "sigma_max")
             if getattr(args, n) is not None]
    if given:
        raise _UsageError(f"--{given[0].replace('_', '-')} does not apply: the scheduler config gives the process")
    if args.score or args.factory:
        raise _UsageError("--score/--factory do not go with a diffusers model (use --prediction)")
    if args.time_input not in (None, "timestep"):
        raise _UsageError("a diffusers model takes the timestep (--time-input timestep)")
    if pipeline:
        path = Path(args.model)
        net, sched, label = _load_pipeline_unet(path), path, str(path)
    else:
        net = _load_target(args.model)
        sched, label = args.scheduler_config, args.model
    shape = None if args.sample_shape is None else [int(v) for v in _floats("--sample-shape", args.sample_shape)]
    data = _validate_data(args)
    try:
        from .quantities.ecosystem import from_diffusers
        model = from_diffusers(net, sched, prediction=args.prediction, sample_shape=shape,
                               **({} if args.batch_size is None else {"batch_size": args.batch_size}))
    except ValueError as exc:
        raise _UsageError(f"{label}: {exc}") from None
    return _finish_validate(args, model, data, model.process)


# --------------------------------------------------------------------------- compute, conformance, check
def _add_spec_parsers(sub, formatter=argparse.RawDescriptionHelpFormatter) -> None:
    """``compute SPEC``, ``conformance --emit FILE`` and ``check CLAIMS`` (case specifications, docs/specs.md
    and docs/conformance.md)."""
    def run_options(p):
        p.add_argument("--workers", type=_int_at_least(1, "--workers"), default=1,
                       help="worker processes for Monte Carlo (results do not depend on it)")
        p.add_argument("--scheduler", default=None, help="dask scheduler address (optional)")
        p.add_argument("--quiet", action="store_true", help="no progress on stderr")

    c = sub.add_parser("compute", help="ground truth for any case specification (JSON/TOML)",
                       description="Compute the quantities of one or more case specifications (docs/specs.md): "
                                   "data, process, window, quantities, unit and accuracy.  One row per case.",
                       epilog=EXIT_CODES_HELP, formatter_class=formatter)
    c.add_argument("spec", help="spec file: .json or .toml (one spec, a list, or {\"cases\": [...]}); - for stdin")
    c.add_argument("--format", default="json", choices=["json", "csv"], help="output format (default json)")
    c.add_argument("--base", default=None, choices=["e", "2"],
                   help="unit of entropies: e (nats) or 2 (bits); overrides the specs' unit")
    c.add_argument("--out", default=None, help="write to this file instead of stdout (checked first)")
    run_options(c)

    e = sub.add_parser("conformance", help="write the canonical conformance cases (inputs, no answers)",
                       description="Write the canonical cases another implementation should compute; grade its "
                                   "answers with `nent-ref check` (docs/conformance.md).",
                       epilog=EXIT_CODES_HELP, formatter_class=formatter)
    what = e.add_mutually_exclusive_group(required=True)
    what.add_argument("--emit", metavar="FILE", help="write the cases (JSON) to FILE; large data go to "
                                                     "FILE-stem.data/ beside it")
    what.add_argument("--list", action="store_true", help="print the case ids and their quantities")

    k = sub.add_parser("check", help="grade another implementation's numbers (a claims file)",
                       description="Grade claimed numbers against the reference: z = (claim - reference) / "
                                   "(sqrt(stderr_claim^2 + stderr_ref^2) + error bounds + rtol |reference|); a "
                                   "claim passes when |z| <= threshold.  Exits 1 when any claim fails.",
                       epilog=EXIT_CODES_HELP, formatter_class=formatter)
    k.add_argument("claims", help="claims file (JSON; docs/conformance.md); - for stdin")
    k.add_argument("--cases", default=None, help="cases file the claims' case ids refer to (default: the "
                                                 "canonical cases of `nent-ref conformance`)")
    k.add_argument("--threshold", type=float, default=_conformance.DEFAULT_THRESHOLD,
                   help="pass when |z| <= this (default 5)")
    k.add_argument("--rtol", type=float, default=None,
                   help="relative rounding floor of the uncertainty (default 1e-10; e.g. 1e-6 for float32 codes)")
    k.add_argument("--digits", type=_int_at_least(1, "--digits"), default=None, metavar="N",
                   help="claims without their own \"digits\" are rounded to N significant digits: their error is "
                        f"half a unit in the last one (1 <= N <= {_conformance.MAX_DIGITS}; default: not rounded)")
    k.add_argument("--json", action="store_true", help="print the report as JSON")
    k.add_argument("--report", default=None, metavar="FILE", help="also write the JSON report to FILE")
    run_options(k)


def _run_compute(args) -> int:
    out = _check_output_file(args.out) if args.out else None
    options = TableOptions(workers=args.workers, quiet=args.quiet, scheduler=args.scheduler)
    cases = _specs.load_cases(args.spec)
    if args.base is not None:
        unit = "bit" if args.base == "2" else "nat"
        cases = [_specs.Case(dict(c.spec, unit=unit), base_dir=c.base_dir, path=c.path) for c in cases]
    with executor_for(options) as executor:
        try:
            rows = [_specs.compute_row(c, executor=executor, progress=options.progress)
                    for c in options.steps(cases, desc="compute", unit="case", label=_specs.Case.label)]
        except ModelRaised as exc:                  # the spec's model raised: exit 3, as validate does
            raise ModelError(str(exc)) from exc
    units = {r["unit"] for r in rows}
    text = format_rows(rows, args.format, None, units=(units.pop() + "s") if len(units) == 1 else "per row",
                       command="compute", source=args.spec)
    if out is not None:
        out.write_text(text)
    else:
        _write_stdout(text)
    return EXIT_OK


def _run_conformance(args) -> int:
    if args.list:
        lines = [f"{c['id']}: {', '.join(c['quantities'])}" for c in _conformance.canonical_cases()]
        _write_stdout("\n".join(lines) + "\n")
        return EXIT_OK
    path = _check_output_file(args.emit)
    _conformance.emit(path)
    print(f"nent-ref conformance: wrote {len(_conformance.canonical_cases())} cases to {path}", file=sys.stderr)
    return EXIT_OK


def _run_check(args) -> int:
    report_path = _check_output_file(args.report) if args.report else None
    options = TableOptions(workers=args.workers, quiet=args.quiet, scheduler=args.scheduler)
    kwargs = {} if args.rtol is None else {"rtol": args.rtol}
    with executor_for(options) as executor:
        report = _conformance.check(args.claims, cases=args.cases, threshold=args.threshold, digits=args.digits,
                                    executor=executor, progress=options.progress, **kwargs)
    if report_path is not None:
        report_path.write_text(report.to_json() + "\n")
    _write_stdout((report.to_json() if args.json else str(report)) + "\n")
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


# --------------------------------------------------------------------------- plot (nent_ref.suites.plot)
def _add_plot_parser(sub, formatter=argparse.RawDescriptionHelpFormatter) -> None:
    """``nent-ref plot SPEC [--out DIR] [--style paper|talk]``: the standard views of one's own case."""
    p = sub.add_parser("plot", help="draw the standard views of a case specification (PNG, PDF, CSV)",
                       description="For every case of a spec file (docs/specs.md): the entropy production rate "
                                   "with its error band, the cumulative S_tot, KL to equilibrium, the speed limit "
                                   "and, for a spec with a model, S_NN against S_tot.  Writes <id>.png, .pdf, .csv "
                                   "(the plotted numbers) and .spec.json into --out.",
                       epilog=EXIT_CODES_HELP, formatter_class=formatter)
    p.add_argument("spec", help="spec file: .json or .toml (one spec, a list, or {\"cases\": [...]}); - for stdin")
    p.add_argument("--out", default=".", help="output directory, created if needed (default: the working directory)")
    p.add_argument("--style", default="paper", choices=["paper", "talk"],
                   help="paper (default) or talk: 16:9, large fonts, thick lines")
    p.add_argument("--workers", type=_int_at_least(1, "--workers"), default=1,
                   help="worker processes for Monte Carlo (results do not depend on it)")
    p.add_argument("--scheduler", default=None, help="dask scheduler address (optional)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _run_plot(args) -> int:
    from .suites.plot import plot_case
    out = _prepare_output_dir(args.out)
    options = TableOptions(workers=args.workers, quiet=args.quiet, scheduler=args.scheduler)
    cases = _specs.load_cases(args.spec)
    written = []
    with executor_for(options) as executor:
        try:
            for i, case in enumerate(options.steps(cases, desc="plot", unit="case", label=_specs.Case.label)):
                stem = (case.id or f"case{i}").replace("/", "_")
                written += plot_case(case, out, stem=stem, style=args.style, executor=executor,
                                     progress=options.progress)
        except ModelRaised as exc:
            raise ModelError(str(exc)) from exc
    if not args.quiet:
        print(f"nent-ref plot: wrote {len(written)} files to {out}", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- schema (nent_ref.suites.spec_schema)
def _add_schema_parser(sub, formatter=argparse.RawDescriptionHelpFormatter) -> None:
    """``nent-ref schema spec|claims [--out FILE]``: the JSON Schema of spec files or claims files."""
    s = sub.add_parser("schema", help="print the JSON Schema of spec files or claims files (for editors)",
                       description="Print the JSON Schema (draft 2020-12) of case specification files "
                                   "(docs/specs.md) or claims files (docs/conformance.md).  Editors check files "
                                   "against it: a \"$schema\" key in the file, or the editor's own settings.",
                       epilog=EXIT_CODES_HELP, formatter_class=formatter)
    s.add_argument("which", choices=["spec", "claims"], help="spec: case specification files; claims: claims files")
    s.add_argument("--out", default=None, help="write to this file instead of stdout (checked first)")


def _run_schema(args) -> int:
    from .suites.spec_schema import dumps_schema
    out = _check_output_file(args.out) if args.out else None
    text = dumps_schema(args.which)
    if out is not None:
        out.write_text(text)
    else:
        _write_stdout(text)
    return EXIT_OK


_SPEC_COMMANDS = {"compute": _run_compute, "conformance": _run_conformance, "check": _run_check, "plot": _run_plot,
                  "schema": _run_schema}


def _run_reproduce(args) -> int:
    out = _prepare_output_dir(args.out)
    from .suites import headline
    result = headline.reproduce(out, quick=args.quick, retrain=args.retrain, quiet=args.quiet)
    if not args.quiet:
        fit = result["fit"]["s_nn"]
        t = result["timings"]
        print(f"nent-ref reproduce headline: S_NN = a + b ln N with b = {fit['slope']:.3f} +- {fit['slope_stderr']:.3f} "
              f"nat per e-fold of N ({len(result['rows'])} models; measurement {t['measure_cpu_seconds']:.0f} CPU-s, "
              f"training {t['train_cpu_seconds']:.0f} CPU-s)", file=sys.stderr)
        for path in result["paths"].values():
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
