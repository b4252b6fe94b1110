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
           "nent_ref.quantities.precision",
           "nent_ref.quantities.reference_models", "nent_ref.quantities.sde", "nent_ref.quantities.ot",
           "nent_ref.quantities.speed", "nent_ref.rg", "nent_ref.statmech", "nent_ref.suites.cases",
           "nent_ref.suites.tables", "nent_ref.suites.figures", "nent_ref.suites.validation",
           "nent_ref.suites.executor", "nent_ref.core.schedules", "nent_ref.core.images",
           "nent_ref.quantities.predictions", "nent_ref.quantities.ecosystem", "nent_ref.core.progress",
           "nent_ref.suites.spec_quantities", "nent_ref.suites.spec_errors", "nent_ref.suites.plot",
           "nent_ref.suites.figure_layout"]


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # warned once per process (checked below)
        assert importlib.import_module(f"nent_ref.{old}") is importlib.import_module(new)


# Every alias, in a fresh interpreter (an import that already happened would hide a broken one), in the
# four ways old code reaches a module, each warning once with the new path.
_ALIAS_SCRIPT = """
import importlib, json, sys, warnings
warnings.simplefilter("always")
way = sys.argv[1]
import nent_ref
out = {}
for old, new in nent_ref.MOVED_MODULES.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns = {}
        if way == "import":        # issue 18: `import nent_ref.neural` then `nent_ref.neural` raised AttributeError
            exec(f"import nent_ref.{old}; mod = nent_ref.{old}", ns)
        elif way == "from_package":
            exec(f"from nent_ref import {old} as mod", ns)
        elif way == "from_module":
            name = importlib.import_module(new).__all__[0]
            exec(f"from nent_ref.{old} import {name}", ns)
            ns["mod"] = sys.modules[f"nent_ref.{old}"]
        else:                      # attribute of the package, without importing the old path
            ns["mod"] = getattr(nent_ref, old)
    deprecations = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    out[old] = [ns["mod"] is importlib.import_module(new), deprecations]
print(json.dumps(out))
"""


@pytest.mark.parametrize("way", ["import", "from_package", "from_module", "attribute"])
def test_every_moved_module_alias_works_and_warns_once(way):
    import json
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", _ALIAS_SCRIPT, way], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == set(nr.MOVED_MODULES)
    for old, (same, deprecations) in result.items():
        assert same, (way, old)
        new = nr.MOVED_MODULES[old]
        if way in ("attribute", "from_package") and old in nr.__all__:
            assert deprecations == [], (old, deprecations)     # nr.cases, nr.bounds ... are public attributes
        else:
            assert len(deprecations) == 1 and new in deprecations[0], (way, old, deprecations)


def test_deprecated_aliases_warn():
    with pytest.warns(DeprecationWarning):
        nr.CosineSchedule(s=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nr.CosineSchedule(offset=0.01)          # the new name does not warn
