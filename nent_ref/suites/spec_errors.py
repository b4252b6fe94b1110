"""The error of case specifications (:class:`SpecError`), shared by :mod:`nent_ref.suites.specs` and the
modules that read parts of a spec (:mod:`nent_ref.suites.spec_quantities`)."""
from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(ValueError):
    """A spec problem; ``field`` is the dotted path of the offending field (also the message's start)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
