"""roberta/plot.py on result.json files of real tiny runs (and edited copies of them): which runs
share a curve, diverged and unfinished runs, null values, negative trace estimates and the trace
band over seeds, data tags and duplicates, where the figure goes and its title, what goes to
stdout, and one-line errors (malformed files and log records)."""

import copy
import hashlib

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection

pytest.importorskip("torch")
pytest.importorskip("transformers")

from flatzero.results import read_json, write_json
from roberta import plot, train

FLAGS = ["--steps", "4", "--eval-steps", "2", "--trace-every", "2", "--trace-samples", "2",
         "--quiet", "--k", "8", "--seed", "13", "--device", "cpu"]


@pytest.fixture(scope="module")
def runs(tiny_model, kshot, tmp_path_factory):
    """Three real runs: ZO at two learning rates and GD."""
    root = tmp_path_factory.mktemp("runs")
    for name, flags in (("zo", ["--algo", "zo", "--lr", "1e-3"]),
                        ("zo-lr2", ["--algo", "zo", "--lr", "2e-3"]),
                        ("gd", ["--algo", "gd", "--lr", "1e-3"])):
        train.main(["--model", str(tiny_model), "--data-dir", str(kshot), "--out",
                    str(root / name), *FLAGS, *flags])
    return root


@pytest.fixture(autouse=True)
def assets(monkeypatch, tmp_path):
    """assets/ of these tests: a temporary folder (a test must never replace the paper's
    figure)."""
    folder = tmp_path / "assets"
    monkeypatch.setattr(plot.plotting, "ASSETS", folder)
    yield folder
    plot.plt.close("all")  # the figures `drawn` kept open


def copy_run(src, dst, edit):
    res = copy.deepcopy(read_json(src / "result.json"))
    edit(res)
    write_json(dst / "result.json", res)
    return res


def lines(ax):
    return {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}


def test_plot_from_json(runs, tmp_path):
    path = plot.main(["--runs", str(runs), "--out", str(tmp_path / "roberta.png")])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_share_a_curve_only_with_the_same_settings(runs, tmp_path, drawn):
    folder = tmp_path / "runs"
    zo = read_json(runs / "zo" / "result.json")
    for name in ("zo", "zo-lr2", "gd"):
        copy_run(runs / name, folder / name, lambda r: None)

    def seed21(res):  # a second seed of the first setting, with other numbers
        res["config"]["seed"] = 21
        for rec in res["log"]:
            rec["train_loss"] += 1.0
    copy_run(runs / "zo", folder / "zo-seed21", seed21)
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    ax = drawn[0].axes[0]
    got = lines(ax)
    assert set(got) == {"ZO (lr 0.001; seeds 13, 21)", "ZO (lr 0.002; seed 13)",
                        "GD (lr 0.001; seed 13)"}
    expected = [rec["train_loss"] + 0.5 for rec in zo["log"]]  # mean of seed 13 and seed 21
    np.testing.assert_allclose(got["ZO (lr 0.001; seeds 13, 21)"].get_ydata(), expected)
    assert "seed" in drawn[0].axes[0].get_legend().get_texts()[0].get_text()

    drawn.clear()
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png"), "--seeds", "21"])
    assert set(lines(drawn[0].axes[0])) == {"ZO (lr 0.001; seed 21)"}


def test_a_diverged_run_is_drawn_alone_up_to_its_divergence(runs, tmp_path, drawn, capsys):
    folder = tmp_path / "runs"
    zo = copy_run(runs / "zo", folder / "zo", lambda r: None)

    def diverge(res):
        res["config"]["seed"] = 21
        res["config"]["diverged_at_step"] = 3
        res["status"] = "diverged"
        res["log"] = [{**rec, "train_loss": 50.0} for rec in res["log"][:2]]
    copy_run(runs / "zo", folder / "zo-div", diverge)
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    got = lines(drawn[0].axes[0])
    np.testing.assert_array_equal(got["ZO (lr 0.001; seed 13)"].get_ydata(),
                                  [rec["train_loss"] for rec in zo["log"]])
    div = got["ZO (lr 0.001; seed 21): diverged at step 3"]
    assert list(div.get_ydata()) == [50.0, 50.0] and list(div.get_xdata()) == [0, 2]
    out, err = capsys.readouterr()
    assert out == f"wrote {tmp_path / 'r.png'}\n"
    assert "note: drew 1 diverged run(s) on their own" in err


