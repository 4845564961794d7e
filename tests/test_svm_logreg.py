"""svm_logreg against the paper's materialised loop (written here), finite differences and an
explicit Hessian; the loader's checks; the CLI's files, names, determinism, divergence, Ctrl-C
and one-line errors; prepare_data.sh offline."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ctrl_c_reaches
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from flatzero.results import read_json, strip_volatile
from svm_logreg import data, train
from svm_logreg.features import FactorisedDesign
from svm_logreg.objectives import Logistic, SquaredHinge

D = 300


@pytest.fixture(scope="module")
def small():
    """A slice of the shipped a9a: 400 train rows, 250 test rows (both labels present)."""
    X, y = data.read_libsvm(data.DATA_DIR / "a9a", 123)
    Xt, yt = data.read_libsvm(data.DATA_DIR / "a9a.t", 123)
    return data.Dataset("slice", "a9a slice", X[:400], y[:400], Xt[:250], yt[:250])


def paper_run(model, algo, ds, lr, lam, seed, iters):
    """The paper's svm.py / logreg.py loop: explicit X, its formulas, its draw order."""
    np.random.seed(seed)
    Xtr, Xte = ds.X_train.toarray(), ds.X_test.toarray()
    if model == "svm":
        ytr, yte = np.where(ds.y_train <= 0, -1, 1), np.where(ds.y_test <= 0, -1, 1)
    else:
        ytr, yte = (ds.y_train > 0).astype(int), (ds.y_test > 0).astype(int)
    sc = StandardScaler()
    Xtr, Xte = sc.fit_transform(Xtr), sc.transform(Xte)
    W = np.random.randn(123, D)
    Xtr, Xte = Xtr @ W, Xte @ W
    sc = StandardScaler()
    Xtr, Xte = sc.fit_transform(Xtr), sc.transform(Xte)
    Xtr = np.hstack([np.ones((len(Xtr), 1)), Xtr])
    Xte = np.hstack([np.ones((len(Xte), 1)), Xte])
    w = np.random.randn(D + 1) * 0.1

    def sig(z):
        return 1 / (1 + np.exp(-z))

    def loss(w, X, y):
        if model == "svm":
            return np.mean(np.maximum(0, 1 - y * X.dot(w)) ** 2)
        return log_loss(y, sig(X.dot(w)))

    def grad(w, X, y):
        if model == "svm":
            m = 1 - y * X.dot(w)
            return X.T.dot(-2 * ((m > 0) * y * m)) / len(X)
        return X.T.dot(sig(X.dot(w)) - y) / len(X)

    def acc(w, X, y):
        if model == "svm":
            return np.mean(np.where(X.dot(w) >= 0, 1, -1) == y)
        return np.mean((sig(X @ w) >= 0.5).astype(int) == y)

    def hess(w, X, y):
        if model == "svm":
            active = 1 - y * X.dot(w) > 0
            return 2 * np.sum(np.sum(X[active] ** 2, axis=1)) / len(X) if active.any() else 0.0
        p = sig(X.dot(w))
        return np.mean(p * (1 - p) * np.sum(X**2, axis=1))

    out = {k: [] for k in train.METRICS}
    for _ in range(iters):
        for key, val in zip(train.METRICS, (
                loss(w, Xtr, ytr), loss(w, Xte, yte), acc(w, Xtr, ytr), acc(w, Xte, yte),
                hess(w, Xtr, ytr), hess(w, Xte, yte)), strict=True):
            out[key].append(val)
        if algo == "gd":
            g = grad(w, Xtr, ytr)
        elif algo == "zo":
            u = np.random.randn(*w.shape)
            g = (loss(w + lam * u, Xtr, ytr) - loss(w - lam * u, Xtr, ytr)) / (2.0 * lam) * u
        else:
            g0 = grad(w, Xtr, ytr)
            g = grad(w + lam * g0 / (np.linalg.norm(g0) + 1e-12), Xtr, ytr)
        w -= lr * g
    return out


@pytest.mark.parametrize("model", ["svm", "logreg"])
@pytest.mark.parametrize("algo", ["gd", "zo", "sam"])
def test_factorised_equals_paper_materialised(small, model, algo):
    lr, lam = {"svm": (1e-3, 0.05), "logreg": (0.05, 0.1)}[model]
    cfg = train.Config(model, algo, lr, lam, "slice", max_iter=20, seed=29, n_params=D)
    ours = train.train(cfg, small, progress=False)
    ref = paper_run(model, algo, small, lr, lam, 29, 20)
    for key in train.METRICS:
        np.testing.assert_allclose(ours[key], ref[key], rtol=1e-8, atol=0, err_msg=key)
    # The run must actually move, or the comparison proves little.
    assert abs(ours["train_loss"][-1] - ours["train_loss"][0]) > 1e-3


