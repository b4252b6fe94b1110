"""The published JSON Schemas of spec and claims files (nent_ref/suites/spec_schema.py, issue 22): shipped
files equal what the models generate, they accept every valid spec (the docs' examples, the shipped table's
specs, their canonical forms) and reject bad ones, and the model errors are located with did-you-mean hints."""
import copy
import functools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from nent_ref.suites import conformance, spec_schema, specs, tables
from nent_ref.suites.specs import SpecError, normalize_spec

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "nent_ref" / "reference" / "schemas"


@functools.cache
def _validator(name):
    """The shipped schema's validator, built once per worker: checking a schema against the 2020-12
    metaschema costs about 0.5 s, and the shipped files do not change during a run."""
    schema = json.loads((SHIPPED / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _doc_blocks(path, lang):
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / path).read_text(), flags=re.S)


@pytest.mark.parametrize("name", spec_schema.SCHEMA_NAMES)
def test_shipped_schemas_are_what_the_models_generate(name):
    assert (SHIPPED / f"{name}.schema.json").read_text() == spec_schema.dumps_schema(name), \
        f"regenerate with: nent-ref schema {name} --out nent_ref/reference/schemas/{name}.schema.json"
    schema = spec_schema.json_schema(name)
    version = {"spec": specs.SPEC_VERSION, "claims": spec_schema.CLAIMS_VERSION}[name]
    assert schema["$schema"].endswith("2020-12/schema") and schema["$id"] == f"urn:nent-ref:schema:{name}:{version}"
    assert schema["title"] and schema["description"]


def test_schema_accepts_the_docs_and_shipped_specs_and_their_canonical_forms():
    v = _validator("spec")
    docs = [json.loads(b) for b in _doc_blocks("docs/specs.md", "json")]
    tomllib = pytest.importorskip("tomllib")
    docs += [tomllib.loads(b) for b in _doc_blocks("docs/specs.md", "toml")]
    shipped = [r["spec"] for r in tables.shipped_table()["rows"]]
    canonical = conformance.canonical_cases()
    assert docs and len(shipped) > 50
    for doc in docs + shipped + canonical:
        errors = list(v.iter_errors(doc))
        assert not errors, (doc.get("id"), errors[0].message)
        canon = normalize_spec(doc)
        assert not list(v.iter_errors(canon)), canon.get("id")
    assert not list(v.iter_errors({"cases": canonical, "format": "nent_ref-cases", "version": 1}))
    assert not list(v.iter_errors(canonical))                  # a list of specs


