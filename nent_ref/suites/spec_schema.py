"""The structure of case specifications and claims files as pydantic models, and their JSON Schemas.

The models say which keys each object of a spec (docs/specs.md) or a claims file (docs/conformance.md) has,
the type of each value, the allowed kinds and names, and the ranges a single value must lie in.  They are
validated first (:func:`check_spec`, :func:`check_claims`); a problem becomes a
:class:`~nent_ref.suites.spec_errors.SpecError` whose field path is the dotted/indexed path of the field in the
document (``data.means[1][0]``, ``claims[3].spec.window.s0``) and, for unknown keys, kinds, quantities and
units, a "did you mean" hint.  What a schema cannot say (shapes that must match each other, positive
definiteness, parameter relations such as ``beta_max >= beta_min``, preset labels, sizes) is checked by
:func:`nent_ref.suites.specs.normalize_spec` afterwards.

The same models publish the JSON Schemas (draft 2020-12) that ``nent-ref schema spec|claims`` prints and that
ship as ``nent_ref/reference/schemas/{spec,claims}.schema.json``: an editor checks a file against them
through its ``"$schema"`` key or its own settings (docs/specs.md).  The models validate structure only; the
canonical form is built by :mod:`nent_ref.suites.specs`, never by the models.
"""

import difflib
import json
import math
import re
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

import numpy as np

from .spec_errors import SpecError

__all__ = ["SCHEMA_IDS", "SCHEMA_NAMES", "CLAIMS_VERSION", "json_schema", "check_spec", "check_cases", "check_claims", "plain", "did_you_mean"]

#: Version of the claims format (the optional top-level ``version`` of a claims file).
CLAIMS_VERSION = 1
#: ``$id`` of the published schemas: URNs (RFC 8141), names that do not pretend to be web addresses; JSON
#: Schema 2020-12 takes any absolute URI as ``$id`` (section 8.2.1).  The last part is the format's version
#: (:data:`~nent_ref.suites.spec_vocabulary.SPEC_VERSION`, :data:`CLAIMS_VERSION`).  The schemas ship as
#: nent_ref/reference/schemas/{spec,claims}.schema.json.
SCHEMA_IDS = {"spec": "urn:nent-ref:schema:spec:1", "claims": f"urn:nent-ref:schema:claims:{CLAIMS_VERSION}"}
#: The schemas ``nent-ref schema`` prints.
SCHEMA_NAMES = tuple(SCHEMA_IDS)

_JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def did_you_mean(word: str, choices) -> str:
    """``"; did you mean 'x'?"`` for the closest choice (spelling, or a choice the word starts with), else ``""``.

    The hint that every unknown-name error of the spec and claims formats appends (spec keys, kinds, presets,
    quantities, units; claim keys)."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1) or sorted(
        (c for c in choices if len(c) >= 3 and (word.startswith(c) or c.startswith(word))), key=len, reverse=True)[:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def plain(doc):
    """A copy of ``doc`` in JSON's types: numpy arrays and scalars become lists and Python numbers, tuples
    lists (what the models validate; a spec built in Python may hold numpy arrays)."""
    if isinstance(doc, dict):
        return {k: plain(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [plain(v) for v in doc]
    if isinstance(doc, np.ndarray):
        return doc.tolist() if doc.dtype.kind in "fiub" else [plain(v) for v in doc.tolist()]
    if isinstance(doc, np.generic):
        return doc.item()
    return doc


# The models are built on first use: pydantic is imported only by code that reads specs or claims.
_MODELS: dict = {}


def _models() -> dict:
    if not _MODELS:
        _MODELS.update(_build_models())
    return _MODELS


def _build_models() -> dict:                       # noqa: C901 - one place that says what a spec is
    from pydantic import (BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictFloat, StrictInt,
                          StrictStr, Tag, TypeAdapter, ValidationError, WrapValidator, model_validator)
    from pydantic_core import PydanticCustomError

    from ..quantities.mixture_entropy import MIN_MC_SAMPLES
    from .spec_vocabulary import MODEL_QUANTITIES, QUANTITIES, SPEC_VERSION

    def at(where: str, message: str, **ctx):
        """An error of a validator located at ``where`` (a key or path relative to the object validated, ``""``
        for the object itself): the message template is filled from ``ctx``."""
        return PydanticCustomError("nent_ref_at", message, {"at": where, **ctx})

    def say(what: str, *, inner=False):
        """A wrapper replacing errors by ``must be <what> (got <input>)``: those located at the field itself;
        with ``inner=True`` all of them; with ``inner="shape"`` all unless every one is a misplaced number
        (which keeps its own index, ``data.mean[0]``)."""
        def wrap(value, handler):
            try:
                return handler(value)
            except ValidationError as exc:
                errs = exc.errors()
                replace = (inner is True or any(not e["loc"] for e in errs)
                           or (inner == "shape" and not all(e["type"] == "float_type" for e in errs)))
                if replace:
                    raise PydanticCustomError("nent_ref", "must be {what} (got {got})",
                                              {"what": what, "got": _short(value)}) from None
                raise
        return WrapValidator(wrap)

    Num = StrictFloat                                # an int or a float, never a bool or a string
    Finite = Annotated[StrictFloat, Field(allow_inf_nan=False)]      # a scalar parameter: finite
    Pos = Annotated[Finite, Field(gt=0)]
    NonNeg = Annotated[Finite, Field(ge=0)]
    Vector = Annotated[list[Num], Field(min_length=1)]
    Matrix = Annotated[list[Vector], Field(min_length=1)]
    Tensor3 = Annotated[list[Matrix], Field(min_length=1)]
    Name = Annotated[StrictStr, Field(min_length=1)]
    Sha256 = Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F]{64}$"),
                       say("a sha256 hex digest of 64 characters", inner=True)]
    Seed = Annotated[Union[Annotated[StrictInt, Field(ge=0)], Annotated[list[Annotated[StrictInt, Field(ge=0)]],
                                                                          Field(min_length=1)]],
                     say("an integer >= 0 or a non-empty list of them", inner=True),
                     Field(description="numpy SeedSequence entropy: an integer >= 0 or a list of them")]

    def arr(base, what):
        return Annotated[base, say(what, inner="shape")]

    def array(obj, key, what):
        """The numbers of ``obj.<key>`` (nested lists) as a float array: a located error when the lists are
        ragged or a number is not finite (JSON Schema says neither)."""
        try:
            a = np.array(getattr(obj, key), dtype=float)
        except ValueError:
            raise at(key, "must be {what}: the nested lists have unequal lengths", what=what) from None
        if not np.all(np.isfinite(a)):
            raise at(key, "contains NaN or inf")
        return a

    def given(*keys):
        """JSON Schema: every key of ``keys`` is present and not null (what the models call given)."""
        return {"required": list(keys), "properties": {k: {"not": {"type": "null"}} for k in keys}}

    def one_of(*keys):
        """JSON Schema: exactly one of ``keys`` given."""
        return {"oneOf": [given(k) for k in keys]}

    class Obj(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False, protected_namespaces=())
        #: appended to the message of an unknown key (what this object is not)
        unknown_note: ClassVar[str] = ""

        @model_validator(mode="before")
        @classmethod
        def _known_keys(cls, value):
            if isinstance(value, dict):
                allowed = [f.alias or n for n, f in cls.model_fields.items()]
                for key in value:
                    if key not in allowed:
                        raise PydanticCustomError(
                            "unknown_key", "unknown key {key} (allowed here: {allowed}){hint}{note}",
                            {"key": repr(key), "name": key, "allowed": ", ".join(allowed),
                             "hint": did_you_mean(str(key), allowed), "note": cls.unknown_note})
            return value

        def given(self, key) -> bool:
            return getattr(self, key) is not None

    def by_kind(members: dict, what: str):
        """A union of objects told apart by their ``kind`` (``members``: kind -> model; a model may serve
        several kinds)."""
        tags = {}
        for kind, model in members.items():
            tags.setdefault(model, f"<{kind}>")

        def tag(v):
            kind = v.get("kind") if isinstance(v, dict) else None
            return tags[members[kind]] if isinstance(kind, str) and kind in members else None
        tagged = [Annotated[m, Tag(t)] for m, t in tags.items()]
        return Annotated[Union[tuple(tagged)], Discriminator(
            tag, custom_error_type="unknown_kind", custom_error_message="kind must be one of {choices}",
            custom_error_context={"choices": ", ".join(members), "what": what})]

    SCHEMA_KEY_DOC = "the JSON Schema this file follows (how editors find it; not read by nent_ref)"
    preset_field = Optional[Name]
    PRESET_DOC = "label: the name of the preset these numbers are (checked within its tolerance)"

    class GaussianData(Obj):
        """A Gaussian N(mean, cov) in D dimensions."""
        kind: Literal["gaussian"]
        mean: arr(Vector, "a vector (D,) of numbers")
        cov: arr(Matrix, "a (D, D) matrix of numbers") = Field(description="positive definite (D, D)")
        preset: preset_field = Field(None, description=PRESET_DOC)

        @model_validator(mode="after")
        def _shapes(self):
            D = array(self, "mean", "a vector (D,)").size
            cov = array(self, "cov", f"a ({D}, {D}) matrix")
            if cov.shape != (D, D):
                raise at("cov", "must have shape ({D}, {D}) to match the mean (got {shape})", D=D, shape=cov.shape)
            return self

    class DiracData(Obj):
        """One atom at ``point``."""
        kind: Literal["dirac"]
        point: arr(Vector, "a vector (D,) of numbers")
        preset: preset_field = Field(None, description=PRESET_DOC)

        @model_validator(mode="after")
        def _finite(self):
            array(self, "point", "a vector (D,)")
            return self

    Spread = Annotated[Union[Vector, Matrix], say("a (K,) or (K, D) array of numbers", inner=True)]

    class MixtureData(Obj):
        """A Gaussian mixture: weights (K,), means (K, D) and exactly one of covs (K, D, D), variances or stds
        ((K,) isotropic or (K, D) diagonal)."""
        kind: Literal["mixture"]
        weights: arr(Vector, "a vector (K,) of numbers") = Field(description="K weights summing to one")
        means: arr(Matrix, "a (K, D) matrix of numbers")
        covs: Optional[arr(Tensor3, "(K, D, D) covariance matrices")] = None
        variances: Optional[Spread] = None
        stds: Optional[Spread] = None
        preset: preset_field = Field(None, description=PRESET_DOC)
        model_config = ConfigDict(json_schema_extra=one_of("covs", "variances", "stds"))

        @model_validator(mode="after")
        def _one_spread(self):
            spreads = [k for k in ("covs", "variances", "stds") if self.given(k)]
            if len(spreads) != 1:
                raise at("", "give exactly one of covs, variances or stds (got {got})",
                         got=", ".join(spreads) or "none")
            w = array(self, "weights", "a vector (K,)")
            K, D = array(self, "means", "a (K, D) matrix").shape
            if w.size != K:
                raise at("weights", "has {n} entries but means has {K} rows (components)", n=w.size, K=K)
            spread = spreads[0]
            if spread == "covs":
                shape, want = array(self, spread, f"({K}, {D}, {D}) covariance matrices").shape, f"({K}, {D}, {D})"
                ok = shape == (K, D, D)
            else:
                shape = array(self, spread, f"a ({K},) or ({K}, {D}) array").shape
                ok, want = shape in ((K,), (K, D)), f"({K},) (isotropic) or ({K}, {D}) (diagonal)"
            if not ok:
                raise at(spread, "must have shape {want} to match means of shape ({K}, {D}) (got {shape})",
                         want=want, K=K, D=D, shape=shape)
            return self

    class PresetData(Obj):
        """A named data preset (``nent-ref table --suite presets`` lists them)."""
        kind: Literal["preset"]
        name: Name

    sample_kinds = {"gaussian": GaussianData, "dirac": DiracData, "mixture": MixtureData, "preset": PresetData}
    SampleData = by_kind(sample_kinds, "data")

    class Generator(Obj):
        """Atoms drawn from ``sample`` (gaussian, dirac, mixture or their preset) with a seeded generator."""
        sample: SampleData
        n: Annotated[StrictInt, Field(ge=1)]
        seed: Seed

    Pair = Annotated[list[Num], Field(min_length=2, max_length=2), say("two numbers [low, high]", inner=True)]

    class Scale(Obj):
        """The training scaling of stored values: [low, high] mapped affinely onto [low', high'] (low < high)."""
        from_: Pair = Field(alias="from")
        to: Pair

        @model_validator(mode="after")
        def _ordered(self):
            for key, pair in (("from", self.from_), ("to", self.to)):
                if not (math.isfinite(pair[0]) and math.isfinite(pair[1]) and pair[0] < pair[1]):
                    raise at(key, "must be [low, high] with low < high (got {got})", got=_short(pair))
            return self

    npy_file = r"\.([nN][pP][yYzZ]|[cC][sS][vV])$"

    class EmpiricalData(Obj):
        """Equally (or ``weights``-) weighted atoms: inline ``points``, a ``file`` (.npy, .npz, .csv) with its
        ``sha256``, or a ``generator``."""
        kind: Literal["empirical"]
        points: Optional[arr(Matrix, "an (N, D) array of atoms")] = None
        weights: Optional[arr(Vector, "a vector (N,) of numbers")] = None
        file: Optional[Annotated[Name, Field(pattern=npy_file), say("a .npy, .npz or .csv file", inner=True)]] = \
            Field(None, description="a .npy, .npz or .csv file, relative to the spec's directory")
        sha256: Optional[Sha256] = Field(None, description="sha256 of the file's bytes (required with file)")
        array: Optional[Name] = Field(None, description="the array inside a .npz file")
        generator: Optional[Generator] = None
        points_sha256: Optional[Sha256] = Field(None, description="sha256 of the atoms as little-endian float64")
        provenance: Optional[Annotated[Union[StrictStr, dict[str, Any]], say("a string or an object (free-form, "
                                                                             "not interpreted)", inner=True)]] = None
        scale: Optional[Scale] = None
        model_config = ConfigDict(json_schema_extra={"allOf": [
            one_of("points", "file", "generator"),
            {"if": given("file"), "then": given("sha256")},
            *({"if": given(k), "then": given("file")} for k in ("sha256", "array")),
            *({"if": given("generator"), "then": {"not": given(k)}} for k in ("weights", "scale"))]})

        @model_validator(mode="after")
        def _one_source(self):
            sources = [k for k in ("points", "file", "generator") if self.given(k)]
            if len(sources) != 1:
                raise at("", "empirical data need exactly one of points (inline), file (+ sha256) or generator "
                             "(got {got})", got=", ".join(sources) or "none")
            src = sources[0]
            if src == "file" and not self.given("sha256"):
                raise at("sha256", "missing (required with file: the sha256 of the file's bytes, as printed by "
                                   "sha256sum)")
            for key in ("sha256", "array"):
                if self.given(key) and src != "file":
                    raise at(key, "only goes with file")
            if self.given("array") and not self.file.lower().endswith(".npz"):
                raise at("array", "names an array inside a .npz file; this file is {suffix}",
                         suffix=self.file[self.file.rfind("."):])
            if src == "generator" and self.given("weights"):
                raise at("weights", "generated atoms are equally weighted; drop weights")
            if src == "generator" and self.given("scale"):
                raise at("scale", "applies to stored values (points or file), not generated ones")
            if src == "points":
                array(self, "points", "an (N, D) array of atoms")
            if self.given("weights"):
                array(self, "weights", "a vector (N,)")
            if src == "points" and self.given("weights") and len(self.weights) != len(self.points):
                raise at("weights", "has {n} entries but there are {m} points", n=len(self.weights),
                         m=len(self.points))
            return self

    Data = by_kind({**{k: v for k, v in sample_kinds.items() if k != "preset"}, "empirical": EmpiricalData,
                    "preset": PresetData}, "data")

    class ProcessPreset(Obj):
        """A named process preset (vp16, vp20, vpx, vp-cosine, sl, ve, ...)."""
        kind: Literal["preset"]
        name: Name

    lin_or_cos = "'linear' or 'cosine' (or a schedule object)"

    class VPLinear(Obj):
        """VP with the linear schedule beta(s) = beta_min + (beta_max - beta_min) s / T, drift strength kappa."""
        kind: Literal["vp"]
        schedule: Annotated[Literal["linear"], say(lin_or_cos)]
        beta_min: NonNeg
        beta_max: Pos
        kappa: Pos
        T: Optional[Pos] = None
        preset: preset_field = Field(None, description=PRESET_DOC)

    class VPCosine(Obj):
        """VP with the cosine schedule of offset ``offset``."""
        kind: Literal["vp"]
        schedule: Literal["cosine"]
        offset: Pos
        kappa: Pos
        T: Optional[Pos] = None
        preset: preset_field = Field(None, description=PRESET_DOC)

    class TableSchedule(Obj):
        """A tabulated schedule: values of alpha_bar, betas, log-SNR or sigma at the nodes ``s`` (default
        equally spaced on [0, 1])."""
        kind: Literal["alpha_bar", "betas", "log_snr", "sigma"]
        values: arr(Vector, "a table (N,) of numbers")
        s: Optional[arr(Vector, "the nodes (N,)")] = None

        @model_validator(mode="after")
        def _finite(self):
            array(self, "values", "a table (N,)")
            if self.s is not None:
                array(self, "s", "the nodes (N,)")
            return self

    class DiffusersSchedule(Obj):
        """A diffusers DDPM scheduler configuration (defaults: 1000 steps, 1e-4 .. 0.02, linear)."""
        kind: Literal["diffusers"]
        num_train_timesteps: Optional[Annotated[StrictInt, Field(ge=1)]] = None
        beta_start: Optional[Pos] = None
        beta_end: Optional[Pos] = None
        beta_schedule: Optional[Name] = None

    class VPTable(Obj):
        """VP with a schedule object (tabulated or diffusers)."""
        kind: Literal["vp"]
        schedule: by_kind({"alpha_bar": TableSchedule, "betas": TableSchedule, "log_snr": TableSchedule,
                           "sigma": TableSchedule, "diffusers": DiffusersSchedule}, "schedule")
        kappa: Optional[Pos] = None

    class EDMSchedule(Obj):
        """The EDM noise level sigma(s) = sigma_max s (default sigma_max = 80)."""
        kind: Literal["edm"]
        sigma_max: Optional[Pos] = None

    class SigmaSchedule(Obj):
        """A tabulated noise level sigma at the nodes ``s``."""
        kind: Literal["sigma"]
        values: arr(Vector, "a table (N,) of numbers")
        s: Optional[arr(Vector, "the nodes (N,)")] = None

        @model_validator(mode="after")
        def _finite(self):
            array(self, "values", "a table (N,)")
            if self.s is not None:
                array(self, "s", "the nodes (N,)")
            return self

    class SL(Obj):
        """The stochastic-localisation process with noise scale sigma0."""
        kind: Literal["sl"]
        sigma0: Pos
        preset: preset_field = Field(None, description=PRESET_DOC)

    class VE(Obj):
        """The geometric variance-exploding process sigma_min .. sigma_max."""
        kind: Literal["ve"]
        sigma_min: Pos
        sigma_max: Pos
        preset: preset_field = Field(None, description=PRESET_DOC)

    class VETable(Obj):
        """VE with a schedule object (EDM or tabulated sigma)."""
        kind: Literal["ve"]
        schedule: by_kind({"edm": EDMSchedule, "sigma": SigmaSchedule}, "schedule")

    def process_tag(v):
        if isinstance(v, str):
            return "<shorthand>"
        if not isinstance(v, dict):
            return None
        kind, sched = v.get("kind"), v.get("schedule")
        if kind == "vp":
            return "<vp-table>" if isinstance(sched, dict) else "<vp-cosine>" if sched == "cosine" else "<vp-linear>"
        if kind == "ve":
            return "<ve-table>" if sched is not None else "<ve>"
        return {"sl": "<sl>", "preset": "<preset>"}.get(kind)

    Process = Annotated[Union[
        Annotated[Name, Tag("<shorthand>"), Field(description="a process preset's name")],
        Annotated[ProcessPreset, Tag("<preset>")], Annotated[VPLinear, Tag("<vp-linear>")],
        Annotated[VPCosine, Tag("<vp-cosine>")], Annotated[VPTable, Tag("<vp-table>")], Annotated[SL, Tag("<sl>")],
        Annotated[VE, Tag("<ve>")], Annotated[VETable, Tag("<ve-table>")]],
        Discriminator(process_tag, custom_error_type="unknown_kind",
                      custom_error_message="kind must be one of {choices}",
                      custom_error_context={"choices": "vp, sl, ve, preset", "what": "process"})]

    class Window(Obj):
        """The window [s0, s1] of forward time (s0 < s1 <= T of the process)."""
        s0: NonNeg
        s1: NonNeg

        @model_validator(mode="after")
        def _ordered(self):
            if not self.s0 < self.s1:
                raise at("s0", "must be below s1 = {s1} (got {s0})", s1=repr(self.s1), s0=repr(self.s0))
            return self

    def quantity_item(names, *, checkable_only=False):
        def wrap(value, handler):
            if not isinstance(value, str):
                raise PydanticCustomError("nent_ref", "must be a quantity name, a string (got {got}; choose from "
                                                      "{choices})", {"got": f"{type(value).__name__} {value!r:.60}",
                                                                     "choices": ", ".join(names)})
            if checkable_only and value in QUANTITIES and not QUANTITIES[value].checkable:
                raise PydanticCustomError("nent_ref", "{q} is a group of columns, not one number; claim its "
                                                      "parts' quantities instead", {"q": repr(value)})
            if value not in names:
                raise PydanticCustomError("nent_ref", "unknown quantity {q} (choose from {choices}){hint}",
                                          {"q": repr(value), "choices": ", ".join(names),
                                           "hint": did_you_mean(value, names)})
            return handler(value)
        return Annotated[Literal[tuple(names)], WrapValidator(wrap)]

    Quantity = quantity_item(list(QUANTITIES))
    Unit = Annotated[Literal["nat", "nats", "bit", "bits"], say("'nat' or 'bit'")]

    class Accuracy(Obj):
        """How precisely to compute (defaults filled into the canonical form; docs/specs.md)."""
        method: Optional[Literal["auto", "closed-form", "quadrature", "monte-carlo"]] = None
        n_samples: Optional[Annotated[StrictInt, Field(ge=MIN_MC_SAMPLES)]] = None
        seed: Optional[Seed] = None
        rtol: Optional[Annotated[Finite, Field(ge=0, lt=1), say("in [0, 1)")]] = None
        atol: Optional[NonNeg] = None
        max_samples: Optional[Annotated[StrictInt, Field(ge=MIN_MC_SAMPLES)]] = None
        w2_method: Optional[Literal["auto", "closed-form", "quantile", "samples"]] = None
        w2_samples: Optional[Annotated[StrictInt, Field(ge=2)]] = None
        w2_pairs: Optional[Annotated[StrictInt, Field(ge=2)]] = None
        w2_seed: Optional[Seed] = None
        model_config = ConfigDict(json_schema_extra={"allOf": [
            {"if": {"required": ["rtol"], "properties": {"rtol": {"const": 0}}},
             "then": {"required": ["atol"], "properties": {"atol": {"exclusiveMinimum": 0}}}},
            {"if": {**given("max_samples", "n_samples"), "not": {"anyOf": [given("rtol"), given("atol")]}},
             "then": False}]})

        @model_validator(mode="after")
        def _target(self):
            if self.rtol == 0 and not self.atol:
                raise at("rtol", "rtol = 0 needs a positive atol (a precision target of zero is never met)")
            if (self.given("max_samples") and self.given("n_samples") and not self.given("rtol")
                    and not self.given("atol")):
                raise at("max_samples", "caps a run to a precision target (rtol/atol); with a fixed n_samples and no "
                                        "target it has no effect: give one or the other")
            return self

    GridN = Annotated[StrictInt, Field(ge=2, le=4096), say("an integer in [2, 4096]")]

    class LogGrid(Obj):
        """``n`` times from ``s0 + first (s1 - s0)`` to ``s1``, equally spaced in log(s - s0) (the default grid)."""
        spacing: Optional[Annotated[Literal["log"], say("'log' or 'linear'")]] = None
        n: Optional[GridN] = None
        first: Optional[Annotated[Finite, Field(gt=0, lt=1), say("a number in (0, 1), the first step as a "
                                                                 "fraction of the window")]] = None

    class LinearGrid(Obj):
        """``n`` equally spaced times from s0 to s1."""
        unknown_note: ClassVar[str] = "; first only goes with spacing 'log'"
        spacing: Literal["linear"]
        n: Optional[GridN] = None

    class TimesGrid(Obj):
        """Explicit times, strictly increasing, inside the window [s0, s1]."""
        unknown_note: ClassVar[str] = "; an explicit grid takes times only (drop n, spacing, first)"
        times: arr(Vector, "a non-empty list of numbers")

        @model_validator(mode="after")
        def _increasing(self):
            if not all(math.isfinite(t) for t in self.times):
                raise at("times", "must be finite")
            if any(b <= a for a, b in zip(self.times, self.times[1:])):
                raise at("times", "must be strictly increasing")
            return self

    def grid_tag(v):
        if not isinstance(v, dict):
            return "<log>"                         # reported as not an object
        if v.get("times") is not None:
            return "<times>"
        return "<linear>" if v.get("spacing") == "linear" else "<log>"

    Grid = Annotated[Union[Annotated[LogGrid, Tag("<log>")], Annotated[LinearGrid, Tag("<linear>")],
                           Annotated[TimesGrid, Tag("<times>")]],
                     Discriminator(grid_tag), Field(description="the times of grid quantities (docs/specs.md)")]

    target_pattern = r"^[^:]+:[^:.]+(\.[^:.]+)*$"

    def target_check(at_key):
        def wrap(value, handler):
            if isinstance(value, str) and not re.match(target_pattern, value):
                raise at(at_key, "must have the form package.module:function (got {got})", got=_short(value))
            return handler(value)
        return WrapValidator(wrap)

    target_doc = {"description": "package.module:function of the score model (or of its factory)"}
    Target = Annotated[Name, Field(pattern=target_pattern, json_schema_extra=target_doc)]

    class Model(Obj):
        """The score model of S_NN, L_EM and decomposition (the options of ``nent-ref validate``)."""
        target: Annotated[Target, target_check("")]
        factory: Optional[StrictBool] = None
        score: Optional[StrictBool] = None
        n_samples: Optional[Annotated[StrictInt, Field(ge=2)]] = None
        n_times: Optional[Annotated[StrictInt, Field(ge=1)]] = None
        rtol: Optional[Annotated[Finite, Field(gt=0), say("a positive number")]] = None
        atol: Optional[Annotated[Finite, Field(gt=0), say("a positive number")]] = None
        seed: Optional[Seed] = None
        batch_size: Optional[Annotated[StrictInt, Field(ge=1)]] = None

    ModelField = Annotated[Union[Annotated[Target, target_check("target"), Tag("<shorthand>")],
                                 Annotated[Model, Tag("<object>")]],
                           Discriminator(lambda v: "<shorthand>" if isinstance(v, str) else "<object>")]

    class Spec(Obj):
        """A nent_ref case specification: everything a ground-truth number depends on (docs/specs.md)."""
        schema_: Optional[StrictStr] = Field(None, alias="$schema", description=SCHEMA_KEY_DOC)
        version: Optional[Annotated[Literal[SPEC_VERSION], say(f"spec version {SPEC_VERSION}, the one this "
                                                                f"nent_ref reads")]] = None
        id: Optional[Name] = None
        description: Optional[Name] = None
        data: Data
        process: Process
        window: Window
        quantities: Optional[Annotated[list[Quantity], Field(min_length=1, json_schema_extra={"uniqueItems": True}),
                                       say("a non-empty list of quantity names")]] = None
        unit: Optional[Unit] = None
        accuracy: Optional[Accuracy] = None
        grid: Optional[Grid] = None
        model: Optional[ModelField] = None
        model_config = ConfigDict(json_schema_extra={"if": {"required": ["quantities"], "properties": {
            "quantities": {"contains": {"enum": list(MODEL_QUANTITIES)}}}}, "then": given("model")})

        @model_validator(mode="after")
        def _relations(self):
            """Quantities listed once; a model when a model quantity is asked for; grid times in the window."""
            qs = self.quantities or []
            for i, q in enumerate(qs):
                if q in qs[:i]:
                    raise at(f"quantities[{i}]", "{q} is listed twice", q=repr(q))
            modelled = [q for q in qs if q in MODEL_QUANTITIES]
            if modelled and self.model is None:
                raise at("model", "missing (required by {q}: \"package.module:function\" of the score model)",
                         q=modelled[0])
            if isinstance(self.grid, TimesGrid):
                s0, s1, t = self.window.s0, self.window.s1, self.grid.times
                if t[0] < s0 or t[-1] > s1:
                    raise at("grid.times", "must lie in the window [s0, s1] = [{s0}, {s1}] (got {lo} .. {hi})",
                             s0=f"{s0:g}", s1=f"{s1:g}", lo=f"{t[0]:g}", hi=f"{t[-1]:g}")
            return self

    checkable = [n for n, q in QUANTITIES.items() if q.checkable]

    class Claim(Obj):
        """One claimed number: a case (its id, or its own spec), a quantity, its value and uncertainties."""
        case: Optional[Name] = Field(None, description="an id of the cases (give case or spec)")
        spec: Optional[Spec] = Field(None, description="a full case specification (give case or spec)")
        quantity: quantity_item(checkable, checkable_only=True)
        value: Optional[StrictFloat] = Field(description="the claimed value (null: infinite)")
        stderr: Optional[NonNeg] = None
        error_bound: Optional[NonNeg] = None
        digits: Optional[Annotated[StrictInt, Field(ge=1, le=17), say(
            "the number of significant digits of the value, an integer in [1, 17]")]] = None
        unit: Optional[Unit] = None
        note: Optional[StrictStr] = None
        model_config = ConfigDict(json_schema_extra=one_of("case", "spec"))

        @model_validator(mode="after")
        def _one_case(self):
            if self.given("case") == self.given("spec"):
                raise at("", "give exactly one of case (an id of the cases) or spec (a full case specification)")
            if self.digits is not None and self.value == 0:
                raise at("digits", "a value of 0 has no significant digits; give an error_bound instead")
            return self

    Claims = Annotated[list[Claim], Field(min_length=1), say("a non-empty list of claims")]

    class ClaimsFile(Obj):
        """Claimed numbers of another implementation, graded by ``nent-ref check`` (docs/conformance.md)."""
        schema_: Optional[StrictStr] = Field(None, alias="$schema", description=SCHEMA_KEY_DOC)
        format: Optional[StrictStr] = None
        version: Optional[StrictInt] = None
        implementation: Optional[StrictStr] = None
        description: Optional[StrictStr] = None
        claims: Claims

    class CasesFile(Obj):
        """Several specs (``nent-ref conformance --emit`` writes this form)."""
        schema_: Optional[StrictStr] = Field(None, alias="$schema", description=SCHEMA_KEY_DOC)
        format: Optional[StrictStr] = None
        version: Optional[StrictInt] = None
        description: Optional[StrictStr] = None
        cases: Annotated[list[Spec], Field(min_length=1), say("a non-empty list of specs")]

    ClaimsDoc = Union[ClaimsFile, Claims]
    SpecDoc = Union[Spec, Annotated[list[Spec], Field(min_length=1)], CasesFile]
    return {"grid": TypeAdapter(Grid), "model": TypeAdapter(ModelField),
            "spec": TypeAdapter(Spec), "claims": TypeAdapter(ClaimsFile), "claims_list": TypeAdapter(Claims),
            "spec_doc": TypeAdapter(SpecDoc), "cases": TypeAdapter(CasesFile), "claims_doc": TypeAdapter(ClaimsDoc),
            "ValidationError": ValidationError}


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- errors
def _field_path(err: dict, doc, prefix: str) -> str:
    """The dotted/indexed path of a pydantic error in the document (union tags ``<...>`` dropped)."""
    path, node = prefix, doc
    loc = err["loc"]
    for i, el in enumerate(loc):
        if isinstance(el, str) and el.startswith("<") or isinstance(el, str) and el.startswith(("function-", "json-")):
            continue
        if isinstance(node, dict) and el in node:
            node = node[el]
        elif isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node):
            node = node[el]
        elif not (i == len(loc) - 1 and err["type"] == "missing"):
            continue
        path = f"{path}[{el}]" if isinstance(el, int) else (f"{path}.{el}" if path else str(el))
    return path


def _join(path: str, key: str) -> str:
    if key.startswith("["):
        return f"{path}{key}"
    return f"{path}.{key}" if path else key


def _message(err: dict) -> tuple[str, str]:
    """(path suffix, message) of one pydantic error in the spec formats' wording."""
    t, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    if t == "nent_ref_at":
        return ctx["at"], err["msg"]
    if t == "finite_number":
        return "", f"must be finite (got {_short(got)})"
    if t == "unknown_key":
        return str(ctx["name"]), err["msg"]
    if t == "unknown_kind":
        kind = got.get("kind") if isinstance(got, dict) else None
        if not isinstance(got, dict):
            return "", f"must be an object (a JSON {{...}} / TOML table), got {type(got).__name__}"
        hint = did_you_mean(kind, ctx["choices"].split(", ")) if isinstance(kind, str) else ""
        return "kind", f"must be one of {ctx['choices']} (got {kind!r}){hint}"
    if t == "missing":
        return "", "missing (required)"
    if t in ("model_type", "model_attributes_type", "dict_type"):
        return "", f"must be an object (a JSON {{...}} / TOML table), got {type(got).__name__}"
    if t in ("float_type", "float_parsing"):
        return "", f"must be a number (got {_short(got)})"
    if t in ("int_type", "int_from_float", "int_parsing"):
        return "", f"must be an integer (got {_short(got)})"
    if t in ("string_type", "str_type"):
        return "", f"must be a string (got {_short(got)})"
    if t == "bool_type":
        return "", f"must be true or false (got {_short(got)})"
    if t == "list_type":
        return "", f"must be a list (got {_short(got)})"
    if t == "literal_error":
        return "", f"must be one of {ctx.get('expected')} (got {_short(got)})"
    if t == "too_short":
        return "", f"must not be empty (got {_short(got)})"
    if t == "string_too_short":
        return "", f"must be a non-empty string (got {_short(got)})"
    for key, word in (("greater_than_equal", ">="), ("greater_than", ">"), ("less_than_equal", "<="),
                      ("less_than", "<")):
        if t == key:
            bound = next(iter(ctx.values()))
            return "", f"must be {word} {bound} (got {_short(got)})"
    return "", err["msg"]


