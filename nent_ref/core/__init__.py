"""Layer 0 of nent_ref: the forward processes, the data types, the Estimate container and input checks.

Modules: :mod:`.processes` (VP/SL/VE and their schedules), :mod:`.data` (Gaussian, Dirac),
:mod:`.mixture` (GaussianMixture, Empirical) with its kernels in :mod:`.kernels` (Numba, each beside a
numpy twin), :mod:`.estimate` (Estimate, units), :mod:`.checks` (the shared validators).  Nothing here
imports a higher layer.
"""