BAD_SPECS = [
    ("colour", {"colour": "red"}), ("data.covariance", {"data": {"kind": "gaussian", "mean": [0.0], "cov": [[1.0]],
                                                                 "covariance": 1}}),
    ("data.kind", {"data": {"kind": "gauss", "mean": [0.0], "cov": [[1.0]]}}),
    ("data.mean[0]", {"data": {"kind": "gaussian", "mean": ["0"], "cov": [[1.0]]}}),
    ("process.kind", {"process": {"kind": "vpp"}}), ("process.kappa", {"process": {"kind": "vp", "schedule": "linear",
                                                                                   "beta_min": 0.1, "beta_max": 20.0}}),
    ("process.beta_min", {"process": {"kind": "vp", "schedule": "cosine", "beta_min": 0.1, "offset": 0.008,
                                      "kappa": 1.0}}),
    ("window.s0", {"window": {"s0": -1.0, "s1": 1.0}}), ("quantities[0]", {"quantities": ["kl_T_eq"]}),
    ("unit", {"unit": "joule"}), ("accuracy.sed", {"accuracy": {"sed": 1}}),
    ("accuracy.rtol", {"accuracy": {"rtol": 1.5}}), ("grid.n", {"grid": {"n": 1}}),
    ("data.sha256", {"data": {"kind": "empirical", "file": "x.npy", "sha256": "abc"}}),
    ("model.n_sampels", {"model": {"target": "m:f", "n_sampels": 3}}),
    # relations between the keys of one object, in the models and in the published schema (issue 22)
    ("data", {"data": {"kind": "mixture", "weights": [1.0], "means": [[0.0]], "stds": [1.0], "variances": [1.0]}}),
    ("data", {"data": {"kind": "mixture", "weights": [1.0], "means": [[0.0]]}}),
    ("data", {"data": {"kind": "empirical", "points": [[0.0]], "file": "x.npy", "sha256": "0" * 64}}),
    ("data.sha256", {"data": {"kind": "empirical", "file": "x.npy"}}),
    ("data.sha256", {"data": {"kind": "empirical", "points": [[0.0]], "sha256": "0" * 64}}),
    ("data.file", {"data": {"kind": "empirical", "file": "x.txt", "sha256": "0" * 64}}),
    ("data.weights", {"data": {"kind": "empirical", "generator": {"sample": {"kind": "dirac", "point": [0.0]},
                                                                  "n": 3, "seed": 0}, "weights": [1.0, 1.0, 1.0]}}),
    ("grid.n", {"grid": {"times": [0.5], "n": 3}}), ("grid.first", {"grid": {"spacing": "linear", "first": 0.1}}),
    ("model.target", {"model": "nocolon"}), ("model.target", {"model": {"target": "pkg.mod"}}),
    ("quantities[1]", {"quantities": ["S_tot", "S_tot"]}), ("model", {"quantities": ["S_tot", "S_NN"]}),
    ("accuracy.rtol", {"accuracy": {"rtol": 0.0}}),
    ("accuracy.max_samples", {"accuracy": {"n_samples": 4096, "max_samples": 8192}}),
]
# Relations the published schema cannot state (JSON has no NaN; order within a list; the window of another
# object): the models still reject them, naming the field.
BAD_FOR_THE_MODELS_ONLY = [
    ("window.s0", {"window": {"s0": 0.5, "s1": 0.5}}),
    ("grid.times", {"grid": {"times": [0.5, 0.2]}}), ("grid.times", {"grid": {"times": [0.5, 2.0]}}),
    ("window.s1", {"window": {"s0": 0.0, "s1": float("inf")}}),
    ("data.scale.from", {"data": {"kind": "empirical", "points": [[0.0]], "scale": {"from": [1, 0], "to": [0, 1]}}}),
    ("data.array", {"data": {"kind": "empirical", "file": "x.npy", "sha256": "0" * 64, "array": "a"}}),
    ("data.weights", {"data": {"kind": "empirical", "points": [[0.0], [1.0]], "weights": [1.0]}}),
    ("data.point", {"data": {"kind": "dirac", "point": [float("inf")]}}),
    ("data.points", {"data": {"kind": "empirical", "points": [[0.0, 1.0], [1.0]]}}),
    ("data.weights", {"data": {"kind": "mixture", "weights": [0.5, 0.5], "means": [[0.0]], "stds": [1.0]}}),
    ("process.schedule.values", {"process": {"kind": "vp", "schedule": {"kind": "alpha_bar",
                                                                        "values": [0.9, float("nan")]}}}),
    ("process.kappa", {"process": {"kind": "vp", "schedule": "linear", "beta_min": 0.1, "beta_max": 20.0,
                                   "kappa": float("nan")}}),
]
GOOD = {"data": {"kind": "gaussian", "mean": [0.0], "cov": [[1.0]]}, "process": "vp16",
        "window": {"s0": 0.0, "s1": 1.0}}


@pytest.mark.parametrize("field,patch", BAD_SPECS)
def test_schema_and_models_reject_bad_specs_naming_the_field(field, patch):
    bad = {**copy.deepcopy(GOOD), **patch}
    assert list(_validator("spec").iter_errors(bad)), field
    with pytest.raises(SpecError) as exc:
        normalize_spec(bad)
    assert exc.value.field == field, str(exc.value)


@pytest.mark.parametrize("field,patch", BAD_FOR_THE_MODELS_ONLY)
def test_models_reject_what_the_schema_cannot_state(field, patch):
    bad = {**copy.deepcopy(GOOD), **patch}
    with pytest.raises(SpecError) as exc:
        normalize_spec(bad)
    assert exc.value.field == field, str(exc.value)


def test_schema_ids_are_urns_that_resolve_for_a_validator():
    # $id is a URN (RFC 8141), not a web address; a registry holding the shipped schema resolves it
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT202012
    schemas = {n: json.loads((SHIPPED / f"{n}.schema.json").read_text()) for n in spec_schema.SCHEMA_NAMES}
    registry = referencing.Registry().with_resources(
        (sch["$id"], DRAFT202012.create_resource(sch)) for sch in schemas.values())
    for name, sch in schemas.items():
        assert re.fullmatch(r"urn:nent-ref:schema:[a-z]+:\d+", sch["$id"]) and "invalid" not in sch["$id"]
        v = jsonschema.Draft202012Validator({"$ref": sch["$id"]}, registry=registry)
        good = GOOD if name == "spec" else {"claims": [{"case": "c", "quantity": "S_tot", "value": 1.0}]}
        assert not list(v.iter_errors(good))
        assert list(v.iter_errors({"colour": 1}))


def _example_spec_files():
    """Every JSON block of README.md and docs/*.md that is a spec file (one spec, a list of specs, or cases)."""
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```json\n(.*?)```", path.read_text(), flags=re.S):
            try:
                doc = json.loads(block)
            except ValueError:
                continue
            items = doc if isinstance(doc, list) else doc.get("cases", [doc]) if isinstance(doc, dict) else []
            if items and all(isinstance(d, dict) and "window" in d for d in items):
                out.append(pytest.param(doc, id=f"{path.name}:{len(out)}"))
    return out


