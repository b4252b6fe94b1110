"""Run every benchmark in this folder with one command, in both BLAS configurations.

    python benchmarks/run_all.py                   # default sizes of each benchmark
    python benchmarks/run_all.py --quick           # the smaller sizes, where a benchmark has them
    python benchmarks/run_all.py --only mixture,sde --config unset
    python benchmarks/run_all.py --quick --write   # and write benchmarks/RESULTS.md (one table of targets)

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

Targets (issue 22): every benchmark prints one ``target: {json}`` line per goal where it takes a
same-run ratio (``common.target``).  ``--write [FILE]`` collects them into one Markdown table, default
``benchmarks/RESULTS.md``: per target the measured figure, the goal, whether it is met (``common.meets``,
recomputed here from value and goal), the baseline, the absolute figures, the exact command and the BLAS
configuration; above it the machine (CPU, cores, BLAS kernel, versions), the UTC date, the load averages
at start and end, and whether the run was ``--quick`` or partial (``--only``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
sys.path.insert(0, str(HERE))
import common  # noqa: E402

#: arguments of each benchmark under --quick
#: (bench_precision runs in full: its --quick skips the N = 60000, D = 784 memoriser, which is a target)
QUICK_FLAGS = {"bench_mixture.py": ["--quick"], "bench_ot.py": ["--quick"],
               "bench_sde.py": ["--repeat", "3"], "bench_neural.py": [],
               "bench_precision.py": [], "bench_import.py": ["--runs", "7"],
               "bench_table.py": ["--runs", "3"]}

#: arguments of each benchmark in a full run: the sizes its targets name (exact OT up to n = 4000, issue 22)
FULL_FLAGS = {"bench_ot.py": ["--big"]}

#: benchmarks without numpy/scipy/POT baselines (their ratios compare nent_ref designs with each other):
#: one configuration is enough
NO_NUMPY_BASELINE = {"bench_neural.py", "bench_precision.py", "bench_import.py", "bench_table.py",
                     "bench_ecosystem.py"}


def shown_blas(env) -> str:
    return ", ".join(f"{v}={env[v]}" for v in common.BLAS_VARS if v in env) or "OPENBLAS_CORETYPE/L2_SIZE unset"


def python_text() -> str:
    """This interpreter, relative to the repository's root when it lives there (``.venv/bin/python``)."""
    exe = Path(sys.executable).absolute()
    return str(exe.relative_to(ROOT)) if ROOT in exe.parents else str(exe)


def command_line(script, args, config) -> str:
    """The exact command of one run, as it can be typed in the repository's root."""
    exe_txt = python_text()
    try:
        script_txt = str(Path(script).resolve().relative_to(ROOT))
    except ValueError:
        script_txt = str(script)
    prefix = ""
    if config == "unset" and common.machine_sets_blas():
        prefix = "env " + " ".join(f"-u {v}" for v in common.BLAS_VARS) + " "
    return prefix + " ".join(shlex.quote(a) for a in [exe_txt, script_txt, *args])


def parse_target(line):
    """The record of a ``target: {json}`` line (None for any other line)."""
    if not line.startswith("target:"):
        return None
    return json.loads(line[len("target:"):])


