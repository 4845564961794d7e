"""The toy plot: runs headless from JSON alone, draws the published layout, draws only runs of the
asked-for settings (and says what it left out, on stderr), names the seeds of each curve, keeps
smoke runs and other drawing options out of assets/, copes with a diverged run, prints the README
table and the key points next to the published ones, and names a bad file in one line."""

import numpy as np
import pytest

from flatzero import plotting
from flatzero.results import read_json
from test_func import plot, run_toy

SMALL = ["--iters", "200", "--dim", "5"]


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    """Seeds 1 and 2 at SMALL; seed 3 of ZO/DD at another lr; a diverging GD of seed 4."""
    folder = tmp_path_factory.mktemp("res")
    run_toy.main(["--out", str(folder), *SMALL, "--seeds", "1", "2"])
    run_toy.main(["--out", str(folder), *SMALL, "--seeds", "3", "--zo-lr", "0.002"])
    with pytest.raises(SystemExit):
        run_toy.main(["--out", str(folder), *SMALL, "--seeds", "4", "--algos", "GD", "--lams",
                      "--gd-lr", "1e3"])
    return folder


def labelled(ax):
    return {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}


@pytest.mark.slow
def test_plot_writes_pngs(res, tmp_path):
    out = tmp_path / "assets"
    written = plot.main(["--res", str(res), "--out-dir", str(out), *SMALL, "--seeds", "1", "2",
                         "3"])
    # GD of seed 3 has the settings asked for (only its ZO / DD lr differ): it is drawn.
    assert sorted(p.name for p in written) == ["test-func-T200-d5-seeds1-3.png",
                                               "test-func-lam-T200-d5-seeds1_2.png",
                                               "test-func-theory-T200-d5-seeds1_2.png"]
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def test_the_published_layout(res, tmp_path, drawn):
    plot.main(["--res", str(res), "--out-dir", str(tmp_path), *SMALL, "--seeds", "1",
               "--figures", "1", "4"])
    for fig, caption, legend in (
            (drawn[0], "(a) Comparison of GD and ZO.", ["GD", "ZO (λ → 0)", "ZO"]),
            (drawn[1], "(b) Effect of λ.", ["ZO (λ = 0.01)", "ZO (λ = 0.05)", "ZO (λ = 0.1)"])):
        loss, trace = fig.axes
        assert fig.get_suptitle() == caption
        assert (loss.get_ylabel(), trace.get_ylabel()) == ("Loss", "Trace of Hessian")
        assert loss.get_position().y0 > trace.get_position().y0  # loss above trace
        assert {ax.get_xscale() for ax in fig.axes} == {"log"} and loss.get_yscale() == "log"
        lines = labelled(trace)
        assert list(lines) == legend  # legend names and order as published
        styles = [(ln.get_color(), ln.get_linestyle()) for ln in lines.values()]
        assert styles == [(plot.BLUE, "-"), (plot.ORANGE, "--"), (plot.GREEN, ":")]
    rec = read_json(res / "DD-1-T200-d5.json")
    np.testing.assert_array_equal(labelled(drawn[0].axes[1])["ZO (λ → 0)"].get_ydata(),
                                  rec["list_hess"])  # every logged iteration, as published


