"""The toy plot runs headless from JSON alone and writes both figures."""

import pytest

from test_func import plot, run_toy


def test_plot_writes_pngs(tmp_path):
    res, out = tmp_path / "res", tmp_path / "assets"
    run_toy.main(["--out", str(res), "--iters", "200", "--dim", "5", "--seeds", "1", "2"])
    written = plot.main(["--res", str(res), "--out-dir", str(out), "--theory", "both"])
    assert sorted(p.name for p in written) == ["test-func-lam.png", "test-func.png"]
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def test_plot_without_results_fails_clearly(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        plot.main(["--res", str(tmp_path), "--out-dir", str(tmp_path)])
    assert exc.value.code == 1
    assert "run_toy.py" in capsys.readouterr().err
