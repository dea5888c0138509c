"""Issue 23: replacing a Zarr output (--force) is safe at every instant, whatever step an interruption hits.

Each call the replacement makes (the renames, the removal of the old store) is made to raise
KeyboardInterrupt, or to receive a real SIGINT, at step N, for every N; afterwards the output path holds the
old store or the complete new one (read back with zarr, against the arrays written), and no temporary
(``.convcli-tmp``, ``.old``) is left.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from convcli.imageio import (  # noqa: E402
    leftover_temp_files,
    leftover_temp_files_of,
    remove_temp_files_of,
    write_bands,
)
from convcli.imageio import write as write_module  # noqa: E402

OLD = np.arange(48 * 40, dtype=np.uint16).reshape(48, 40)
NEW = (OLD[::-1] * 3).astype(np.uint16)


def _write(target: Path, image: np.ndarray, *, overwrite: bool = True) -> None:
    write_bands(target, [(0, image)], shape=image.shape, dtype=image.dtype, fmt="ZARR", tile=16,
                overwrite=overwrite)


class _Injector:
    """Counts the replacement's renames and removals; at call ``at`` it interrupts (``how``)."""

    def __init__(self, at: int, how: str) -> None:
        self.at, self.how, self.calls, self.fired = at, how, 0, False
        self.rename, self.rmtree = os.rename, shutil.rmtree

    def _step(self, do, *args, partial=None, **kwargs):
        self.calls += 1
        if self.calls != self.at:
            return do(*args, **kwargs)
        self.fired = True
        if self.how == "before":
            raise KeyboardInterrupt
        if self.how == "partial" and partial is not None:
            partial()
            raise KeyboardInterrupt
        result = do(*args, **kwargs)
        if self.how == "signal":
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C right after the call
            return result
        raise KeyboardInterrupt  # "after": the call took effect, then the interruption

    def fake_rename(self, src, dst):
        return self._step(self.rename, src, dst)

    def fake_rmtree(self, path, *args, **kwargs):
        def half():
            files = sorted(p for p in Path(path).rglob("*") if p.is_file())
            for p in files[: len(files) // 2]:
                p.unlink()
        return self._step(self.rmtree, path, *args, partial=half, **kwargs)


def _replace_with(tmp_path: Path, monkeypatch, at: int, how: str) -> tuple[Path, bool, _Injector]:
    target = tmp_path / "out.zarr"
    _write(target, OLD, overwrite=False)
    injector = _Injector(at, how)
    monkeypatch.setattr(write_module.os, "rename", injector.fake_rename)
    monkeypatch.setattr(write_module.shutil, "rmtree", injector.fake_rmtree)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupted = False
    try:
        _write(target, NEW)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, previous)
        monkeypatch.undo()
    return target, interrupted, injector


def _steps(tmp_path: Path, monkeypatch) -> int:
    """How many renames and removals an uninterrupted replacement makes."""
    case = tmp_path / "count"
    case.mkdir()
    _, interrupted, injector = _replace_with(case, monkeypatch, 0, "before")
    assert not interrupted
    assert np.array_equal(zarr.open_array(str(case / "out.zarr"), mode="r")[:], NEW)
    return injector.calls


@pytest.mark.parametrize("how", ["before", "after", "partial", "signal"])
def test_an_interruption_at_each_step_of_a_replace_leaves_the_old_or_the_new_store_and_nothing_else(
        tmp_path, monkeypatch, how):
    steps = _steps(tmp_path, monkeypatch)
    assert steps >= 3  # rename aside, rename in, remove the old store
    for at in range(1, steps + 1):
        case = tmp_path / f"{how}{at}"
        case.mkdir()
        target, interrupted, injector = _replace_with(case, monkeypatch, at, how)
        where = f"interrupted {how} call {at} of {steps}"
        assert injector.fired and interrupted, where
        assert sorted(p.name for p in case.iterdir()) == ["out.zarr"], where
        assert leftover_temp_files(target) == [] and leftover_temp_files_of([target]) == [], where
        got = zarr.open_array(str(target), mode="r")[:]
        assert np.array_equal(got, OLD) or np.array_equal(got, NEW), where
        if how == "signal" and at < steps:  # a Ctrl-C during the renames: undone, the old store stays
            assert np.array_equal(got, OLD), where


def test_leftover_temp_files_of_finds_an_old_store_set_aside_and_clean_up_puts_it_back(tmp_path):
    target = tmp_path / "out.zarr"
    _write(target, OLD)
    aside = tmp_path / ".out.zarr.1a2b3c4d.old.convcli-tmp"
    os.rename(target, aside)  # what a kill between the two renames leaves
    stray = tmp_path / ".out.zarr.q8x_k2zz.convcli-tmp"
    stray.mkdir()
    assert leftover_temp_files_of([target]) == sorted([aside, stray])
    assert leftover_temp_files(target) == sorted([aside, stray])
    remove_temp_files_of([target])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
    assert np.array_equal(zarr.open_array(str(target), mode="r")[:], OLD)
    # with the new store in place, an old one set aside is removed
    os.mkdir(aside)
    remove_temp_files_of([target])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


@pytest.mark.parametrize("at", [1, 2, 3])
def test_ctrl_c_during_a_force_replace_is_counted_truly(tmp_path, monkeypatch, at):
    """Through the CLI, a real SIGINT at each call of the replacement: during the renames they are undone (the
    old store stays; "0 file(s) written"); during the old store's removal the new store has landed ("1 file(s)
    written"). Either way nothing else is left."""
    from typer.testing import CliRunner

    from convcli.cli import app

    monkeypatch.chdir(tmp_path)
    np.save("in.npy", NEW)
    _write(tmp_path / "out.zarr", OLD, overwrite=False)
    injector = _Injector(at, "signal")
    monkeypatch.setattr(write_module.os, "rename", injector.fake_rename)
    monkeypatch.setattr(write_module.shutil, "rmtree", injector.fake_rmtree)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = CliRunner().invoke(app, ["apply", "in.npy", "-k", "identity", "-o", "out.zarr", "--force",
                                          "--tile", "16"])
    finally:
        signal.signal(signal.SIGINT, previous)
        monkeypatch.undo()
    assert injector.fired and injector.calls == 3 + 2 * (at < 3)  # renames undone: two more
    assert result.exit_code == 130, result.output
    written = 0 if at < 3 else 1
    assert f"Interrupted after {written} file(s) written" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy", "out.zarr"]
    got = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")[:]
    np.testing.assert_array_equal(got, NEW if written else OLD)
