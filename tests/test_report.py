"""Report: tidy frame, tables, bootstrap statistics and bad-input messages (synthetic files)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from synthetic import SIMCSE_DEFAULTS, write_eval, write_train_log

from distilface.core.names import STS_TASKS
from distilface.plan.grid import hparams_slug
from distilface.report import build, stats, tables
from distilface.report.tidy import ResultsError, load_results, read_tidy

DEFAULTS = SIMCSE_DEFAULTS
HP = hparams_slug(DEFAULTS)
HP_T01 = hparams_slug({**DEFAULTS, "temperature": 0.1})
HP_T001 = hparams_slug({**DEFAULTS, "temperature": 0.01})
HP_BS32 = hparams_slug({**DEFAULTS, "batch_size": 32})
CONFIG = {
    "evaluation": {"aggregation": "all"},
    "variants": {"simcse": {"objective": "simcse_unsup", "hparams": DEFAULTS, "seeds": [1, 2]}},
    "ablations": {
        "simcse": {"temperature": [0.01, 0.05, 0.1], "max_seq_length": [32], "seeds": [1, 2]}
    },
    "report": {
        "n_bootstrap": 200,
        "bootstrap_seed": 0,
        "comparisons": [["simcse", "minilm-l6/cls"], ["minilm-l6@avg", "minilm-l6@cls"]],
        "published": {"minilm-l6/avg": "fake-entry"},
    },
}
PUBLISHED = {"entries": {"fake-entry": {"avg": 70.0, "url": "https://example.org", "tasks": {}}}}


@pytest.fixture()
def results(tmp_path):
    """Synthetic eval JSONs + npz + training logs laid out like results/."""
    eval_root, model_root = tmp_path / "eval", tmp_path / "models"
    evals = [
        write_eval(eval_root, "minilm-l6", "avg", noise=0.25, seed=1),
        write_eval(eval_root, "minilm-l6", "cls", noise=0.6, seed=2),
    ]
    logs = []
    specs = [
        (HP, 1, 0.2),
        (HP, 2, 0.22),
        (HP_T01, 1, 0.3),
        (HP_T01, 2, 0.31),
        (HP_T001, 1, 0.4),
        (HP_BS32, 1, 0.5),
    ]
    for hp, seed, noise in specs:
        model = f"simcse/{hp}/seed{seed}"
        evals.append(
            write_eval(
                eval_root, model, "cls_before_pooler", noise, seed=10 + seed, params=17_200_000
            )
        )
        logs.append(write_train_log(model_root, model, seed=seed))
    return evals, logs, tmp_path


def test_tidy_frame_columns_and_values(results):
    evals, logs, _ = results
    frame = load_results(evals, logs)
    assert list(frame.columns)[:10] == [
        "model",
        "variant",
        "hparams",
        "seed",
        "pooling",
        "task",
        "subset",
        "metric",
        "aggregation",
        "value",
    ]
    data = json.loads(evals[2].read_text())
    row = frame[
        (frame["model"] == data["model"])
        & (frame["task"] == "STS13")
        & (frame["metric"] == "spearman")
        & (frame["aggregation"] == "all")
    ]
    assert row["value"].item() == pytest.approx(data["tasks"]["STS13"]["spearman"]["all"])
    assert set(frame.loc[frame["model"] == data["model"], "seed"].dropna()) == {1}
    assert frame.loc[frame["model"] == "minilm-l6", "hparams"].isna().all()
    train = frame[frame["task"] == "train"]
    assert set(train["metric"]) >= {"loss", "stsb_dev"} and train["step"].notna().all()
    subsets = frame[frame["aggregation"] == "subset"]
    assert subsets["subset"].notna().all() and len(subsets) > 0


def test_tidy_csv_round_trip(results, tmp_path):
    evals, logs, _ = results
    frame = build.build_tidy(evals, logs, tmp_path / "tidy.csv")
    pd.testing.assert_frame_equal(read_tidy(tmp_path / "tidy.csv"), frame)


def test_main_table_roundtrip_and_selection(results, tmp_path):
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    (root / "published.yaml").write_text(yaml.safe_dump(PUBLISHED))
    table = build.build_main(root / "tidy.csv", CONFIG, root / "published.yaml", root / "main")
    back = pd.read_csv(root / "main.csv", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(
        back.drop(columns=["Source", "Not comparable", "Pooling", "Student", "Best step"]),
        table.drop(columns=["Source", "Not comparable", "Pooling", "Student", "Best step"]),
        check_dtype=False,
    )
    # a configured variant shows its default hparams, mean and std over seeds
    frame = load_results(evals)
    wide = tables.scores_wide(frame)
    runs = wide[wide["hparams"] == HP]
    simcse = table[table["key"] == "simcse"].iloc[0]
    assert simcse["Avg"] == pytest.approx(runs["avg"].mean()) and simcse["Seeds"] == 2
    assert simcse["Avg std"] == pytest.approx(runs["avg"].std(ddof=1))
    assert simcse["STS13 std"] == pytest.approx(runs["STS13"].std(ddof=1))
    assert simcse["Model"] == "unsup. SimCSE"  # derived label, not the slug
    assert simcse["Params (M)"] == pytest.approx(17.2)
    base = table[table["key"] == "minilm-l6/avg"].iloc[0]
    assert base["Model"] == "minilm-l6" and base["Pooling"] == "avg" and pd.isna(base["Seeds"])
    # the published row and its Δ row follow, in their own group
    pub = table[table["group"] == "published"]
    assert list(pub["key"]) == ["fake-entry", "minilm-l6/avg-fake-entry"]
    assert pub.iloc[0]["Avg"] == 70.0
    assert pub.iloc[1]["Avg"] == pytest.approx(base["Avg"] - 70.0)
    assert list(table["group"]) == ["baseline", "baseline", "trained", "published", "published"]


def test_main_view_labels_std_bold_and_groups(results):
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    (root / "published.yaml").write_text(yaml.safe_dump(PUBLISHED))
    cfg = {**CONFIG, "variants": {"simcse": {**CONFIG["variants"]["simcse"], "label": "Ours"}}}
    table = build.build_main(root / "tidy.csv", cfg, root / "published.yaml", root / "main")
    view = tables.main_view(table)
    ours = view.cells[view.cells["Model"] == "Ours"].iloc[0]
    row = table[table["key"] == "simcse"].iloc[0]
    assert ours["Avg"] == f"{row['Avg']:.2f} ± {row['Avg std']:.2f}"
    assert "n" not in view.cells.columns  # every trained row has 2 seeds: in the caption
    # the best trained row is bold in every score column; baselines and published rows are
    # not (an untrained teacher would otherwise win every column)
    for col in ("STS12", "Avg"):
        ours_rows = table["group"] == "trained"
        best = table.loc[ours_rows, col].idxmax()
        assert view.bold[col].tolist() == [i == best for i in range(len(table))]
    md = (root / "main.md").read_text()
    assert "**" in md and "| Ours" in md and "2 seeds each" in md  # the caption under it
    html = (root / "main.html").read_text()
    assert "<table" in html and "Ours" in html and "font-weight: bold" in html
    assert f"{row['Avg']:.2f} ± {row['Avg std']:.2f}" in html


def test_latex_booktabs_groups_and_ascii(results):
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    (root / "published.yaml").write_text(yaml.safe_dump(PUBLISHED))
    table = build.build_main(root / "tidy.csv", CONFIG, root / "published.yaml", root / "main")
    tex = (root / "main.tex").read_text()
    assert tex.isascii(), "pdflatex with T1/OT1 fonts cannot typeset non-ASCII input"
    assert tex.count(r"\toprule") == 1 and tex.count(r"\bottomrule") == 1
    # header rule + one rule between each of the 3 groups
    assert tex.count(r"\midrule") == 1 + 2
    assert r"$\Delta$" in tex and r"\textbf{" in tex and r"$\pm$" in tex
    assert f"{table.loc[0, 'Avg']:.2f}" in tex


def test_ablation_table_and_one_value_axis(results):
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    table = build.build_ablation(
        root / "tidy.csv", CONFIG, "simcse-temperature", root / "ablation_t.csv", root / "fig_t"
    )
    assert list(table["value"]) == [0.01, 0.05, 0.1]
    assert list(table["n_seeds"]) == [1, 2, 2]  # the bs32 run belongs to no listed value
    assert set(table["pooling"]) == {"cls_before_pooler"}
    frame = load_results(evals)
    wide = tables.scores_wide(frame)
    assert table.loc[2, "avg_mean"] == pytest.approx(wide[wide["hparams"] == HP_T01]["avg"].mean())
    seeds = build.build_ablation(
        root / "tidy.csv", CONFIG, "simcse-seeds", root / "ablation_s.csv", root / "fig_s"
    )
    assert list(seeds["value"]) == [1, 2] and list(seeds["n_seeds"]) == [1, 1]
    one = build.build_ablation(
        root / "tidy.csv",
        CONFIG,
        "simcse-max_seq_length",
        root / "ablation_len.csv",
        root / "fig_len",
    )
    assert len(one) == 1
    assert (root / "fig_len.png").stat().st_size > 0 and (root / "fig_len.pdf").stat().st_size > 0


def test_ablation_missing_value_is_named(results):
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    cfg = {**CONFIG, "ablations": {"simcse": {"dropout": [0.1, 0.2]}}}
    with pytest.raises(ResultsError, match=r"simcse-dropout: .* value\(s\) \[0\.2\]"):
        build.build_ablation(root / "tidy.csv", cfg, "simcse-dropout", root / "a.csv", root / "f")


def test_missing_task_names_file(tmp_path):
    path = write_eval(tmp_path, "m", "avg", noise=0.3)
    data = json.loads(path.read_text())
    del data["tasks"]["STS14"]
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match=r"m/avg\.json: missing task\(s\) STS14"):
        load_results([path])


def test_nan_score_names_file_and_key(tmp_path):
    path = write_eval(tmp_path, "m", "avg", noise=0.3)
    text = path.read_text()
    data = json.loads(text)
    data["tasks"]["STS15"]["spearman"]["all"] = float("nan")
    path.write_text(json.dumps(data))  # json writes NaN
    with pytest.raises(ResultsError, match=r"avg\.json: tasks\.STS15\.spearman\.all: .*NaN"):
        load_results([path])


def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / "m" / "avg.json"
    path.parent.mkdir()
    path.write_text('{"model": "m",\n "tasks": {,}}')
    with pytest.raises(ResultsError, match=r"avg\.json:2:\d+: malformed JSON"):
        load_results([path])


def test_malformed_train_log_names_line(tmp_path):
    log = write_train_log(tmp_path, f"simcse/{HP}/seed1")
    log.write_text(log.read_text() + "{oops\n")
    with pytest.raises(ResultsError, match=r"train_log\.jsonl:6: malformed JSON line"):
        load_results([], [log])


def test_skipped_file_is_kept_as_note_and_left_out_of_tables(tmp_path):
    good = write_eval(tmp_path, "m", "avg", noise=0.3)
    skipped = tmp_path / "m" / "cls.json"
    skipped.write_text(json.dumps({"model": "m", "pooling": "cls", "skipped": "no pooler"}))
    frame = load_results([good, skipped])
    assert frame.loc[frame["metric"] == "skipped", "note"].item() == "no pooler"
    assert list(tables.scores_wide(frame)["pooling"]) == ["avg"]


def _runs(rng, noise, n=200):
    gold = {t: np.random.default_rng(i).uniform(0, 5, n) for i, t in enumerate(STS_TASKS)}
    return {
        t: stats.TaskPairs(gold[t] + rng.normal(0, noise, n), gold[t], np.array(["x"] * n))
        for t in STS_TASKS
    }


def test_bootstrap_interval_coverage():
    """The 95% interval covers the population average at roughly the nominal rate."""
    tasks = STS_TASKS[:2]
    noise, n = 1.2, 150
    # population Spearman from a very large sample of the same generator
    big = np.random.default_rng(99)
    g = big.uniform(0, 5, 400_000)
    truth = stats.spearman_rows((g + big.normal(0, noise, g.size))[None], g[None])[0]
    rng = np.random.default_rng(7)
    hits, reps = 0, 200
    for rep in range(reps):
        run = {}
        for t in tasks:
            gold = rng.uniform(0, 5, n)
            run[t] = stats.TaskPairs(gold + rng.normal(0, noise, n), gold, np.array(["x"] * n))
        samples = stats.bootstrap_avg([run], n_boot=300, seed=rep, tasks=tasks)[0]
        low, high = stats.percentile_ci(samples)
        hits += low <= truth <= high
    assert 0.88 <= hits / reps <= 0.99


def test_paired_bootstrap_detects_difference_and_not_identity():
    rng = np.random.default_rng(3)
    good, bad = _runs(rng, 0.5), _runs(rng, 2.0)
    res = stats.paired_bootstrap([good], [bad], n_boot=300)
    assert res["delta"] > 0 and res["ci_low"] > 0 and res["p_value"] < 0.05
    same = stats.paired_bootstrap([good], [good], n_boot=100)
    assert same["delta"] == 0 and same["p_value"] == 1.0


def test_wmean_bootstrap_matches_observed_centre():
    rng = np.random.default_rng(5)
    run = _runs(rng, 1.0)
    for t in STS_TASKS:
        object.__setattr__(run[t], "subset", np.array(["a", "b"] * 100))
    samples = stats.bootstrap_avg([run], n_boot=300, aggregation="wmean")[0]
    observed = stats.observed_avg(run, "wmean")
    assert abs(np.median(samples) - observed) < 1.5


def test_seeds_and_comparisons_tables(results):
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    seeds = build.build_seeds(root / "tidy.csv", CONFIG, root / "seeds.csv")
    simcse = seeds[seeds["label"] == "simcse"].iloc[0]
    assert simcse["n_seeds"] == 2 and simcse["ci_low"] < simcse["avg_mean"] < simcse["ci_high"]
    assert simcse["avg_std"] > 0
    pd.testing.assert_frame_equal(pd.read_csv(root / "seeds.csv"), seeds, check_dtype=False)
    comp = build.build_comparisons(root / "tidy.csv", CONFIG, root / "comparisons.csv")
    assert list(comp["a"]) == ["simcse", "minilm-l6@avg"]
    assert (comp["delta"] > 0).all() and (comp["p_value"] < 0.05).all()
    assert (comp["ci_low"] <= comp["delta"]).all() and (comp["delta"] <= comp["ci_high"]).all()


def test_bad_comparison_name_is_clear(results):
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    cfg = {**CONFIG, "report": {**CONFIG["report"], "comparisons": [["nope", "simcse"]]}}
    with pytest.raises(ValueError, match="'nope' matches no main-table label"):
        build.build_comparisons(root / "tidy.csv", cfg, root / "c.csv")


def test_efficiency_table(results):
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    eff = build.build_efficiency(root / "tidy.csv", CONFIG, root / "eff.csv", root / "models")
    # one row per model: minilm-l6 (two poolings in the main table) appears once
    assert list(eff["Model"]) == ["minilm-l6", "unsup. SimCSE"]
    simcse = eff[eff["Model"] == "unsup. SimCSE"].iloc[0]
    folders = [root / "models" / "simcse" / HP / f"seed{s}" for s in (1, 2)]
    sizes = [sum(f.stat().st_size for f in d.iterdir()) for d in folders]
    assert simcse["Disk (MiB)"] == pytest.approx(np.mean(sizes) / 2**20)
    assert np.isnan(eff.loc[eff["Model"] == "minilm-l6", "Disk (MiB)"].item())
    assert simcse["Sent/s CPU fp32"] > 0 and "Sent/s GPU fp32" not in eff.columns
    assert simcse["Params (M)"] == pytest.approx(17.2)
    assert not any("MB" in c and "MiB" not in c for c in eff.columns)
    md = (root / "eff.md").read_text()
    table_lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table_lines) == 2 + len(eff) and "Disk (MiB)" in md
    assert md.rstrip().splitlines()[-1].startswith("Efficiency")  # the caption under it
    assert set(eff["Family"]) == {"transformer"} and "% of teacher" not in eff.columns
    assert simcse["Avg"] > 0


def test_efficiency_table_names_the_family_and_the_share_of_the_teacher(results):
    """Both families side by side: a variant trained from a from_model2vec student is
    "static"; % of teacher = the row's Avg over the teacher's (report.teacher)."""
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    config = copy.deepcopy(CONFIG)
    config["report"]["teacher"] = "minilm-l6"
    config["variants"]["simcse"]["student"] = "m2v"
    config["training"] = {"students": {"m2v": {"from_model2vec": {"teacher": "t"}}}}
    eff = build.build_efficiency(root / "tidy.csv", config, root / "eff.csv", root / "models")
    assert list(eff["Family"]) == ["transformer", "static"]
    teacher, simcse = eff.iloc[0], eff.iloc[1]
    assert teacher["% of teacher"] == pytest.approx(100.0)
    assert simcse["% of teacher"] == pytest.approx(100 * simcse["Avg"] / teacher["Avg"])
    md = (root / "eff.md").read_text()
    assert "| static " in md and "% of teacher" in md


def _int8_json(path: Path, model: str, pooling: str, fp32: float, int8: float) -> Path:
    arm = {"sentences_per_s": 100.0, "state_dict_mib": 80.0}
    report = {
        "model": model,
        "pooling": pooling,
        "tasks": ["STS16", "SICKRelatedness"],
        "fp32": {**arm, "avg_spearman": fp32},
        "int8": {"avg_spearman": int8, "sentences_per_s": 150.0, "state_dict_mib": 50.0},
        "speedup": 1.5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return path


def test_efficiency_table_int8_columns(results):
    """evaluate_int8 reports land on their main-table row, averaged over seeds."""
    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    int8 = [
        _int8_json(root / f"i{s}.json", f"simcse/{HP}/seed{s}", "cls_before_pooler", f, i)
        for s, f, i in ((1, 70.0, 69.0), (2, 72.0, 70.0))
    ]
    eff = build.build_efficiency(root / "tidy.csv", CONFIG, root / "eff.csv", root / "m", int8)
    row = eff[eff["Model"] == "unsup. SimCSE"].iloc[0]
    assert row["Avg fp32"] == pytest.approx(71.0)
    assert row["Avg int8"] == pytest.approx(69.5)
    assert row["Δ int8"] == pytest.approx(-1.5)
    assert row["int8 speed-up"] == pytest.approx(1.5) and row["int8 STS sets"] == 2
    assert row["Weights int8 (MiB)"] == pytest.approx(50.0)
    # one CPU fp32 speed per row: the int8 job's, measured beside int8
    assert row["Sent/s CPU fp32"] == pytest.approx(100.0)
    assert row["Sent/s CPU int8"] == pytest.approx(150.0)
    other = eff[eff["Model"] != "unsup. SimCSE"]
    assert other["Δ int8"].isna().all() and (root / "eff.md").is_file()

    stray = _int8_json(root / "x.json", "minilm-l6", "avg_top2", 70.0, 69.0)
    with pytest.raises(ResultsError, match="match no main-table row"):
        build.build_efficiency(root / "tidy.csv", CONFIG, root / "e.csv", root / "m", [stray])
    broken = root / "broken.json"
    broken.write_text(
        json.dumps(
            {"model": "m", "pooling": "avg", "tasks": [], "fp32": {}, "int8": {}, "speedup": 1.0}
        )
    )
    with pytest.raises(ResultsError, match="broken.json: missing key 'fp32.avg_spearman'"):
        build.build_efficiency(root / "tidy.csv", CONFIG, root / "e.csv", root / "m", [broken])


def test_ablation_axis_includes_the_variant_default() -> None:
    """An axis lists the variant's own value too (the point the others are compared with)."""
    from distilface.report.axes import ablation_axes

    cfg = {
        "variants": {
            "v": {
                "objective": "simcse_unsup",
                "hparams": {"temperature": 0.05, "pooling": "cls"},
                "seeds": [42],
            }
        },
        "ablations": {"v": {"temperature": [1.0, 0.01], "pooling": ["avg"], "seeds": [43]}},
    }
    axes = ablation_axes(cfg)
    assert axes["v-temperature"]["values"] == [0.01, 0.05, 1.0]
    assert axes["v-pooling"]["values"] == ["cls", "avg"]
    assert axes["v-seeds"]["values"] == [42, 43]


