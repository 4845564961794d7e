"""roberta/data.py: LM-BFF's k-shot splits, proven against LM-BFF's published MD5 sums; build
records that keep stale splits out; one-line errors for bad data (no torch needed)."""

import csv
import hashlib
import re
import shlex
import shutil
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("pandas")

from roberta import data

LMBFF = data.HERE / "data" / "lm-bff"
SHARED = data.REPO.parent / "shared" / "data"


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def folder_bytes(folder):
    return {f.name: f.read_bytes() for f in folder.iterdir()}


@pytest.fixture()
def own_originals(originals, tmp_path):
    """A copy of the originals this test may damage."""
    return shutil.copytree(originals, tmp_path / "original")


# --- the splits are LM-BFF's -------------------------------------------------------------------

def test_sst2_split_follows_lm_bff(kshot):
    """LM-BFF's procedure, written independently: seed, shuffle, first K per label in order of
    first appearance, next K for dev; GLUE dev (872 rows) as the test set."""
    lines = (data.ORIGINAL / "SST-2" / "train.tsv").read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    np.random.seed(13)
    np.random.shuffle(body)
    groups = {}
    for line in body:
        groups.setdefault(line.strip().split("\t")[-1], []).append(line)
    folder = kshot / "SST-2" / "8-13"
    assert (folder / "train.tsv").read_text() == header + "".join(
        x for g in groups.values() for x in g[:8])
    assert (folder / "dev.tsv").read_text() == header + "".join(
        x for g in groups.values() for x in g[8:16])
    assert (folder / "test.tsv").read_text() == (data.ORIGINAL / "SST-2" / "dev.tsv").read_text()


@pytest.mark.parametrize("task, n_test", [("SST-2", 872), ("sst-5", 1000), ("trec", 500)])
def test_splits_are_balanced_disjoint_and_deterministic(kshot, originals, tmp_path, task,
                                                       n_test):
    splits = {s: data.read_split(task, kshot / task / "8-13", s) for s in ("train", "dev", "test")}
    for split in ("train", "dev"):
        counts = np.bincount([e.label for e in splits[split]], minlength=data.NUM_LABELS[task])
        assert counts.tolist() == [8] * data.NUM_LABELS[task]
    assert not {e.text for e in splits["train"]} & {e.text for e in splits["dev"]}
    assert len(splits["test"]) == n_test
    again = data.generate_kshot(task, 8, 13, originals, tmp_path)
    for f in again.iterdir():
        assert f.read_bytes() == (kshot / task / "8-13" / f.name).read_bytes()


@pytest.mark.parametrize("task", data.TASKS)
def test_lm_bff_published_md5_sums_reproduce(originals, tmp_path, task):
    """LM-BFF's own K = 16 splits (mode k-shot, seeds 13 21 42 87 100), byte for byte, from the
    files the repo ships: SST-2 from LM-BFF's 6920-row SST-2, sst-5 and trec from original/."""
    published = {}
    for line in (LMBFF / "k-shot" / "checksum").read_text().splitlines():
        digest, name = line.split()
        if name.startswith(f"{task}/"):
            published[name] = digest
    assert len(published) == 15
    root = LMBFF / "original" if task == "SST-2" else originals
    ours = {}
    for seed in data.SEEDS:
        folder = data.generate_kshot(task, 16, seed, root, tmp_path, mode="k-shot")
        ours.update({f"{task}/16-{seed}/{f.name}": md5(f) for f in folder.iterdir()
                     if f.name != data.BUILD})
    assert ours == published


def test_sst5_csv_writes_ptb_brackets_as_lm_bff(originals):
    data.build_sst5_csv(originals)
    for split, n_rows, n_bracketed in (("train", 8544, 344), ("test", 2210, 84)):
        stsa = (originals / "sst-5" / f"stsa.fine.{split}").read_text().splitlines()
        assert sum("-lrb-" in line or "-rrb-" in line for line in stsa) == n_bracketed
        with open(originals / "sst-5" / f"{split}.csv", newline="") as f:
            rows = list(csv.reader(f))
        assert len(rows) == n_rows
        assert rows == [[line[0], line[2:].replace("-lrb-", "(").replace("-rrb-", ")")]
                        for line in stsa]


