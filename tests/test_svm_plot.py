"""svm_logreg/plot.py on real small runs (and edited copies): the paper's layout and the linear
grid, the trace-vs-loss view, which runs share a curve, smoke settings kept out of assets/, the
README tables, the published key points next to ours, and one-line errors naming a bad file."""

import copy
import shutil

import numpy as np
import pytest

from flatzero import plotting
from flatzero.results import read_json, write_json
from svm_logreg import plot, published, train

SMALL = ["--max_iter", "12", "--n_params", "20"]


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    """GD and ZO of both models on a5a-resplit (seed 29, 12 iterations, D = 20), and one SVM ZO
    run of 8 iterations."""
    root = tmp_path_factory.mktemp("res")
    for model in ("svm", "logreg"):
        for algo in ("gd", "zo"):
            train.main(model, ["--data", "a5a-resplit", "--algo", algo, *SMALL, "--quiet",
                               "--out", str(root / f"res_{model}")])
    train.main("svm", ["--data", "a5a-resplit", "--max_iter", "8", "--n_params", "20",
                       "--quiet", "--out", str(root / "res_svm")])
    return root


def folders(root):
    return ["--res", str(root / "res_svm"), str(root / "res_logreg")]


def labelled(ax):
    return {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}


def edited(root, tmp_path, name, edit, model="svm"):
    """A copy of the result folders with one more file: ``name`` edited by ``edit``."""
    copy_root = tmp_path / "res"
    if not copy_root.exists():
        shutil.copytree(root, copy_root)
    src = read_json(root / f"res_{model}" / name)
    rec = copy.deepcopy(src)
    new_name = edit(rec)
    write_json(copy_root / f"res_{model}" / new_name, rec)
    return copy_root


@pytest.mark.slow
def test_paper_layout_grid_and_trace_loss(res, tmp_path, drawn):
    written = plot.main([*folders(res), *SMALL, "--out-dir", str(tmp_path)])
    assert [p.name for p in written] == [
        "svm-logreg-it12-D20.png", "svm-logreg-extra-it12-D20.png",
        "svm-logreg-trace-loss-it12-D20.png"]
    fig2 = drawn[0]
    sub_a, sub_b = fig2.subfigs
    assert sub_a._supxlabel.get_text() == "(a) SVMs"
    assert sub_b._supxlabel.get_text() == "(b) Logistic Regression"
    loss, hess, acc = sub_a.axes[0], sub_a.axes[1], sub_a.axes[2]  # one column: a5a-resplit
    assert {ax.get_xscale() for ax in sub_a.axes} == {"log"}
    assert (loss.get_yscale(), hess.get_yscale(), acc.get_yscale()) == ("linear", "log", "linear")
    zo = read_json(res / "res_svm" / "zo_a5a-resplit_0.0001_0.05_29_it12_D20.json")
    line = labelled(loss)["ZO (λ = 0.05)"]
    assert list(line.get_xdata()) == list(range(1, 13)) and list(line.get_ydata()) == zo[
        "train_loss"]
    # The trace-vs-loss view: one line per run, trace against loss.
    tl = drawn[2].subfigs[0].axes[0]
    got = labelled(tl)["ZO (λ = 0.05)"]
    assert list(got.get_xdata()) == zo["train_loss"] and list(got.get_ydata()) == zo[
        "train_hess"]
    drawn.clear()
    grid = plot.main([*folders(res), *SMALL, "--out-dir", str(tmp_path), "--figures", "2",
                      "--layout", "grid"])
    assert grid[0].name == "svm-logreg-it12-D20-grid.png"
    assert {ax.get_xscale() for ax in drawn[0].axes} == {"linear"}
    # one legend entry per line style: the two models' ZO curves look alike, so they share one
    texts = [t.get_text() for t in drawn[0].legends[0].get_texts()]
    assert texts == ["GD", "ZO (λ: SVM 0.05, logistic 0.1)"]


