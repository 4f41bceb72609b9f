"""`renderrush.ui.source`: where the panel's video comes from. Upload names are sanitised
(no folders, ASCII, a video suffix), uploads over the limit or that are not videos are
refused with one sentence and leave nothing behind, a saved upload never overwrites another,
a generated sample is reused, and a failure to make one is one sentence with a red bar."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from renderrush.core.errors import EmptyVideoError, InputNotFoundError, NotAVideoError, UploadError
from renderrush.ui import MAX_UPLOAD_BYTES, VideoSource, sanitize_filename


def upload(source: VideoSource, name: str, content: bytes) -> None:
    """What the browser sends when a file is picked in the FileUpload widget."""
    item = {
        "name": name,
        "type": "video/mp4",
        "size": len(content),
        "content": memoryview(content),
        "last_modified": 1_700_000_000_000,
    }
    source.upload.set_state({"value": [item]})


# ---- sanitize_filename ----------------------------------------------------------------
@pytest.mark.parametrize(
    "name, safe",
    [
        ("clip.mp4", "clip.mp4"),
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("..\\..\\Windows\\évil name (1).MOV", "evil_name_1.mov"),
        (".hidden.mkv", "hidden.mkv"),
        ("...avi", "upload.avi"),
        ("a;rm -rf $HOME|x.mp4", "a_rm_-rf_HOME_x.mp4"),
        ("x" * 300 + ".mp4", "x" * 80 + ".mp4"),
    ],
)
def test_upload_names_are_sanitised(name: str, safe: str) -> None:
    assert sanitize_filename(name) == safe


@pytest.mark.parametrize("name", ["notes.txt", "clip", "clip.mp4.exe", "../"])
def test_upload_names_must_be_videos(name: str) -> None:
    with pytest.raises(UploadError, match=r"\.mp4, \.avi, \.mov, \.mkv"):
        sanitize_filename(name)


def test_sanitize_filename_names_the_missing_extension_and_takes_other_suffixes() -> None:
    with pytest.raises(UploadError, match=r"^'clip' has no extension: upload a video ending in"):
        sanitize_filename("clip")
    with pytest.raises(UploadError, match=r"^'a\.txt' has \.txt: "):
        sanitize_filename("a.txt")
    assert sanitize_filename("Notes Day 1.TXT", allowed_suffixes=(".txt",)) == "Notes_Day_1.txt"
    with pytest.raises(UploadError, match=r"ending in \.txt$"):
        sanitize_filename("clip.mp4", allowed_suffixes=(".txt",))


# ---- construction and files already on disk -------------------------------------------
def test_a_new_source_has_no_video_and_offers_only_listed_sizes(tmp_path: Path) -> None:
    source = VideoSource(tmp_path / "work", seconds=4, size=(854, 480))
    assert source.path is None and source.info is None and source.max_upload_bytes == MAX_UPLOAD_BYTES
    assert (source.seconds.value, source.resolution.value) == (4, "854x480")
    assert "No video yet." in source.details.value and source.describe() == source.details.value
    assert source._body.children == (source._sample_box,) and source.busy.layout.display == "none"
    assert not (tmp_path / "work").exists(), "nothing is written before a video is chosen"
    with pytest.raises(UploadError, match="sample size 100x100 is not offered: use one of 640x360, 854x480"):
        VideoSource(tmp_path, size=(100, 100))


def test_mode_switches_between_sample_and_upload(tmp_path: Path) -> None:
    source = VideoSource(tmp_path)
    source.mode.value = "Upload"
    assert source._body.children == (source._upload_box,)
    source.mode.value = "Generate sample"
    assert source._body.children == (source._sample_box,)


def test_use_file_probes_and_describes_the_video(tmp_path: Path, clip: Path) -> None:
    changes = []
    source = VideoSource(tmp_path, on_change=changes.append)
    info = source.use_file(clip)
    assert source.path == clip and source.info is info and info.frame_count == 90 and changes == [source]
    assert source.details.value == (
        "<b>clip.mp4</b>: 160×120, 30 fps, 90 frames, 3.0 s, with audio"
    )  # the file's own numbers, as probed
    assert repr(source) == "<VideoSource: clip.mp4>"
    assert source.busy.value == 1.0 and source.busy.bar_style == "success" and source.busy.layout.display is None


def test_use_file_error_keeps_the_previous_video_and_shows_why(tmp_path: Path, clip: Path) -> None:
    changes = []
    source = VideoSource(tmp_path, on_change=changes.append)
    source.use_file(clip)
    with pytest.raises(InputNotFoundError, match="does not exist"):
        source.use_file(tmp_path / "missing.mp4")
    assert "does not exist" in source.message.value and "b00020" in source.message.value  # red
    assert source.path == clip and changes == [source], "a failed choice changes nothing"
    assert source.busy.bar_style == "danger"
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyVideoError):
        source.use_file(tmp_path / "empty.mp4")


# ---- uploads ----------------------------------------------------------------------------
def test_upload_is_saved_under_a_safe_name_and_probed(tmp_path: Path, clip: Path) -> None:
    changes = []
    source = VideoSource(tmp_path, on_change=changes.append)
    source.mode.value = "Upload"
    assert source._body.children == (source._upload_box,)
    assert source._upload_box.children.index(source.upload_note) < source._upload_box.children.index(source.upload)
    assert "200.0 MB" in source.upload_note.value
    upload(source, "../../evil dir/My Clip (1).MP4", clip.read_bytes())
    saved = (tmp_path / "uploads" / "My_Clip_1.mp4").resolve()
    assert source.path == saved and saved.read_bytes() == clip.read_bytes()
    assert source.info.frame_count == 90 and changes == [source]
    assert source.upload.value == ()  # memory freed, the file is on disk
    assert "Uploaded" in source.message.value and "saved as My_Clip_1.mp4" in source.message.value
    assert "90 frames" in source.details.value
    upload(source, "My Clip (1).mp4", clip.read_bytes())  # same name again: not overwritten
    assert source.path.name == "My_Clip_1-1.mp4" and saved.exists()


def test_accept_upload_numbers_repeated_names_and_keeps_a_clean_name_quiet(tmp_path: Path, clip: Path) -> None:
    source = VideoSource(tmp_path)
    content = clip.read_bytes()
    paths = [source.accept_upload("clip.mp4", content) for _ in range(3)]
    assert [p.name for p in paths] == ["clip.mp4", "clip-1.mp4", "clip-2.mp4"]
    assert all(p.read_bytes() == content for p in paths) and source.path == paths[-1]
    upload(source, "other.mp4", content)  # saved under its own name: no "saved as"
    assert "Uploaded other.mp4" in source.message.value and "saved as" not in source.message.value


def test_accept_upload_checks_the_declared_size_first(tmp_path: Path) -> None:
    source = VideoSource(tmp_path, max_upload_bytes=10)
    with pytest.raises(UploadError, match=r"'big\.mp4' is 2\.0 MB, over the 10 B upload limit"):
        source.accept_upload("big.mp4", b"tiny", size=2_000_000)
    with pytest.raises(NotAVideoError):  # small enough, but not a video: the stored copy is removed
        source.accept_upload("fake.mp4", b"0123456789")
    assert list((tmp_path / "uploads").iterdir()) == []


def test_upload_over_the_limit_is_refused(tmp_path: Path) -> None:
    source = VideoSource(tmp_path, max_upload_bytes=1000)
    assert "1.0 kB" in source.upload_note.value
    upload(source, "big.mp4", b"\0" * 5000)
    assert "over the 1.0 kB upload limit" in source.message.value
    assert source.path is None and not (tmp_path / "uploads").exists()
    assert source.upload.value == ()


def test_upload_of_something_else_is_refused(tmp_path: Path) -> None:
    source = VideoSource(tmp_path)
    upload(source, "fake.mp4", b"this is not a video")
    assert "b00020" in source.message.value  # shown in red
    assert source.path is None and list((tmp_path / "uploads").iterdir()) == []
    upload(source, "script.sh", b"#!/bin/sh")
    assert ".mp4" in source.message.value and source.path is None


# ---- generated samples ------------------------------------------------------------------
def test_generate_sample(tmp_path: Path) -> None:
    source = VideoSource(tmp_path, seconds=3)
    source.seconds.value = 2
    source.resolution.value = "640x360"
    source.generate_button.click()
    assert source.path == tmp_path / "samples" / "sample-2s-640x360.mp4"
    assert (source.info.width, source.info.height, source.info.frame_count) == (640, 360, 60)
    assert "Sample ready" in source.message.value
    stamp = source.path.stat().st_mtime_ns
    source.generate_button.click()  # reused, not regenerated
    assert source.path.stat().st_mtime_ns == stamp
    assert source.busy.value == 1.0 and source.busy.bar_style == "success"  # the progress bar ended full


def test_generate_sample_failure_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(path: Path, **options: object) -> Path:
        time.sleep(0.6)  # long enough for the progress bar to move
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("renderrush.ui.source.make_sample_video", full_disk)
    source = VideoSource(tmp_path, seconds=2)
    progress = []
    source.busy.observe(lambda change: progress.append(change["new"]), names="value")
    source.generate_button.click()
    assert source.path is None and not source.generate_button.disabled
    text = source.message.value
    assert "could not make the sample: no space left on device: " in text and "sample-2s-640x360.mp4" in text
    assert "OSError" not in text and "Errno" not in text and "Traceback" not in text
    assert any(0 < value < 1 for value in progress), progress  # it showed progress while it ran
    assert source.busy.bar_style == "danger"


def test_generate_returns_none_when_the_sample_is_no_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sample that was written but cannot be read is reported like any other failure."""

    def broken(path: Path, **options: object) -> Path:
        path.write_bytes(b"not a video")
        return path

    monkeypatch.setattr("renderrush.ui.source.make_sample_video", broken)
    source = VideoSource(tmp_path, seconds=2)
    assert source.generate() is None and source.path is None
    assert "could not make the sample: " in source.message.value and not source.generate_button.disabled
