"""roberta/bench.py and roberta/gpu_check.py on the CPU: the measurements run, bad input is one
line, and the GPU check's whole pipeline runs end to end at tiny sizes (--cpu-smoke)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from flatzero.results import read_json  # noqa: E402
from roberta import bench, model, zo  # noqa: E402
from roberta import gpu_check as gpu_check_module  # noqa: E402


@pytest.mark.slow
def test_bench_smoke():
    res = bench.main(["--size", "tiny", "--batch", "2", "--seq-len", "16", "--warmup", "1",
                      "--reps", "1", "--device", "cpu"])
    assert res["forward_s"] > 0 and res["ratio"] > 1 and res["mem_zo_gib"] > 0
    assert res["zo_step_naive_s"] > 0 and res["gd_step_s"] > 0
    assert res["trace_overhead_zo"] > 0 and res["trace_overhead_gd"] > 0
    assert "gd_step_deterministic_s" not in res and "grad_init_loss" not in res


def test_bench_progress_and_deterministic_gd(capsys):
    res = bench.main(["--model", "tiny-random", "--batch", "2", "--seq-len", "16", "--warmup",
                      "1", "--reps", "1", "--device", "cpu", "--deterministic-gd",
                      "--trace-check", "0"])
    assert res["gd_step_deterministic_s"] > 0 and res["gd_deterministic_cost"] > 0
    assert not torch.are_deterministic_algorithms_enabled()  # put back
    out, err = capsys.readouterr()
    assert "GD step, deterministic" in out
    assert "tiny-random (0.152M parameters), synthetic batch 2 × 16" in out
    lines = err.splitlines()
    for step in ("forward pass", "ZO step (3 passes)", "trace sample, float64", "GD step"):
        assert f"bench: {step}" in lines


@pytest.mark.parametrize("flags, message", [
    (["--device", "foo"], "not a device"),
    (["--device", "meta"], "only cpu and cuda"),
    (["--model", "tiny-random", "--seq-len", "200"], "at most 128 tokens"),
    (["--data", "sst2"], "needs --model"),
    (["--model", "/nowhere/model"], "no such folder"),
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
    net, _ = bench.load("tiny-random", torch.device("cpu"))
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


@pytest.mark.slow
def test_bench_grad_check_at_init_and_after_gd(capsys):
    res = bench.main(["--model", "tiny-random", "--data", "sst2", "--warmup", "1", "--reps",
                      "1", "--device", "cpu", "--no-gd", "--trace-check", "0", "--grad-check",
                      "2", "--check-gd-steps", "3"])
    assert res["batch_rows"] == 64  # SST-2 K = 32: 2 labels × 32
    assert res["check_loss_after"] < res["check_loss_before"]
    assert res["grad_init_loss"] == res["check_loss_before"]
    assert res["grad_trained_loss"] == res["check_loss_after"]
    for point in ("init", "trained"):
        assert res[f"grad_{point}_error_tf32"] == 0 and res[f"grad_{point}_error_bf16"] > 0
    out = capsys.readouterr().out
    assert "after 3 GD steps at lr 0.03" in out and "(no effect on a CPU)" in out
    assert "tiny-random (0.152M parameters), SST-2 K = 32 train set batch 64 × " in out


# --- gpu-check ----------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "roberta" / "examples" / "gpu-check.sh"


def gpu_check(*args, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_check_without_a_gpu_is_one_line(tmp_path):
    done = gpu_check("--out", str(tmp_path / "gc"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("no CUDA GPU here: ") and len(done.stderr.splitlines()) == 1
    assert "--cpu-smoke" in done.stderr and not (tmp_path / "gc").exists()


@pytest.mark.parametrize("flags, code, message", [
    (["--sections", "bench,foo"], 2, "unknown section(s) foo"),
    (["--out", "FILE"], 1, "is a file, not a folder"),
])
@pytest.mark.slow
def test_gpu_check_bad_input_is_one_line(tmp_path, flags, code, message):
    (tmp_path / "FILE").write_text("x")
    flags = [str(tmp_path / f) if f == "FILE" else f for f in flags]
    done = gpu_check("--cpu-smoke", *flags)
    assert done.returncode == code and message in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.slow
def test_gpu_check_cpu_smoke_end_to_end(tmp_path):
    """Every section of the GPU check, on the CPU at tiny sizes: the report's structure, and the
    determinism and data-parallel comparisons pass."""
    done = gpu_check("--cpu-smoke", "--out", str(tmp_path / "gc"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    report = read_json(tmp_path / "gc" / "report.json")
    assert report["status"] == "passed" and report["mode"] == "cpu-smoke"
    assert report["failed"] == [] and report["model"] == "tiny-random"
    s = report["sections"]
    assert list(s) == list(gpu_check_module.SECTIONS)
    assert all(sec["status"] == "ok" and sec["seconds"] > 0 for sec in s.values()), s
    assert s["environment"]["device"].startswith("cpu") and s["environment"]["torch"]
    assert s["fp64"]["fp64_rate"] > 0 and s["fp64"]["trace_dtype_auto"] == "float64"
    for dtype in model.DTYPES:
        r = s["bench"][dtype]
        assert r["forward_s"] > 0 and r["ratio"] > 0 and r["mem_zo_gib"] > 0
        assert r["gd_step_deterministic_s"] > 0 and r["trace_sample_s"] > 0
    assert s["bench"]["trace_sample"]["auto"] == "float64"
    g = s["grad"]
    assert g["loss_after"] < g["loss_before"] and g["trained"]["loss"] == g["loss_after"]
    for point in ("init", "trained"):
        assert g[point]["error_tf32"] == 0 and 0 < g[point]["error_fp32"] < 1e-3
        assert g[point]["error_bf16"] > 1e-4
    t = s["train"]
    assert [r["step"] for r in t["records"]] == [0, 2, 4] and t["trace_dtype"] == "float64"
    for algo in ("zo", "gd"):
        d = s["determinism"][algo]
        assert d["identical_log"] and d["identical_weights"] and d["stopped_at_step"] == 11
    p = s["data_parallel"]
    assert p["identical_log"] and p["identical_weights"] and p["processes"] == [1, 2]
    runs = tmp_path / "gc" / "runs"
    assert "stopped by SIGTERM at step 11" in (runs / "zo-stopped.log").read_text()
    assert not list(runs.glob("*/checkpoint*"))  # removed without --keep-checkpoints
    assert not list((tmp_path / "gc").glob(".*tmp"))
    out = done.stdout.splitlines()
    assert out[-1].startswith(f"report       {tmp_path / 'gc' / 'report.json'} (passed")
    assert sum("log and weights identical" in line for line in out) == 3
    assert "gpu-check: [7/7] data_parallel" in done.stderr  # progress lines


def test_comparisons_find_a_difference(tmp_path):
    from safetensors.torch import save_file

    log = {"log": [{"step": 0, "train_loss": 0.5, "wall_time_s": 1.0},
                   {"step": 5, "train_loss": 0.25, "trace": 3.0, "wall_time_s": 2.0}]}
    timing_only = {"log": [{**r, "wall_time_s": 9.0} for r in log["log"]]}
    assert gpu_check_module.compare_logs(log, timing_only) is None
    moved = {"log": [log["log"][0], {**log["log"][1], "trace": 3.0000000000000004}]}
    assert "step 5 trace" in gpu_check_module.compare_logs(log, moved)
    assert "logged steps" in gpu_check_module.compare_logs(log, {"log": log["log"][:1]})
    w = {"a": torch.ones(3), "b": torch.zeros(2)}
    for name, tensors in (("x", w), ("y", w), ("z", {**w, "b": torch.tensor([0.0, 1e-7])})):
        (tmp_path / name / "checkpoint").mkdir(parents=True)
        save_file(tensors, str(tmp_path / name / "checkpoint" / "model.safetensors"))
    assert gpu_check_module.compare_weights(tmp_path / "x", tmp_path / "y") is None
    diff = gpu_check_module.compare_weights(tmp_path / "x", tmp_path / "z")
    assert diff.startswith("1 of 2 tensors differ") and "1e-07" in diff


def test_a_failing_section_is_recorded_and_the_others_run(tmp_path, monkeypatch, capsys):
    def broken(*args):
        raise RuntimeError("CUDA error: an illegal memory access\nmore detail")

    monkeypatch.setattr(gpu_check_module, "fp64_rate", broken)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # main sets it; put back after
    code = gpu_check_module.main(["--cpu-smoke", "--out", str(tmp_path), "--sections",
                                  "environment,fp64"])
    report = read_json(tmp_path / "report.json")
    assert code == 1 and report["status"] == "failed" and report["failed"] == ["fp64"]
    assert report["sections"]["fp64"]["reason"] == ("RuntimeError: CUDA error: an illegal "
                                                    "memory access")
    assert report["sections"]["environment"]["status"] == "ok"
    assert "fp64: failed: RuntimeError" in capsys.readouterr().err