def test_sick_in_domain_rows_are_marked_and_get_the_six_set_average():
    """Rows trained on SICK's training split (the offline NLI stand-in) are in-domain on SICK-R:
    the view marks that cell and shows the average without SICK-R."""
    import yaml

    from distilface.report import tables

    quick = yaml.safe_load((Path(__file__).parents[1] / "config/quick.yaml").read_text())
    # every trained quick row read the unlabelled STS-B/SICK training sentences
    assert tables.sick_in_domain(quick) == {"kd-random", "ckd-random", "simcse-random"}
    study = yaml.safe_load((Path(__file__).parents[1] / "config/cpu.yaml").read_text())
    # stage 2 read SICK-train triplets, on top of its stage-1 parent's sentences
    assert {"ckd-ft-random", "ckd-ft-minilm"} <= tables.sick_in_domain(study)
    config = yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())
    assert tables.sick_in_domain(config) == set()
    scores = {t: 70.0 + i for i, t in enumerate(tables.STS_TASKS)}
    selected = pd.DataFrame(
        [
            dict(
                group=g,
                label=k,
                display=k,
                pooling="avg",
                n_seeds=1,
                params=1e6,
                stsb_dev=80.0,
                **scores,
                avg=np.mean(list(scores.values())),
                avg_no_sick=np.mean([v for t, v in scores.items() if t != "SICKRelatedness"]),
                **{f"{c}_std": np.nan for c in tables.SCORE_COLUMNS},
            )
            for g, k in (("baseline", "baseline"), ("trained", "disco-ckd-sts-ft"))
        ]
    )
    table = tables.main_table(selected, {})
    assert table.loc[1, "Avg-6"] == pytest.approx(72.5)  # mean of 70..75
    marked = tables.main_view(table, {"disco-ckd-sts-ft"}).cells
    assert marked.loc[1, "SICK-R"].endswith("‡") and not marked.loc[0, "SICK-R"].endswith("‡")
    assert "Avg-6" in marked.columns
    assert "Avg-6" not in tables.main_view(table).cells.columns