def _raise_first(exc, doc, prefix: str):
    errs = exc.errors(include_url=False)
    # an unknown key or kind says the most; then the first error in document order
    err = next((e for e in errs if e["type"] in ("unknown_key", "unknown_kind")), errs[0])
    suffix, msg = _message(err)
    path = _field_path(err, doc, prefix)
    raise SpecError(_join(path, suffix) if suffix else (path or prefix), msg) from None


def _validate(adapter: str, doc, prefix: str):
    """Validate ``doc`` with one of the adapters; a document holding numpy arrays, numpy scalars or tuples is
    validated again in JSON types (:func:`plain`) before its first error is raised as a SpecError."""
    m = _models()
    try:
        m[adapter].validate_python(doc)
        return doc
    except m["ValidationError"]:
        pass
    doc = plain(doc)
    try:
        m[adapter].validate_python(doc)
        return doc
    except m["ValidationError"] as exc:
        if adapter == "spec" and not isinstance(doc, dict):
            raise SpecError(prefix or "spec", f"must be an object (a JSON {{...}} / TOML table), got "
                                              f"{type(doc).__name__}") from None
        _raise_first(exc, doc, prefix)


def check_spec(doc, path: str = ""):
    """Check the structure of one spec against the models (:class:`SpecError` naming the field otherwise);
    returns the document, in JSON types (:func:`plain`) when it held numpy values."""
    return _validate("spec", doc, path)