def test_runs_with_other_settings_or_seeds_are_not_averaged(res, tmp_path, drawn, capsys):
    def seed30(rec):
        rec["config"]["seed"] = 30
        rec["train_loss"] = [v + 1.0 for v in rec["train_loss"]]
        return "zo_a5a-resplit_0.0001_0.05_30_it12_D20.json"
    root = edited(res, tmp_path, "zo_a5a-resplit_0.0001_0.05_29_it12_D20.json", seed30)

    def other_lr(rec):
        rec["config"]["lr"] = 5e-4
        return "zo_a5a-resplit_0.0005_0.05_29_it12_D20.json"
    root = edited(res, tmp_path, "zo_a5a-resplit_0.0001_0.05_29_it12_D20.json", other_lr)
    plot.main([*folders(root), *SMALL, "--out-dir", str(tmp_path), "--figures", "2",
               "--seeds", "29", "30"])
    out = capsys.readouterr().err
    assert "skipped 2 runs: " in out and "1 with lr 0.0005 (not 0.0001)" in out
    assert "1 with max_iter 8 (not 12)" in out
    zo = read_json(res / "res_svm" / "zo_a5a-resplit_0.0001_0.05_29_it12_D20.json")
    line = labelled(drawn[0].subfigs[0].axes[0])["ZO (λ = 0.05)"]
    np.testing.assert_allclose(line.get_ydata(), np.array(zo["train_loss"]) + 0.5, rtol=1e-15)
    title = drawn[0].get_suptitle()
    assert "seeds 29, 30: ZO (λ = 0.05)" in title and "seed 29: GD" in title
    # The 8-iteration run is drawn on its own, with its settings; the 12-iteration ones are not.
    drawn.clear()
    plot.main([*folders(root), "--seeds", "29", "30", "--max_iter", "8", "--n_params", "20",
               "--out-dir", str(tmp_path), "--figures", "2"])
    out = capsys.readouterr().err
    assert "with max_iter 12 (not 8)" in out and "no results for svm GD" in out
    line = labelled(drawn[0].subfigs[0].axes[0])["ZO (λ = 0.05)"]
    assert len(line.get_ydata()) == 8


def test_a_diverged_run_is_drawn_alone_and_an_interrupted_one_left_out(res, tmp_path, drawn,
                                                                       capsys):
    def diverged(rec):
        rec["config"].update(seed=31, diverged_at_iter=6)
        for m in train.METRICS:
            rec[m] = rec[m][:5]
        return "zo_a5a-resplit_0.0001_0.05_31_it12_D20.json"
    root = edited(res, tmp_path, "zo_a5a-resplit_0.0001_0.05_29_it12_D20.json", diverged)

    def interrupted(rec):
        rec["config"].update(seed=32, interrupted_at_iter=4)
        for m in train.METRICS:
            rec[m] = rec[m][:3]
        return "zo_a5a-resplit_0.0001_0.05_32_it12_D20.partial.json"
    root = edited(res, tmp_path, "zo_a5a-resplit_0.0001_0.05_29_it12_D20.json", interrupted)
    plot.main([*folders(root), *SMALL, "--out-dir", str(tmp_path), "--figures", "2",
               "--seeds", "29", "31", "32"])
    assert "1 interrupted (partial results)" in capsys.readouterr().err
    lines = labelled(drawn[0].subfigs[0].axes[0])
    assert len(lines["ZO (λ = 0.05), seed 31: diverged at 6"].get_ydata()) == 5
    assert len(lines["ZO (λ = 0.05)"].get_ydata()) == 12


def test_smoke_settings_never_draw_into_assets(res, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plotting, "ASSETS", tmp_path / "assets")
    monkeypatch.setattr(plot, "SMOKE_DIR", tmp_path / "smoke")
    written = plot.main([*folders(res), *SMALL, "--figures", "2"])
    assert [p.parent for p in written] == [tmp_path / "smoke"]
    assert not (tmp_path / "assets").exists()
    assert "assets/ are left as they are" in capsys.readouterr().err
    paper = plot.build_parser().parse_args([])
    assert plot.figure_tag(paper, {29}) == "" and plot.figure_tag(paper, {29, 30}) == "-seeds29_30"
    # the authors' launcher lr for the SVM's GD, and other drawing options, are not published
    launcher = plot.build_parser().parse_args(["--svm-gd-lr", "1e-4"])
    assert plot.figure_tag(launcher, {29}) == "-svmgdlr0.0001"
    sam = plot.build_parser().parse_args(["--svm-sam-lr", "1e-4"])
    assert plot.figure_tag(sam, {29}, "5") == "-svmsamlr0.0001"
    assert plot.figure_tag(sam, {29}, "2") == ""  # Figure 2 draws no SAM
    grid = plot.build_parser().parse_args(["--layout", "grid"])
    assert plot.figure_tag(grid, {29}) == "-grid"


