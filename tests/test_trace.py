"""roberta.trace: the estimators on a known Hessian, and the precision of the ZO estimate on a
tiny RoBERTa after some GD steps, against independent float64 computations."""

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from torch.nn import functional as F  # noqa: E402

from flatzero.results import read_json  # noqa: E402
from roberta import data, gd, model, prompts, trace, train, zo  # noqa: E402

# --- the estimators on a known Hessian ---------------------------------------------------------

class Quadratic(torch.nn.Module):
    """f(θ) = ½ θᵀAθ + bᵀθ: Tr ∇²f = Tr A, exactly, everywhere; ``unused`` never enters f."""

    def __init__(self, n=12):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        m = torch.randn(n, n, generator=g, dtype=torch.float64)
        self.A = m @ m.T / n + torch.eye(n, dtype=torch.float64)
        self.b = torch.randn(n, generator=g, dtype=torch.float64)
        self.theta = torch.nn.Parameter(torch.randn(n, generator=g, dtype=torch.float64))
        self.unused = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))

    def loss(self):
        return 0.5 * self.theta @ self.A @ self.theta + self.b @ self.theta


@pytest.mark.parametrize("estimator", trace.ESTIMATORS)
def test_trace_estimators_on_a_quadratic(estimator):
    q = Quadratic()
    params = zo.trainable(q)
    rng = np.random.RandomState(0)
    if estimator == "zo":
        mean, se = trace.zo_trace(params, lambda: float(q.loss()), 400, 1e-3, rng)
    else:
        mean, se = trace.hutchinson_trace(params, lambda: [q.loss()], 400, rng)
    exact = float(torch.trace(q.A))
    assert se > 0 and abs(mean - exact) < 5 * se
    assert se < 0.2 * exact  # informative, not just wide


# --- precision at a trained checkpoint -----------------------------------------------------------

N, DELTA = 100, 1e-4  # train.py's defaults (the paper's δ)


@pytest.fixture(scope="module")
def trained(tiny_model, kshot):
    """The tiny RoBERTa after 40 GD steps on SST-2 K = 8 (16 rows; loss 0.69 → 0.47), its train
    set in chunks of 8 as the run cuts it, and the same rows cut another way (reversed, 6 per
    chunk) for the independent computations."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = prompts.encode(data.read_split("SST-2", kshot / "SST-2" / "8-13", "train"), "SST-2",
                          tok)
    net = model.load(str(tiny_model), prompts.label_word_ids("SST-2", tok))
    chunks = prompts.chunks(rows, 8, tok.pad_token_id, "cpu")
    with torch.random.fork_rng():
        torch.manual_seed(0)  # dropout
        for _ in range(40):
            gd.gd_step(net, zo.trainable(net), chunks, 3e-2, 1.0)
    other = [prompts.collate(rows[::-1][i:i + 6], tok.pad_token_id) for i in range(0, 16, 6)]
    return net, chunks, other


def naive_loss(net, chunks) -> float:
    """Mean cross-entropy: per-row float64 log-softmax of the logits, summed exactly."""
    per_row = [F.cross_entropy(net(b["input_ids"], b["attention_mask"], b["mask_pos"]).double(),
                               b["labels"], reduction="none") for b in chunks]
    return math.fsum(torch.cat(per_row).tolist()) / sum(len(r) for r in per_row)


@torch.no_grad()
def naive_samples(net64, directions, chunks) -> np.ndarray:
    """Each sample from scratch in float64: θ ± δu set out of place from a clean θ."""
    params = zo.trainable(net64)
    theta = [p.detach().clone() for p in params]

    def f(scale, u):
        for p, t, z in zip(params, theta, u, strict=True):
            p.copy_(t + scale * z)
        return naive_loss(net64, chunks)

    f0 = naive_loss(net64, chunks)
    return np.array([(f(DELTA, u) + f(-DELTA, u) - 2 * f0) / DELTA**2 for u in directions])


@pytest.fixture(scope="module")
def estimates(trained):
    """The samples of train.py's path (float64 around zo_samples) and of the float32 path (the
    loss as a ZO step computes it), the same u for both (seeds from RandomState(0)), and those
    u's samples computed naively in float64 on a copy."""
    net, chunks, other = trained
    params = zo.trainable(net)
    before = [p.detach().clone() for p in params]

    def samples():
        return np.array(trace.zo_samples(params, lambda: model.mean_loss(net, chunks), N, DELTA,
                                         np.random.RandomState(0)))

    with torch.no_grad(), trace.restoring(params):
        s32 = samples()
    with torch.no_grad(), trace.restoring(params), model.float64(net):
        assert all(p.dtype == torch.float64 for p in params) and net.autocast is None
        s64 = samples()
    assert all(p.dtype == torch.float32 and torch.equal(p, b)
               for p, b in zip(zo.trainable(net), before, strict=True))
    rng = np.random.RandomState(0)
    directions = [[z.double() for z in zo.direction(params, int(rng.randint(1_000_000_000)))]
                  for _ in range(N)]
    return s64, s32, naive_samples(copy.deepcopy(net).double(), directions, other)


