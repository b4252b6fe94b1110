"""The public API keeps working (issue 14): every name ``import nent_ref as nr`` exports, every name the
README and the guides use, and every deprecated alias of the old layout."""
import importlib
import re
import warnings
from pathlib import Path

import pytest

import nent_ref as nr

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# the public modules and their __all__ lists
MODULES = ["nent_ref", "nent_ref.core.estimate", "nent_ref.core.processes", "nent_ref.core.data",
           "nent_ref.core.mixture", "nent_ref.core.checks", "nent_ref.quantities.entropy",
           "nent_ref.quantities.mixture_entropy", "nent_ref.quantities.bounds", "nent_ref.quantities.neural",
           "nent_ref.quantities.reference_models", "nent_ref.quantities.sde", "nent_ref.quantities.ot",
           "nent_ref.quantities.speed", "nent_ref.rg", "nent_ref.statmech", "nent_ref.suites.cases",
           "nent_ref.suites.tables", "nent_ref.suites.figures", "nent_ref.suites.validation",
           "nent_ref.suites.executor", "nent_ref.core.progress", "nent_ref.suites.spec_quantities",
           "nent_ref.suites.spec_errors", "nent_ref.suites.plot", "nent_ref.suites.figure_layout"]


@pytest.mark.parametrize("module", MODULES)
def test_every_name_in_all_resolves(module):
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    assert names, f"{module} has no __all__"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names that do not exist: {missing}"


def _documented_names():
    """(module path, name) pairs from `nr.X`, `nr.mod.X` and `from nent_ref... import X` in README and docs."""
    found = set()
    for path in TEXTS:
        text = path.read_text()
        for m in re.finditer(r"\bnr\.([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?", text):
            found.add(("nent_ref", m.group(1), m.group(2)))
        imports = re.findall(r"from (nent_ref[\w.]*) import \(([^)]*)\)", text)
        imports += re.findall(r"^\s*from (nent_ref[\w.]*) import ([^(\n#]+)$", text, flags=re.M)
        for module, names in imports:
            for item in names.split(","):
                name = item.split(" as ")[0].strip()
                if name and not name.startswith("_"):
                    found.add((module, name, None))
    return sorted(found, key=str)


DOCUMENTED = _documented_names()


def test_the_docs_use_public_names():
    assert len(DOCUMENTED) > 30


@pytest.mark.parametrize("module, name, attr", DOCUMENTED, ids=lambda v: str(v))
def test_documented_name_resolves(module, name, attr):
    mod = importlib.import_module(module)
    obj = getattr(mod, name, None)
    if obj is None:       # `from nent_ref import cases` style: a submodule
        obj = importlib.import_module(f"{module}.{name}")
    if attr is not None and isinstance(obj, type(nr)):      # nr.module.name: the name exists
        assert hasattr(obj, attr), f"{module}.{name}.{attr}"


@pytest.mark.parametrize("old, new", sorted(nr.MOVED_MODULES.items()))
def test_old_module_paths_are_aliases(old, new):
    assert importlib.import_module(f"nent_ref.{old}") is importlib.import_module(new)


def test_deprecated_aliases_warn():
    with pytest.warns(DeprecationWarning):
        nr.CosineSchedule(s=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nr.CosineSchedule(offset=0.01)          # the new name does not warn
