"""nent_ref: reference numbers for the thermodynamics and information theory of diffusion models.

Units: entropies and divergences are in nats unless a ``base=`` argument says otherwise.
Time convention: forward (noising) time ``s``, data at ``s = 0``.
See ``docs/theory.md`` (the theory guide: notation, identities, references) and README.md.

Layout (dependencies point one way, from the bottom up):

* :mod:`nent_ref.core` -- processes, data types (Gaussian, Dirac, GaussianMixture, Empirical),
  :class:`Estimate` and its units, input checks;
* :mod:`nent_ref.quantities` -- entropy production, bounds, neural entropy and reference models,
  the SDE engine, optimal transport and the speed limit;
* :mod:`nent_ref.rg` and :mod:`nent_ref.statmech` -- the companion topics;
* :mod:`nent_ref.suites` -- canonical cases, tables, figures, the validation report, executors;
* :mod:`nent_ref.cli` -- the ``nent-ref`` command.

This module is the public face: ``import nent_ref as nr`` gives every name of the API.
"""
import importlib as _importlib
import importlib.abc as _importlib_abc
import importlib.util as _importlib_util
import sys as _sys
import warnings as _warnings

from ._version import __version__

#: Where each public name lives: ``name -> (module, attribute)`` (attribute ``None``: the module itself).
#: ``import nent_ref`` loads none of them; the first ``nr.X`` or ``from nent_ref import X`` imports its
#: module (PEP 562), so the import costs no more than its Python files do (sympy, matplotlib, tqdm, the
#: scipy submodules and the Numba kernels load with the first call that needs them; issue 22).
_LAZY = {
    "Estimate": ("nent_ref.core.estimate", "Estimate"),
    "ModelError": ("nent_ref.core.checks", "ModelError"),
    **{n: ("nent_ref.core.processes", n) for n in ("VP", "SL", "VE", "LinearSchedule", "CosineSchedule")},
    **{n: ("nent_ref.core.data", n) for n in ("Gaussian", "Dirac")},
    **{n: ("nent_ref.core.mixture", n) for n in ("GaussianMixture", "Empirical")},
    **{n: ("nent_ref.quantities.entropy", n)
       for n in ("entropy_production_rate", "total_entropy", "kl_to_equilibrium", "rate_curve")},
    "cutoff_check": ("nent_ref.quantities.mixture_entropy", "cutoff_check"),
    **{n: ("nent_ref.quantities.neural", n) for n in ("neural_entropy", "entropy_matching_loss")},
    "PrecisionWarning": ("nent_ref.quantities.precision", "PrecisionWarning"),
    "speed_limit": ("nent_ref.quantities.speed", "speed_limit"),
    **{n: (f"nent_ref.quantities.{n}", None) for n in ("bounds", "ot", "reference_models", "sde", "predictions")},
    **{n: ("nent_ref.quantities.adapters", n) for n in ("from_jax", "from_torch")},
    "schedules": ("nent_ref.core.schedules", None),
    **{n: ("nent_ref.quantities.ecosystem", n) for n in ("from_diffusers", "from_edm", "edm_process")},
    "rg": ("nent_ref.rg", None),
    "statmech": ("nent_ref.statmech", None),
    **{n: (f"nent_ref.suites.{n}", None) for n in ("cases", "conformance", "specs")},
    "validate": ("nent_ref.suites.validation", "validate"),
    "plot": ("nent_ref.suites.plot", "plot"),
}

__all__ = [
    "__version__", "Estimate", "VP", "SL", "VE", "LinearSchedule", "CosineSchedule", "Gaussian", "Dirac",
    "GaussianMixture", "Empirical", "entropy_production_rate", "total_entropy", "kl_to_equilibrium",
    "rate_curve", "cutoff_check", "neural_entropy", "entropy_matching_loss", "speed_limit", "validate",
    "bounds", "ot", "reference_models", "sde", "rg", "statmech", "cases", "specs", "conformance",
    "from_torch", "from_jax", "PrecisionWarning", "ModelError", "schedules", "predictions",
    "from_diffusers", "from_edm", "edm_process", "plot",
]

#: Module paths of releases before the layered layout -> where the module lives now.  They keep
#: working as deprecated aliases (a DeprecationWarning naming the new path): ``import nent_ref.neural``
#: then ``nent_ref.neural.decompose``, ``from nent_ref.neural import decompose``, ``from nent_ref import
#: neural`` and ``nent_ref.neural`` after ``import nent_ref``.  New code should use the new paths.
MOVED_MODULES = {
    "estimate": "nent_ref.core.estimate",
    "processes": "nent_ref.core.processes",
    "data": "nent_ref.core.data",
    "entropy": "nent_ref.quantities.entropy",
    "mixture": "nent_ref.quantities.mixture_entropy",
    "bounds": "nent_ref.quantities.bounds",
    "neural": "nent_ref.quantities.neural",
    "reference_models": "nent_ref.quantities.reference_models",
    "sde": "nent_ref.quantities.sde",
    "ot": "nent_ref.quantities.ot",
    "speed": "nent_ref.quantities.speed",
    "cases": "nent_ref.suites.cases",
    "validation": "nent_ref.suites.validation",
    "figures": "nent_ref.suites.figures",
}


def _moved_module(old: str):
    """The module that ``nent_ref.<old>`` was, after a DeprecationWarning naming its new path."""
    _warnings.warn(f"nent_ref.{old} is a deprecated alias of {MOVED_MODULES[old]}; import {MOVED_MODULES[old]}",
                   DeprecationWarning, stacklevel=3)
    return _importlib.import_module(MOVED_MODULES[old])


class _MovedModuleLoader(_importlib_abc.Loader):
    """Loads ``nent_ref.<old>`` as the module at its new path (so ``import nent_ref.<old>`` binds the
    alias as an attribute of the package, as any submodule import does)."""

    def __init__(self, old: str):
        self.old = old

    def create_module(self, spec):
        return _moved_module(self.old)

    def exec_module(self, module):                # the new module is already executed
        pass


class _MovedModuleFinder(_importlib_abc.MetaPathFinder):
    """Finds the old module paths of :data:`MOVED_MODULES` (one mechanism for all of them)."""

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, old = fullname.partition(".")
        if prefix != __name__ or old not in MOVED_MODULES:
            return None
        return _importlib_util.spec_from_loader(fullname, _MovedModuleLoader(old))


def __getattr__(name):
    # the public names, loaded on first use (PEP 562)
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = _importlib.import_module(module)
        if attribute is not None:
            value = getattr(value, attribute)
        globals()[name] = value                          # bound once: later lookups skip this hook
        return value
    # ``nent_ref.neural`` without an import of that path
    if name in MOVED_MODULES:
        module = globals()[name] = _moved_module(name)     # bound once, as an import would bind it
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if not any(isinstance(f, _MovedModuleFinder) for f in _sys.meta_path):
    _sys.meta_path.append(_MovedModuleFinder())
