"""roberta: k-shot splits, prompts, the ZO step, trace estimators, and the training CLI on a tiny
random RoBERTa (CPU, no network)."""

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from conftest import numbers, run_train  # noqa: E402

from flatzero.results import read_json  # noqa: E402
from roberta import data, model, prompts, train, zo  # noqa: E402

# --- prompts -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_templates(tokenizer):
    ex = [data.Example("a good film", 1)]
    (sst,) = prompts.encode(ex, "SST-2", tokenizer)
    toks = tokenizer.convert_ids_to_tokens(sst.input_ids)
    assert toks[0] == "<s>" and toks[-2:] == [".", "</s>"] and toks[sst.mask_pos] == "<mask>"
    assert tokenizer.decode(sst.input_ids[1:sst.mask_pos]) == "a good film It was"
    (tr,) = prompts.encode(ex, "trec", tokenizer)
    assert tr.mask_pos == 1 and tokenizer.decode(tr.input_ids) == "<s><mask>: a good film</s>"


def test_truncation_cuts_the_sentence_not_the_template(tokenizer):
    long = [data.Example("good " * 300, 0)]
    for task in data.TASKS:
        (enc,) = prompts.encode(long, task, tokenizer, max_length=40)
        assert len(enc.input_ids) == 40
        assert enc.input_ids[enc.mask_pos] == tokenizer.mask_token_id
        assert enc.input_ids[-1] == tokenizer.sep_token_id


def test_label_word_must_be_one_token(tokenizer, monkeypatch):
    assert len(prompts.label_word_ids("trec", tokenizer)) == 6
    monkeypatch.setitem(prompts.LABEL_WORDS, "SST-2", ("terrible", "xylophonically"))
    with pytest.raises(prompts.PromptError, match="xylophonically"):
        prompts.label_word_ids("SST-2", tokenizer)


# --- the ZO step -----------------------------------------------------------------------------

@pytest.fixture()
def net(tiny_model, tokenizer):
    return model.load(str(tiny_model), prompts.label_word_ids("SST-2", tokenizer))


def test_perturb_restore_round_trip_is_within_a_few_ulps(net):
    params = zo.trainable(net)
    before = [p.detach().clone() for p in params]
    eps = 1e-3
    zo.perturb_(params, 123, eps)
    zo.perturb_(params, 123, -2 * eps)
    zo.perturb_(params, 123, eps)
    for p, b, z in zip(params, before, zo.direction(params, 123), strict=True):
        ulp = torch.finfo(torch.float32).eps * (b.abs() + 2 * eps * z.abs())
        assert torch.all((p - b).abs() <= 4 * ulp)


def test_zo_step_equals_two_point_formula(net, tokenizer):
    enc = prompts.encode([data.Example("a good film", 1), data.Example("dull", 0)], "SST-2",
                         tokenizer)
    batch = [prompts.collate(enc, tokenizer.pad_token_id)]
    reference = copy.deepcopy(net)
    eps, lr, seed = 1e-3, 0.5, 7
    f_plus, f_minus, g = zo.zo_step(zo.trainable(net), lambda: model.mean_loss(net, batch),
                                    seed, eps, lr)
    # Independently: z of the same seed, losses at θ ± εz on copies, then θ − lr·ĝ·z.
    zs = zo.direction(zo.trainable(reference), seed)
    plus, minus = copy.deepcopy(reference), copy.deepcopy(reference)
    with torch.no_grad():
        for p, m, z in zip(zo.trainable(plus), zo.trainable(minus), zs, strict=True):
            p.add_(eps * z)
            m.sub_(eps * z)
    fp, fm = model.mean_loss(plus, batch), model.mean_loss(minus, batch)
    assert f_plus == pytest.approx(fp, rel=1e-5) and f_minus == pytest.approx(fm, rel=1e-5)
    assert g == pytest.approx((fp - fm) / (2 * eps), rel=1e-3, abs=1e-4)
    assert abs(g) > 1e-3  # the step actually moves
    for p, r, z in zip(zo.trainable(net), zo.trainable(reference), zs, strict=True):
        expected = r.detach() - lr * g * z
        assert torch.allclose(p.detach(), expected, rtol=1e-5, atol=1e-6)


# --- the training CLI -------------------------------------------------------------------------

def test_smoke_zo_and_gd(tiny_model, kshot, tmp_path):
    zo_run = run_train(tiny_model, kshot, tmp_path / "zo", "--algo", "zo", "--steps", "20",
                     "--eval-steps", "10", "--trace-every", "5", "--trace-samples", "3",
                     "--lr", "1e-3", "--eps", "1e-2")
    assert [r["step"] for r in zo_run["log"]] == [0, 5, 10, 15, 20]
    last = zo_run["log"][-1]
    assert {"train_loss", "trace", "trace_stderr", "test_acc", "dev_acc", "wall_time_s",
            "step_time_s", "peak_mem_gib"} <= set(last)
    assert 0 <= last["test_acc"] <= 1 and math.isfinite(last["trace"])
    assert zo_run["config"]["algo"] == "zo" and zo_run["config"]["n_train"] == 16
    assert (tmp_path / "zo" / "train.log").read_text().count("step=") == 5
    gd_run = run_train(tiny_model, kshot, tmp_path / "gd", "--algo", "gd", "--steps", "5",
                     "--eval-steps", "5", "--trace-every", "5", "--trace-samples", "2",
                     "--task", "trec", "--trace-estimator", "hutchinson")
    assert gd_run["config"]["lr"] == 5e-5 and [r["step"] for r in gd_run["log"]] == [0, 5]
    assert gd_run["log"][1]["train_loss"] != gd_run["log"][0]["train_loss"]


