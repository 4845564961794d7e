"""roberta/train.py: the paper's parameterisation, run folders that are never silently replaced,
one-line errors, --model tiny-random, and data parallel under torchrun (2 CPU processes, gloo)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from conftest import REPO, numbers, run_train  # noqa: E402

from flatzero.results import read_json  # noqa: E402
from roberta import distributed, gd, model, prompts, tiny_random, train, zo  # noqa: E402

SMALL = ("--steps", "4", "--eval-steps", "2", "--trace-every", "0", "--lr", "1e-3")


# --- the model: untied, as the paper's --------------------------------------------------------

def test_untied_by_default_adds_vocab_times_hidden_parameters(tiny_model):
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    ids = prompts.label_word_ids("SST-2", tok)
    untied, tied = model.load(str(tiny_model), ids), model.load(str(tiny_model), ids, tie_emb=True)
    conf = AutoConfig.from_pretrained(tiny_model)
    count = lambda net: sum(p.numel() for p in zo.trainable(net))  # noqa: E731
    assert count(untied) == count(tied) + conf.vocab_size * conf.hidden_size
    inp, out = untied.mlm.get_input_embeddings(), untied.mlm.get_output_embeddings()
    assert out.weight is not inp.weight and torch.equal(out.weight, inp.weight)
    assert tied.mlm.get_output_embeddings().weight is tied.mlm.get_input_embeddings().weight
    # ZO moves the two matrices independently once untied.
    zo.perturb_(zo.trainable(untied), 3, 1e-2)
    assert not torch.equal(out.weight, inp.weight)


def test_a_checkpoint_s_own_output_matrix_is_loaded_as_its_own_parameter(tiny_model, tmp_path):
    """A checkpoint whose config says tied but whose file stores a decoder matrix unlike the
    embeddings: the authors' untied model loads that matrix, and so must we (a plain tied load
    would drop it for a copy of the embeddings)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    mlm = AutoModelForMaskedLM.from_pretrained(tiny_model, tie_word_embeddings=False)
    torch.manual_seed(3)
    decoder = torch.randn_like(mlm.get_output_embeddings().weight)
    with torch.no_grad():
        mlm.get_output_embeddings().weight.copy_(decoder)
    mlm.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": True}))
    assert model.saved_tensor(str(tmp_path), model.DECODER) is not None
    ids = prompts.label_word_ids("SST-2", AutoTokenizer.from_pretrained(tmp_path))
    net = model.load(str(tmp_path), ids)
    out, inp = net.mlm.get_output_embeddings().weight, net.mlm.get_input_embeddings().weight
    assert out is not inp and torch.equal(out, decoder) and not torch.equal(out, inp)
    # tiny-random is saved tied (one matrix): its output matrix is the embeddings, cloned
    assert model.saved_tensor(str(tiny_model), model.DECODER) is None


