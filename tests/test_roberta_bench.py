"""roberta/bench.py and roberta/gpu_check.py on the CPU: the measurements run, bad input is one
line, and the GPU check's whole pipeline runs end to end at tiny sizes (--cpu-smoke)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from roberta import bench, model, zo  # noqa: E402


def test_bench_smoke():
    res = bench.main(["--size", "tiny", "--batch", "2", "--seq-len", "16", "--warmup", "1",
                      "--reps", "1", "--device", "cpu"])
    assert res["forward_s"] > 0 and res["ratio"] > 1 and res["mem_zo_gib"] > 0
    assert res["zo_step_naive_s"] > 0 and res["gd_step_s"] > 0
    assert res["trace_overhead_zo"] > 0 and res["trace_overhead_gd"] > 0
    assert "gd_step_deterministic_s" not in res and "grad_init_loss" not in res


def test_bench_progress_and_deterministic_gd(capsys):
    res = bench.main(["--size", "tiny-random", "--batch", "2", "--seq-len", "16", "--warmup",
                      "1", "--reps", "1", "--device", "cpu", "--deterministic-gd",
                      "--trace-check", "0"])
    assert res["gd_step_deterministic_s"] > 0 and res["gd_deterministic_cost"] > 0
    assert not torch.are_deterministic_algorithms_enabled()  # put back
    out, err = capsys.readouterr()
    assert "GD step, deterministic" in out and "tiny-random (0.152M parameters)" in out
    lines = err.splitlines()
    for step in ("forward pass", "ZO step (3 passes)", "trace sample, float64", "GD step"):
        assert f"bench: {step}" in lines


@pytest.mark.parametrize("flags, message", [
    (["--device", "foo"], "not a device"),
    (["--device", "meta"], "only cpu and cuda"),
    (["--size", "tiny-random", "--seq-len", "200"], "at most 128 tokens"),
])
def test_bench_bad_input_is_one_line(capsys, flags, message):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--size", "tiny", "--batch", "2", "--seq-len", "16", *flags])
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.startswith("bench: ")]
    assert exc.value.code == 1 and len(err) == 1 and message in err[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_bench_cuda_without_cuda_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--device", "cuda"])
    assert exc.value.code == 1 and "CUDA is not available" in capsys.readouterr().err


def test_grad_check_compares_precisions_on_the_same_points():
    net = bench.build("tiny-random", torch.device("cpu"))
    chunks = [bench.synthetic_batch(8, 32, torch.device("cpu"), net.mlm.config.vocab_size)]
    params = zo.trainable(net)
    before = [p.detach().clone() for p in params]
    model.set_precision(net, "bf16")
    res = bench.grad_check(net, chunks, 3, 2e-3)
    assert net.autocast == torch.bfloat16  # the network's precision is put back
    model.set_precision(net, "fp32")
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))  # bit for bit
    assert res["error_tf32"] == 0  # TF32 does nothing on a CPU: identical losses
    assert 0 < res["error_fp32"] < 1e-3  # fp32's own rounding, against float64
    assert 1e-3 < res["error_bf16"] < 0.5  # bf16 rounds the forward visibly
    assert res["grad_rms"] > 0 and res["loss"] == pytest.approx(model.mean_loss(net, chunks))
    # the same seeds give the same numbers: the comparison is on fixed z, not fresh draws
    assert bench.grad_check(net, chunks, 3, 2e-3) == res


def test_bench_grad_check_at_init_and_after_gd(capsys):
    res = bench.main(["--size", "tiny-random", "--batch", "8", "--seq-len", "32", "--warmup",
                      "1", "--reps", "1", "--device", "cpu", "--no-gd", "--trace-check", "0",
                      "--grad-check", "2", "--check-gd-steps", "3"])
    assert res["check_loss_after"] < res["check_loss_before"]
    assert res["grad_init_loss"] == res["check_loss_before"]
    assert res["grad_trained_loss"] == res["check_loss_after"]
    for point in ("init", "trained"):
        assert res[f"grad_{point}_error_tf32"] == 0 and res[f"grad_{point}_error_bf16"] > 0
    out = capsys.readouterr().out
    assert "after 3 GD steps at lr 0.03" in out and "(no effect on a CPU)" in out