def test_shipped_originals_pass_their_checksums():
    for task in data.TASKS:
        assert data.check_originals(task)
    assert set(data.check_originals("SST-2", LMBFF / "original")) == {"SST-2/train.tsv",
                                                                       "SST-2/dev.tsv"}


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (the published LM-BFF files) is absent")
def test_shipped_lm_bff_files_are_copies_of_the_published_ones():
    published = (SHARED / "lm-bff" / "k-shot" / "checksum").read_text().splitlines()
    assert (LMBFF / "k-shot" / "checksum").read_text().splitlines() == [
        line for line in published if line.split()[1].split("/")[0] in data.TASKS]
    for name in ("SST-2/train.tsv", "SST-2/dev.tsv"):
        assert (LMBFF / "original" / name).read_bytes() == (
            SHARED / "lm-bff" / "original" / name).read_bytes()
        assert (data.ORIGINAL / name).read_bytes() == (SHARED / "glue" / name).read_bytes()
    for name in ("sst-5/stsa.fine.train", "sst-5/stsa.fine.test", "trec/train.csv",
                 "trec/test.csv"):
        assert (data.ORIGINAL / name).read_bytes() == (
            SHARED / "lm-bff" / "original" / name).read_bytes()


# --- stale generated data does not survive ----------------------------------------------------

def test_stale_sst5_csv_is_rebuilt(own_originals, monkeypatch):
    folder = own_originals / "sst-5"
    data.build_sst5_csv(own_originals)
    built = folder_bytes(folder)
    # What the previous data.py left: the PTB tokens kept, no build record.
    (folder / data.BUILD).unlink()
    (folder / "train.csv").write_text("3,a -lrb- b -rrb-\n")
    data.build_sst5_csv(own_originals)
    assert folder_bytes(folder) == built
    (folder / "test.csv").write_text("0,edited\n")  # changed after its build
    data.build_sst5_csv(own_originals)
    assert folder_bytes(folder) == built
    monkeypatch.setattr(data, "GENERATOR", data.GENERATOR + 1)
    data.build_sst5_csv(own_originals)
    assert data._read_record(folder)["generator"] == data.GENERATOR


def _damage(how, folder, originals, monkeypatch):
    if how == "no record":
        (folder / data.BUILD).unlink()
    elif how == "edited":
        with open(folder / "dev.csv", "a") as f:
            f.write("1,an extra row\n")
    elif how == "malformed":
        with open(folder / "dev.csv", "a") as f:
            f.write("9,a bad label\n")
    elif how == "emptied":
        (folder / "test.csv").write_text("")
    elif how == "old generator":
        monkeypatch.setattr(data, "GENERATOR", data.GENERATOR + 1)
    elif how == "original changed":
        train = originals / "trec" / "train.csv"
        train.write_text(train.read_text() + "2,What is an added question ?\n")
        sums = originals / "SHA256SUMS"
        sums.write_text("".join(
            f"{hashlib.sha256(train.read_bytes()).hexdigest()}  trec/train.csv\n"
            if line.endswith(" trec/train.csv") else line + "\n"
            for line in sums.read_text().splitlines()))


@pytest.mark.parametrize("how, match", [
    ("no record", "has no valid build.json"), ("edited", "dev.csv that changed"),
    ("malformed", r"dev\.csv line 49: label 9 is not one of 0\.\.5"),
    ("emptied", r"test\.csv is empty"), ("old generator", "generator"),
    ("original changed", "other versions of its originals")])