@pytest.mark.parametrize("doc", _example_spec_files())
def test_example_spec_files_validate_against_the_published_schema(doc):
    errors = list(_validator("spec").iter_errors(doc))
    assert not errors, errors[0].message
    specs.load_cases(copy.deepcopy(doc))                       # and nent_ref reads them


@pytest.mark.parametrize("bad,field,hint", [
    ({**GOOD, "data": {"kind": "gausian", "mean": [0.0], "cov": [[1.0]]}}, "data.kind", "'gaussian'"),
    ({**GOOD, "process": {"kind": "vp", "schedule": "linear", "beta_min": 0.1, "beta_max": 2.0, "kapa": 1.0}},
     "process.kapa", "'kappa'"),
    ({**GOOD, "accuracy": {"methd": "auto"}}, "accuracy.methd", "'method'"),
    ({**GOOD, "quantities": ["S_tott"]}, "quantities[0]", "'S_tot'"),
])
def test_did_you_mean_hints_for_keys_kinds_and_names(bad, field, hint):
    with pytest.raises(SpecError) as exc:
        normalize_spec(bad)
    assert exc.value.field == field and f"did you mean {hint}?" in str(exc.value), str(exc.value)


def test_claims_schema_accepts_good_and_rejects_bad_claims():
    v = _validator("claims")
    good = {"implementation": "x 1.0", "claims": [
        {"case": "gaussian-1d-vp16", "quantity": "S_tot", "value": 0.1378, "digits": 4},
        {"spec": GOOD, "quantity": "kl_s0_eq", "value": None, "unit": "bit", "stderr": 0.1}]}
    assert not list(v.iter_errors(good)) and not list(v.iter_errors(good["claims"]))
    conformance.load_claims(good)
    for block in _doc_blocks("docs/conformance.md", "json"):       # the claims files of the docs
        doc = json.loads(block)
        if isinstance(doc, dict) and "claims" in doc:
            assert not list(v.iter_errors(doc))
    for bad, field in (({"claims": []}, "claims"), ({"claims": [{"case": "a", "quantity": "speed_limit",
                                                                 "value": 1.0}]}, "claims[0].quantity"),
                       ({"claims": [{"case": "a", "quantity": "S_tot", "value": 1.0, "sdterr": 1}]},
                        "claims[0].sdterr"),
                       ({"claims": [{"spec": {**GOOD, "window": {"s0": 0.0}}, "quantity": "S_tot", "value": 1.0}]},
                        "claims[0].spec.window.s1"),
                       ({"claims": [{"quantity": "S_tot", "value": 1.0}]}, "claims[0]"),
                       ({"claims": [{"case": "a", "spec": GOOD, "quantity": "S_tot", "value": 1.0}]}, "claims[0]")):
        assert list(v.iter_errors(bad)), field
        with pytest.raises(SpecError) as exc:
            conformance.load_claims(bad)
        assert exc.value.field == field, str(exc.value)


def test_schema_key_is_accepted_and_dropped_and_numpy_specs_still_read():
    canon = normalize_spec(GOOD)
    assert normalize_spec({"$schema": "nent_ref/reference/schemas/spec.schema.json", **GOOD}) == canon
    as_numpy = {**GOOD, "data": {"kind": "gaussian", "mean": np.zeros(1), "cov": np.eye(1)},
                "window": {"s0": np.float64(0.0), "s1": np.int64(1)}}
    assert normalize_spec(as_numpy) == canon
    assert specs.load_cases({"$schema": "x", "cases": [GOOD]})[0].spec == canon


def test_cli_schema_prints_and_writes_the_shipped_schema(tmp_path, capsys):
    from nent_ref.cli import main
    assert main(["schema", "claims"]) == 0
    assert capsys.readouterr().out == (SHIPPED / "claims.schema.json").read_text()
    out = tmp_path / "spec.schema.json"
    assert main(["schema", "spec", "--out", str(out)]) == 0
    assert out.read_text() == (SHIPPED / "spec.schema.json").read_text()


@pytest.mark.parametrize("grid, where", [
    ({"n": "abc"}, "grid.n"),                                # the models' check: a typed field
    ({"nn": 3}, "grid.nn"),                                  # unknown key, with its hint
    ({"spacing": "lin"}, "grid.spacing"),
    ({"times": [0.1, 5.0]}, "grid.times"),                   # outside the window [0.01, 1]
])
def test_normalize_grid_called_directly_names_the_field(grid, where):
    from nent_ref.suites import spec_quantities
    with pytest.raises(SpecError) as err:
        spec_quantities.normalize_grid(grid, "grid", 0.01, 1.0)
    assert str(err.value).startswith(where)


@pytest.mark.parametrize("model, where", [("bad", "model.target"), ({"target": "a.b:c", "rtol": -1}, "model.rtol")])
def test_normalize_model_called_directly_names_the_field(model, where):
    from nent_ref.suites import spec_quantities
    with pytest.raises(SpecError) as err:
        spec_quantities.normalize_model(model, "model")
    assert str(err.value).startswith(where)
