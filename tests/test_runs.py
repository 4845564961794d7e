"""flatzero.runs: which runs share a curve, and what a plot reports it left out."""

from pathlib import Path

from flatzero import runs


def run(name, **config):
    base = {"algo": "zo", "lr": 0.1, "lam": 0.05, "seed": 1, "git_sha": "abc", "created": "1",
            "wall_time_s": 1.0, "numpy": "2"}
    return runs.Run(name, {}, {**base, **config})


def test_groups_differ_in_any_setting_but_not_in_seed_or_metadata():
    rs = [run("a"), run("b", seed=2, git_sha="def", wall_time_s=9.0), run("c", lr=0.2),
          run("d", seed=3, diverged_at_iter=5, extra=None)]
    groups = runs.group(rs)
    assert [g.seeds for g in groups] == [[1, 2], [1], [3]]
    assert groups[0].settings == {"algo": "zo", "lr": 0.1, "lam": 0.05}
    assert runs.varying(groups) == ["extra", "lr"]
    assert runs.differences(groups[1].settings, groups[0].settings) == ["lr 0.2 (not 0.1)"]


def test_the_same_seed_twice_is_one_run_the_newer_kept():
    old, new = run("old", created="2025-01-01"), run("new", created="2025-06-01")
    (grp,) = runs.group([new, old])
    assert [r.name for r in grp.runs] == ["new"]


def test_select_draws_one_group_and_reports_the_rest_in_one_line():
    rs = [run("a"), run("b", seed=2), run("c", seed=3, lr=0.2), run("d", seed=4, T=5),
          run("e", seed=5, diverged_at_iter=7), run("f", seed=6, interrupted_at_iter=2),
          run("g", algo="gd", lam=None)]
    skipped = runs.Skipped()
    grp, diverged = runs.select(rs, {"algo": "zo"}, {"lr": 0.1}, None, skipped)
    assert grp.seeds == [1, 2] and [r.name for r in diverged] == ["e"]
    line = skipped.line()
    assert line.startswith("skipped 3 runs: ") and "\n" not in line
    assert "1 with lr 0.2 (not 0.1) (c)" in line and "1 interrupted (partial results) (f)" in line
    assert "1 with T 5 (not unset) than the drawn curve (d)" in line
    grp, _ = runs.select(rs, {"algo": "zo"}, {"lr": 0.1}, [2], runs.Skipped())
    assert grp.seeds == [2]


def test_seed_text():
    assert runs.seed_text([17]) == "seed 17"
    assert runs.seed_text([19, 17, 18]) == "seeds 17–19"
    assert runs.seed_text([17, 19]) == "seeds 17, 19"
    assert runs.seed_tag([17, 18, 19]) == "seeds17-19" and runs.seed_tag([3, 1]) == "seeds1_3"


def test_run_from_names_the_file_and_key():
    r = runs.run_from(Path("x/lam-17.json"), {"config": {"seed": 17}}, "0.1")
    assert r.name == "lam-17.json[0.1]" and r.seed == 17