def check_grid(doc, path: str = "grid"):
    """Check a spec's ``grid`` alone (:class:`SpecError` naming ``path`` and the field otherwise); the window
    of explicit times is checked with the spec (:func:`check_spec`)."""
    return _validate("grid", doc, path)


def check_model(doc, path: str = "model"):
    """Check a spec's ``model`` alone (``"package.module:function"`` or an object with ``target`` and the
    options of ``nent-ref validate``)."""
    return _validate("model", doc, path)


def check_cases(doc):
    """Check a ``{"cases": [spec, ...], ...}`` document: the wrapper's keys and every spec (field paths
    ``cases[2].window.s0``); returns the document (see :func:`check_spec`)."""
    return _validate("cases", doc, "")


def check_claims(doc):
    """Check the structure of a claims document (``{"claims": [...], ...}`` or a bare list of claims),
    including each claim's spec; returns the document (see :func:`check_spec`)."""
    if isinstance(doc, dict):
        return _validate("claims", doc, "")
    if not isinstance(doc, list):
        raise SpecError("claims", "must be a non-empty list of claims")
    return _validate("claims_list", doc, "claims")


# --------------------------------------------------------------------------- the published schemas
def json_schema(name: str) -> dict:
    """The JSON Schema (draft 2020-12) of ``"spec"`` (a spec file: one spec, a list of specs, or
    ``{"cases": [...]}``) or ``"claims"`` (a claims file)."""
    if name not in SCHEMA_IDS:
        raise ValueError(f"schema: unknown schema {name!r} (choose from {', '.join(SCHEMA_IDS)})")
    m = _models()
    adapter = m["spec_doc"] if name == "spec" else m["claims_doc"]
    body = adapter.json_schema(ref_template="#/$defs/{model}")
    title = {"spec": "nent_ref case specification", "claims": "nent_ref claims file"}[name]
    desc = {"spec": "One case specification (data, process, window, quantities, unit, accuracy, grid, model), a "
                    "list of them, or {\"cases\": [...]}. Shapes that must agree, positive definiteness and "
                    "parameter relations are checked by nent-ref itself (docs/specs.md).",
            "claims": "Claimed numbers of another implementation, graded by `nent-ref check` against nent_ref's "
                      "reference (docs/conformance.md)."}[name]
    out = {"$schema": _JSON_SCHEMA_DIALECT, "$id": SCHEMA_IDS[name], "title": title, "description": desc}
    out.update({k: v for k, v in body.items() if k not in ("title", "description")})
    return out


def dumps_schema(name: str) -> str:
    """:func:`json_schema` as the text that ships in nent_ref/reference/schemas/ (sorted keys, indent 1)."""
    return json.dumps(json_schema(name), indent=1, sort_keys=True) + "\n"
