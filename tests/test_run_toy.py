"""The toy CLI: files, keys, names, determinism, divergence, Ctrl-C, errors, and running from
any directory."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ctrl_c_reaches

from flatzero.results import read_json, strip_volatile
from test_func import run_toy

SCRIPT = Path(run_toy.__file__)
SMALL = ["--iters", "300", "--dim", "6"]
TAG = "-T300-d6"  # what SMALL adds to the paper's file names


def test_writes_the_four_files_with_documented_keys(tmp_path):
    run_toy.main(["--out", str(tmp_path), *SMALL])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"DD-13{TAG}.json", f"GD-13{TAG}.json", f"ZO-13{TAG}.json", f"lam-13{TAG}.json"]
    for algo in ("GD", "ZO", "DD"):
        rec = read_json(tmp_path / f"{algo}-13{TAG}.json")
        assert set(rec) == {"num_iter", "list_loss", "list_hess", "config"}
        assert rec["num_iter"] == list(range(1, 301))
        assert len(rec["list_loss"]) == len(rec["list_hess"]) == 300
        c = rec["config"]
        assert (c["algorithm"], c["seed"], c["d"], c["T"]) == (algo, 13, 6, 300)
        assert {"lr", "lam", "package_version", "wall_time_s"} <= set(c)
    lam = read_json(tmp_path / f"lam-13{TAG}.json")
    assert sorted(lam) == ["0.01", "0.05", "0.1"]
    assert lam["0.05"]["config"]["lam"] == 0.05
    # Figure 1's ZO run and the λ = 0.1 run of the sweep are the same run.
    assert lam["0.1"]["list_loss"] == read_json(tmp_path / f"ZO-13{TAG}.json")["list_loss"]


def test_paper_names_only_for_the_paper_settings():
    def tags(*flags):
        args = run_toy.build_parser().parse_args(list(flags))
        return {kind: run_toy.tag(kind, args) for kind in ("GD", "ZO", "DD", "lam")}

    assert set(tags().values()) == {""}  # GD-13.json, ..., lam-13.json
    assert tags("--iters", "500")["GD"] == "-T500"
    assert tags("--gd-lr", "0.02") == {"GD": "-lr0.02", "ZO": "", "DD": "", "lam": ""}
    assert tags("--lam", "0.05")["ZO"] == "-lam0.05" and tags("--lam", "0.05")["lam"] == ""
    assert tags("--lams", "0.05")["lam"] == "-lams0.05"
    assert tags("--lams", "0.01", "0.1", "0.05")["lam"] == ""  # the same sweep
    # Settings that change numbers never share a name.
    variants = [[], ["--iters", "500"], ["--dim", "10"], ["--zo-lr", "0.002"],
                ["--log-points", "50"], ["--iters", "500", "--dim", "10"]]
    names = [tuple(tags(*v).values()) for v in variants]
    assert len(set(names)) == len(names)


def test_default_seed_is_the_published_figures_and_17_is_one_flag_away(tmp_path):
    assert run_toy.build_parser().parse_args([]).seeds == [13]
    run_toy.main(["--out", str(tmp_path), "--iters", "2", "--algos", "GD", "--lams"])
    run_toy.main(["--out", str(tmp_path), "--iters", "2", "--algos", "GD", "--lams",
                  "--seeds", "17"])
    start = {s: read_json(tmp_path / f"GD-{s}-T2.json")["list_hess"][0] for s in (13, 17)}
    # the published figure's trace starts at 154.7; the authors' run_toy.py (seed 17) at 216.9
    assert round(start[13], 1) == 154.7 and round(start[17], 1) == 216.9


def test_first_entry_is_the_initial_point(tmp_path):
    run_toy.main(["--out", str(tmp_path), *SMALL, "--algos", "GD", "--lams"])
    rec = read_json(tmp_path / f"GD-13{TAG}.json")
    rng = np.random.RandomState(13)
    x, y = rng.randn(6), rng.randn(6)
    assert rec["list_hess"][0] == np.dot(x, x) + np.dot(y, y)
    assert rec["list_loss"][0] == 0.5 * (x @ y - 1.0) ** 2


def test_same_seed_gives_identical_json(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_toy.main(["--out", str(a), *SMALL, "--seeds", "3", "4"])
    run_toy.main(["--out", str(b), *SMALL, "--seeds", "3", "4", "--workers", "1"])
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) == 8
    for name in names:
        assert strip_volatile(read_json(a / name)) == strip_volatile(read_json(b / name))


def test_naive_flag_gives_the_same_numbers(tmp_path):
    run_toy.main(["--out", str(tmp_path / "f"), *SMALL, "--lams", "0.05"])
    run_toy.main(["--out", str(tmp_path / "n"), *SMALL, "--lams", "0.05", "--naive"])
    for name in (f"GD-13{TAG}.json", f"ZO-13{TAG}.json", f"DD-13{TAG}.json",
                 f"lam-13{TAG}-lams0.05.json"):
        f, n = read_json(tmp_path / "f" / name), read_json(tmp_path / "n" / name)
        f.pop("config", None), n.pop("config", None)
        for rec in (f, n):
            for v in rec.values():
                if isinstance(v, dict):
                    v.pop("config")
        assert f == n


def test_log_points(tmp_path):
    run_toy.main(["--out", str(tmp_path), "--iters", "1000", "--dim", "4", "--algos", "ZO",
                  "--lams", "--log-points", "50"])
    rec = read_json(tmp_path / "ZO-13-T1000-d4-log50.json")
    its = rec["num_iter"]
    assert its[0] == 1 and its[-1] == 1000 and its == sorted(set(its))
    assert 40 <= len(its) <= 50
    run_toy.main(["--out", str(tmp_path / "all"), "--iters", "1000", "--dim", "4",
                  "--algos", "ZO", "--lams"])
    full = read_json(tmp_path / "all" / "ZO-13-T1000-d4.json")
    assert rec["list_loss"] == [full["list_loss"][i - 1] for i in its]


def test_divergence_keeps_the_finite_iterations_and_fails(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_toy.main(["--out", str(tmp_path), *SMALL, "--gd-lr", "1e3", "--lams", "0.05"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "1 run(s) diverged (GD seed 13 at iteration" in err
    path = tmp_path / f"GD-13{TAG}-lr1000.0.json"
    rec = read_json(path)
    assert None not in rec["list_loss"] + rec["list_hess"]  # no NaN / inf written as null
    k = rec["config"]["diverged_at_iter"]
    # The paper's loop, written here: the first non-finite iterate is number k.
    rng = np.random.RandomState(13)
    x, y = rng.randn(6), rng.randn(6)
    losses = []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(k):
            r = x @ y - 1.0
            losses.append(0.5 * (r**2) if np.isfinite(np.dot(x, x) + np.dot(y, y)) else np.inf)
            gx, gy = r * y, r * x
            x = x - 1e3 * gx
            y = y - 1e3 * gy
    assert np.all(np.isfinite(losses[:-1])) and not np.isfinite(losses[-1])
    assert rec["num_iter"] == list(range(1, k))
    np.testing.assert_allclose(rec["list_loss"], losses[:-1], rtol=1e-12)
    # The other runs of the seed are complete.
    assert len(read_json(tmp_path / f"ZO-13{TAG}.json")["list_loss"]) == 300


@pytest.mark.slow
def test_ctrl_c_exits_130_without_a_traceback_and_keeps_only_whole_files(tmp_path):
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--out", str(tmp_path),
                             "--iters", "3000000", "--dim", "20", "--algos", "ZO", "--lams",
                             "--log-points", "50", "--workers", "1",
                             "--seeds", *map(str, range(8))], stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_reaches)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert len(err.strip().splitlines()) == 1
    kept = sorted(tmp_path.glob("*.json"))
    assert len(kept) < 8 and not list(tmp_path.glob("*.tmp"))
    for path in kept:  # whole files: every list as long as the logged iterations
        saved = read_json(path)
        assert len(saved["list_loss"]) == len(saved["list_hess"]) == len(saved["num_iter"])


@pytest.mark.parametrize("flags, message", [
    (["--iters", "0"], "--iters"),
    (["--dim", "-3"], "--dim"),
    (["--lams", "0.1", "-1"], "--lams"),
    (["--algos", "SGD"], "--algos"),
    (["--seeds", "x"], "--seeds"),
    (["--seeds", str(2**32)], "2**32"),
    (["--seeds", str(2**32 - 1)], "2**32 − 2"),
    (["--seeds", "-1"], "a seed must be"),
    (["--lam", "1e-30"], "--lam"),
    (["--lams", "0.1", "1e-9"], "√ε"),
    (["--log-points", "1"], "--log-points"),
    (["--algos", "--lams"], "nothing to run"),
    (["--out", "{file}"], "is a file, not a folder"),
    (["--out", "{file}/sub"], "is a file, not a folder"),
    (["--out", "/proc/flatzero-test"], "cannot write into /proc"),
])
def test_bad_input_exits_with_one_line_before_any_work(tmp_path, capsys, flags, message):
    if "/proc" in message and not Path("/proc").is_dir():
        pytest.skip("needs /proc, a folder nobody can write into")
    (tmp_path / "file").write_text("")
    flags = [f.format(file=tmp_path / "file") for f in flags]
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        run_toy.main(["--out", str(tmp_path / "out"), *SMALL, *flags])
    err = capsys.readouterr().err
    assert exc.value.code in (1, 2) and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and time.perf_counter() - start < 1


@pytest.mark.slow
def test_runs_as_a_script_from_any_directory(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", "res", "--iters", "50",
                           "--dim", "3", "--algos", "GD", "--lams"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "res" / "GD-13-T50-d3.json").exists()


@pytest.mark.slow
def test_bench_smoke(capsys):
    from test_func import bench

    bench.main(["--iters", "300", "--seeds", "1"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.split()[0] == "1" and line.endswith("True")  # identical JSON
