r"""Relative entropy along coarse-graining flows: Ising decimation RG and deep random networks.

How much information does a coarse-graining flow discard?  Following Erdmenger, Grosvenor and Jefferson
(SciPost Phys. 12, 041 (2022), arXiv:2107.06898) this module gives exact numbers for

* the 1-D Ising chain under exact ``b = 2`` decimation (with field): the recursion, transfer-matrix
  thermodynamics at finite ``N`` (periodic) and ``N -> inf``, and four per-site relative entropies whose
  names say which two distributions they compare:

  - :func:`ising1d_kl_original_vs_renormalised_per_site`  :math:`D(p_{K_0}\|p_{K_n})` (same lattice),
  - :func:`ising1d_kl_renormalised_vs_original_per_site`  :math:`D(p_{K_n}\|p_{K_0})`,
  - :func:`ising1d_kl_original_vs_lifted_coarse_per_site` :math:`D(p_{K_0}\|q_n)`, ``q_n`` = coarse
    distribution on the survivors times uniform decimated spins,
  - :func:`ising1d_kl_lifted_coarse_vs_original_per_site` :math:`D(q_n\|p_{K_0})`;

* the 2-D square-lattice Ising model: Onsager's free energy and nearest-neighbour correlation, Kaufman's
  exact strips, small periodic lattices (transfer matrix and enumeration), one exact decimation step
  (nearest, next-nearest and four-spin couplings), the one-coupling truncation and Migdal-Kadanoff
  recursions with their fixed points, and the per-site relative entropies along those flows together
  with their asymptotes as functions of :math:`K_0` across :math:`K_c`;

* mean-field signal propagation in random tanh networks (Poole et al. 2016; Schoenholz et al. 2017):
  length and correlation maps, ``q*``, ``rho*``, ``chi_1``, depth scales, the order-to-chaos line, and the
  layer-to-layer relative entropy of the paper in the mean-field limit and by Monte Carlo on actual
  networks.

All entropies are in nats; couplings are dimensionless (``K = beta J``, ``h = beta H``).  Symbolic checks
of the decimation recursions: ``derivations/rg_decimation.py``.  User guide: ``docs/rg.md``.

References
----------
J. Erdmenger, K. T. Grosvenor, R. Jefferson, SciPost Phys. 12, 041 (2022), arXiv:2107.06898.
L. Onsager, Phys. Rev. 65, 117 (1944).
B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli, NeurIPS 2016, arXiv:1606.05340.
S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein, ICLR 2017, arXiv:1611.01232.
"""
from __future__ import annotations



from .ising1d import (  # noqa: F401  (re-exported)
    DecimationFlow1D, Ising1DThermo, ising1d_boltzmann_probabilities, ising1d_decimation_step,
    ising1d_entropy_per_site, ising1d_enumerate_thermo, ising1d_flow, ising1d_kl_limits,
    ising1d_kl_lifted_coarse_vs_original_per_site, ising1d_kl_original_vs_lifted_coarse_per_site,
    ising1d_kl_original_vs_renormalised_per_site, ising1d_kl_renormalised_vs_original_per_site,
    ising1d_log_partition_per_site, ising1d_magnetization, ising1d_nn_correlation, ising1d_thermo, MAX_STEPS,
)
from .ising2d import (  # noqa: F401
    ISING2D_KC, ISING2D_SCHEMES, Ising2DThermo, ising2d_boltzmann_probabilities,
    ising2d_decimation_couplings, ising2d_entropy_per_site, ising2d_enumerate_thermo, ising2d_fixed_point,
    ising2d_flow, ising2d_kl_asymptotes, ising2d_kl_original_vs_renormalised_per_site,
    ising2d_kl_renormalised_vs_original_per_site, ising2d_log_partition_double_integral,
    ising2d_log_partition_per_site, ising2d_migdal_kadanoff_step, ising2d_nn_correlation,
    ising2d_one_coupling_step, ising2d_rg_eigenvalue, ising2d_step, ising2d_strip_thermo,
    ising2d_thermo, ising2d_transfer_matrix_thermo, MAX_STRIP_WIDTH,
)
from .network import (  # noqa: F401
    TanhMeanField, gauss_hermite_expectation, network_kl_gaussian_fit_layer0_vs_layer_l_meanfield,
    network_kl_layer0_vs_layer_l_pushforward_mc, network_kl_layer0_vs_layer_l_pushforward_meanfield,
    tanh_chi1, tanh_correlation_fixed_point, tanh_correlation_map, tanh_length_fixed_point,
    tanh_length_map, tanh_length_sequence, tanh_meanfield, tanh_order_to_chaos_sigma_w2, MAX_ACTIVATIONS,
    MAX_DEPTH, MAX_NODES, MAX_WIDTH,
)

__all__ = [
    # 1-D Ising
    "DecimationFlow1D", "Ising1DThermo", "ising1d_decimation_step", "ising1d_flow", "ising1d_thermo",
    "ising1d_log_partition_per_site", "ising1d_nn_correlation", "ising1d_magnetization",
    "ising1d_entropy_per_site", "ising1d_enumerate_thermo", "ising1d_boltzmann_probabilities",
    "ising1d_kl_original_vs_renormalised_per_site", "ising1d_kl_renormalised_vs_original_per_site",
    "ising1d_kl_original_vs_lifted_coarse_per_site", "ising1d_kl_lifted_coarse_vs_original_per_site",
    "ising1d_kl_limits",
    # 2-D Ising
    "ISING2D_KC", "ISING2D_SCHEMES", "Ising2DThermo", "ising2d_thermo", "ising2d_log_partition_per_site",
    "ising2d_nn_correlation", "ising2d_entropy_per_site", "ising2d_log_partition_double_integral",
    "ising2d_strip_thermo", "ising2d_transfer_matrix_thermo", "ising2d_enumerate_thermo",
    "ising2d_boltzmann_probabilities", "ising2d_decimation_couplings", "ising2d_one_coupling_step",
    "ising2d_migdal_kadanoff_step", "ising2d_step", "ising2d_fixed_point", "ising2d_rg_eigenvalue",
    "ising2d_flow", "ising2d_kl_original_vs_renormalised_per_site",
    "ising2d_kl_renormalised_vs_original_per_site", "ising2d_kl_asymptotes",
    # networks
    "TanhMeanField", "gauss_hermite_expectation", "tanh_length_map", "tanh_length_sequence",
    "tanh_length_fixed_point", "tanh_correlation_map", "tanh_correlation_fixed_point", "tanh_chi1",
    "tanh_meanfield", "tanh_order_to_chaos_sigma_w2",
    "network_kl_layer0_vs_layer_l_pushforward_meanfield",
    "network_kl_gaussian_fit_layer0_vs_layer_l_meanfield",
    "network_kl_layer0_vs_layer_l_pushforward_mc",
    # size limits
    "MAX_STEPS", "MAX_STRIP_WIDTH", "MAX_DEPTH", "MAX_WIDTH", "MAX_ACTIVATIONS", "MAX_NODES",
]