def test_deterministic_kernels_only_for_cuda(monkeypatch):
    """GD's backward on CUDA may pick non-deterministic kernels; on a CPU nothing changes."""
    assert not torch.are_deterministic_algorithms_enabled()
    distributed.init("cpu", deterministic=True)
    assert not torch.are_deterministic_algorithms_enabled()
    monkeypatch.setattr(distributed, "resolve_device", lambda name: torch.device("cuda"))
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        distributed.init("cuda", deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        torch.use_deterministic_algorithms(False)


def test_a_reduced_precision_forward_is_warned_about(tiny_model, kshot, tmp_path, capsys):
    run_train(tiny_model, kshot, tmp_path / "bf16", *SMALL, "--dtype", "bf16")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: --dtype bf16 rounds the forward")


def test_config_records_the_parameterisation(tiny_model, kshot, tmp_path):
    untied = run_train(tiny_model, kshot, tmp_path / "u", *SMALL)["config"]
    tied = run_train(tiny_model, kshot, tmp_path / "t", *SMALL, "--tie-emb")["config"]
    assert untied["tie_emb"] is False and tied["tie_emb"] is True
    assert untied["n_params"] > tied["n_params"] and untied["world_size"] == 1


def test_gd_step_skips_parameters_without_gradient(tiny_model, kshot):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    net = model.load(str(tiny_model), prompts.label_word_ids("SST-2", tok))
    unused = torch.nn.Parameter(torch.ones(3))
    net.register_parameter("unused", unused)
    enc = prompts.encode([train.data.Example("a good film", 1)], "SST-2", tok)
    loss = gd.gd_step(net, zo.trainable(net), [prompts.collate(enc, tok.pad_token_id)], 0.1,
                         1.0)
    assert loss > 0 and torch.equal(unused.detach(), torch.ones(3))


def test_mini_batches_keep_the_last_partial_batch(tiny_model, kshot, tmp_path, monkeypatch):
    """PyTorch's DataLoader (drop_last=False), as in the paper's trainer: 16 rows in batches of
    6 give 6, 6, 4 per epoch, each epoch a fresh permutation covering every row once."""
    sizes = []
    original = train.Trainer.next_batch

    def spy(self, state):
        batch = original(self, state)
        sizes.append(model.rows(batch))
        return batch

    monkeypatch.setattr(train.Trainer, "next_batch", spy)
    run_train(tiny_model, kshot, tmp_path / "mb", "--batch-size", "6", "--steps", "6",
            "--eval-steps", "6", "--trace-every", "0")
    assert sizes == [6, 6, 4, 6, 6, 4]


# --- run folders -------------------------------------------------------------------------------

def test_default_folder_names_every_setting_that_changes_numbers():
    paper = train.Config()
    assert train.default_out(paper).name == "SST-2-k32-zo-seed42"
    assert train.default_out(train.Config(algo="gd", lr=5e-5)).name == "SST-2-k32-gd-seed42"
    smoke = train.Config(steps=500, batch_size=64, lr=1e-4, model="/x/tiny-random")
    assert train.default_out(smoke).name == "SST-2-k32-zo-seed42_tiny-random_lr0.0001_bs64"
    names = {train.default_out(train.Config(**{key: value})).name for key, value in
             [("chunk_size", 8), ("dtype", "bf16"), ("tie_emb", True), ("trace_delta", 1e-3),
              ("max_length", 64), ("trace_every", 100), ("trace_dtype", "float32")]}
    assert len(names) == 7 and train.default_out(paper).name not in names
    # --steps, --eval-steps and --test-every may change on --resume: they name no folder
    for key, value in [("steps", 40), ("eval_steps", 10), ("test_every", 7)]:
        assert train.default_out(train.Config(**{key: value})) == train.default_out(paper)
    # a setting that does not apply to the algorithm names nothing
    assert train.default_out(train.Config(algo="gd", lr=5e-5, eps=1e-2)).name == \
        "SST-2-k32-gd-seed42"


def test_a_finished_run_is_never_replaced_silently(tiny_model, kshot, tmp_path, capsys):
    first = run_train(tiny_model, kshot, tmp_path / "r", *SMALL)
    assert first["status"] == "finished"
    with pytest.raises(SystemExit) as exc:
        run_train(tiny_model, kshot, tmp_path / "r", *SMALL)
    assert exc.value.code == 1 and "--overwrite" in capsys.readouterr().err
    assert read_json(tmp_path / "r" / "result.json") == first
    # Only checkpoint.old left (a crash between the renames): still a run.
    shutil.rmtree(tmp_path / "r" / "checkpoint.old", ignore_errors=True)
    (tmp_path / "r" / "checkpoint").rename(tmp_path / "r" / "checkpoint.old")
    (tmp_path / "r" / "result.json").unlink()
    with pytest.raises(SystemExit):
        run_train(tiny_model, kshot, tmp_path / "r", *SMALL)
    again = run_train(tiny_model, kshot, tmp_path / "r", *SMALL, "--overwrite")
    assert numbers(again) == numbers(first)
    assert (tmp_path / "r" / "train.log").read_text().count("step=") == 3


def test_resume_refuses_settings_that_change_numbers(tiny_model, kshot, tmp_path, capsys):
    run_train(tiny_model, kshot, tmp_path / "r", *SMALL)
    with pytest.raises(SystemExit) as exc:
        run_train(tiny_model, kshot, tmp_path / "r", *SMALL, "--resume", "--chunk-size", "4")
    assert exc.value.code == 1 and "chunk_size: 64 → 4" in capsys.readouterr().err
    run_train(tiny_model, kshot, tmp_path / "r", *SMALL[:-2], "--resume", "--lr", "1e-3",
            "--steps", "6")  # more steps: allowed


@pytest.mark.slow
def test_train_log_has_no_repeats_after_a_crash_and_resume(tiny_model, kshot, tmp_path,
                                                           monkeypatch):
    flags = ("--steps", "10", "--eval-steps", "5", "--trace-every", "2", "--trace-samples", "2",
             "--lr", "1e-3")
    whole = run_train(tiny_model, kshot, tmp_path / "whole", *flags)
    original = train.Trainer.step

    def crash(self, state, batch):
        if state.step == 8:  # records at 6 and 8 exist beyond the checkpoint of step 5
            raise RuntimeError("killed")
        return original(self, state, batch)

    monkeypatch.setattr(train.Trainer, "step", crash)
    with pytest.raises(RuntimeError):
        run_train(tiny_model, kshot, tmp_path / "crash", *flags)
    monkeypatch.setattr(train.Trainer, "step", original)
    resumed = run_train(tiny_model, kshot, tmp_path / "crash", *flags, "--resume")
    assert numbers(resumed) == numbers(whole)

    def steps(path):
        return [line.split()[0] for line in path.read_text().splitlines()]
    assert steps(tmp_path / "crash" / "train.log") == steps(tmp_path / "whole" / "train.log")


# --- one-line errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("flags, message", [
    (["--max-grad-norm", "nan"], "max-grad-norm"),
    (["--max-grad-norm", "-1"], "max-grad-norm"),
    (["--max-grad-norm", "0"], "max-grad-norm"),
    (["--trace-delta", "1e-200"], "at least 1e-08"),
    (["--trace-delta", "1e-150"], "θ ± δu is θ"),
    (["--eps", "1e-30"], "machine epsilon"),
    (["--trace-samples", "1"], "standard error"),
    (["--max-length", "3"], "leaves no room"),
    (["--seed", str(2**32)], "seed must be an integer"),
    (["--seed", "-3"], "seed"),
    (["--resume", "--overwrite"], "exclude"),
    (["--device", "foo"], "not a device"),
    (["--device", "meta"], "only cpu and cuda"),
])
def test_bad_flags_fail_with_one_line(tiny_model, kshot, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exc:
        run_train(tiny_model, kshot, tmp_path / "bad", *SMALL, *flags)  # the last --device wins
    err = capsys.readouterr().err
    assert exc.value.code in (1, 2) and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "bad" / "result.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line(tiny_model, kshot, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(["--model", str(tiny_model), "--data-dir", str(kshot), "--k", "8", "--seed",
                    "13", "--device", "cuda", "--out", str(tmp_path / "c")])
    assert "CUDA is not available" in capsys.readouterr().err


