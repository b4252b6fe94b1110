"""Progress bars (issue 21): a tqdm bar with the time left on stderr for long work, quiet under --quiet
and whenever stderr is not a terminal; one bar at a time (the outermost task's)."""
import io

import numpy as np

import nent_ref as nr
from nent_ref.cli import main
from nent_ref.core.progress import progress_bar, progress_enabled, quiet_progress
from nent_ref.suites.executor import TableOptions


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_is_drawn_on_a_terminal_with_the_time_left():
    term = FakeTerminal()
    for _ in progress_bar(range(3), desc="figures", unit="figure", file=term, leave=True):
        pass
    text = term.getvalue()
    assert "figures" in text and "3/3" in text and "<" in text          # elapsed<remaining


def test_bar_is_quiet_off_a_terminal_and_under_quiet():
    pipe = io.StringIO()                                                # isatty() is False
    assert list(progress_bar(range(4), desc="x", file=pipe)) == [0, 1, 2, 3] and pipe.getvalue() == ""
    term = FakeTerminal()
    assert list(progress_bar(range(2), quiet=True, file=term)) == [0, 1] and term.getvalue() == ""
    with quiet_progress():
        assert not progress_enabled(file=term)
        bar = progress_bar(total=5, file=term)
        bar.update(5)
        bar.close()
    assert term.getvalue() == "" and progress_enabled(file=term)


def test_one_bar_at_a_time():
    term = FakeTerminal()
    outer = progress_bar(total=2, desc="outer", file=term)
    try:
        assert not progress_enabled(file=term)                          # an inner task draws nothing
        inner = progress_bar(range(3), desc="inner", file=term)
        assert list(inner) == [0, 1, 2]
    finally:
        outer.close()
    assert "inner" not in term.getvalue() and progress_enabled(file=term)


def test_table_options_steps_label_the_bar_and_yield_every_item(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    opts = TableOptions()
    seen = []
    for item in opts.steps(["a", "b"], desc="suites", unit="suite"):
        opts.progress(f"working on {item}")
        seen.append(item)
    assert seen == ["a", "b"] and "suites" in term.getvalue() and "working on" in term.getvalue()
    quiet = TableOptions(quiet=True)
    term2 = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term2)
    assert list(quiet.steps([1, 2], desc="q")) == [1, 2] and term2.getvalue() == ""


def test_monte_carlo_with_a_bar_gives_the_same_numbers(monkeypatch):
    """The bar draws block by block: the estimate is the same with and without a terminal."""
    mix = nr.GaussianMixture([0.5, 0.5], [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [1.0, 0.25])
    proc = nr.SL(sigma0=1.0)
    kw = dict(method="monte-carlo", seed=4, n_samples=4096)
    plain = nr.total_entropy(mix, proc, 0.0, 0.5, **kw)
    monkeypatch.setattr("sys.stderr", FakeTerminal())
    shown = nr.total_entropy(mix, proc, 0.0, 0.5, **kw)
    assert shown.value == plain.value and shown.stderr == plain.stderr


def test_cli_is_silent_on_stderr_when_not_a_terminal(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path), "--only", "gaussian_rate", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".csv", ".pdf", ".png"]
    assert np.isfinite(np.genfromtxt(tmp_path / "gaussian_rate.csv", delimiter=",", skip_header=1)).all()
