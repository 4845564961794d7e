"""The measured tables of the docs: the benches' markdown modes give well-formed tables with their
commands, `python -m flatzero.readme FILE NAME` writes stdin between the markers, and
docs/measure.sh knows its blocks, each of which has its markers in the docs."""

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flatzero import readme

REPO = Path(__file__).resolve().parents[1]
MEASURE = REPO / "docs" / "measure.sh"


def tables(text: str) -> list[list[list[str]]]:
    """The markdown tables in ``text``, as rows of cells; asserts each is well-formed: a header,
    a |---| separator of as many cells, and rows of as many cells."""
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            assert line.endswith("|"), line
            current.append([c.strip() for c in line[1:-1].split("|")])
        elif current:
            found.append(current)
            current = []
    for table in found:
        assert len(table) >= 3, table  # header, separator, at least one row
        assert all(re.fullmatch(r"-{3,}", c) for c in table[1]), table[1]
        assert {len(row) for row in table} == {len(table[0])}, table
    return found


# --- python -m flatzero.readme FILE NAME --------------------------------------------------------

DOC = "# Title\n\ntext\n\n<!-- blk:start -->\nold\n<!-- blk:end -->\n\nafter\n"


def test_readme_cli_writes_stdin_between_the_markers(tmp_path, monkeypatch, capsys):
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    monkeypatch.setattr(sys, "stdin", io.StringIO("| a |\n|---|\n| 1 |\n"))
    readme.main([str(doc), "blk"])
    assert doc.read_text() == DOC.replace("old", "| a |\n|---|\n| 1 |")
    assert "updated" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("| a |\n|---|\n| 1 |"))
    readme.main([str(doc), "blk"])  # the same block: the file is not rewritten
    assert "unchanged" in capsys.readouterr().out


@pytest.mark.parametrize("stdin, name, message", [
    ("  \n", "blk", "nothing on stdin"),
    ("x\n", "other", "must hold the markers <!-- other:start -->"),
])
def test_readme_cli_errors_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, stdin,
                                                          name, message):
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exc:
        readme.main([str(doc), name])
    err = capsys.readouterr().err.splitlines()
    assert exc.value.code == 1 and len(err) == 1 and message in err[0]
    assert doc.read_text() == DOC


def test_command_leaves_out_output_options():
    argv = ["--size", "tiny", "--json", "x.json", "--markdown", "roberta-bench", "fp64-rate",
            "--label", "a b", "--markdown=grad-check"]
    assert readme.command("roberta/bench.py", argv, {"--json": 1, "--markdown": -1},
                          {"OMP_NUM_THREADS": "1"}) == \
        "OMP_NUM_THREADS=1 python roberta/bench.py --size tiny --label 'a b'"


# --- the benches' markdown ----------------------------------------------------------------------

@pytest.mark.slow
def test_toy_bench_markdown(capsys):
    from test_func import bench

    rows = bench.main(["--iters", "50", "--seeds", "1", "--markdown"])
    out, err = capsys.readouterr()
    (table,) = tables(out)
    assert table[0][0] == "seeds" and table[2][0] == "1" and table[2][-1] == "yes"
    assert rows[0][3] is True and "identical JSON" in err  # the text report on stderr
    assert "`python test_func/bench.py --iters 50 --seeds 1` (T = 50" in out


def test_svm_bench_markdown():
    from types import SimpleNamespace

    from svm_logreg import bench

    rows = [{"model": m, "algo": a, "ms_fast": 0.7, "ms_ref": 113.0, "diff": 1e-15,
             "long_diff": 2e-15, "sensitivity": 3e-16} for m in ("svm", "logreg")
            for a in ("gd", "zo")]
    for long_check in (0, 2000):
        args = SimpleNamespace(long_check=long_check, check_iters=50, fast_iters=300)
        text = bench.markdown(rows, {"svm": 0.22}, 4.6, "a5a-resplit", args, ["--markdown"])
        (table,) = tables(text)
        assert len(table) == 2 + 4 and table[2][:5] == ["SVM", "GD", "0.70 ms", "113 ms", "161×"]
        assert ("after 2000 its" in table[0]) == bool(long_check)
        assert "`svm.py` 0.22 GiB" in text and text.endswith("`python svm_logreg/bench.py`")