def rounding(samples, naive) -> tuple[float, float]:
    """(rms rounding error of one sample, standard error of the mean of the samples)."""
    return (float(np.sqrt(np.mean((samples - naive) ** 2))),
            float(samples.std(ddof=1) / math.sqrt(len(samples))))


def test_float64_estimate_rounding_is_under_a_tenth_of_its_stderr(estimates):
    s64, _, naive = estimates
    floor, se = rounding(s64, naive)
    assert floor <= se / 10


def test_float32_estimate_would_not_be(estimates):
    """The same measurement of the float32 path: rounding errors of whole units (float64:
    ≈ 1e-8), more than a tenth of the standard error — the reason for ``model.float64``."""
    s64, s32, naive = estimates
    floor32, se = rounding(s32, naive)
    floor64, _ = rounding(s64, naive)
    assert floor32 > se / 10 and floor32 > 1e4 * floor64


def test_float64_parameters_get_the_float32_direction(trained):
    params = zo.trainable(trained[0])
    wide = [p.detach().double() for p in params]
    for z, z64 in zip(zo.direction(params, 5), zo.direction(wide, 5), strict=True):
        assert z64.dtype == torch.float64 and torch.equal(z64, z.double())


def test_zo_estimate_agrees_with_float64_hessian_vector_products(trained, estimates):
    """Tr H by Hutchinson (double backward, float64) with its own samples: the same number
    within 3 combined standard errors, both informative."""
    net, chunks, _ = trained
    s64 = estimates[0]
    zo_mean, zo_se = float(s64.mean()), float(s64.std(ddof=1) / math.sqrt(N))
    params = zo.trainable(net)
    with trace.restoring(params), model.float64(net):
        hvp_mean, hvp_se = trace.hutchinson_trace(
            params, lambda: (model.batch_loss(net, b) / 16 for b in chunks), 30,
            np.random.RandomState(1))
    assert abs(zo_mean - hvp_mean) <= 3 * math.hypot(zo_se, hvp_se)
    assert zo_se < 0.1 * abs(zo_mean) and hvp_se < 0.1 * abs(hvp_mean)  # Tr H may be < 0


def test_mean_loss_adds_float64_chunk_sums_in_chunk_order(trained):
    net, chunks, other = trained
    with torch.no_grad():
        parts = [float(model.batch_loss(net, b).double()) for b in chunks]
    total = 0.0
    for x in parts:
        total += x
    assert model.mean_loss(net, chunks) == total / 16  # bit for bit, in chunk order
    assert total / 16 == pytest.approx(naive_loss(net, other), rel=1e-6)
    with model.float64(net):
        assert model.mean_loss(net, chunks) == pytest.approx(naive_loss(net, other), rel=1e-13)


def test_float64_restores_dtype_and_autocast_on_error(trained):
    net = trained[0]
    params = zo.trainable(net)
    before = [p.detach().clone() for p in params]
    net.autocast = torch.bfloat16
    try:
        with pytest.raises(RuntimeError, match="inside"), model.float64(net):
            assert net.autocast is None
            raise RuntimeError("inside")
        assert net.autocast is torch.bfloat16
    finally:
        net.autocast = None
    assert all(a is b for a, b in zip(zo.trainable(net), params, strict=True))
    assert all(torch.equal(p, b) and p.dtype == torch.float32
               for p, b in zip(params, before, strict=True))