def test_out_problems_are_found_before_any_work(tiny_model, kshot, tmp_path, capsys,
                                                monkeypatch):
    monkeypatch.setattr(model, "load_model", lambda *a, **k: pytest.fail("loaded the model"))
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        with pytest.raises(SystemExit) as exc:
            run_train(tiny_model, kshot, out, *SMALL)
        err = capsys.readouterr().err
        assert exc.value.code == 1 and "is a file, not a folder" in err
        assert len(err.strip().splitlines()) == 1


def test_truncated_checkpoint_says_what_to_do(tiny_model, kshot, tmp_path, capsys):
    run_train(tiny_model, kshot, tmp_path / "r", *SMALL)
    weights = tmp_path / "r" / "checkpoint" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(SystemExit) as exc:
        run_train(tiny_model, kshot, tmp_path / "r", *SMALL, "--resume", "--steps", "6")
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "checkpoint.old" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1


def test_resume_without_checkpoint(tiny_model, kshot, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_train(tiny_model, kshot, tmp_path / "none", *SMALL, "--resume")
    assert "no checkpoint" in capsys.readouterr().err


def test_hub_name_offline_fails_in_seconds_naming_tiny_random(kshot, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(model, "hub_reachable", lambda timeout_s=3.0: False)
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        train.main(["--model", "roberta-large", "--data-dir", str(kshot), "--k", "8", "--seed",
                    "13", "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "--model tiny-random" in err and "roberta-large" in err
    assert time.perf_counter() - start < 20


def test_hub_reachable_gives_up_after_its_timeout(monkeypatch):
    """A silent hub: the connection waits for the timeout it is given (none: minutes), then
    fails; a hub that refuses (a closed port) is unreachable at once."""
    from huggingface_hub import constants

    seen = []

    def silent(address, timeout=None):
        seen.append(timeout)
        if timeout is None:
            raise AssertionError("no timeout: a silent hub would hold the run for minutes")
        time.sleep(timeout)
        raise TimeoutError

    with monkeypatch.context() as mp:
        mp.setattr(socket, "create_connection", silent)
        start = time.perf_counter()
        assert model.hub_reachable(timeout_s=0.2) is False
        assert seen == [0.2] and time.perf_counter() - start < 2
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    assert model.hub_reachable(timeout_s=2.0) is False


# --- tiny-random --------------------------------------------------------------------------------

def test_tiny_random_is_deterministic_and_a_valid_prompt_model(tmp_path):
    from transformers import AutoTokenizer

    a, b = tiny_random.build(tmp_path / "a"), tiny_random.build(tmp_path / "b")
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir()) and "model.safetensors" in files
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    tok = AutoTokenizer.from_pretrained(a)
    for task in prompts.LABEL_WORDS:
        assert len(prompts.label_word_ids(task, tok)) == len(prompts.LABEL_WORDS[task])
    assert tiny_random.ensure(a) == a  # built: reused, not rebuilt
    (a / "flatzero.json").write_text('{"name": "tiny-random", "version": 0}')
    assert tiny_random.ensure(a) == a and json.loads((a / "flatzero.json").read_text())[
        "version"] == tiny_random.VERSION


# --- data parallel (torchrun, 2 CPU processes, gloo) -------------------------------------------

def torchrun(tiny_model, kshot, out, *flags, nproc=2, ok=True):
    """result.json of a run under torchrun; with ``ok=False``, the stderr of a failing one."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", str(REPO / "roberta" / "train.py"),
           "--model", str(tiny_model), "--data-dir", str(kshot), "--out", str(out), "--quiet",
           "--k", "8", "--seed", "13", "--device", "cpu", "--dist-timeout", "60", *flags]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    if not ok:
        assert done.returncode != 0
        return done.stderr
    assert done.returncode == 0, done.stderr[-2000:]
    return read_json(out / "result.json")


def one_thread_run(*args):
    """The single-process reference with one intra-op thread, as each torchrun rank has: a CPU
    matmul's rounding depends on how many threads split it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_train(*args)
    finally:
        torch.set_num_threads(threads)


def weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "checkpoint" / "model.safetensors"))


DP = ("--eval-steps", "3", "--test-every", "3", "--trace-every", "3", "--trace-samples", "2",
      "--lr", "1e-3", "--chunk-size", "5", "--batch-size", "12")


@pytest.mark.slow
def test_zo_two_processes_bit_identical_to_one_and_resume(tiny_model, kshot, tmp_path):
    """16 rows in mini-batches of 12 cut into chunks of 5: ranks get unequal shares; a run
    stopped at step 3 and resumed under torchrun equals one uninterrupted process."""
    one = one_thread_run(tiny_model, kshot, tmp_path / "one", *DP, "--steps", "6")
    torchrun(tiny_model, kshot, tmp_path / "two", *DP, "--steps", "3")
    two = torchrun(tiny_model, kshot, tmp_path / "two", *DP, "--steps", "6", "--resume")
    assert numbers(two) == numbers(one) and two["config"]["world_size"] == 2
    w1, w2 = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)


