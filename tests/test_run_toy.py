"""The toy CLI: files, keys, determinism, errors, and running from any directory."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flatzero.results import read_json, strip_volatile
from test_func import run_toy

SCRIPT = Path(run_toy.__file__)
SMALL = ["--iters", "300", "--dim", "6"]


def test_writes_the_four_files_with_documented_keys(tmp_path):
    run_toy.main(["--out", str(tmp_path), *SMALL])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "DD-17.json", "GD-17.json", "ZO-17.json", "lam-17.json"]
    for algo in ("GD", "ZO", "DD"):
        rec = read_json(tmp_path / f"{algo}-17.json")
        assert set(rec) == {"num_iter", "list_loss", "list_hess", "config"}
        assert rec["num_iter"] == list(range(1, 301))
        assert len(rec["list_loss"]) == len(rec["list_hess"]) == 300
        c = rec["config"]
        assert (c["algorithm"], c["seed"], c["d"], c["T"]) == (algo, 17, 6, 300)
        assert {"lr", "lam", "package_version", "wall_time_s"} <= set(c)
    lam = read_json(tmp_path / "lam-17.json")
    assert sorted(lam) == ["0.01", "0.05", "0.1"]
    assert lam["0.05"]["config"]["lam"] == 0.05
    # Figure 1's ZO run and the λ = 0.1 run of the sweep are the same run.
    assert lam["0.1"]["list_loss"] == read_json(tmp_path / "ZO-17.json")["list_loss"]


def test_first_entry_is_the_initial_point(tmp_path):
    run_toy.main(["--out", str(tmp_path), *SMALL, "--algos", "GD", "--lams"])
    rec = read_json(tmp_path / "GD-17.json")
    rng = np.random.RandomState(17)
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
    for name in ("GD-17.json", "ZO-17.json", "DD-17.json", "lam-17.json"):
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
    rec = read_json(tmp_path / "ZO-17.json")
    its = rec["num_iter"]
    assert its[0] == 1 and its[-1] == 1000 and its == sorted(set(its))
    assert 40 <= len(its) <= 50
    run_toy.main(["--out", str(tmp_path / "all"), "--iters", "1000", "--dim", "4",
                  "--algos", "ZO", "--lams"])
    full = read_json(tmp_path / "all" / "ZO-17.json")
    assert rec["list_loss"] == [full["list_loss"][i - 1] for i in its]


@pytest.mark.parametrize("flags, message", [
    (["--iters", "0"], "--iters"),
    (["--dim", "-3"], "--dim"),
    (["--lams", "0.1", "-1"], "--lams"),
    (["--algos", "SGD"], "--algos"),
    (["--seeds", "x"], "--seeds"),
    (["--log-points", "1"], "--log-points"),
    (["--algos", "--lams"], "nothing to run"),
])
def test_bad_flags_exit_with_one_line(tmp_path, flags, message):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), *flags],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_runs_as_a_script_from_any_directory(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", "res", "--iters", "50",
                           "--dim", "3", "--algos", "GD", "--lams"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "res" / "GD-17.json").exists()


def test_bench_smoke(capsys):
    from test_func import bench

    bench.main(["--iters", "300", "--seeds", "1"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.split()[0] == "1" and line.endswith("True")  # identical JSON
