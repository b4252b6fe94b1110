r"""Statistical-mechanics primer: exponential families, maximum entropy, concentration, free energy.

The identities every estimator in nent_ref leans on, computed exactly on finite
alphabets (docs/theory.md section 7, second paragraph; Balsubramani, "Entropy,
concentration, and learning: a statistical mechanics primer", arXiv:2409.18630).

Conventions
-----------
* Entropies, divergences and rate functions are in nats (``base=`` where offered
  converts); Boltzmann's constant is 1, so thermodynamic entropy is in nats too.
* An exponential family on outcomes ``x = 0..m-1`` with sufficient statistics
  ``T(x)`` (shape ``(m, d)``) and strictly positive base measure ``h`` is

  .. math:: p_\theta(x) = h(x)\, e^{\theta\cdot T(x) - A(\theta)},\qquad
            A(\theta) = \log \sum_x h(x)\, e^{\theta\cdot T(x)}.

  With the counting measure ``h = 1`` (the default), :math:`A = \log Z` is the
  usual log partition function and :math:`A^*(\mu) = -H(p_\mu)`; with a probability
  vector ``h = p_0``, :math:`A` is the cumulant generating function of ``T`` under
  :math:`p_0` and :math:`A^*(\mu) = \mathrm{KL}(p_\mu\|p_0)`.
* Moment vectors on the relative boundary of the convex hull of ``{T(x)}`` have
  infinite natural parameter.  :meth:`ExponentialFamily.natural_parameter` raises a
  ValueError there; :func:`i_projection`, :func:`max_entropy`, the conjugate and the
  rate functions return the (finite) limiting values, supported on the face of the
  hull that contains ``mu``.  Outside the hull the solvers raise a ValueError and
  the rate functions / conjugate return ``+inf`` (their mathematical value).
* Argument order (one convention): the law comes first, then what is measured, then the target,
  ``sanov_rate(p, stats, mu)``, ``i_projection(p0, stats, mu)``; the scalar-statistic functions take
  the statistic and the target by keyword, ``cramer_rate(p, values=..., a=...)``,
  ``log_mgf(p, values=..., lam=...)``, ``log_sum_probability(p, values=..., n=..., total=...)``,
  ``log_sum_tail_probability`` and ``gibbs_conditional`` likewise (their order was (values, p, ...)
  before 0.2; keywords make an old positional call fail loudly instead of computing something else).
* Ising energy: :math:`E(s) = -\tfrac12 s^\top J s - h^\top s` with ``J``
  symmetric, zero diagonal, spins :math:`s_i = \pm 1`.

Modules (one per concept): :mod:`~nent_ref.statmech.information` (entropy, KL, total variation),
:mod:`~nent_ref.statmech.families` (exponential families, maximum entropy, I-projection),
:mod:`~nent_ref.statmech.types` (method of types, Sanov, Cramer), :mod:`~nent_ref.statmech.gibbs`
(sums of integer variables, Gibbs conditioning), :mod:`~nent_ref.statmech.free_energy` (canonical
thermodynamics, Gibbs variational principle, exact and mean-field Ising); ``_core`` holds the shared
numerics (validation, faces of the moment polytope, Newton on the dual).

References
----------
E. T. Jaynes, "Information theory and statistical mechanics", Phys. Rev. 106, 620 (1957).
T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley (2006),
chapters 11 (method of types, Sanov, conditional limit theorem) and 12 (maximum entropy).
A. Balsubramani, arXiv:2409.18630 (2024).
M. J. Wainwright and M. I. Jordan, "Graphical models, exponential families, and
variational inference", Found. Trends Mach. Learn. 1 (2008) (Legendre duality, mean field).
"""
from __future__ import annotations

from .information import (  # noqa: F401  (re-exported)
    shannon_entropy, kl_divergence, total_variation,
)
from .families import (  # noqa: F401  (re-exported)
    ExponentialFamily, IProjection, i_projection, max_entropy, GaussianMaxEnt, gaussian_max_entropy,
)
from .types import (  # noqa: F401  (re-exported)
    log_type_class_size, log_type_probability, type_probability_bounds, sanov_rate, log_mgf, cramer_rate,
)
from .gibbs import (  # noqa: F401  (re-exported)
    log_sum_probability, log_sum_tail_probability, gibbs_conditional,
)
from .free_energy import (  # noqa: F401  (re-exported)
    Thermodynamics, thermodynamics, variational_free_energy, ising_energies, IsingExact, ising_exact, mean_field_free_energy, MeanField, ising_mean_field,
)

__all__ = [
    "shannon_entropy",
    "kl_divergence",
    "total_variation",
    "ExponentialFamily",
    "IProjection",
    "i_projection",
    "max_entropy",
    "GaussianMaxEnt",
    "gaussian_max_entropy",
    "log_type_class_size",
    "log_type_probability",
    "type_probability_bounds",
    "sanov_rate",
    "log_mgf",
    "cramer_rate",
    "log_sum_probability",
    "log_sum_tail_probability",
    "gibbs_conditional",
    "Thermodynamics",
    "thermodynamics",
    "variational_free_energy",
    "ising_energies",
    "IsingExact",
    "ising_exact",
    "mean_field_free_energy",
    "MeanField",
    "ising_mean_field",
]