def test_negative_trace_estimates_stay_visible_with_their_error(runs, tmp_path, drawn):
    folder = tmp_path / "runs"

    def negative(res):
        for i, rec in enumerate(res["log"]):
            rec["trace"], rec["trace_stderr"] = (-30.0 if i == 1 else 200.0), 40.0
    copy_run(runs / "zo", folder / "zo", negative)
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    fig = drawn[0]
    ax = fig.axes[1]
    assert ax.get_yscale() == "symlog"
    ringed = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert len(ringed) == 1 and list(ringed[0].get_ydata()) == [-30.0]
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(-70.0) and band.max() == pytest.approx(240.0)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["band: ± s.e. (one seed)"]
    title = fig.get_suptitle()
    n = read_json(folder / "zo" / "result.json")["config"]["n_params"]
    # a tiny-random run is not the paper's: a title that says so, then the model line
    assert title.startswith("Prompt fine-tuning, ZO vs GD — not the paper's settings:")
    assert "model tiny-random" in title and "\ntiny-random, " in title
    assert f"{n / 1e6:.1f}M parameters" in title
    drawn.clear()
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png"), "--title", "demo"])
    assert drawn[0].get_suptitle().startswith("demo\ntiny-random")


@pytest.mark.parametrize("content, message", [
    (b"{not json", "is not valid JSON"),
    (b'{"log": []}', "'config'"),
    (b'{"config": {"task": "SST-2"}, "log": [{"x": 1}]}', "not a roberta/train.py result"),
])
def test_a_bad_result_file_is_named_in_one_line(tmp_path, capsys, content, message):
    bad = tmp_path / "runs" / "broken" / "result.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(content)
    with pytest.raises(SystemExit) as exc:
        plot.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "r.png")])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and str(bad) in err and message in err
    assert len(err.strip().splitlines()) == 1


