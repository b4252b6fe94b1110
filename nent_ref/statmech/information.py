"""Basic information measures on finite alphabets: Shannon entropy, KL divergence, total variation.

Part of :mod:`nent_ref.statmech` (the primer); see its docstring for the conventions and references.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.estimate import log_base
from . import _core as _c

__all__ = ["shannon_entropy", "kl_divergence", "total_variation"]


# ============================================================================ basic information measures
def shannon_entropy(p, base=None) -> float:
    r"""Shannon entropy :math:`H(p) = -\sum_x p(x)\log p(x)` (nats unless ``base``).

    Parameters
    ----------
    p : array_like
        Probability vector (non-negative, summing to one).
    base : float, optional
        Logarithm base (2 for bits).

    References
    ----------
    Cover & Thomas (2006), eq. (2.1).
    """
    p = _c.as_probability(p)
    return -_c.xlogy_sum(p, _c.safe_log(p)) / log_base(base)


def kl_divergence(q, p, base=None) -> float:
    r"""Relative entropy :math:`\mathrm{KL}(q\|p) = \sum_x q(x)\log(q(x)/p(x))`.

    Returns ``inf`` when ``q`` charges an outcome that ``p`` does not.

    References
    ----------
    Cover & Thomas (2006), eq. (2.26).
    """
    q = _c.as_probability(q, name="q")
    p = _c.as_probability(p, q.shape[0], name="p")
    if np.any((q > 0) & (p == 0)):
        return math.inf
    pos = q > 0
    return float(np.dot(q[pos], np.log(q[pos]) - np.log(p[pos]))) / log_base(base)


def total_variation(p, q) -> float:
    r"""Total variation distance :math:`\tfrac12\sum_x |p(x) - q(x)|`."""
    p = _c.as_probability(p, name="p")
    q = _c.as_probability(q, p.shape[0], name="q")
    return 0.5 * float(np.sum(np.abs(p - q)))