GD_TOLERANCE = 1e-5  # relative, train loss after 20 steps (README)


@pytest.mark.slow
def test_gd_two_processes_match_one_within_rounding(tiny_model, kshot, tmp_path):
    flags = ("--algo", "gd", "--steps", "20", "--eval-steps", "10", "--trace-every", "20",
             "--trace-estimator", "hutchinson", "--trace-samples", "2", "--lr", "0.05",
             "--chunk-size", "4")
    one = one_thread_run(tiny_model, kshot, tmp_path / "one", *flags)
    two = torchrun(tiny_model, kshot, tmp_path / "two", *flags)
    first, last = one["log"][-1]["train_loss"], two["log"][-1]["train_loss"]
    assert one["log"][0]["train_loss"] == two["log"][0]["train_loss"]
    assert one["log"][0]["trace"] == two["log"][0]["trace"]  # Hutchinson parts, chunk order
    assert first != one["log"][0]["train_loss"]  # it trained
    assert abs(first - last) <= GD_TOLERANCE * abs(first)


@pytest.mark.slow
@pytest.mark.parametrize("flags, message", [
    (("--chunk-size", "16"), "16 rows per step in chunks of 16 make 1 chunk(s) for 2 processes, "
                             "so 1 would idle: pass --chunk-size 8 or less"),
    (("--out", "FILE"), "is a file, not a folder"),
])
def test_torchrun_errors_are_one_line_from_rank_0(tiny_model, kshot, tmp_path, flags, message):
    """Every rank finds the problem before the model loads; only rank 0 says it (torchrun then
    reports the failed job as it does)."""
    (tmp_path / "FILE").write_text("x")
    flags = [str(tmp_path / f) if f == "FILE" else f for f in flags]
    err = torchrun(tiny_model, kshot, tmp_path / "r", *flags, ok=False)
    ours = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(ours) == 1 and message in ours[0]
    assert 'train.py", line' not in err  # no traceback through our code, on any rank


