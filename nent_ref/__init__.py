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
import sys as _sys

from ._version import __version__
from .core.estimate import Estimate
from .core.processes import VP, SL, VE, LinearSchedule, CosineSchedule
from .core.data import Gaussian, Dirac
from .core.mixture import GaussianMixture, Empirical
from .quantities.entropy import entropy_production_rate, total_entropy, kl_to_equilibrium, rate_curve
from .quantities import mixture_entropy as _mixture_entropy  # noqa: F401  (registers mixture quantities)
from .quantities.mixture_entropy import cutoff_check
from .quantities.neural import neural_entropy, entropy_matching_loss
from .quantities.precision import PrecisionWarning
from .quantities.speed import speed_limit
from .quantities import bounds, ot, reference_models, sde
from .quantities.adapters import from_jax, from_torch
from . import rg, statmech
from .suites import cases, conformance, specs
from .suites.validation import validate
from .suites.plot import plot

__all__ = [
    "__version__", "Estimate", "VP", "SL", "VE", "LinearSchedule", "CosineSchedule", "Gaussian", "Dirac",
    "GaussianMixture", "Empirical", "entropy_production_rate", "total_entropy", "kl_to_equilibrium",
    "rate_curve", "cutoff_check", "neural_entropy", "entropy_matching_loss", "speed_limit", "validate",
    "bounds", "ot", "reference_models", "sde", "rg", "statmech", "cases", "specs", "conformance",
    "from_torch", "from_jax", "PrecisionWarning", "plot",
]

#: Module paths of releases before the layered layout -> where the module lives now.  They keep
#: working (``import nent_ref.validation``, ``from nent_ref.neural import decompose``) as deprecated
#: aliases; new code should use the new paths.
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
for _old, _new in MOVED_MODULES.items():
    _sys.modules.setdefault(f"{__name__}.{_old}", _importlib.import_module(_new))
del _old, _new
