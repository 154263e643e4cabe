"""The strict config schema: every shipped config validates; each realistic typo is an error
that names its key path (nothing silently dropped); the schema's typed building blocks stay in
step with the code (TrainConfig fields, grid hparams / ablation axes)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from distilface.core.config import (
    SET_BY_GRID,
    ConfigError,
    config_errors,
    load_schema,
    validate_config,
)
from distilface.plan import grid

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ["config.yaml", "quick.yaml", "cpu.yaml", "ci.yaml", "gpu.yaml"]


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_config_validates(name: str) -> None:
    assert config_errors(load(name)) == []


def _rename(section: str, new: str) -> Callable[[dict], None]:
    def edit(cfg: dict) -> None:
        cfg[new] = cfg.pop(section)

    return edit


def _set(path: str, value: object) -> Callable[[dict], None]:
    def edit(cfg: dict) -> None:
        *parents, last = path.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


# (probe, edit of config/config.yaml, text the error must contain)
PROBES = [
    (
        "ablation instead of ablations",
        _rename("ablations", "ablation"),
        "ablation: unknown key (did you mean 'ablations'?)",
    ),
    (
        "efficency instead of efficiency",
        _rename("efficiency", "efficency"),
        "efficency: unknown key (did you mean 'efficiency'?)",
    ),
    (
        "a variant's seed: [43]",
        _set("variants.simcse-unsup.seed", [43]),
        "variants.simcse-unsup.seed: unknown key (did you mean 'seeds'?)",
    ),
    (
        "unknown key in evaluation",
        _set("evaluation.batchsize", 64),
        "evaluation.batchsize: unknown key (did you mean 'batch_size'?)",
    ),
    (
        "unknown key in report",
        _set("report.n_boostrap", 10),
        "report.n_boostrap: unknown key (did you mean 'n_bootstrap'?)",
    ),
    (
        "unknown key in training",
        _set("training.default", {"epochs": 2}),
        "training.default: unknown key (did you mean 'defaults'?)",
    ),
    (
        "unknown training setting",
        _set("training.defaults.warmup_steps", 10),
        "training.defaults.warmup_steps: unknown key",
    ),
    (
        "hparam hidden in settings",
        _set("variants.simcse-sup.settings.temperature", 0.1),
        "variants.simcse-sup.settings.temperature: unknown key",
    ),
    (
        "max_steps: six",
        _set("training.defaults.max_steps", "six"),
        "training.defaults.max_steps: 'six' is invalid",
    ),
    (
        "ablation batch_size abc",
        _set("ablations.simcse-unsup.batch_size", [32, "abc"]),
        "ablations.simcse-unsup.batch_size[1]: 'abc' is not of type 'integer'",
    ),
    (
        "ablation temperature 0",
        _set("ablations.disco-ckd.temperature", [0.05, 0.0]),
        "ablations.disco-ckd.temperature[1]: 0.0 is less than or equal to the minimum of 0",
    ),
    (
        "hparams temperature negative",
        _set("variants.simcse-unsup.hparams.temperature", -0.05),
        "variants.simcse-unsup.hparams.temperature: -0.05 is less than or equal to the minimum",
    ),
    (
        "batch size 1",
        _set("variants.simcse-unsup.hparams.batch_size", 1),
        "variants.simcse-unsup.hparams.batch_size: 1 is less than the minimum of 2",
    ),
    (
        "unknown ablation axis",
        _set("ablations.simcse-unsup.temprature", [0.1]),
        "ablations.simcse-unsup.temprature: unknown key (did you mean 'temperature'?)",
    ),
    (
        "data_mirror at the top level",
        _set("data_mirror", "../shared/data"),
        "data_mirror: unknown key",
    ),
    (
        "unknown key in a model",
        _set("models.bert-base.revision", "main"),
        "models.bert-base.revision: unknown key",
    ),
    ("device typo", _set("evaluation.device", "gpu"), "evaluation.device: 'gpu' does not match"),
    (
        "an integer written as a float",
        _set("evaluation.batch_size", 16.0),
        "evaluation.batch_size: 16.0 is not of type 'integer'",
    ),
    (
        "a variant id that leaves results/",
        lambda cfg: cfg["variants"].update({"../escape": {"objective": "none"}}),
        "variants: key '../escape' is not a valid id",
    ),
    (
        "a model id with a slash",
        _set("models.org/name", {"path": "bundled:all-MiniLM-L6-v2"}),
        "models: key 'org/name' is not a valid id",
    ),
]


@pytest.mark.parametrize(("probe", "edit", "expected"), PROBES, ids=[p[0] for p in PROBES])
def test_each_typo_is_an_error_naming_its_key(probe: str, edit, expected: str) -> None:
    cfg = load("config.yaml")
    edit(cfg)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg, source="probe.yaml")
    message = str(info.value)
    assert message.startswith("probe.yaml: 1 problem(s)"), message
    assert expected in message, message


def test_every_violation_is_listed_not_only_the_first() -> None:
    cfg = load("config.yaml")
    for _, edit, _ in PROBES[:4]:
        edit(cfg)
    problems = config_errors(cfg)
    assert len(problems) == 4, problems


def test_snakemake_refuses_a_typo_before_any_job(tmp_path: Path) -> None:
    """Through the Snakefile: exit non-zero, the key named, nothing written."""
    cfg = load("ci.yaml")
    cfg["efficency"] = cfg.pop("efficiency")
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    from snake import snakemake

    proc = snakemake(["-n", "--configfile", "typo.yaml"], cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "efficency: unknown key (did you mean 'efficiency'?)" in out, out[-3000:]
    assert "typo.yaml" in out
    assert not (tmp_path / "results").exists()


def test_reproduce_refuses_a_typo(tmp_path: Path) -> None:
    from distilface import reproduce

    cfg = load("ci.yaml")
    cfg["variants"]["simcse-unsup"]["seed"] = [43]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"variants\.simcse-unsup\.seed: unknown key"):
        reproduce.main(["--config", str(path), "--sources", str(REPO / "config/sources.yaml")])


# --- the schema's building blocks against the code --------------------------------------


def test_settings_schema_lists_every_trainconfig_field() -> None:
    """``$defs.settings`` = TrainConfig fields - grid-set fields - hparams. A field added to
    TrainConfig (or removed) fails here, named, until the schema says how it is typed."""
    from distilface.train.settings import TrainConfig

    schema = load_schema()
    settings = set(schema["$defs"]["settings"]["properties"])
    hparams = set(schema["$defs"]["hparams"]["properties"])
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    expected = fields - set(SET_BY_GRID) - hparams
    assert not (expected - settings), (
        f"TrainConfig fields missing from $defs.settings: {sorted(expected - settings)}"
    )
    assert not (settings - expected), (
        f"$defs.settings keys that are no TrainConfig setting: {sorted(settings - expected)}"
    )
    assert set(SET_BY_GRID) <= fields, sorted(set(SET_BY_GRID) - fields)


def test_every_hparam_is_an_ablation_axis_of_the_same_type() -> None:
    schema = load_schema()
    hparams = schema["$defs"]["hparams"]["properties"]
    axes = schema["$defs"]["ablation"]["properties"]
    assert set(axes) == set(hparams) | {"seeds"}, sorted(set(axes) ^ (set(hparams) | {"seeds"}))
    for name in hparams:
        assert axes[name]["items"] == {"$ref": f"#/$defs/hparams/properties/{name}"}, name
    assert set(grid.AXES) <= set(axes), sorted(set(grid.AXES) - set(axes))
    assert set(grid.HPARAMS) <= set(hparams), sorted(set(grid.HPARAMS) - set(hparams))


def test_every_mapping_of_the_schema_is_closed() -> None:
    """``additionalProperties: false`` (or a typed value schema) wherever keys are listed."""
    open_objects: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                open_objects.append(where or "<root>")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(load_schema(), "")
    assert open_objects == []


def test_schema_defaults_still_apply() -> None:
    """Snakemake's validate fills defaults after the strict check (aggregation, root, ...)."""
    from snakemake.utils import validate

    cfg = copy.deepcopy(load("ci.yaml"))
    del cfg["evaluation"]["aggregation"]
    validate(cfg, str(REPO / "config/schema.yaml"))
    assert cfg["evaluation"]["aggregation"] == "all" and cfg["evaluation"]["precision"] == "auto"