@pytest.mark.slow
def test_resume_on_another_number_of_processes_needs_allow_device_change(tiny_model, kshot,
                                                                         tmp_path, capsys):
    """GD rounds its all-reduced gradients by the number of processes: a run started on 2 and
    resumed on 1 would be neither trajectory, so it is refused unless asked for, and then
    recorded."""
    flags = ("--algo", "gd", "--eval-steps", "2", "--trace-every", "0", "--lr", "1e-2",
             "--chunk-size", "8")
    torchrun(tiny_model, kshot, tmp_path / "r", *flags, "--steps", "2")
    with pytest.raises(SystemExit):
        run_train(tiny_model, kshot, tmp_path / "r", *flags, "--steps", "4", "--resume")
    err = capsys.readouterr().err
    assert "world_size: 2 → 1" in err and "--allow-device-change" in err
    moved = run_train(tiny_model, kshot, tmp_path / "r", *flags, "--steps", "4", "--resume",
                    "--allow-device-change")
    assert moved["config"]["machine_changes"] == ["world_size: 2 → 1"]
    assert moved["config"]["world_size"] == 1 and moved["log"][-1]["step"] == 4


def test_world_ordered_sum_is_the_single_process_sum():
    world = distributed.World()
    values = {i: torch.tensor(v, dtype=torch.float64) for i, v in
              enumerate([0.1, 1e16, -1e16, 0.3, 1 / 3])}
    expected = 0.0
    for v in values.values():
        expected += float(v)
    assert world.ordered_sum(values, 5) == expected
    two = [distributed.World(rank=r, size=2) for r in range(2)]
    assert [i for w in two for i, _ in w.mine(list(range(5)))] == [0, 2, 4, 1, 3]


# --- the CPU demo ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_cpu_demo_runs_end_to_end_and_a_smoke_run_keeps_assets(tmp_path):
    """roberta/examples/cpu-demo.sh with 2 steps: both runs finish, the figure is drawn beside
    them, and assets/roberta-cpu-demo.png (the default demo's) is left alone."""
    asset = REPO / "assets" / "roberta-cpu-demo.png"
    before = asset.read_bytes() if asset.exists() else None
    env = {**os.environ, "PYTHONPATH": str(REPO), "STEP": "2", "EVAL_STEP": "1",
           "TRACE_EVERY": "1", "OUT": str(tmp_path)}
    done = subprocess.run(["bash", str(REPO / "roberta" / "examples" / "cpu-demo.sh"), "--quiet",
                           "--trace-samples", "2"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for algo in ("zo", "gd"):
        result = read_json(tmp_path / f"SST-2-k32-{algo}" / "result.json")
        assert result["status"] == "finished" and result["config"]["model"] == "tiny-random"
        assert [rec["step"] for rec in result["log"]] == [0, 1, 2]
    assert (tmp_path / "cpu-demo.png").stat().st_size > 0
    assert (asset.read_bytes() if asset.exists() else None) == before