def test_the_run_estimates_in_float64(tiny_model, kshot, tmp_path, monkeypatch):
    """train.py's record(): the ZO estimate sees float64 parameters, f(θ) included."""
    seen = []
    real = trace.zo_samples

    def spy(params, loss, n, delta, rng, f0=None):
        seen.append(({p.dtype for p in params}, f0))
        return real(params, loss, n, delta, rng, f0)

    monkeypatch.setattr(trace, "zo_samples", spy)
    train.main(["--model", str(tiny_model), "--data-dir", str(kshot), "--out", str(tmp_path),
                "--quiet", "--k", "8", "--seed", "13", "--device", "cpu", "--steps", "1",
                "--eval-steps", "1", "--trace-every", "1", "--trace-samples", "2"])
    assert seen == [({torch.float64}, None)] * 2


# --- where FP64 is slow: a float32 estimate with its rounding floor ---------------------------

@pytest.mark.parametrize("capability, name, chosen", [
    ((9, 0), "NVIDIA H100 80GB HBM3", "float64"), ((9, 0), "NVIDIA H200", "float64"),
    ((8, 0), "NVIDIA A100-SXM4-80GB", "float64"), ((8, 9), "NVIDIA L40S", "float32"),
    ((8, 6), "NVIDIA A40", "float32"), ((7, 5), "Tesla T4", "float32"),
    ((9, 0), "NVIDIA H800", "float32"), ((9, 0), "NVIDIA H20", "float32")])
def test_auto_trace_dtype_follows_the_fp64_rate(capability, name, chosen, monkeypatch):
    """H100/A100 run FP64 at half the FP32 rate; L40S, A40, T4 and the H800/H20 export parts at
    1/32–1/64 or less."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert trace.resolve_dtype("auto", torch.device("cuda")) == chosen
    assert trace.resolve_dtype("float64", torch.device("cuda")) == "float64"
    assert trace.resolve_dtype("auto", torch.device("cpu")) == "float64"


def test_a_float32_estimate_reports_its_rounding_floor(trained):
    """The float32 estimate is the plain float32 antithetic mean; its standard error carries
    4·2⁻²⁴·|f(θ)|/δ² on top of the sampling error, which averaging cannot remove."""
    net, chunks, _ = trained
    params = zo.trainable(net)
    est, se = trace.estimate(net, params, chunks, "zo", 10, DELTA, "float32",
                             np.random.RandomState(5))
    f0 = model.mean_loss(net, chunks)
    samples = trace.zo_samples(params, lambda: model.mean_loss(net, chunks), 10, DELTA,
                               np.random.RandomState(5), f0)
    floor = 4 * 2.0**-24 * f0 / DELTA**2
    assert est == pytest.approx(np.mean(samples), rel=1e-12)
    assert se == pytest.approx(np.std(samples, ddof=1) / math.sqrt(10) + floor, rel=1e-12)
    assert floor > 1  # a float32 sample's rounding is not negligible at δ = 1e-4


def test_a_run_records_the_trace_precision(tiny_model, kshot, tmp_path):
    argv = ["--model", str(tiny_model), "--data-dir", str(kshot), "--quiet", "--k", "8",
            "--seed", "13", "--device", "cpu", "--steps", "1", "--trace-every", "1",
            "--trace-samples", "2"]
    for dtype in ("float32", "auto"):
        out = tmp_path / dtype
        res = train.main([*argv, "--out", str(out), "--trace-dtype", dtype])
        expected = "float64" if dtype == "auto" else dtype  # auto on a CPU: float64
        config = read_json(res)["config"]
        assert (config["trace_dtype"], config["trace_precision"]) == (dtype, expected)
        header = (out / "train.log").read_text().splitlines()[0]
        assert header.startswith("#") and header.endswith(f"trace estimate in {expected}")