def test_an_unwritable_output_fails_before_reading(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exc:
        plot.main(["--runs", str(tmp_path), "--out", str(tmp_path / "file" / "r.png")])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "is a file, not a folder" in err


def test_an_out_that_is_not_an_image_fails_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        plot.main(["--runs", str(tmp_path), "--out", str(tmp_path / "README.md")])
    assert exit_.value.code != 0 and "give a file ending in .png" in capsys.readouterr().err


# --- unfinished runs, malformed records, the trace band, data identity, where the figure goes ---

def status_running(seed, keep, shift=0.0, steps=None):
    """An edit: the run as seed ``seed`` stopped (status running) after ``keep`` records."""
    def edit(res):
        res["config"]["seed"] = seed
        res["status"] = "running"
        if steps is not None:
            res["config"]["steps"] = steps
        res["log"] = [{**rec, "train_loss": rec["train_loss"] + shift} for rec in
                      res["log"][:keep]]
    return edit


def notes(err):
    return [ln for ln in err.splitlines() if ln.startswith("note: ")]


def test_an_unfinished_run_is_drawn_apart_and_left_out_of_the_mean(runs, tmp_path, drawn,
                                                                   capsys):
    folder = tmp_path / "runs"
    zo = copy_run(runs / "zo", folder / "zo", lambda r: None)
    killed = copy_run(runs / "zo", folder / "zo-seed21", status_running(21, 2, shift=1.0))
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    got = lines(drawn[0].axes[0])
    assert set(got) == {"ZO (lr 0.001; seed 13)", "ZO (lr 0.001; seed 21): running, step 2 of 4"}
    finished = got["ZO (lr 0.001; seed 13)"]
    assert list(finished.get_xdata()) == [0, 2, 4]  # not cut to the killed run's steps
    np.testing.assert_array_equal(finished.get_ydata(), [r["train_loss"] for r in zo["log"]])
    alone = got["ZO (lr 0.001; seed 21): running, step 2 of 4"]
    assert alone.get_linestyle() == ":" and list(alone.get_xdata()) == [0, 2]
    np.testing.assert_array_equal(alone.get_ydata(), [r["train_loss"] for r in killed["log"]])
    for ax in drawn[0].axes[:3]:  # the trace and accuracy rows keep the finished run's steps
        solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-" and len(ln.get_xdata())]
        assert max(max(ln.get_xdata()) for ln in solid) == 4
    said = [n for n in notes(capsys.readouterr().err) if "zo-seed21" in n]
    assert len(said) == 1 and "left out of the mean" in said[0] and "running" in said[0]


def test_a_curve_whose_runs_are_all_running_is_drawn_over_their_common_steps(runs, tmp_path,
                                                                            drawn, capsys):
    folder = tmp_path / "runs"
    a = copy_run(runs / "zo", folder / "zo", status_running(13, 3, steps=10))
    b = copy_run(runs / "zo", folder / "zo-seed21", status_running(21, 2, shift=1.0, steps=10))
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    got = lines(drawn[0].axes[0])
    assert set(got) == {"ZO (lr 0.001; seeds 13, 21): running, to step 2 of 10"}
    line = got["ZO (lr 0.001; seeds 13, 21): running, to step 2 of 10"]
    assert list(line.get_xdata()) == [0, 2]
    expected = [(x["train_loss"] + y["train_loss"]) / 2 for x, y in
                zip(a["log"][:2], b["log"], strict=True)]
    np.testing.assert_allclose(line.get_ydata(), expected)
    said = [n for n in notes(capsys.readouterr().err) if "still running" in n]
    assert len(said) == 1 and "step 4" in said[0]  # what the common steps leave out


@pytest.mark.parametrize("index, edit", [
    (1, lambda rec: rec.pop("train_loss")),
    (1, lambda rec: rec.update(train_loss="0.69")),
    (2, lambda rec: rec.update(trace=[1.0])),
    (0, lambda rec: rec.update(test_acc=True)),
    (1, lambda rec: rec.update(step=0)),
    (2, lambda rec: rec.update(step=4.0)),
])
def test_a_malformed_log_record_is_an_error_naming_the_file_and_record(runs, tmp_path, drawn,
                                                                        capsys, index, edit):
    folder = tmp_path / "runs"
    copy_run(runs / "zo", folder / "zo", lambda r: None)

    def malformed(res):
        res["config"]["seed"] = 21
        edit(res["log"][index])
    copy_run(runs / "zo", folder / "zo-seed21", malformed)
    with pytest.raises(SystemExit) as exc:
        plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and len(err.strip().splitlines()) == 1
    assert str(folder / "zo-seed21" / "result.json") in err and f"log record {index}" in err
    assert not drawn and not (tmp_path / "r.png").exists()


def test_a_null_value_is_a_gap_in_its_curve_not_a_step_dropped_from_every_seed(
        runs, tmp_path, drawn, capsys):
    folder = tmp_path / "runs"
    zo = copy_run(runs / "zo", folder / "zo", lambda r: None)

    def nan_at_step_2(res):  # result.json stores a NaN as null
        res["config"]["seed"] = 21
        res["log"][1]["train_loss"] = None
    other = copy_run(runs / "zo", folder / "zo-seed21", nan_at_step_2)
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    line = lines(drawn[0].axes[0])["ZO (lr 0.001; seeds 13, 21)"]
    assert list(line.get_xdata()) == [0, 2, 4]
    y = line.get_ydata()
    assert np.isnan(y[1])
    for i in (0, 2):
        assert y[i] == pytest.approx((zo["log"][i]["train_loss"] +
                                      other["log"][i]["train_loss"]) / 2)
    said = [n for n in notes(capsys.readouterr().err) if "null" in n]
    assert len(said) == 1 and "zo-seed21" in said[0] and "step 2" in said[0]


def test_the_trace_band_of_several_seeds_is_their_spread_with_the_standard_error_as_bars(
        runs, tmp_path, drawn):
    folder = tmp_path / "runs"
    traces = {13: ([100.0, 200.0, 300.0], 10.0), 21: ([140.0, 180.0, 260.0], 20.0)}

    def traced(seed):
        def edit(res):
            res["config"]["seed"] = seed
            for rec, t in zip(res["log"], traces[seed][0], strict=True):
                rec["trace"], rec["trace_stderr"] = t, traces[seed][1]
        return edit
    for seed in traces:
        copy_run(runs / "zo", folder / f"zo-{seed}", traced(seed))
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    ax = drawn[0].axes[1]
    band = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(band) == 1
    corners = {(x, y) for x, y in band[0].get_paths()[0].vertices}
    # min–max over the seeds at each step
    for x, lo, hi in zip([0, 2, 4], [100, 180, 260], [140, 200, 300], strict=True):
        assert (x, lo) in corners and (x, hi) in corners
    se = np.sqrt(10.0**2 + 20.0**2) / 2  # s.e. of the mean of two estimates
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(bars) == 1
    segments = sorted((s[0, 0], s[0, 1], s[1, 1]) for s in bars[0].get_segments())
    np.testing.assert_allclose(segments, [(0, 120 - se, 120 + se), (2, 190 - se, 190 + se),
                                          (4, 280 - se, 280 + se)])
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "min–max over seeds" in legend and "s.e. of the mean" in legend


def data_tag(sums):
    return hashlib.sha256(repr(sorted(sums.items())).encode()).hexdigest()[:8]


def test_curves_that_differ_only_in_data_are_labelled_by_a_data_tag(runs, tmp_path, drawn,
                                                                    capsys):
    folder = tmp_path / "runs"
    a = copy_run(runs / "zo", folder / "zo", lambda r: None)

    def other_split(res):
        res["config"]["data_sha256"]["train.tsv"] = "0" * 64
    b = copy_run(runs / "zo", folder / "zo-other-data", other_split)
    plot.main(["--runs", str(folder), "--out", str(tmp_path / "r.png")])
    tags = [data_tag(r["config"]["data_sha256"]) for r in (a, b)]
    assert tags[0] != tags[1]
    assert set(lines(drawn[0].axes[0])) == {f"ZO (lr 0.001, data {t}; seed 13)" for t in tags}
    said = [n for n in notes(capsys.readouterr().err) if "data" in n]
    assert len(said) == 1 and all(t in said[0] for t in tags)


def test_a_run_found_twice_is_drawn_once_with_a_note_naming_the_dropped_copy(runs, tmp_path,
                                                                            drawn, capsys):
    def created(when, shift):
        def edit(res):
            res["config"]["created"] = when
            for rec in res["log"]:
                rec["train_loss"] += shift
        return edit
    copy_run(runs / "zo", tmp_path / "a" / "zo", created("2026-01-01T00:00:00+00:00", 0.0))
    newer = copy_run(runs / "zo", tmp_path / "b" / "zo", created("2026-01-02T00:00:00+00:00",
                                                                 1.0))
    plot.main(["--runs", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
               str(tmp_path / "r.png")])
    got = lines(drawn[0].axes[0])
    assert set(got) == {"ZO (lr 0.001; seed 13)"}
    np.testing.assert_array_equal(got["ZO (lr 0.001; seed 13)"].get_ydata(),
                                  [r["train_loss"] for r in newer["log"]])
    said = [n for n in notes(capsys.readouterr().err) if "twice" in n or "duplicate" in n]
    assert len(said) == 1 and str(tmp_path / "a" / "zo") in said[0]


def test_only_the_written_path_goes_to_stdout(runs, tmp_path, drawn, assets, capsys):
    folder = tmp_path / "runs"
    copy_run(runs / "zo", folder / "zo", lambda r: None)
    copy_run(runs / "zo", folder / "zo-seed21", status_running(21, 2))

    def diverge(res):
        res["config"].update(seed=42, diverged_at_step=3)
        res["status"] = "diverged"
    copy_run(runs / "zo", folder / "zo-div", diverge)
    copy_run(runs / "zo", folder / "zo-empty", status_running(87, 0))
    path = plot.main(["--runs", str(folder)])  # not the paper's settings: a note says where
    out, err = capsys.readouterr()
    assert out == f"wrote {path}\n"
    assert len(notes(err)) >= 4 and all(ln.startswith("note: ") for ln in err.splitlines())


# The paper's settings (roberta/train.py's defaults, restated here to check them): ZO lr 1e-5,
# GD 5e-5. eval_steps stays at the tiny runs' 2: it sets the checkpoints and the dev accuracy,
# which the figure does not draw.
PAPER = {"model": "roberta-large", "tie_emb": False, "eps": 2e-3, "test_every": 100,
         "batch_size": 0, "chunk_size": 64, "max_length": 128, "trace_every": 500,
         "trace_samples": 100, "trace_delta": 1e-4, "trace_estimator": "zo",
         "max_grad_norm": 1.0, "dtype": "fp32"}
PAPER_LR = {"zo": 1e-5, "gd": 5e-5}


def papers(**change):
    def edit(res):
        c = res["config"]
        c.update(PAPER, lr=PAPER_LR[c["algo"]])
        c.update(change)
    return edit


def test_runs_at_the_papers_settings_draw_figure_3_into_assets(runs, tmp_path, drawn, assets,
                                                                capsys):
    folder = tmp_path / "runs"
    copy_run(runs / "zo", folder / "zo", papers())
    copy_run(runs / "zo", folder / "zo-local", papers(model="/scratch/hub/roberta-large", seed=21))
    copy_run(runs / "gd", folder / "gd", papers(eps=0.5))  # eps is no GD setting
    path = plot.main(["--runs", str(folder)])
    assert path == assets / "roberta.png"
    assert drawn[0].get_suptitle().startswith("Figure 3 — prompt fine-tuning, ZO vs GD\n")
    assert capsys.readouterr().out == f"wrote {path}\n"


def test_a_run_still_running_keeps_assets_for_finished_runs(runs, tmp_path, drawn, assets,
                                                           capsys):
    """A live sweep at the paper's settings, plotted by hand, draws beside its runs."""
    folder = tmp_path / "runs"
    copy_run(runs / "zo", folder / "zo", papers())

    def running(res):
        papers()(res)
        res["status"] = "running"
        res["log"] = res["log"][:-1]

    copy_run(runs / "gd", folder / "gd", running)
    path = plot.main(["--runs", str(folder)])
    assert path == folder / "roberta.png" and not assets.exists()
    said = [n for n in notes(capsys.readouterr().err) if "finished runs only" in n]
    assert len(said) == 1 and "1 run(s) still running (gd)" in said[0]


@pytest.mark.parametrize("change, differs", [
    ({"model": "/models/tiny-random"}, "model tiny-random"),
    ({"trace_dtype": "float32"}, "trace_dtype float32"),
    ({"lr": 2e-5}, "lr 2e-05"),
    ({"eps": 1e-3}, "eps 0.001"),
    ({"trace_every": 100}, "trace_every 100"),
    ({"dtype": "bf16"}, "dtype bf16"),
])
def test_runs_not_at_the_papers_settings_are_drawn_beside_them(runs, tmp_path, drawn, assets,
                                                               capsys, change, differs):
    folder = tmp_path / "runs"
    copy_run(runs / "zo", folder / "zo", papers(**change))
    copy_run(runs / "gd", folder / "gd", papers())
    path = plot.main(["--runs", str(folder)])
    assert path == folder / "roberta.png" and not assets.exists()
    title = drawn[0].get_suptitle()
    assert not title.startswith("Figure 3") and differs in title
    out, err = capsys.readouterr()
    said = [n for n in notes(err) if "paper" in n]
    assert out == f"wrote {path}\n" and len(said) == 1 and differs in said[0]
    assert str(path) in said[0] or "beside" in said[0]
    drawn.clear()  # an explicit --out (and --title) is always honoured
    explicit = assets / "mine.png"
    assert plot.main(["--runs", str(folder), "--out", str(explicit), "--title", "mine"]) == \
        explicit
    assert drawn[0].get_suptitle().startswith("mine\n")


def test_a_single_run_folder_draws_beside_itself(runs, tmp_path, drawn, assets):
    folder = tmp_path / "runs"
    copy_run(runs / "zo", folder / "zo", lambda r: None)  # tiny-random: not the paper's
    assert plot.main(["--runs", str(folder / "zo")]) == folder / "roberta.png"


# --- tables: the published key points, each run's numbers ----------------------------------------

def test_compare_published_measures_the_papers_runs_of_seed_42(runs, tmp_path, capsys):
    """A finished run at the paper's settings and seed 42 is measured against the published
    curve (a tiny run is far off it); another seed, or no run at all, is 'no run'."""
    folder = tmp_path / "runs"
    for seed in (42, 13):
        copy_run(runs / "zo", folder / f"zo-{seed}",
                 papers(task="SST-2", k=32, seed=seed, steps=100_000))
    plot.main(["--runs", str(folder), "--compare-published", "--summary"])
    rows = {line.split("|")[2].strip(): line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| 3 |")}
    assert len(rows) == 8 and "no run" in rows["SST-2 K=32 GD"]
    ours = rows["SST-2 K=32 ZO"]
    assert "no run" not in ours and "/ 6" in ours and "train_loss" in ours  # off, and said so
    plot.main(["--runs", str(tmp_path / "nothing-here"), "--compare-published"])
    assert capsys.readouterr().out.count("no run") == 45  # every published key point


def test_the_runs_table_is_read_from_their_logs(runs, capsys):
    plot.main(["--runs", str(runs / "gd"), "--table"])
    row = next(ln for ln in capsys.readouterr().out.splitlines() if "GD" in ln)
    log = read_json(runs / "gd" / "result.json")["log"]
    trace = [r for r in log if "trace" in r]
    assert f"{log[0]['train_loss']:.4g} → {log[-1]['train_loss']:.4g}" in row
    assert f"{trace[-1]['trace']:.4g} ± {trace[-1]['trace_stderr']:.2g}" in row