def test_stale_split_is_refused_with_the_command_that_rebuilds_it(own_originals, tmp_path,
                                                                  monkeypatch, how, match):
    root = tmp_path / "k-shot"
    folder = data.generate_kshot("trec", 8, 13, own_originals, root)
    _damage(how, folder, own_originals, monkeypatch)
    with pytest.raises(data.DataError, match=match) as exc:
        data.load_task("trec", 8, 13, root)
    message = str(exc.value)
    assert "\n" not in message
    argv = shlex.split(message.rsplit("`", 2)[-2])
    assert argv[:2] == ["python", "roberta/data.py"] and "--output-dir" in argv
    data.main(argv[2:])
    splits = data.load_task("trec", 8, 13, root)
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [48, 48, 500]


def test_stale_split_in_the_default_folder_is_rebuilt(originals, tmp_path, monkeypatch, capsys):
    root = tmp_path / "k-shot-1k-test"
    monkeypatch.setattr(data, "DEFAULT_ROOTS", {root.resolve(): "k-shot-1k-test"})
    monkeypatch.setattr(data, "ORIGINAL", originals)
    first = data.load_task("sst-5", 8, 13, root)  # missing: generated
    folder = root / "sst-5" / "8-13"
    built = folder_bytes(folder)
    # What the previous data.py left: the PTB tokens kept, no build record.
    (folder / data.BUILD).unlink()
    old = built["test.csv"].decode().replace("(", "-lrb-").replace(")", "-rrb-")
    assert old.encode() != built["test.csv"]
    (folder / "test.csv").write_text(old)
    again = data.load_task("sst-5", 8, 13, root)
    assert "rebuilding it" in capsys.readouterr().err
    assert folder_bytes(folder) == built and again == first


def test_interrupted_generation_leaves_a_stale_folder(own_originals, tmp_path, monkeypatch):
    root = tmp_path / "k-shot"
    data.generate_kshot("trec", 8, 13, own_originals, root)
    written = []

    def crash_on_dev(text, path):
        if path.name == "dev.csv":
            raise KeyboardInterrupt
        written.append(path.name)
        path.write_text(text)

    monkeypatch.setattr(data, "_atomic_text", crash_on_dev)
    with pytest.raises(KeyboardInterrupt):
        data.generate_kshot("trec", 8, 21, own_originals, root)
    with pytest.raises(KeyboardInterrupt):
        data.generate_kshot("trec", 8, 13, own_originals, root)  # over a good folder
    assert written == ["test.csv", "train.csv"] * 2
    with pytest.raises(data.DataError, match=r"dev\.csv is missing: rebuild the folder"):
        data.load_task("trec", 8, 21, root)
    with pytest.raises(data.DataError, match=r"has no valid build\.json"):
        data.load_task("trec", 8, 13, root)


# --- one-line errors -----------------------------------------------------------------------------