def test_materialised_design_matches_too(small):
    cfg = train.Config("svm", "zo", 1e-3, 0.05, "slice", max_iter=10, seed=3, n_params=D)
    a = train.train(cfg, small, progress=False)
    b = train.train(cfg, small, progress=False, materialised=True)
    for key in train.METRICS:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-10, err_msg=key)


@pytest.fixture(scope="module")
def explicit(small):
    """The factorised design of the slice and its explicit X_train, built independently."""
    rng = np.random.RandomState(0)
    W = rng.randn(123, 40)
    design = FactorisedDesign(small.X_train, small.X_test, W)
    S = StandardScaler().fit_transform(small.X_train.toarray()) @ W
    X = np.hstack([np.ones((len(S), 1)), StandardScaler().fit_transform(S)])
    return design, X, rng.randn(41) * 0.1


def test_coordinates_give_the_explicit_products(explicit):
    design, X, w = explicit
    P = design.coords(w)
    np.testing.assert_allclose(design.train_logits(P), X @ w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(design.sq_norms_train, np.sum(X**2, axis=1), rtol=1e-10)
    rho = np.random.RandomState(1).randn(len(X))
    g, norm = design.gradient(rho)
    np.testing.assert_allclose(g, design.coords(X.T @ rho), rtol=1e-9, atol=1e-9)
    assert norm == pytest.approx(np.linalg.norm(X.T @ rho), rel=1e-10)


@pytest.mark.parametrize("objective", [SquaredHinge, Logistic])
def test_gradient_and_trace_against_finite_differences(objective):
    rng = np.random.RandomState(4)
    n, d = 12, 5
    X = rng.randn(n, d)
    y = objective.labels(rng.choice([-1.0, 1.0], n))
    w = rng.randn(d) * 0.3
    if objective is SquaredHinge:  # keep every margin away from the kink at 0
        w *= 0.1

    def f(v):
        return objective.loss(X @ v, y)

    grad = X.T @ objective.residual(X @ w, y) / n
    h = 1e-6
    fd = np.array([(f(w + h * e) - f(w - h * e)) / (2 * h) for e in np.eye(d)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)

    h = 1e-4
    hessian = np.array([[(f(w + h * a + h * b) - f(w + h * a - h * b) - f(w - h * a + h * b)
                          + f(w - h * a - h * b)) / (4 * h * h) for b in np.eye(d)]
                        for a in np.eye(d)])
    _, _, trace = objective.metrics(X @ w, y, np.sum(X**2, axis=1))
    assert trace == pytest.approx(np.trace(hessian), rel=1e-5)


def test_logistic_loss_matches_sklearn():
    rng = np.random.RandomState(0)
    for scale in (0.1, 5.0, 60.0):  # large logits exercise the clipping
        z, y = rng.randn(2000) * scale, (rng.rand(2000) > 0.4).astype(int)
        with np.errstate(over="ignore"):
            expected = log_loss(y, 1 / (1 + np.exp(-z)))
        assert Logistic.loss(z, y) == pytest.approx(expected, rel=1e-13)


# --- data -------------------------------------------------------------------------------------

def test_resplit_is_a_documented_partition():
    train_idx, test_idx = data.resplit(100, 30)
    assert len(train_idx) == 30 and len(test_idx) == 70
    assert np.array_equal(np.sort(np.concatenate([train_idx, test_idx])), np.arange(100))
    assert np.all(np.diff(train_idx) > 0) and np.all(np.diff(test_idx) > 0)
    expected = np.sort(np.random.RandomState(data.RESPLIT_SEED).permutation(100)[:30])
    assert np.array_equal(train_idx, expected)


def test_resplit_datasets_have_the_paper_sizes():
    ds = data.load("a5a-resplit")
    assert ds.X_train.shape == (6414, 123) and ds.X_test.shape == (26147, 123)
    assert "stand-in" in ds.source
    # another permutation seed (search.py's candidate): same sizes, other rows, said so
    other = data.load("a5a-resplit", resplit_seed=1)
    assert other.X_train.shape == ds.X_train.shape and "permutation seed 1" in other.source
    assert (other.X_train != ds.X_train).nnz > 0


def fake_real_files(folder: Path, names=("a5a",)) -> None:
    """a5a / a5a.t (w5a / w5a.t) with the real files' structure: a partition of the shipped
    a9a (w8a) rows into the documented sizes, with SHA256SUMS and the shipped files beside."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in ("SHA256SUMS", *data.SHIPPED):
        if not (folder / f).exists():
            shutil.copy(data.DATA_DIR / f, folder)
    for name in names:
        spec = data.SPECS[name]
        lines = (data.DATA_DIR / spec.superset).read_text().splitlines(keepends=True)
        train_idx, test_idx = data.resplit(len(lines), spec.n_train, seed=5)
        (folder / name).write_text("".join(lines[i] for i in train_idx))
        (folder / f"{name}.t").write_text("".join(lines[i] for i in test_idx))


def test_real_files_are_checked_against_the_shipped_superset(tmp_path):
    fake_real_files(tmp_path)
    ds = data.load("a5a", tmp_path)
    assert ds.X_train.shape == (6414, 123) and ds.X_test.shape == (26147, 123)
    lines = (tmp_path / "a5a").read_text().splitlines(keepends=True)
    label, rest = lines[7].split(" ", 1)
    lines[7] = f"{'-1' if label == '+1' else '+1'} {rest}"  # one flipped label
    (tmp_path / "a5a").write_text("".join(lines))
    with pytest.raises(data.DataError, match="not exactly the rows of a9a"):
        data.load("a5a", tmp_path)


@pytest.mark.slow
def test_prepare_data_downloads_a_corrupt_file_again(tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("needs curl (file:// URLs stand in for the LIBSVM site)")
    server, folder = tmp_path / "server", tmp_path / "data"
    fake_real_files(server)
    fake_real_files(folder)
    good = (server / "a5a").read_bytes()
    (folder / "a5a").write_bytes(good.replace(b"+1 ", b"-1 ", 1))
    env = {**__import__("os").environ, "DATA_DIR": str(folder), "SETS": "a5a",
           "LIBSVM_URL": f"file://{server}", "PYTHONPATH": str(data.DATA_DIR.parents[1])}
    script = data.DATA_DIR.parent / "prepare_data.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "do not verify: downloading them again" in proc.stdout
    assert "a5a: 6414 train" in proc.stdout
    assert (folder / "a5a").read_bytes() == good
    (server / "a5a.t").write_text("+1 3:1\n")  # a bad download is refused and removed
    (folder / "a5a.t").write_text("")
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "do not verify (removed)" in proc.stderr
    assert not (folder / "a5a.t").exists()


def run_cli(tmp_path, *flags, model="svm"):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, f"svm_logreg/{model}.py", "--out", str(out),
                           "--quiet", *flags], capture_output=True, text=True,
                          cwd=data.DATA_DIR.parents[1])
    return proc, out


def data_dir_with(tmp_path, sums: str | None, files=("w8a",)) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(parents=True)
    for f in files:
        shutil.copy(data.DATA_DIR / f, folder)
    if sums is not None:
        (folder / "SHA256SUMS").write_text(sums)
    return folder


SUMS = (data.DATA_DIR / "SHA256SUMS").read_text()
_lines = SUMS.splitlines()
MALFORMED = "\n".join([_lines[0], _lines[1].replace("  ", " x "), *_lines[2:]]) + "\n"


@pytest.mark.parametrize("flags, message, code", [
    (["--data", "a6a"], "invalid choice", 2),
    (["--algo", "adam"], "invalid choice", 2),
    (["--lr", "-1"], "--lr", 2),
    (["--max_iter", "0"], "--max_iter", 2),
    (["--seed", "-1"], "a seed must be", 2),
    (["--seed", str(2**32)], "a seed must be", 2),
    (["--seed", str(2**32 - 1)], "2**32 − 2", 2),
    (["--algo", "zo", "--lam", "1e-30"], "√ε", 2),
    (["--algo", "zo", "--lam", "1e-9"], "--lam", 2),
    (["--out", "{file}"], "is a file, not a folder", 1),
    (["--out", "{file}/sub"], "is a file, not a folder", 1),
    (["--out", "/proc/flatzero-test"], "cannot write into /proc", 1),
    (["--data-dir", "{tmp}/nowhere"], "is not a folder", 1),
    (["--data-dir", "{nosums}"], "has no SHA256SUMS", 1),
    (["--data-dir", "{malformed}"], "line 2 is malformed", 1),
    (["--data-dir", "{unlisted}"], "has no checksum for w8a", 1),
    (["--data-dir", "{tmp}", "--data", "a5a"], "has no SHA256SUMS", 1),
    (["--data-dir", "{sums_only}", "--data", "a5a"], "prepare_data.sh", 1),
])
def test_bad_input_exits_with_one_line_before_any_work(tmp_path, capsys, flags, message, code):
    if "/proc" in message and not Path("/proc").is_dir():
        pytest.skip("needs /proc, a folder nobody can write into")
    (tmp_path / "file").write_text("")
    dirs = {"tmp": lambda: tmp_path, "file": lambda: tmp_path / "file",
            "nosums": lambda: data_dir_with(tmp_path / "a", None),
            "malformed": lambda: data_dir_with(tmp_path / "b", MALFORMED),
            "unlisted": lambda: data_dir_with(tmp_path / "c", "\n".join(_lines[:2]) + "\n"),
            "sums_only": lambda: data_dir_with(tmp_path / "d", SUMS, files=())}
    flags = [f.format(**{k: make() for k, make in dirs.items() if "{" + k + "}" in f})
             for f in flags]
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        train.main("svm", ["--data", "w5a-resplit", "--quiet", "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert exc.value.code == code and message in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_corrupt_file_is_refused(tmp_path, capsys):
    folder = data_dir_with(tmp_path, SUMS)
    with open(folder / "w8a", "a") as f:
        f.write("+1 3:1\n")
    with pytest.raises(SystemExit) as exc:
        train.main("svm", ["--data", "w5a-resplit", "--data-dir", str(folder), "--quiet",
                           "--out", str(tmp_path / "out")])
    assert exc.value.code == 1 and "corrupt" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_wrong_row_count_is_refused(tmp_path):
    shutil.copy(data.DATA_DIR / "SHA256SUMS", tmp_path)
    for name in ("a5a", "a5a.t"):
        shutil.copy(data.DATA_DIR / "a9a.t", tmp_path / name)
    with pytest.raises(data.DataError, match="rows, expected 6414"):
        data.load("a5a", tmp_path)


def test_file_names_carry_every_setting_that_changes_the_numbers():
    paper = train.Config("svm")
    assert paper.file_name() == "zo_a5a_0.0001_0.05_29"  # the paper's names
    assert train.Config("svm", "gd").file_name() == "gd_a5a_0.001_29"  # the published GD lr
    assert train.Config("svm", "gd", lr=1e-4).file_name() == "gd_a5a_0.0001_29"  # launcher's
    assert train.Config("logreg").file_name(with_model=True) == "logreg_zo_a5a_0.01_0.1_29"
    variants = [paper, train.Config("svm", max_iter=500), train.Config("svm", n_params=20),
                train.Config("svm", max_iter=500, n_params=20), train.Config("svm", seed=30),
                train.Config("svm", lam=0.005), train.Config("svm", data="a5a-resplit")]
    names = [c.file_name() for c in variants]
    assert len(set(names)) == len(names)
    assert names[3] == "zo_a5a_0.0001_0.05_29_it500_D20"


@pytest.mark.parametrize("model", ["svm", "logreg"])
def test_cli_writes_the_paper_keys_and_is_deterministic(tmp_path, model, capsys):
    flags = ["--data", "a5a-resplit", "--max_iter", "15", "--n_params", "64", "--algo", "zo"]
    paths = [train.main(model, [*flags, "--out", str(tmp_path / run), "--quiet"])
             for run in ("a", "b")]
    lr, lam = train.default_lr(model, "zo"), train.DEFAULTS[model]["lam"]
    # outside the model's own res_{model} folder the name starts with the model
    assert paths[0].name == f"{model}_zo_a5a-resplit_{lr}_{lam}_29_it15_D64.json"
    first, second = (read_json(p) for p in paths)
    assert set(first) == {*train.METRICS, "config"}
    assert all(len(first[k]) == 15 for k in train.METRICS)
    assert first["config"]["data_source"].startswith("offline stand-in")
    assert strip_volatile(first) == strip_volatile(second)
    out = capsys.readouterr().out.strip().splitlines()  # --quiet: one line per run
    assert len(out) == 2 and out[0].startswith(f"{model} zo λ {lam:g}") and str(paths[0]) in out[0]


def test_gd_file_name_has_no_lambda(tmp_path):
    path = train.main("svm", ["--data", "a5a-resplit", "--algo", "gd", "--max_iter", "2",
                              "--n_params", "8", "--out", str(tmp_path / "res_svm"), "--quiet"])
    assert path.name == "gd_a5a-resplit_0.001_29_it2_D8.json"
    assert read_json(path)["config"]["lam"] is None


def test_svm_and_logreg_into_one_folder_keep_both_results(tmp_path):
    flags = ["--data", "a5a-resplit", "--algo", "zo", "--lr", "0.01", "--lam", "0.1",
             "--max_iter", "5", "--n_params", "8", "--out", str(tmp_path), "--quiet"]
    paths = [train.main(model, flags) for model in ("svm", "logreg")]
    assert [p.name for p in paths] == ["svm_zo_a5a-resplit_0.01_0.1_29_it5_D8.json",
                                       "logreg_zo_a5a-resplit_0.01_0.1_29_it5_D8.json"]
    assert [read_json(p)["config"]["model"] for p in paths] == ["svm", "logreg"]
    # in the models' own folders, the paper's names (the folder says the model)
    own = [train.main(m, [*flags[:-3], "--out", str(tmp_path / f"res_{m}"), "--quiet"])
           for m in ("svm", "logreg")]
    assert {p.name for p in own} == {"zo_a5a-resplit_0.01_0.1_29_it5_D8.json"}


@pytest.mark.slow
def test_the_default_lr_is_the_published_figures(tmp_path):
    def lr(model, *flags):
        return train.main(model, ["--data", "a5a-resplit", "--max_iter", "1", "--n_params", "4",
                                  "--out", str(tmp_path), "--quiet", *flags])

    assert read_json(lr("svm", "--algo", "gd"))["config"]["lr"] == 1e-3
    assert read_json(lr("svm", "--algo", "sam"))["config"]["lr"] == 1e-3
    assert read_json(lr("svm", "--algo", "zo"))["config"]["lr"] == 1e-4
    assert read_json(lr("svm", "--algo", "gd", "--lr", "1e-4"))["config"]["lr"] == 1e-4
    assert {read_json(lr("logreg", "--algo", a))["config"]["lr"] for a in train.optim.ALGOS} == {
        0.01}


def test_divergence_keeps_the_finite_iterations_and_fails(tmp_path, capsys):
    flags = ["--data", "a5a-resplit", "--algo", "gd", "--lr", "1e6", "--n_params", "20",
             "--out", str(tmp_path), "--quiet"]
    with pytest.raises(SystemExit) as exc:
        train.main("svm", [*flags, "--max_iter", "100"])
    assert exc.value.code == 1 and "not finite at iteration" in capsys.readouterr().err
    rec = read_json(tmp_path / "svm_gd_a5a-resplit_1000000.0_29_it100_D20.json")
    k = rec["config"]["diverged_at_iter"]
    assert all(len(rec[m]) == k - 1 for m in train.METRICS)
    assert all(np.isfinite(rec[m]).all() for m in train.METRICS)  # nothing written as null
    # The kept iterations are those of a run that stops just before the divergence.
    prefix = read_json(train.main("svm", [*flags, "--max_iter", str(k - 1)]))
    assert all(prefix[m] == rec[m] for m in train.METRICS)


@pytest.mark.slow
def test_ctrl_c_writes_a_partial_result_beside_and_exits_130(tmp_path):
    name = "svm_zo_a5a-resplit_0.0001_0.05_29_it10000000_D20"
    finished = tmp_path / f"{name}.json"
    finished.write_text('{"an": "earlier finished run"}')
    proc = subprocess.Popen([sys.executable, "svm_logreg/svm.py", "--data", "a5a-resplit",
                             "--max_iter", "10000000", "--n_params", "20", "--out",
                             str(tmp_path)], cwd=data.DATA_DIR.parents[1],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_reaches)
    proc.stdout.readline()  # the data line: the loop starts now
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted at iteration" in err and len(err.strip().splitlines()) == 1
    partial = read_json(tmp_path / f"{name}.partial.json")
    n = partial["config"]["interrupted_at_iter"] - 1
    assert n > 0 and all(len(partial[m]) == n for m in train.METRICS)
    assert finished.read_text() == '{"an": "earlier finished run"}'