def test_an_untrained_students_disk_size_is_its_student_folder(tmp_path):
    """A student scored untrained has no results/models/<id> folder: its size is that of the
    folder it was loaded from (the eval JSON's encoder), e.g. a static student's table."""
    from distilface.report import efficiency

    student = tmp_path / "students" / "m2v"
    student.mkdir(parents=True)
    (student / "model.safetensors").write_bytes(b"\0" * 2**20)
    (student / "tokenizer.json").write_bytes(b"\0" * 2**19)
    wide = pd.DataFrame(
        [
            {
                "model": "m2v-static/untrained/seed0",
                "hparams": "untrained",
                "encoder": str(student),
                "sentences_encoded": 1000,
                "encode_seconds": 0.5,
                "device": "cpu",
                "dtype": "float32",
            }
        ]
    )
    selected = pd.DataFrame(
        [
            {
                "display": "untrained (start point)",
                "label": "m2v-static",
                "variant": "m2v-static",
                "student": "static student",
                "models": "m2v-static/untrained/seed0",
                "pooling": "avg",
                "params": 7.8e6,
                "avg": 67.2,
            }
        ]
    )
    table = efficiency.efficiency_table(wide, selected, tmp_path / "models")
    row = table.iloc[0]
    assert row["Disk (MiB)"] == pytest.approx(1.5) and row["Sent/s CPU fp32"] == 2000
    assert row["Model"] == "static student: untrained (start point)"


