"""Options of a suite run and the executor its Monte Carlo work runs on.

:class:`TableOptions` carries the master seed, the number of worker processes, an optional dask
scheduler address and whether to show progress bars on stderr; :func:`executor_for` turns it into the
``executor=`` that the Monte Carlo quantities accept.  Results do not depend on the executor:
every Monte Carlo block has its own random stream.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..core.checks import count, seed_sequence
from ..core.progress import progress_bar

__all__ = ["TableOptions", "executor_for", "suite_seed", "row_seed"]


class TableOptions:
    """Options shared by all suites (seed, workers, progress).

    ``seed`` goes through :func:`nent_ref.core.checks.seed_sequence` (ValueError for -1, "a", 1.5, True):
    an int >= 0 is stored as an int; a sequence of ints, a SeedSequence, a Generator or None is stored
    as given (the suites derive their streams with the same validator).  ``workers`` is an int >= 1.
    """

    def __init__(self, seed=0, workers: int = 1, quiet: bool = False,
                 scheduler: str | None = None):
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
            self.seed = int(seed)
        else:
            if not isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
                seed_sequence(seed, "seed")          # the one seed message for -1, "a", 1.5, True, ...
            self.seed = seed
        self.workers = count("workers", workers, 1)
        self.quiet = bool(quiet)
        self.scheduler = scheduler

    def progress(self, message: str) -> None:
        """Say what is being worked on: the text beside the progress bar on screen (see :meth:`steps`);
        nothing when no bar is drawn (``--quiet``, or stderr is not a terminal)."""
        bar = getattr(self, "_bar", None)
        if bar is not None:
            bar.set_postfix_str(str(message)[:60])

    def steps(self, items, *, desc: str, unit: str = "it", label=str):
        """Iterate over ``items`` with a progress bar on stderr (:func:`nent_ref.core.progress.progress_bar`:
        elapsed time and time left; quiet under ``--quiet`` or when stderr is not a terminal).  Each item's
        ``label(item)`` is shown beside the bar; :meth:`progress` messages replace it while the item runs."""
        items = list(items)
        bar = progress_bar(total=len(items), desc=desc, unit=unit, quiet=self.quiet)
        outer = getattr(self, "_bar", None)
        self._bar = bar if hasattr(bar, "refresh") else outer      # a nested loop labels the outer bar
        try:
            for item in items:
                self.progress(label(item))
                yield item
                bar.update(1)
        finally:
            bar.close()
            self._bar = outer


@contextlib.contextmanager
def executor_for(options):
    """Context manager giving the executor a suite should pass to Monte Carlo (``executor=``).

    ``--scheduler ADDRESS``: a dask.distributed client's executor (needs the ``dask`` extra);
    ``--workers N`` with N > 1: a ``ProcessPoolExecutor(N)``; otherwise ``None`` (in-process).
    Monte Carlo results do not depend on the choice (independent streams per block).
    """
    scheduler = getattr(options, "scheduler", None)
    workers = int(getattr(options, "workers", 1) or 1)
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs dask.distributed: pip install 'nent_ref[dask]'") from None
        client = Client(scheduler)
        try:
            yield client.get_executor()
        finally:
            client.close()
    elif workers > 1:
        # spawn, not fork: the parent may already run Numba's OpenMP threads, which fork would break
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
    else:
        yield None


def suite_seed(seed):
    """``options.seed`` checked by :func:`nent_ref.core.checks.seed_sequence` (ValueError for -1, "a", 1.5, True).

    An int >= 0 is kept as is, so the Monte Carlo rows keep their streams ``[seed, tag, k]``; anything
    else accepted (a sequence of ints, a SeedSequence, a Generator, None) becomes one SeedSequence.
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return int(seed)
    return seed_sequence(seed, "seed")


def row_seed(base, *keys):
    """Seed of one Monte Carlo row: ``[base, *keys]`` for an int base, else a keyed child of the sequence."""
    if isinstance(base, int):
        return [base, *keys]
    return np.random.SeedSequence(base.entropy, spawn_key=tuple(base.spawn_key) + tuple(keys))
