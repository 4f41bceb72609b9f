"""ffmpeg.py: the bundled ffmpeg binary, run quietly with argument lists (never a shell).
`run_ffmpeg` raises the given error class naming the step and ffmpeg's most useful line
(`error_reason`: the first specific error, without "[codec @ 0x...]" prefixes or the generic
follow-ups); `decoded_md5` is the MD5 of every decoded frame, equal exactly when the frames
are, whatever the container."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import av
import pytest

from renderrush.core.errors import FFmpegError, StitchError
from renderrush.media.ffmpeg import BASE_ARGS, decoded_md5, error_reason, ffmpeg_command, ffmpeg_exe, run_ffmpeg

LAVFI = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "5", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ffmpeg")


@pytest.fixture(scope="module")
def clip(folder: Path) -> Path:
    """Five 64x48 frames of H.264, written through run_ffmpeg."""
    path = folder / "clip.mp4"
    run_ffmpeg([*LAVFI, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", path], what="writing the clip")
    return path


def test_the_binary_is_an_executable_found_once() -> None:
    exe = ffmpeg_exe()
    assert Path(exe).is_file() and os.access(exe, os.X_OK)
    assert ffmpeg_exe() is exe


def test_a_command_is_the_binary_the_quiet_defaults_then_the_arguments_as_strings() -> None:
    assert BASE_ARGS == ("-nostdin", "-hide_banner", "-loglevel", "error")
    assert ffmpeg_command("-i", Path("/a b/in.mp4"), "-y", "out.mp4") == [
        ffmpeg_exe(),
        *BASE_ARGS,
        "-i",
        "/a b/in.mp4",
        "-y",
        "out.mp4",
    ]


@pytest.mark.parametrize(
    "stderr, reason",
    [
        (
            "[vost#0:0 @ 0x5592f5abfd40] Unknown encoder 'x'\n[vost#0:0 @ 0x5592f5abfd40] Error selecting an encoder\n"
            "Error opening output file /tmp/o.mp4.\nError opening output files: Encoder not found\n",
            "Unknown encoder 'x'",
        ),
        ("[h264 @ 0x1] [swscaler @ 0x2]   bad dimensions\nConversion failed!\n", "bad dimensions"),
        ("Error while filtering: Cannot allocate memory\n[aac @ 0x3] Too many bits\n", "Too many bits"),
        ("    Last message repeated 3 times\n[mp4 @ 0x4] moov atom not found\n", "moov atom not found"),
        ("Terminating thread with return code -22\nConversion failed!\n", "Terminating thread with return code -22"),
        ("", "no message from ffmpeg"),
        ("\n  \n[in#0 @ 0x5]   \n", "no message from ffmpeg"),
    ],
    ids=["first-specific", "prefixes", "generic-first", "repeats", "only-generic", "empty", "blank"],
)
def test_the_reason_is_the_first_specific_line(stderr: str, reason: str) -> None:
    assert error_reason(stderr) == reason


def test_run_ffmpeg_writes_what_it_is_told(clip: Path) -> None:
    with av.open(str(clip)) as container:
        frames = [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]
    assert len(frames) == 5 and frames[0].shape == (48, 64)


def test_arguments_are_never_read_by_a_shell(folder: Path) -> None:
    odd = folder / "a b; touch pwned $(echo x) *.mp4"
    run_ffmpeg([*LAVFI, "-c:v", "libx264", "-preset", "ultrafast", odd], what="writing an odd name")
    assert odd.is_file() and not (folder / "pwned").exists()


def test_a_failure_names_the_step_and_ffmpegs_reason(folder: Path) -> None:
    with pytest.raises(FFmpegError) as failed:
        run_ffmpeg(["-i", folder / "missing.mp4", "-f", "null", "-"], what="reading missing.mp4")
    assert str(failed.value) == "reading missing.mp4 failed: Error opening input: No such file or directory"
    with pytest.raises(StitchError, match=r"^joining failed: Unknown encoder 'nosuchcodec'$"):
        run_ffmpeg([*LAVFI, "-c:v", "nosuchcodec", folder / "never.mp4"], what="joining", error=StitchError)
    assert not (folder / "never.mp4").exists()


def test_the_digest_is_the_md5_of_the_decoded_frames(clip: Path) -> None:
    digest = hashlib.md5()
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            digest.update(frame.to_ndarray(format="yuv420p").tobytes())  # planar Y, U, V: ffmpeg's rawvideo
    assert decoded_md5(clip) == digest.hexdigest()


def test_the_digest_follows_the_frames_not_the_container(clip: Path, folder: Path) -> None:
    copied, reencoded = folder / "copied.mkv", folder / "reencoded.mp4"
    run_ffmpeg(["-i", clip, "-c", "copy", "-y", copied], what="copying")
    run_ffmpeg(["-i", clip, "-c:v", "libx264", "-crf", "40", "-y", reencoded], what="re-encoding")
    assert decoded_md5(copied) == decoded_md5(clip), "the same frames in another container"
    assert decoded_md5(reencoded) != decoded_md5(clip), "other frames"


def test_a_file_that_does_not_decode_is_an_ffmpeg_error(folder: Path) -> None:
    text = folder / "text.mp4"
    text.write_text("hello")
    with pytest.raises(FFmpegError, match=rf"^decoding {text} failed: moov atom not found$"):
        decoded_md5(text)