def test_only_runs_with_the_asked_settings_are_averaged(res, tmp_path, drawn, capsys):
    plot.main(["--res", str(res), "--out-dir", str(tmp_path), *SMALL, "--figures", "1",
               "--seeds", "1", "2", "3"])
    captured = capsys.readouterr()
    err = captured.err
    assert "skipped" in err and "lr 0.002 (not 0.001)" in err and "ZO-3-T200-d5-lr0.002" in err
    assert "skipped" not in captured.out  # notes go to stderr
    fig = drawn[0]
    zo = labelled(fig.axes[1])["ZO"]
    runs = [read_json(res / f"ZO-{s}-T200-d5.json") for s in (1, 2)]
    expected = np.mean([np.asarray(r["list_hess"]) for r in runs], axis=0)
    np.testing.assert_allclose(zo.get_ydata(), expected, rtol=0, atol=0)
    title = fig.axes[0].get_title(loc="left")  # the seeds of each curve
    assert "GD: seeds 1–3 · ZO (λ → 0): seeds 1, 2 · ZO: seeds 1, 2" in title

    drawn.clear()
    plot.main(["--res", str(res), "--out-dir", str(tmp_path), *SMALL, "--figures", "1",
               "--zo-lr", "0.002", "--seeds", "1", "2", "3"])
    assert "GD: seeds 1–3 · ZO (λ → 0): seed 3 · ZO: seed 3" in drawn[0].axes[0].get_title(
        loc="left")


def test_a_diverged_run_is_drawn_up_to_its_divergence(res, tmp_path, drawn):
    plot.main(["--res", str(res), "--out-dir", str(tmp_path), *SMALL, "--figures", "1",
               "--gd-lr", "1e3", "--seeds", "4"])
    rec = read_json(res / "GD-4-T200-d5-lr1000.0.json")
    line = labelled(drawn[0].axes[0])[
        f"GD, seed 4: diverged at iteration {rec['config']['diverged_at_iter']}"]
    assert list(line.get_ydata()) == rec["list_loss"] and len(rec["list_loss"]) < 200


@pytest.mark.slow
def test_a_smoke_run_never_draws_into_assets(res, tmp_path, monkeypatch, capsys):
    assets = tmp_path / "assets"
    monkeypatch.setattr(plotting, "ASSETS", assets)
    written = plot.main(["--res", str(res), *SMALL, "--seeds", "1"])
    assert {p.parent for p in written} == {res} and not assets.exists()
    assert "assets/ are left as they are" in capsys.readouterr().err
    # Only the published figures' settings, seed and drawing options name the figures of assets/.
    paper = plot.build_parser().parse_args([])
    assert {plot.figure_tag(paper, f, {13}) for f in plot.FIGURES} == {""}
    assert plot.figure_tag(paper, "1", {17}) == "-seeds17"  # the authors' run_toy.py seed
    assert plot.figure_tag(paper, "1", {13, 14}) == "-seeds13_14"
    smoke = plot.build_parser().parse_args(["--iters", "500"])
    assert plot.figure_tag(smoke, "1", {13}) == plot.figure_tag(smoke, "4", {13}) == "-T500"
    # drawing options other than the defaults are not the published figure either
    thinned = plot.build_parser().parse_args(["--points", "300"])
    assert plot.figure_tag(thinned, "1", {13}) == "-pts300"
    assert plot.figure_tag(thinned, "theory", {13}) == ""  # always thinned
    std = plot.build_parser().parse_args(["--band", "std"])
    assert plot.figure_tag(std, "4", {13}) == "" and plot.figure_tag(std, "4", {13, 14}) == (
        "-seeds13_14-bandstd")