def test_tables_come_from_the_json(res, tmp_path, capsys):
    plot.main([*folders(res), *SMALL, "--table"])
    out = capsys.readouterr().out
    rows = [r for r in out.splitlines() if r.startswith("| SVM | ")]
    gd = read_json(res / "res_svm" / "gd_a5a-resplit_0.001_29_it12_D20.json")
    assert rows[0] == (f"| SVM | a5a-resplit | GD | {gd['train_loss'][-1]:.4g} | "
                       f"{100 * gd['test_acc'][-1]:.2f} % | {gd['train_hess'][0]:.4g} → "
                       f"{gd['train_hess'][-1]:.4g} |")
    assert "final trace" in out and "below GD's" in out
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- svm-table:start -->\nstale\n<!-- svm-table:end -->\nb\n")
    plot.main([*folders(res), *SMALL, "--table", "--readme", str(readme)])
    assert rows[0] in readme.read_text() and "stale" not in readme.read_text()


def test_published_key_points_next_to_ours(res, tmp_path, capsys):
    plot.main([*folders(res), *SMALL, "--compare-published"])
    captured = capsys.readouterr()
    rows = {tuple(c.strip() for c in line.split("|")[2:4]): line
            for line in captured.out.splitlines() if line.startswith("| 2 |")}
    assert len(rows) == len(published.KEY_POINTS) and "skipped" not in captured.out
    gd = read_json(res / "res_svm" / "gd_a5a-resplit_0.001_29_it12_D20.json")
    start = rows[("SVM a5a GD", "train_loss: value at the first iteration")]
    assert f"| {gd['train_loss'][0]:.4g} |" in start  # ours, from the JSON
    assert "a5a-resplit, seed 29, lr 0.001" in start
    # a curve without runs (w5a was not run) is reported, not skipped
    assert "no run" in rows[("SVM w5a GD", "train_loss: value at the last iteration")]

    def shifted(start_loss, seed):
        def edit(rec):
            rec["config"]["seed"] = seed
            rec["train_loss"][0] = start_loss
            return f"gd_a5a-resplit_0.001_{seed}_it12_D20.json"
        return edit

    for seed, value, verdict in ((30, 57.5, "yes"), (31, 90.0, "**no**")):
        root = edited(res, tmp_path / str(seed), "gd_a5a-resplit_0.001_29_it12_D20.json",
                      shifted(value, seed))
        plot.main([*folders(root), *SMALL, "--seeds", str(seed), "--compare-published"])
        line = next(r for r in capsys.readouterr().out.splitlines()
                    if "| SVM a5a GD | train_loss: value at the first iteration |" in r)
        assert f"| {value:.4g} | {verdict} |" in line
    plot.main([*folders(root), *SMALL, "--seeds", "31", "--compare-published", "--summary"])
    summary = capsys.readouterr().out
    assert "train_loss: value at the first iteration 90 (57.54)" in summary


def _metrics(config="{}", last="[1, 2]") -> bytes:
    """A result file with the metric lists of two iterations, the last list and config given."""
    lists = ", ".join(f'"{k}": [1, 2]' for k in plot.METRICS[:-1])
    return f'{{"config": {config}, {lists}, "{plot.METRICS[-1]}": {last}}}'.encode()


@pytest.mark.parametrize("content, message", [
    (b"{trunc", "is not valid JSON"), (b'{"config": {}}', "is not a result file"),
    (_metrics(last="[1]"), "is not a whole result"),
    (_metrics(config='"x"'), "is not a whole result"),
    (_metrics(last="[1, null]"), "is not a whole result")])
def test_a_bad_file_is_named_in_one_line(tmp_path, capsys, content, message):
    (tmp_path / "x.json").write_bytes(content)
    with pytest.raises(SystemExit) as exc:
        plot.main(["--res", str(tmp_path)])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "x.json" in err and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_bad_out_dir_fails_before_reading(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exc:
        plot.main(["--res", str(tmp_path / "nowhere"), "--out-dir", str(tmp_path / "file" / "x")])
    assert exc.value.code == 1 and "is a file, not a folder" in capsys.readouterr().err
