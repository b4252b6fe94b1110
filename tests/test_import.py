"""``import nent_ref`` loads only the package face (issue 22): the heavy dependencies and the modules of
the quantities load with the first call that needs them (PEP 562), and the public names still resolve.
No timing is asserted here (benchmarks/bench_import.py measures the time)."""
import json
import subprocess
import sys

import pytest

#: modules that ``import nent_ref`` must not load (each costs 0.05-1 s; only some calls need them)
HEAVY = ["sympy", "matplotlib", "tqdm", "numba", "scipy.integrate", "scipy.optimize", "scipy.special",
         "scipy.stats", "nent_ref.core.kernels", "nent_ref.quantities", "nent_ref.rg", "nent_ref.statmech",
         "nent_ref.suites"]


def _loaded_after(code: str) -> set:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_loads_no_heavy_module():
    loaded = _loaded_after("import nent_ref")
    assert "nent_ref" in loaded
    assert not [m for m in HEAVY if m in loaded], [m for m in HEAVY if m in loaded]


def test_first_session_loads_no_plotting_or_symbolic_module():
    loaded = _loaded_after("import nent_ref as nr\nnr.total_entropy(nr.Gaussian(mean=[0.0], cov=[[1.0]]), nr.VP(), 0.01, 1.0)")
    assert "nent_ref.quantities.entropy" in loaded               # the call loaded what it needs
    assert not [m for m in ("sympy", "matplotlib") if m in loaded]


def test_mixture_rules_load_on_first_mixture_call():
    """entropy.py dispatches GaussianMixture / Empirical to rules that mixture_entropy registers; the
    quantities package registers them, also when nent_ref.quantities.entropy is imported directly."""
    code = ("from nent_ref.quantities.entropy import kl_to_equilibrium\n"
            "from nent_ref.core.mixture import GaussianMixture\nfrom nent_ref.core.processes import VP\n"
            "import sys\n"
            "gm = GaussianMixture(weights=[0.5, 0.5], means=[[-1.0], [1.0]], covs=[[[0.1]], [[0.1]]])\n"
            "print(kl_to_equilibrium(gm, VP(), 0.5).value)")
    loaded = _loaded_after(code)
    assert "nent_ref.quantities.mixture_entropy" in loaded


@pytest.mark.parametrize("name", ["total_entropy", "rg", "cases", "plot", "ot", "Estimate"])
def test_from_import_and_attribute_give_one_object(name):
    import nent_ref as nr
    namespace = {}
    exec(f"from nent_ref import {name}", namespace)
    assert namespace[name] is getattr(nr, name)
    assert name in dir(nr)


def test_unknown_name_is_an_attribute_error():
    import nent_ref as nr
    with pytest.raises(AttributeError, match="no_such_name"):
        nr.no_such_name


def test_table_command_loads_no_figure_module():
    """`nent-ref table` never draws: building the command line (with the figure names that ``figures --only``
    accepts) must not import the figures module or matplotlib (argparse iterates ``choices`` to build a default
    metavar; that once cost `nent-ref table` ~0.9 s, issue 22)."""
    loaded = _loaded_after("from nent_ref.cli import _build_parser\n"
                           "args = _build_parser().parse_args(['table', '--suite', 'default'])")
    assert "nent_ref.cli" in loaded
    assert not [m for m in ("matplotlib", "nent_ref.suites.figures") if m in loaded]
