"""Result files: exact round trip, atomic writes, log-spaced iterations."""

import os

import numpy as np
import pytest

from flatzero import results


def test_json_round_trip_is_exact(tmp_path):
    rng = np.random.RandomState(0)
    values = rng.randn(1000) * 10.0 ** rng.randint(-300, 300, 1000)
    values[:3] = [1e-300, 5e-324, 1.7976931348623157e308]
    path = results.write_json(tmp_path / "r.json", {"v": values, "i": np.arange(3)})
    back = results.read_json(path)
    assert back["i"] == [0, 1, 2]
    np.testing.assert_array_equal(np.array(back["v"]), values)


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    results.write_json(target, {"ok": 1})

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        results.write_json(target, {"ok": 2})
    assert results.read_json(target) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_strip_volatile():
    meta = results.run_metadata({"seed": 1}, wall_time_s=1.5)
    assert meta["seed"] == 1 and meta["wall_time_s"] == 1.5
    assert results.strip_volatile({"config": meta})["config"].keys().isdisjoint(
        results.VOLATILE_KEYS)


@pytest.mark.parametrize("total, n", [(100_000, 2000), (10, 50), (1000, 2), (7, 7)])
def test_log_spaced_iterations(total, n):
    its = results.log_spaced_iterations(total, n)
    assert its[0] == 1 and its[-1] == total
    assert np.all(np.diff(its) > 0) and len(its) <= max(n, 2)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [1.0, float("-inf")],
                                 np.array([0.0, np.nan]), {"a": {"b": [np.inf]}}])
def test_no_nan_or_inf_is_written_as_null(tmp_path, bad):
    target = tmp_path / "r.json"
    results.write_json(target, {"v": bad})  # allowed by default: orjson writes null
    assert b"null" in target.read_bytes()
    target.unlink()
    with pytest.raises(ValueError, match="NaN/inf"):
        results.write_json(target, {"v": bad}, allow_nan=False)
    assert not list(tmp_path.iterdir())


def test_read_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"config": ')
    with pytest.raises(results.ResultError, match=r"bad\.json is not valid JSON"):
        results.read_json(bad)
    with pytest.raises(results.ResultError, match=r"cannot read .*missing\.json"):
        results.read_json(tmp_path / "missing.json")
    bad.write_bytes(b'{"log": []}')
    with pytest.raises(results.ResultError, match=r"bad\.json is not a result file.*'config'"):
        results.read_result(bad)
    bad.write_bytes(b"[1, 2]")
    with pytest.raises(results.ResultError, match="not a result file"):
        results.read_result(bad)


def test_readme_block_is_replaced_between_its_markers_only(tmp_path):
    from flatzero import readme

    path = tmp_path / "README.md"
    path.write_text("top\n<!-- t:start -->\nold\n<!-- t:end -->\nbottom <!-- u:start -->\n")
    assert readme.update(path, "t", "| new |\n") is True
    assert path.read_text() == ("top\n<!-- t:start -->\n| new |\n<!-- t:end -->\n"
                                "bottom <!-- u:start -->\n")
    mtime = path.stat().st_mtime_ns
    assert readme.update(path, "t", "| new |") is False  # the same block: nothing written
    assert path.stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="u:end"):
        readme.update(path, "u", "x")