@pytest.mark.slow
def test_same_seed_same_json_and_trace_does_not_change_training(tiny_model, kshot, tmp_path):
    flags = ["--steps", "12", "--eval-steps", "4", "--lr", "1e-3", "--eps", "1e-2",
             "--trace-samples", "2"]
    a = run_train(tiny_model, kshot, tmp_path / "a", *flags, "--trace-every", "4")
    b = run_train(tiny_model, kshot, tmp_path / "b", *flags, "--trace-every", "4")
    assert numbers(a) == numbers(b)
    off = run_train(tiny_model, kshot, tmp_path / "off", *flags, "--trace-every", "0")
    assert [r["train_loss"] for r in off["log"]] == [r["train_loss"] for r in a["log"]]
    assert "trace" not in off["log"][1]


@pytest.mark.parametrize("algo", ["zo", "gd"])
@pytest.mark.slow
def test_resume_gives_the_uninterrupted_trajectory(tiny_model, kshot, tmp_path, algo):
    flags = ["--algo", algo, "--eval-steps", "5", "--test-every", "5", "--trace-every", "5",
             "--trace-samples", "2", "--lr", "1e-3", "--batch-size", "6"]
    whole = run_train(tiny_model, kshot, tmp_path / "whole", *flags, "--steps", "20")
    run_train(tiny_model, kshot, tmp_path / "split", *flags, "--steps", "10")
    resumed = run_train(tiny_model, kshot, tmp_path / "split", *flags, "--steps", "20", "--resume")
    assert numbers(resumed) == numbers(whole)


def test_bad_input_fails_with_one_line(tiny_model, kshot, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        train.main(["--task", "mnli"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        run_train(tiny_model, tmp_path / "nowhere", tmp_path / "o", "--steps", "1")
    assert exc.value.code == 1 and "missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        run_train(tmp_path / "no-model", kshot, tmp_path / "o2", "--steps", "1")
    err = capsys.readouterr().err  # a path is not a hub name: no download advice
    assert exc.value.code == 1 and "no such folder" in err and "download" not in err


def test_divergence_stops_keeps_the_log_and_fails(tiny_model, kshot, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_train(tiny_model, kshot, tmp_path / "div", "--algo", "gd", "--lr", "1e30",
                "--max-grad-norm", "none", "--steps", "5", "--eval-steps", "5",
                "--trace-every", "0")
    assert exc.value.code == 1 and "not finite" in capsys.readouterr().err
    saved = read_json(tmp_path / "div" / "result.json")
    assert "diverged_at_step" in saved["config"] and saved["log"][0]["step"] == 0


def test_direction_is_standard_normal_and_seeded(net):
    params = zo.trainable(net)
    z = torch.cat([t.flatten() for t in zo.direction(params, 5)])
    assert z.numel() == sum(p.numel() for p in params)
    assert abs(float(z.mean())) < 5 / z.numel() ** 0.5 and abs(float(z.std()) - 1) < 0.01
    assert torch.equal(z, torch.cat([t.flatten() for t in zo.direction(params, 5)]))
    assert not torch.equal(z, torch.cat([t.flatten() for t in zo.direction(params, 6)]))


def test_direction_is_randn_drawn_group_by_group(monkeypatch, net):
    # The documented stream: one generator seeded with the step seed, torch.randn(group size)
    # for each group in parameter order (a change here would change every run's trajectory).
    monkeypatch.setattr(zo, "GROUP", 5000)
    params = zo.trainable(net)
    gen = torch.Generator().manual_seed(11)
    expected = torch.cat([torch.randn(sum(piece.numel() for _, piece in g), generator=gen)
                          for g in zo._groups(params)])
    assert len(zo._groups(params)) > 10
    assert torch.equal(torch.cat([t.flatten() for t in zo.direction(params, 11)]), expected)


def test_groups_bound_the_extra_memory(monkeypatch, net):
    monkeypatch.setattr(zo, "GROUP", 5000)
    params = zo.trainable(net)
    groups = zo._groups(params)
    assert all(sum(piece.numel() for _, piece in g) <= 5000 for g in groups)
    assert sum(piece.numel() for g in groups for _, piece in g) == sum(p.numel() for p in params)
    before = [p.detach().clone() for p in params]
    zo.perturb_(params, 3, 0.5)
    for p, b, z in zip(params, before, zo.direction(params, 3), strict=True):
        assert torch.allclose(p, b + 0.5 * z)


def test_chunks_sort_by_length_and_leave_the_loss_unchanged(net, tokenizer):
    sentences = ["a good film", "dull", "a b c d e f g h i j k l", "good", "x y z", "It was a b"]
    enc = prompts.encode([data.Example(t, i % 2) for i, t in enumerate(sentences)], "SST-2",
                         tokenizer)
    batches = prompts.chunks(enc, 2, tokenizer.pad_token_id, "cpu")
    widths = [b["input_ids"].shape[1] for b in batches]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    assert [int(b["attention_mask"].sum(1).max()) for b in batches] == widths
    # Independently: every prompt alone, unpadded.
    alone = np.mean([model.mean_loss(net, [prompts.collate([e], tokenizer.pad_token_id)])
                     for e in enc])
    assert model.mean_loss(net, batches) == pytest.approx(alone, rel=1e-6)


def test_bf16_forward_is_close_to_fp32(net, tokenizer):
    enc = prompts.encode([data.Example("a good film", 1), data.Example("dull", 0)], "SST-2",
                         tokenizer)
    batch = [prompts.collate(enc, tokenizer.pad_token_id)]
    exact = model.mean_loss(net, batch)
    model.set_precision(net, "bf16")
    try:
        assert model.mean_loss(net, batch) == pytest.approx(exact, rel=2e-2)
    finally:
        model.set_precision(net, "fp32")