def test_published_key_points_name_another_seed_off_the_curve(tmp_path, capsys):
    """Key points that short runs at the published d = 100 already show: the trace at
    iteration 1 and GD's drop below 1e-20; seed 13 lies on the published curve, 17 off it."""
    run_toy.main(["--out", str(tmp_path), "--iters", "200", "--seeds", "13", "17",
                  "--lams", "0.01"])
    by_seed = {}
    for s in (13, 17):
        plot.main(["--res", str(tmp_path), "--iters", "200", "--lams", "0.01", "--seeds",
                   str(s), "--compare-published"])
        out = capsys.readouterr().out
        by_seed[s] = {tuple(c.strip() for c in line.split("|")[2:4]): line
                      for line in out.splitlines() if line.startswith("| ")}
        rng = np.random.RandomState(s)
        x, y = rng.randn(100), rng.randn(100)
        start = by_seed[s][("GD", "trace: value at the first iteration")]
        assert f"| {np.dot(x, x) + np.dot(y, y):.4g} |" in start  # ours, computed here
    key = ("GD", "trace: value at the first iteration")
    assert "| yes |" in by_seed[13][key] and "| **no** |" in by_seed[17][key]
    key = ("GD", "loss: first iteration below 1e-20")
    assert "| yes |" in by_seed[13][key] and "| **no** |" in by_seed[17][key]
    # a curve not run (only λ = 0.01 was swept) is reported, not skipped
    assert "no run" in by_seed[13][("ZO (λ = 0.05)", "trace: value at the last iteration")]
    plot.main(["--res", str(tmp_path), "--iters", "200", "--lams", "0.01", "--seeds", "17",
               "--compare-published", "--summary"])
    summary = capsys.readouterr().out
    assert "| 1 | GD | 0 / 5 |" in summary and "trace: value at the first iteration 216.9 " \
        "(154.7)" in summary


def test_table_and_readme_block(res, tmp_path, capsys):
    plot.main(["--res", str(res), *SMALL, "--seeds", "1", "--table"])
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| ")]
    gd = read_json(res / "GD-1-T200-d5.json")
    assert rows[1].startswith("| GD | 1 | 0.01 | — | ")
    assert f"{gd['list_hess'][0]:.4g} → {gd['list_hess'][-1]:.4g}" in rows[1]
    assert len(rows) == 1 + 3 + 2  # header, GD / ZO / DD, and the two other λ of the sweep
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- toy-table:start -->\nold\n<!-- toy-table:end -->\nrest\n")
    plot.main(["--res", str(res), *SMALL, "--seeds", "1", "--table", "--readme", str(readme)])
    text = readme.read_text()
    assert "old" not in text and rows[1] in text and text.endswith("end -->\nrest\n")
    capsys.readouterr()
    plot.main(["--res", str(res), *SMALL, "--seeds", "1", "--table", "--readme", str(readme)])
    assert "unchanged" in capsys.readouterr().out  # nothing to write: said so, file untouched
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit) as exc:
        plot.main(["--res", str(res), *SMALL, "--table", "--readme", str(readme)])
    assert exc.value.code == 1 and "toy-table:start" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"{trunc", "is not valid JSON"), (b'{"a": 1}', "is not a run_toy.py result"),
    (b'{"num_iter": [1, 2], "list_loss": [1.0], "list_hess": [1.0, 2.0], "config": {}}',
     "is not a whole result"),
    (b'{"num_iter": [1], "list_loss": [1.0], "list_hess": [null], "config": {}}',
     "is not a whole result")])
def test_a_bad_file_is_named_in_one_line(tmp_path, capsys, content, message):
    (tmp_path / "GD-1.json").write_bytes(content)
    with pytest.raises(SystemExit) as exc:
        plot.main(["--res", str(tmp_path), "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "GD-1.json" in err and message in err
    assert len(err.strip().splitlines()) == 1


def test_the_default_seed_is_the_published_figures(res, tmp_path, capsys):
    assert plot.build_parser().parse_args([]).seeds == [13]
    with pytest.raises(SystemExit) as exc:  # the fixture has seeds 1-4 only
        plot.main(["--res", str(res), "--out-dir", str(tmp_path), *SMALL])
    assert exc.value.code == 1 and "seeds 13 in" in capsys.readouterr().err


def test_plot_without_results_fails_clearly(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        plot.main(["--res", str(tmp_path), "--out-dir", str(tmp_path)])
    assert exc.value.code == 1
    assert "run_toy.py" in capsys.readouterr().err


def test_a_bad_out_dir_fails_before_reading(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exc:
        plot.main(["--res", str(tmp_path / "nowhere"), "--out-dir", str(tmp_path / "file")])
    assert exc.value.code == 1 and "is a file, not a folder" in capsys.readouterr().err
