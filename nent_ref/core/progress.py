"""Progress bars for long work: one helper, :func:`progress_bar`, over tqdm.

Long work (rendering figures, computing table suites and spec cases, large Monte Carlo runs, neural
estimates) shows a tqdm bar with the elapsed time and an estimate of the time left on **stderr**.  The
bar stays quiet when the caller says so (``--quiet``, ``quiet=True``) and whenever stderr is not a
terminal (a log file, a pipe, a CI job, a test run): output that is read later never fills up with
carriage-return frames.  Standard output is never touched, so ``nent-ref table > rows.json`` stays
clean.

The same call works without a terminal: a quiet bar is a do-nothing object with the methods
``update``, ``set_description``, ``set_postfix_str``, ``write`` and ``close``, and iterating over it
yields the wrapped iterable unchanged.
"""
from __future__ import annotations

import contextlib
import sys

__all__ = ["progress_bar", "progress_enabled", "quiet_progress"]

_SILENCED = [0]                                   # depth of active quiet_progress() blocks
_ACTIVE = [0]                                     # bars on screen (one at a time: the outermost task's)


@contextlib.contextmanager
def quiet_progress(quiet: bool = True):
    """Within this block no bar is drawn (``nent-ref ... --quiet`` wraps its work in it, which also
    silences the bars of the Monte Carlo and neural estimators deep inside)."""
    _SILENCED[0] += int(bool(quiet))
    try:
        yield
    finally:
        _SILENCED[0] -= int(bool(quiet))


def progress_enabled(quiet: bool = False, file=None) -> bool:
    """True when a bar should be drawn: not ``quiet``, not inside :func:`quiet_progress`, no other bar
    on screen (the outermost long task owns the terminal: a figure's Monte Carlo does not draw a second
    bar under the figures' bar), and ``file`` (default ``sys.stderr``) is a terminal."""
    if quiet or _SILENCED[0] > 0 or _ACTIVE[0] > 0:
        return False
    stream = sys.stderr if file is None else file
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):               # a closed or detached stream
        return False


class _QuietBar:
    """The do-nothing bar of :func:`progress_bar` when progress is off (same methods as tqdm's)."""

    def __init__(self, iterable=None, total=None):
        self.iterable = iterable
        self.total = total
        self.n = 0

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n=1):
        self.n += n

    def set_description(self, desc=None, refresh=True):
        pass

    def set_postfix_str(self, s="", refresh=True):
        pass

    def write(self, message, file=None):
        pass

    def close(self):
        pass


def progress_bar(iterable=None, *, total=None, desc: str | None = None, unit: str = "it", quiet: bool = False,
                 file=None, leave: bool = False, delay: float = 0.0):
    """A tqdm progress bar on stderr with the time left, or a quiet stand-in.

    Parameters
    ----------
    iterable : iterable, optional
        Wrapped and yielded unchanged (as ``tqdm(iterable)``); else drive the bar with ``update(n)``.
    total : int, optional
        Number of steps (default ``len(iterable)`` where it has one).
    desc : str, optional
        Label on the left of the bar (e.g. ``"figures"``); change it with ``set_description``.
    unit : str
        What one step is (``"figure"``, ``"case"``, ``"sample"``).
    quiet : bool
        No bar at all (``--quiet``).  A bar is also never drawn when ``file`` is not a terminal.
    file : text stream, optional
        Where the bar goes (default ``sys.stderr``).
    leave : bool
        Keep the finished bar on screen (default: erase it).
    delay : float
        Seconds before the bar first appears (work that ends sooner shows nothing).

    Returns
    -------
    tqdm.tqdm or a quiet object with the same methods.
    """
    stream = sys.stderr if file is None else file
    if not progress_enabled(quiet, stream):
        return _QuietBar(iterable, total)
    return _bar_class()(iterable, total=total, desc=desc, unit=unit, file=stream, leave=leave, dynamic_ncols=True, delay=delay,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")


_BAR = []


def _bar_class():
    """tqdm subclass that counts the bars on screen (imported on first use)."""
    if not _BAR:
        from tqdm import tqdm

        class _CountedBar(tqdm):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self._counted = True
                _ACTIVE[0] += 1

            def close(self):
                if getattr(self, "_counted", False):
                    self._counted = False
                    _ACTIVE[0] -= 1
                super().close()

        _BAR.append(_CountedBar)
    return _BAR[0]