def test_a_duplicated_key_is_an_error_naming_file_and_lines(tmp_path):
    """Two `simcse-unsup:` blocks: YAML would silently keep the second; the strict loader
    (the Snakefile's and reproduce's) names the key and both lines."""
    from distilface.core.config import ConfigError, load_config_file

    path = tmp_path / "dup.yaml"
    path.write_text("variants:\n  simcse-unsup: {seeds: [1]}\n  other: {}\n  simcse-unsup: {}\n")
    with pytest.raises(
        ConfigError, match=r"dup\.yaml:4: duplicated key 'simcse-unsup' \(first at line 2\)"
    ):
        load_config_file(path)
    tabbed = tmp_path / "tab.yaml"
    tabbed.write_text("data:\n\tmirror: null\n")
    with pytest.raises(ConfigError, match=r"tab\.yaml:2:1: .*tab character"):
        load_config_file(tabbed)
    for name in SHIPPED:  # the shipped configs load strictly
        assert load_config_file(REPO / "config" / name)


def test_snakemake_refuses_a_config_with_a_duplicated_key(tmp_path):
    from snake import snakemake

    text = (REPO / "config" / "ci.yaml").read_text()
    path = tmp_path / "dup.yaml"
    path.write_text(text + "\nreport:\n  n_bootstrap: 60\n")
    proc = snakemake(["-n", "--configfile", str(path)], cwd=tmp_path)
    assert proc.returncode != 0
    assert "duplicated key 'report'" in proc.stdout + proc.stderr


