"""roberta/plot.py on result.json files of real tiny runs (and edited copies of them): which runs
share a curve, diverged runs, negative trace estimates, the title, and one-line errors."""

import copy

import numpy as np
import pytest

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


def copy_run(src, dst, edit):
    res = copy.deepcopy(read_json(src / "result.json"))
    edit(res)
    write_json(dst / "result.json", res)
    return res


@pytest.fixture()
def drawn(monkeypatch):
    """The figure plot.main saves (kept open for inspection)."""
    figs = []

    def save(fig, path):
        figs.append(fig)
        fig.savefig(path)
        return path

    monkeypatch.setattr(plot.plotting, "save", save)
    return figs


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
    assert "diverged" in capsys.readouterr().out


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
    title = fig.get_suptitle()
    n = read_json(folder / "zo" / "result.json")["config"]["n_params"]
    assert title.startswith("Figure 3") and "tiny-random" in title
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
