"""benchmarks/RESULTS.md machinery (issue 22): ``common.target`` lines and ``run_all.py --write``.

No real benchmark runs here and no timing is asserted: the writer is fed target lines (given, or printed
by a two-line stand-in benchmark in a subprocess) and the table it writes is checked.
"""
import json
import math
import sys
import textwrap
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))
import common  # noqa: E402
import run_all  # noqa: E402


@pytest.mark.parametrize("value, goal, expected", [
    (0.41, "<= 1.0", True), (1.0, "<= 1.0", True), (1.0001, "<= 1.0", False),
    (5.0, "< 5", False), (4.99, "< 5", True), (3.0, ">= 3", True), (2.99, ">= 3", False),
    (1.7, "> 1.6", True), (None, "<= 1.0", False), (math.nan, ">= 1", False), (math.inf, "<= 1", False),
    (7.0, None, None), (7.0, "", None),
])
def test_meets(value, goal, expected):
    assert common.meets(value, goal) is expected


def test_meets_rejects_a_goal_it_cannot_read():
    with pytest.raises(ValueError):
        common.meets(1.0, "at most 1")


def test_target_prints_one_parseable_line(capsys):
    rec = common.target("exact OT n = 1000", 0.25, "x", "<= 1.0", "POT emd2", "0.1 s vs 0.4 s")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("target: ")
    parsed = run_all.parse_target(lines[0])
    assert parsed == rec
    assert parsed["met"] is True and parsed["value"] == 0.25 and parsed["goal"] == "<= 1.0"
    assert parsed["load"].startswith(("load average", "load n/a")) and parsed["blas"]
    assert run_all.parse_target("summary: something") is None


def test_target_refuses_a_met_that_contradicts_the_goal(capsys):
    with pytest.raises(ValueError):
        common.target("reverse SDE", 4.0, "x", ">= 5", "numpy", met=True)


def test_target_whose_precondition_failed_is_unmet(capsys):
    # a ratio that meets its goal, taken where the comparison's precondition does not hold (bench_ecosystem:
    # the baseline is already more precise than the target precision), is not met
    assert common.target("UNet evaluations saved", 169.0, "x", ">= 1", "recipe", valid=False)["met"] is False
    assert common.target("UNet evaluations saved", 169.0, "x", ">= 1", "recipe", valid=True)["met"] is True
    assert common.target("memoriser wall time", 5.4, "s", None, "fixed n", valid=False)["met"] is None


def test_target_with_non_finite_value_records_none(capsys):
    rec = common.target("Sinkhorn", math.nan, "x", ">= 1", "POT")
    assert rec["value"] is None and rec["met"] is False
    json.loads(capsys.readouterr().out[len("target: "):])        # valid JSON (no NaN literal)


def _record(name, value, unit, goal, command="python benchmarks/bench_x.py --quick", met=None):
    line = "target: " + json.dumps({"name": name, "value": value, "unit": unit, "goal": goal, "met": met,
                                    "baseline": "numpy GEMM", "detail": f"detail of {name}",
                                    "blas": "openblas 0.3.x kernel Haswell, 2 threads",
                                    "load": "load average 1.00 1.00 1.00 on 2 cores"})
    rec = run_all.parse_target(line)
    rec.update(command=command, config="machine", config_env="OPENBLAS_CORETYPE/L2_SIZE unset", script="bench_x.py")
    return rec


HEADER = {"argv": ".venv/bin/python benchmarks/run_all.py --quick --write", "quick": True, "only": None,
          "date_start": "2026-12-07 12:00:00 UTC", "date_end": "2026-12-07 12:30:00 UTC",
          "machine": "AMD EPYC, 2 cores; python 3.11, numpy 2.4, numba 0.68; BLAS: openblas Haswell",
          "load_start": "load average 0.50 0.40 0.30 on 2 cores", "load_end": "load average 2.00 1.50 1.00 on 2 cores",
          "runs": [("bench_x.py", "machine", 0, 3), ("bench_y.py", "machine", 1, 0)]}


def _rows(text):
    table = [line for line in text.splitlines() if line.startswith("|")]
    head = [c.strip() for c in table[0].strip("|").split("|")]
    return head, [dict(zip(head, (c.strip() for c in line.strip("|").split(" | ")))) for line in table[2:]]


def test_writer_table_has_every_column_and_computes_met():
    targets = [_record("mixture kernel iso", 4.5, "x", ">= 3", "python benchmarks/bench_mixture.py --quick"),
               _record("reverse SDE 1 thread", 3.2, "x", ">= 5", "python benchmarks/bench_sde.py --repeat 2"),
               _record("memoriser N = 60000", 9.1, "s", None, "python benchmarks/bench_precision.py")]
    text = run_all.render_results(targets, HEADER)
    head, rows = _rows(text)
    assert head == list(run_all.COLUMNS)
    assert [r["target"] for r in rows] == ["mixture kernel iso", "reverse SDE 1 thread", "memoriser N = 60000"]
    assert [r["met"] for r in rows] == ["yes", "no", "n/a (no goal)"]
    assert [r["measured"] for r in rows] == ["4.5x", "3.2x", "9.1 s"]
    assert [r["goal"] for r in rows] == [">= 3", ">= 5", "none"]
    assert rows[1]["command"] == "`python benchmarks/bench_sde.py --repeat 2`"
    assert rows[0]["baseline"] == "numpy GEMM" and rows[0]["figures behind it"] == "detail of mixture kernel iso"
    assert "machine" in rows[0]["BLAS configuration"] and "Haswell" in rows[0]["BLAS configuration"]
    assert rows[0]["load when taken"].startswith("load average")
    # header: machine, dates, loads, quick, the command; the count of met targets; the failed run
    for piece in ("AMD EPYC, 2 cores", "2026-12-07 12:00:00 UTC", "2026-12-07 12:30:00 UTC", "**quick**",
                  "load average 0.50 0.40 0.30", "load average 2.00 1.50 1.00", HEADER["argv"],
                  "1 of 2 targets with a goal met", "bench_y.py [machine]: exit 1, 0 targets (FAILED"):
        assert piece in text, piece