def test_command_line_values_are_typed_by_the_schema() -> None:
    """Snakemake hands nested --config values over as strings ('64', 'null')."""
    from distilface.core.config import type_overrides

    given = {
        "data": {"mirror": "null", "root": "results/data"},
        "evaluation": {"batch_size": "64", "precision": "fp32"},
        "variants": {"v": {"label": "42", "hparams": {"learning_rate": "1e-5"}}},
    }
    assert type_overrides(given) == {
        "data": {"mirror": None, "root": "results/data"},
        "evaluation": {"batch_size": 64, "precision": "fp32"},
        "variants": {"v": {"label": "42", "hparams": {"learning_rate": 1e-5}}},
    }


def test_snakemake_types_config_values_and_names_where_a_bad_one_came_from(tmp_path):
    from snake import snakemake

    ci = str(REPO / "config" / "ci.yaml")
    ok = snakemake(["-n", "--configfile", ci, "--config", 'evaluation={"batch_size": 64}'],
                   cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]
    bad = snakemake(["-n", "--configfile", ci, "--config", 'evaluation={"batch_size": "x"}'],
                    cwd=tmp_path)  # fmt: skip
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0
    assert "evaluation.batch_size: 'x' is not of type 'integer' (given with --config)" in out


def test_an_unknown_report_reference_stops_the_run_before_any_job(tmp_path):
    from snake import snakemake

    from distilface.report.targets import reference_problems

    cfg = load("quick.yaml")
    cfg["report"]["comparisons"].append(["ckd-randum", "kd-random"])
    cfg["report"]["published"] = {"kd-random": "no-such-entry"}
    problems = reference_problems(cfg, ["simcse-unsup-bert"])
    assert problems[0].startswith("report.comparisons[4][0]: 'ckd-randum' is not a variant")
    assert problems[1].startswith("report.published.kd-random: 'no-such-entry' is not an entry")
    assert reference_problems(load("quick.yaml"), []) == []
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(["-n", "--configfile", "c.yaml"], cwd=tmp_path)
    assert proc.returncode != 0 and "'ckd-randum' is not a variant" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_the_config_checker_names_the_tab_snakemake_would_not(tmp_path, capsys):
    """Snakemake reads --configfile itself: a tab gives "Config file is not valid JSON or YAML"
    with no file or line. The checker the Makefile runs first names file:line:col."""
    from distilface.core.config import main

    tabbed = tmp_path / "tab.yaml"
    tabbed.write_text("data:\n\tmirror: null\n")
    assert main([str(tabbed)]) == 2
    assert f"error: {tabbed}:2:1: " in capsys.readouterr().err
    assert main([str(REPO / "config" / "quick.yaml")]) == 0