def run(script, args, config):
    env = common.blas_environment(config)
    print(f"\n===== {script.name} {' '.join(args)}   [BLAS configuration {config!r}: {shown_blas(env)}]",
          flush=True)
    proc = subprocess.Popen([sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1, cwd=ROOT)
    summary, targets = [], []
    command = command_line(script, args, config)
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.startswith("summary:"):
            summary.append(line.strip())
        rec = parse_target(line)
        if rec is not None:
            rec.update(command=command, config=config, config_env=shown_blas(env), script=script.name)
            targets.append(rec)
    return proc.wait(), summary, targets


# --------------------------------------------------------------------------- RESULTS.md
def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_value(value, unit) -> str:
    if value is None:
        return "not measured"
    v = float(value)
    txt = f"{v:.3g}" if abs(v) < 1e4 else f"{v:.4g}"
    return f"{txt}{unit}" if unit == "x" else f"{txt} {unit}".rstrip()


def met_text(rec) -> str:
    met = common.meets(rec.get("value"), rec.get("goal"))
    if met is None:
        return "n/a (no goal)"
    return "yes" if met else ("no (not measured)" if rec.get("value") is None else "no")


COLUMNS = ("target", "measured", "goal", "met", "baseline", "figures behind it", "command", "BLAS configuration",
           "load when taken")


def render_results(targets, header) -> str:
    """RESULTS.md from target records (``parse_target`` plus ``command``/``config``/``config_env``) and a
    header mapping: ``argv``, ``quick``, ``only``, ``date_start``, ``date_end``, ``machine``,
    ``load_start``, ``load_end``, ``runs`` (list of (script, config, exit code, number of targets))."""
    out = ["# Benchmark results", "",
           "Generated by `benchmarks/run_all.py --write`; do not edit by hand. Regenerate with "
           "`.venv/bin/python benchmarks/run_all.py --write` (or `--quick --write`; needs `pip install -e "
           "'.[bench]'`). Every ratio is taken within one run of one benchmark (candidate and baseline interleaved); "
           "nothing here is compared across machines. Older measurements: [HISTORY.md](HISTORY.md).", ""]
    mode = "**quick** (`--quick`: the smaller sizes, where a benchmark has them; the target names give the sizes)" \
        if header.get("quick") else "full (default sizes)"
    if header.get("only"):
        mode += f"; partial: only `{header['only']}`"
    out += [f"* Command: `{header.get('argv', '')}`",
            f"* Mode: {mode}",
            f"* Date (UTC): {header.get('date_start', '?')} to {header.get('date_end', '?')}",
            f"* Machine: {header.get('machine', '?')}",
            f"* Load average at start: {header.get('load_start', '?')}; at end: {header.get('load_end', '?')}",
            ""]
    n_met = sum(met_text(r) == "yes" for r in targets)
    n_goal = sum(common.meets(r.get("value"), r.get("goal")) is not None for r in targets)
    out += [f"{n_met} of {n_goal} targets with a goal met.", ""]
    out.append("| " + " | ".join(COLUMNS) + " |")
    out.append("|" + "---|" * len(COLUMNS))
    for r in targets:
        blas = f"{r.get('config', '?')} ({r.get('config_env', '?')}): {r.get('blas', '?')}"
        cells = [r.get("name", "?"), format_value(r.get("value"), r.get("unit", "")), r.get("goal") or "none",
                 met_text(r), r.get("baseline", ""), r.get("detail", ""), f"`{r.get('command', '?')}`", blas,
                 r.get("load", "")]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    runs = header.get("runs") or []
    if runs:
        out += ["", "Runs (benchmark, BLAS configuration, exit code, targets reported):", ""]
        out += [f"* {name} [{config}]: exit {rc}, {n} target{'s' if n != 1 else ''}"
                + ("" if rc == 0 else " (FAILED: see its output)") for name, config, rc, n in runs]
    return "\n".join(out) + "\n"


def archive_results(old_text: str, history: Path, replaced: str) -> bool:
    """Append a RESULTS.md about to be overwritten (``old_text``) to ``history`` (HISTORY.md) as one
    section, its title and boilerplate paragraph dropped, so no measurement is lost when the table is
    regenerated.  Returns whether anything was appended (nothing for an empty or unrecognised file)."""
    lines = old_text.splitlines()
    if not lines or lines[0].strip() != "# Benchmark results":
        return False
    body = lines[1:]
    while body and not body[0].startswith("* "):       # the "Generated by ..." paragraph
        body = body[1:]
    if not body:
        return False
    date = next((ln.split(":", 1)[1].strip() for ln in body if ln.startswith("* Date (UTC):")), "date unknown")
    section = [f"## RESULTS.md of {date} (replaced {replaced})", ""] + body
    prefix = history.read_text().rstrip("\n") + "\n\n" if history.exists() else "# Benchmark history\n\n"
    history.write_text(prefix + "\n".join(section).rstrip("\n") + "\n")
    return True


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the smaller sizes, where a benchmark has them")
    ap.add_argument("--config", choices=("both", "machine", "unset"), default="both",
                    help="BLAS configuration(s) for benchmarks with numpy baselines (default both)")
    ap.add_argument("--only", default=None, help="comma-separated topics, e.g. mixture,sde (default: all)")
    ap.add_argument("--write", nargs="?", const=str(RESULTS), default=None, metavar="FILE",
                    help=f"write the table of targets to FILE (default {RESULTS.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    argv_txt = " ".join([python_text(), "benchmarks/run_all.py", *(sys.argv[1:] if argv is None else argv)])
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {f"bench_{t.strip()}.py" for t in args.only.split(",")}
        unknown = wanted - {s.name for s in scripts}
        if unknown:
            raise SystemExit(f"no such benchmark: {sorted(unknown)}; have {[s.name for s in scripts]}")
        scripts = [s for s in scripts if s.name in wanted]
    load_start, date_start = common.load_average(), utc_now()
    print(f"run_all: {len(scripts)} benchmarks; {load_start}")
    status = 0
    results = []
    targets = []
    for script in scripts:
        extra = QUICK_FLAGS.get(script.name, []) if args.quick else FULL_FLAGS.get(script.name, [])
        configs = ["machine", "unset"] if args.config == "both" else [args.config]
        if script.name in NO_NUMPY_BASELINE or not common.machine_sets_blas():
            configs = configs[:1]              # no numpy baseline, or the machine sets neither variable
        for config in configs:
            rc, summary, found = run(script, extra, config)
            status |= rc
            results.append((script.name, config, rc, summary, len(found)))
            targets += found
    print("\n===== summaries")
    for name, config, rc, summary, _ in results:
        for line in summary or ["(no summary line)"]:
            print(f"{name} [{config}]{' exit ' + str(rc) if rc else ''}: {line}")
    print("\n===== targets")
    for r in targets:
        print(f"{r['script']} [{r['config']}]: {r['name']}: {format_value(r['value'], r['unit'])} "
              f"(goal {r['goal'] or 'none'}): {met_text(r)}")
    if args.write:
        header = {"argv": argv_txt, "quick": args.quick, "only": args.only, "date_start": date_start,
                  "date_end": utc_now(), "machine": common.machine_line().rsplit("; load average", 1)[0],
                  "load_start": load_start, "load_end": common.load_average(),
                  "runs": [(n, c, rc, k) for n, c, rc, _, k in results]}
        dest = Path(args.write)
        if dest.exists() and archive_results(dest.read_text(), dest.parent / "HISTORY.md", header["date_end"]):
            print(f"the previous {dest.name} went to {dest.parent / 'HISTORY.md'}")
        dest.write_text(render_results(targets, header))
        print(f"\nwrote {args.write} ({len(targets)} targets)")
    return status


if __name__ == "__main__":
    sys.exit(main())