def test_writer_recomputes_met_from_value_and_goal():
    """A record whose stored ``met`` is stale (or forged) is shown as its value and goal say."""
    text = run_all.render_results([_record("exact OT", 1.4, "x", "<= 1.0", met=True)], HEADER)
    assert _rows(text)[1][0]["met"] == "no"


def test_writer_marks_a_target_that_was_not_measured():
    text = run_all.render_results([_record("UNet evaluations", None, "x", ">= 1")], HEADER)
    row = _rows(text)[1][0]
    assert row["measured"] == "not measured" and row["met"] == "no (not measured)"


def test_writer_full_mode_and_pipes_in_cells():
    header = dict(HEADER, quick=False, only="ot")
    text = run_all.render_results([_record("a | b", 0.5, "x", "<= 1.0")], header)
    assert "full (default sizes); partial: only `ot`" in text and "**quick**" not in text
    assert _rows(text.replace("\\|", "/"))[1][0]["target"] == "a / b"       # the pipe is escaped


FAKE_BENCH = """\
import sys
sys.path.insert(0, {bench!r})
import common
common.target("fake speed-up", float(sys.argv[1]) if len(sys.argv) > 1 else 2.0, "x", ">= 3", "nothing")
common.target("fake time", 0.5, "s", "< 5", "nothing")
print("summary: fake")
"""


def test_run_all_write_end_to_end(tmp_path, monkeypatch):
    """main(--quick --write FILE) over a stand-in benchmark: its targets, command and quick flags land
    in the file; the failing target shows "no"."""
    (tmp_path / "bench_fake.py").write_text(textwrap.dedent(FAKE_BENCH.format(bench=str(BENCH))))
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    monkeypatch.setitem(run_all.QUICK_FLAGS, "bench_fake.py", ["1.5"])
    out = tmp_path / "RESULTS.md"
    assert run_all.main(["--quick", "--config", "machine", "--write", str(out)]) == 0
    text = out.read_text()
    _, rows = _rows(text)
    assert [(r["target"], r["measured"], r["met"]) for r in rows] == [("fake speed-up", "1.5x", "no"),
                                                                      ("fake time", "0.5 s", "yes")]
    assert all(r["command"].endswith("bench_fake.py 1.5`") and "python" in r["command"] for r in rows)
    assert "**quick**" in text and "bench_fake.py [machine]: exit 0, 2 targets" in text
    assert not (tmp_path / "HISTORY.md").exists()
    # a second run replaces the table and keeps the first one in HISTORY.md, rows and date included
    monkeypatch.setitem(run_all.QUICK_FLAGS, "bench_fake.py", ["2.5"])
    assert run_all.main(["--quick", "--config", "machine", "--write", str(out)]) == 0
    assert "| 2.5x |" in out.read_text() and "| 1.5x |" not in out.read_text()
    history = (tmp_path / "HISTORY.md").read_text()
    date = next(ln for ln in text.splitlines() if ln.startswith("* Date (UTC):")).split(":", 1)[1].strip()
    assert history.startswith("# Benchmark history") and f"## RESULTS.md of {date} (replaced " in history
    assert "| fake speed-up | 1.5x |" in history and "Generated by" not in history


def test_archive_ignores_what_is_not_a_results_file(tmp_path):
    hist = tmp_path / "HISTORY.md"
    assert not run_all.archive_results("", hist, "now")
    assert not run_all.archive_results("# Something else\n\n* Date (UTC): x\n", hist, "now")
    assert not hist.exists()


def test_every_benchmark_reports_targets():
    """Each bench_*.py calls common.target (the table would silently miss a benchmark otherwise)."""
    scripts = sorted(BENCH.glob("bench_*.py"))
    assert len(scripts) >= 8
    missing = [s.name for s in scripts if "common.target(" not in s.read_text()]
    assert not missing, missing
    assert set(run_all.QUICK_FLAGS) <= {s.name for s in scripts}


@pytest.mark.slow
def test_bench_import_reports_its_target():
    """A real benchmark (bench_import.py, one timed round: about 10 fresh interpreters, 5-10 s on two
    cores, hence slow) prints one well-formed target line; no timing is asserted."""
    import subprocess
    out = subprocess.run([sys.executable, str(BENCH / "bench_import.py"), "--runs", "1"], check=True,
                         capture_output=True, text=True, timeout=300).stdout
    recs = [run_all.parse_target(line) for line in out.splitlines() if line.startswith("target:")]
    assert len(recs) == 1
    rec = recs[0]
    assert rec["goal"] == "<= 0.3" and rec["unit"] == "s" and math.isfinite(rec["value"])
    assert rec["met"] is common.meets(rec["value"], rec["goal"])
