"""nent_ref: reference numbers for the thermodynamics and information theory of diffusion models.

Units: entropies and divergences are in nats unless a ``base=`` argument says otherwise.
Time convention: forward (noising) time ``s``, data at ``s = 0``.
See ``docs/theory.md`` (the theory guide: notation, identities, references) and README.md.
"""
from ._version import __version__
from .estimate import Estimate
from .processes import VP, SL, VE, LinearSchedule, CosineSchedule
from .data import Gaussian, Dirac
from .entropy import entropy_production_rate, total_entropy, kl_to_equilibrium, rate_curve

# --- topic modules (one import line each; keep this section sorted) ---
from . import bounds
from . import ot
from . import reference_models
from . import rg
from . import sde
from . import statmech
from .mixture import GaussianMixture, Empirical
from .neural import neural_entropy, entropy_matching_loss
from .speed import speed_limit
from .validation import validate
