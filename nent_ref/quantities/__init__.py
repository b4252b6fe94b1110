"""Layer 1 of nent_ref: the quantities.

Modules: :mod:`.entropy` (entropy production rate, total entropy, KL to equilibrium; closed forms for
Gaussian and Dirac data and the registry of data types), :mod:`.mixture_entropy` (quadrature and Monte
Carlo for mixtures and empirical data), :mod:`.bounds` (Kolchinsky-Tracey), :mod:`.neural` (neural
entropy, entropy-matching loss, decomposition), :mod:`.reference_models`, :mod:`.sde` (forward and
reverse simulation, path entropy), :mod:`.ot` (optimal transport) and :mod:`.speed` (speed limit).
They import only :mod:`nent_ref.core` and each other, never suites, tables, figures or the CLI.
"""

# GaussianMixture and Empirical get their entropy rules from mixture_entropy, which registers them with
# entropy's dispatch; importing any quantity module therefore registers them (``import nent_ref`` alone
# imports no quantity module: its names load on first use).
from . import mixture_entropy  # noqa: F401,E402
