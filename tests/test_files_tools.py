"""File tools stay inside the workspace; permissions and size limits."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from sensorium.config import Paths
from sensorium.tools.files import WorkspaceError, confine, list_files, read_file, write_file
from sensorium.tools.permissions import LimitError, Limits, allowed, denied_message


@pytest.fixture
def ws():
    root = Paths.default().workspace
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def test_write_read_list_round_trip(ws):
    out = write_file.invoke({"path": "notes/a.txt", "content": "hello"})
    assert not out.is_error, out.content
    assert (ws / "notes" / "a.txt").read_text() == "hello"
    assert read_file.invoke({"path": "notes/a.txt"}).content == "hello"
    listing = list_files.invoke({"path": "notes"}).content
    assert "notes/a.txt (5 bytes)" in listing
    again = write_file.invoke({"path": "notes/a.txt", "content": "x"})
    assert again.is_error and "already exists" in again.content
    assert not write_file.invoke({"path": "notes/a.txt", "content": "x", "overwrite": True}).is_error


def test_write_file_needs_approval():
    assert write_file.requires_approval({"path": "a", "content": "b"})
    assert not read_file.requires_approval({"path": "a"})


@pytest.mark.parametrize("path", ["../secret.txt", "a/../../secret.txt", "/etc/passwd", "~/x"])
def test_escapes_are_refused(ws, path):
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        confine(path)
    res = read_file.invoke({"path": path})
    assert res.is_error and "outside the workspace" in res.content


def test_symlink_escape_is_refused(ws, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    os.symlink(outside, ws / "link.txt")
    os.symlink(tmp_path, ws / "linkdir")
    assert "outside the workspace" in read_file.invoke({"path": "link.txt"}).content
    assert write_file.invoke({"path": "linkdir/new.txt", "content": "x"}).is_error
    assert not (tmp_path / "new.txt").exists()
    assert "link.txt" not in list_files.invoke({}).content
    assert outside.read_text() == "private"


def test_symlink_inside_workspace_is_fine(ws):
    (ws / "real.txt").write_text("ok")
    os.symlink(ws / "real.txt", ws / "alias.txt")
    assert read_file.invoke({"path": "alias.txt"}).content == "ok"


def test_size_limits_name_path_and_limit(ws, monkeypatch):
    monkeypatch.setenv("SENSORIUM_MAX_FILE_BYTES", "10")
    (ws / "big.txt").write_text("x" * 11)
    res = read_file.invoke({"path": "big.txt"})
    assert res.is_error and "big.txt" in res.content and "10 bytes" in res.content
    assert "SENSORIUM_MAX_FILE_BYTES" in write_file.invoke({"path": "b", "content": "y" * 11}).content
    limits = Limits(audio_seconds=60, image_pixels=100)
    with pytest.raises(LimitError, match="61 s of audio"):
        limits.check_audio("memo.wav", 61)
    with pytest.raises(LimitError, match="11x10"):
        limits.check_image("cat.png", 11, 10)
    limits.check_image("cat.png", 10, 10)


def test_allow_lists():
    spec = SimpleNamespace(name="writer", tools=["read_file", "write_file"])
    assert allowed(spec, "read_file")
    assert not allowed(spec, "generate_image")
    assert not allowed(SimpleNamespace(tools=None), "read_file")
    assert allowed({"tools": ["calculate"]}, "calculate")
    assert "writer" in denied_message("writer", "generate_image")


def test_a_planted_temp_file_symlink_is_not_written_through(ws, tmp_path):
    outside = tmp_path / "victim.txt"
    outside.write_text("keep")
    for pid in range(os.getpid() - 2, os.getpid() + 3):  # the old temp name, for any nearby pid
        os.symlink(outside, ws / f".a.txt.tmp-{pid}")
    assert not write_file.invoke({"path": "a.txt", "content": "new"}).is_error
    assert outside.read_text() == "keep" and (ws / "a.txt").read_text() == "new"


def test_dangling_links_fifos_and_absolute_paths_inside(ws):
    os.symlink(ws / "gone.txt", ws / "dangling.txt")
    os.symlink("/nonexistent/elsewhere", ws / "away.txt")
    listing = list_files.invoke({}).content
    assert "dangling.txt (symbolic link)" in listing and "away.txt" not in listing
    os.mkfifo(ws / "pipe")
    res = read_file.invoke({"path": "pipe"})  # must not block on the FIFO's open
    assert res.is_error and "not a regular file" in res.content
    (ws / "sub").mkdir()
    (ws / "sub" / "x.txt").write_text("abs")
    assert read_file.invoke({"path": str(ws / "sub" / "x.txt")}).content == "abs"
    assert read_file.invoke({"path": "sub/../sub/./x.txt"}).content == "abs"
    assert "is not a folder" in read_file.invoke({"path": "sub/x.txt/y"}).content


def test_a_folder_swapped_for_a_symlink_never_lets_a_tool_out(tmp_path):
    """The race of issue 30, bounded to a few seconds (bench/workspace_race.py runs 100,000 iterations)."""
    import importlib.util
    import sys
    from pathlib import Path

    if sys.platform != "linux":
        pytest.skip("uses the fork start method")
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("workspace_race", root / "bench" / "workspace_race.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    counts = bench.race(seconds=3, root=tmp_path)
    assert counts["escapes"] == 0, counts
    assert counts["reads_ok"] > 0 and counts["writes_ok"] > 0, counts  # the race ran both ways


def test_a_bare_name_reaches_the_turns_attachment_of_that_name(ws, tmp_path):
    from sensorium.tools.files import allow_media, media_file

    memo = tmp_path / "elsewhere" / "memo.wav"
    memo.parent.mkdir()
    memo.write_bytes(b"RIFF")
    with allow_media([memo]):
        with media_file("memo.wav", "audio") as found:  # the model names the attachment by its file name
            assert found == os.path.realpath(memo)
        with media_file(os.path.realpath(memo).lstrip("/"), "audio") as found:  # its path, the "/" lost
            assert found == os.path.realpath(memo)
        with pytest.raises(WorkspaceError), media_file("other.wav", "audio"):
            pass
        (ws / "memo.wav").write_text("the workspace's own file")  # a workspace file of that name comes first
        with media_file("memo.wav", "audio") as found:
            assert found != os.path.realpath(memo) and found.endswith("memo.wav")
    # not attached: a name is the workspace's only
    with pytest.raises(WorkspaceError), media_file("elsewhere/memo.wav", "audio"):
        pass