def test_k_larger_than_the_data_is_one_line_and_writes_nothing(originals, tmp_path, capsys):
    with open(originals / "trec" / "train.csv", newline="") as f:
        fewest = min(Counter(row[0] for row in csv.reader(f)).values())
    assert fewest == 86  # ABBR
    out = tmp_path / "out"
    with pytest.raises(data.DataError, match=f"largest K is {fewest // 2}$"):
        data.generate_kshot("trec", 100000, 13, originals, out)
    with pytest.raises(data.DataError, match="K = 44 is too large"):
        data.generate_kshot("trec", fewest // 2 + 1, 13, originals, out)
    assert not out.exists()
    dev = data.read_split("trec", data.generate_kshot("trec", 43, 13, originals, tmp_path / "ok"),
                          "dev")
    assert Counter(e.label for e in dev) == dict.fromkeys(range(6), 43)
    # The CLI checks every task before it writes anything (SST-2 K = 44 alone would be fine).
    with pytest.raises(SystemExit) as exc:
        data.main(["--task", "SST-2", "trec", "--k", "44", "--data-dir", str(originals),
                   "--output-dir", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and err.count("\n") == 1 and "largest K is 43" in err
    assert not out.exists()


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_bad_seed_is_one_line_and_leaves_no_folder(originals, tmp_path, capsys, seed):
    out = tmp_path / "out"
    with pytest.raises(data.DataError, match=r"seed must be an integer in 0\.\.4294967294"):
        data.generate_kshot("trec", 8, seed, originals, out)
    with pytest.raises(data.DataError, match="seed must be"):
        data.load_task("trec", 8, seed, out)
    with pytest.raises(SystemExit) as exc:
        data.main(["--task", "trec", "--seed", str(seed), "--data-dir", str(originals),
                   "--output-dir", str(out)])
    assert exc.value.code == 2 and capsys.readouterr().err.count("\n") == 1
    assert not out.exists()


def test_missing_data_says_what_to_do(tmp_path):
    with pytest.raises(data.DataError, match="unknown task"):
        data.load_task("mnli", 8, 13, tmp_path)
    with pytest.raises(data.DataError, match="is not a folder"):
        data.generate_kshot("trec", 8, 13, tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(data.DataError, match="is missing: generate it with `python roberta"):
        data.load_task("trec", 8, 13, tmp_path / "nowhere")
    (tmp_path / "SHA256SUMS").write_bytes((data.ORIGINAL / "SHA256SUMS").read_bytes())
    with pytest.raises(data.DataError, match=r"train\.csv is missing: .*prepare_datasets\.sh"):
        data.generate_kshot("trec", 8, 13, tmp_path, tmp_path / "out")


@pytest.mark.parametrize("how, match", [
    ("missing", "SHA256SUMS is missing"), ("malformed", "SHA256SUMS line 3 is malformed"),
    ("unlisted", r"train\.csv is not listed"), ("corrupt", r"train\.csv is corrupt")])
def test_originals_are_checked_against_sha256sums(own_originals, tmp_path, how, match):
    sums = own_originals / "SHA256SUMS"
    lines = sums.read_text().splitlines()
    if how == "missing":
        sums.unlink()
    elif how == "malformed":
        sums.write_text("\n".join([*lines[:2], lines[2][:40], *lines[3:]]) + "\n")
    elif how == "unlisted":
        sums.write_text("".join(f"{x}\n" for x in lines if not x.endswith("trec/train.csv")))
    else:
        with open(own_originals / "trec" / "train.csv", "a") as f:
            f.write("1,What is new ?\n")
    out = tmp_path / "out"
    with pytest.raises(data.DataError, match=match) as exc:
        data.generate_kshot("trec", 8, 13, own_originals, out)
    assert "\n" not in str(exc.value) and not out.exists()


@pytest.mark.parametrize("task, content, match", [
    ("trec", "", "is empty"),
    ("trec", "1,fine\n7,a bad label\n", "line 2: label 7 is not one of 0..5"),
    ("trec", "1,fine\nx,a bad label\n", "line 2: label 'x'"),
    ("trec", "1,fine\n2\n", "line 2: the sentence is empty"),
    ("trec", "1,fine\n2,a,b\n", "Expected 2 fields in line 2"),
    ("trec", "1,a,b\n2,c,d\n", "expected 2 columns"),
    ("SST-2", "", "is empty"),
    ("SST-2", "sentence\tlabel\n", "is empty"),
    ("SST-2", "good \t1\nbad \t0\n", "line 1: expected the header"),
    ("SST-2", "sentence\tlabel\ngood \t1\nno label\n", "line 3: expected `sentence<TAB>label`"),
    ("SST-2", "sentence\tlabel\ngood \t2\n", "line 2: label '2' is not one of 0..1"),
])
def test_bad_split_file_is_one_line_naming_the_file_and_line(tmp_path, task, content, match):
    name = "train.tsv" if task == "SST-2" else "train.csv"
    (tmp_path / name).write_text(content)
    with pytest.raises(data.DataError, match=re.escape(match)) as exc:
        data.read_split(task, tmp_path, "train")
    assert str(tmp_path / name) in str(exc.value) and "\n" not in str(exc.value)