@pytest.fixture(scope="module")
def bench_record(tmp_path_factory):
    """One quick tiny bench run with every measurement the tables use, saved with --json."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from roberta import bench

    path = tmp_path_factory.mktemp("bench") / "tiny.json"
    bench.main(["--size", "tiny", "--batch", "4", "--seq-len", "16", "--warmup", "1", "--reps",
                "1", "--device", "cpu", "--trace-check", "3", "--check-gd-steps", "2",
                "--grad-check", "2", "--fp64-rate", "--json", str(path), "--markdown"])
    return path


@pytest.mark.slow
def test_roberta_bench_markdown_and_render(bench_record, capsys):
    from roberta import bench

    bench.main(["--render", str(bench_record)])
    out = capsys.readouterr().out
    names = re.findall(r"^<!-- (\S+) -->$", out, flags=re.M)
    assert names == ["roberta-bench", "trace-precision", "trace-cost", "fp64-rate", "grad-check"]
    assert len(tables(out)) == len(names)
    command = ("OMP_NUM_THREADS=1 python roberta/bench.py --size tiny --batch 4 --seq-len 16 "
               "--warmup 1 --reps 1 --device cpu --trace-check 3 --check-gd-steps 2 "
               "--grad-check 2 --fp64-rate")
    assert out.count(f"- `{command}`") == len(names)  # --json and --markdown left out
    assert "| GPU | large (407M, untied), 64 × 128 |" in out  # the row a CPU cannot measure
    # two runs: one row each, the commands listed once
    bench.main(["--render", str(bench_record), str(bench_record), "--markdown", "roberta-bench"])
    out = capsys.readouterr().out
    (table,) = tables(out)
    assert [row[0] for row in table[2:]] == ["CPU, 1 thread", "CPU, 1 thread", "GPU"]
    assert out.count(command) == 1 and "<!--" not in out


@pytest.mark.slow
def test_render_of_records_without_the_table_is_one_line(bench_record, capsys):
    from roberta import bench

    with pytest.raises(SystemExit) as exc:
        bench.main(["--render", str(bench_record), "--markdown", "data-parallel"])
    err = capsys.readouterr().err.splitlines()
    assert exc.value.code == 1 and len(err) == 1 and "holds the measurements of data-parallel" \
        in err[0]


def test_schedule_cost_and_data_parallel_tables():
    pytest.importorskip("torch")
    from roberta import bench

    flags = {"base": ["--trace-every", "0", "--test-every", "2000"],
             "trace": ["--test-every", "2000"], "test": ["--trace-every", "0"]}
    cost = {"steps": 2000, "trace_every": 500, "trace_samples": 100, "test_every": 100,
            "flags": flags, "base_s": 50.0, "trace_s": 70.0, "test_s": 55.0, "trace_traces": 5,
            "test_tests": 21, "train_loss": 0.69, "same_train_loss": True, "trace_added": 0.4,
            "test_added": 0.1, "derived": [{"task": "SST-2", "k": 32, "train": 64,
                                            "test": 872, "share": 936 / 12800}],
            "base_steps_s": 49.0, "base_records_s": 1.0, "trace_steps_s": 49.5,
            "trace_records_s": 20.5, "test_steps_s": 52.0, "test_records_s": 3.0,
            "trace_records_added": 19.5 / 49, "test_records_added": 2 / 49}
    dp = {"n": 2, "steps": 20, "chunk_size": 32, "dp_zo_one_s": 0.0345, "dp_zo_many_s": 0.0296,
          "dp_zo_ratio": 1.17, "dp_gd_one_s": 0.0556, "dp_gd_many_s": 0.0699,
          "dp_gd_ratio": 0.8}
    base = {"threads": 1, "device": "cpu", "size": "tiny", "model": None, "command": "c"}
    text = bench.markdown([{**base, "schedule_cost": cost}, {**base, "data_parallel": dp}])
    cost_table, dp_table = tables(text)
    assert cost_table[3][1:] == ["70.0 s", "49.5 s", "20.5 s", "+40.0 %",
                                 "+39.8 % (5 estimates of 100 samples)", "identical"]
    assert "derived by row counts, not measured" in text and "= +7.3 %" in text
    assert dp_table[2] == ["tiny (random, 2 layers, hidden 64)", "34.5 ms", "29.6 ms", "1.17×",
                           "55.6 ms", "69.9 ms", "0.80×", "20"]


# --- docs/measure.sh ----------------------------------------------------------------------------

def blocks() -> dict[str, str]:
    """measure.sh's blocks and their files, read from its FILE table."""
    text = MEASURE.read_text()
    table = text[text.index("declare -A FILE=("):]
    table = table[:table.index(")\n")]
    return dict(re.findall(r"\[([a-z0-9-]+)\]=(\S+)", table))


def test_every_block_has_its_markers():
    found = blocks()
    text = MEASURE.read_text()
    listed = text[text.index("BLOCKS=("):]
    assert set(found) == set(listed[len("BLOCKS=("):listed.index(")")].split())  # one file each
    for name, doc in found.items():
        if doc == "README.md":  # optional: the script skips it with a note when absent
            continue
        text = (REPO / doc).read_text()
        assert text.count(f"<!-- {name}:start -->") == 1, (name, doc)
        assert text.count(f"<!-- {name}:end -->") == 1, (name, doc)


@pytest.mark.slow
def test_measure_sh_help_and_bad_names():
    run = [subprocess.run(["bash", str(MEASURE), *args], capture_output=True, text=True,
                          timeout=60) for args in (["--help"], ["--only", "nope"], ["--only"])]
    assert run[0].returncode == 0 and all(f"  {name} " in run[0].stdout for name in blocks())
    for r in run[1:]:
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "no block 'nope'" in run[1].stderr
