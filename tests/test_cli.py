"""flatzero.cli: each default stated once in --help, output checks that create nothing."""

import re

import numpy as np
import pytest

from flatzero import cli


def parsers():
    from svm_logreg import plot as svm_plot
    from svm_logreg import search, train
    from test_func import plot as toy_plot
    from test_func import run_toy

    out = [run_toy.build_parser(), toy_plot.build_parser(), train.build_parser("svm"),
           train.build_parser("logreg"), svm_plot.build_parser(), search.build_parser()]
    try:
        from roberta import train as roberta_train
    except ImportError:  # torch missing
        return out
    return [*out, roberta_train.build_parser()]


@pytest.mark.parametrize("parser", parsers(), ids=lambda p: p.prog)
def test_help_states_each_default_once(parser):
    text = parser.format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
    options = re.split(r"\n  (?=-)", text.split("options:")[1])
    for option in options:
        assert len(re.findall(r"\bdefault\b", option)) <= 2, option  # the text's own, at most
        assert option.count("(default") <= 1, option
    assert "(default: /" not in text  # repo paths are shown relative to the repo


def test_help_appends_defaults_and_respects_ones_in_the_text():
    p = cli.Parser(prog="x")
    p.add_argument("--a", type=int, default=3, help="a number")
    p.add_argument("--b", default="q", help="b (default: q unless told)")
    p.add_argument("--c", help="no default")
    p.add_argument("--d", action="store_true", help="a flag")
    p.add_argument("--e", type=int, default=0, help="zero, 100%% sure")
    text = " ".join(p.format_help().split())
    assert "a number (default: 3)" in text and "b (default: q unless told) --c" in text
    assert "no default --d" in text and "a flag --e" in text
    assert "zero, 100% sure (default: 0)" in text


def test_out_checks_create_nothing(tmp_path, capsys):
    target = tmp_path / "a" / "b"
    assert cli.check_out_dir(target) == target and not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("")
    for bad in (tmp_path / "f", tmp_path / "f" / "x"):
        with pytest.raises(SystemExit) as exc:
            cli.check_out_dir(bad)
        assert exc.value.code == 1 and "is a file, not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.check_out_file(tmp_path)
    assert "is a folder" in capsys.readouterr().err


def test_ctrl_c_is_one_line_and_status_130(capsys):
    def main():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exc:
        cli.run(main)
    assert exc.value.code == 130 and capsys.readouterr().err.strip() == "interrupted"


def test_seed_and_smoothing_types():
    import argparse

    assert cli.seed("0") == 0 and cli.seed(str(2**32 - 2)) == 2**32 - 2
    for bad in ("-1", str(2**32 - 1), "1.5", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="a seed must be an integer"):
            cli.seed(bad)
    assert cli.MIN_LAM == np.sqrt(np.finfo(float).eps)
    assert cli.smoothing("0.1") == 0.1 and cli.smoothing(str(cli.MIN_LAM)) == cli.MIN_LAM
    for bad in ("1e-30", "1e-9", "0", "-0.1", "inf", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match="√ε"):
            cli.smoothing(bad)
    # the reason for the bound: below it x ± λu can equal x (1e-30), and the λ² term drowns
    x = np.array([1.0, -0.5])
    assert np.array_equal(x + 1e-30 * x, x)


def test_rel_shows_repo_paths_relative():
    from pathlib import Path

    repo = Path(cli.__file__).resolve().parents[1]
    assert cli.rel(repo / "assets" / "x.png") == "assets/x.png"
    assert cli.rel("/elsewhere/x") == "/elsewhere/x"