def test_a_superseded_variant_is_flagged_in_every_table_and_its_caption(results):
    """report.superseded: the variant's rows end in [superseded] in the main, compact and
    efficiency tables, the main captions say why, and an unknown variant is a parse-time
    problem."""
    from distilface.report.targets import reference_problems

    evals, logs, root = results
    build.build_tidy(evals, logs, root / "tidy.csv")
    config = copy.deepcopy(CONFIG)
    config["report"]["superseded"] = {"simcse": "the old implementation, re-run pending."}
    (root / "published.yaml").write_text(yaml.safe_dump(PUBLISHED))
    table = build.build_main(root / "tidy.csv", config, root / "published.yaml", root / "main")
    shown = table.loc[table["key"] == "simcse", "Model"].item()
    assert shown.endswith("[superseded]")
    for name in ("main.md", "main_compact.tex"):
        text = (root / name).read_text()
        assert "[superseded]" in text and "the old implementation, re-run pending." in text
    # the report's landing table scrolls inside its own box: never under the rule graph
    headline = (root / "headline.html").read_text()
    assert headline.startswith('<div class="distilface-table" style="overflow-x: auto;')
    compact = (root / "main_compact.tex").read_text()
    assert "\\textbf{" not in compact  # never the best row
    assert any(line.endswith("[superseded] & ") or "[superseded] &" in line
               for line in compact.splitlines() if "unsup. SimCSE" in line)  # fmt: skip
    eff = build.build_efficiency(root / "tidy.csv", config, root / "eff.csv", root / "models")
    assert any(str(m).endswith("[superseded]") for m in eff["Model"])
    quick = yaml.safe_load((Path(__file__).parents[1] / "config/quick.yaml").read_text())
    quick["report"]["superseded"] = {"kd-randomm": "typo", "kd-random": "fine"}
    assert reference_problems(quick, []) == [
        "report.superseded.kd-randomm: not a variant of this config"
    ]


def test_differences_are_written_with_a_minus_sign_and_no_negative_zero():
    from distilface.report.render import signed

    assert [signed(v) for v in (1.234, -1.234, -0.001, 0.004, 0.0)] == [
        "+1.23", "\u22121.23", "0.00", "0.00", "0.00"]  # fmt: skip
    assert signed(float("nan")) == "" and signed(-0.5, 1) == "\u22120.5"
