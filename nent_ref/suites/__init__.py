"""Layer 2 of nent_ref: suites and reports built on the quantities.

Modules: :mod:`.cases` (canonical processes and data), :mod:`.tables` (the suites of ``nent-ref table``
and their formats), :mod:`.figures` (the theory figures), :mod:`.validation` (``validate`` and its
report), :mod:`.executor` (run options and the executor Monte Carlo work runs on).
"""
