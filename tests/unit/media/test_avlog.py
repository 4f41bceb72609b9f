"""libav's log, opened for an encoder's closing report: this thread's lines reach the caller,
other threads' do not (and are not printed), windows in several threads overlap, and the log
level and PyAV's repeat filter come back as they were."""

from __future__ import annotations

import threading

import av.logging
import pytest

from renderrush.media.avlog import closing_report


def test_the_block_gets_this_threads_lines_and_not_another_threads(capfd: pytest.CaptureFixture[str]) -> None:
    inside = threading.Event()
    spoken = threading.Event()

    def elsewhere() -> None:
        inside.wait(5)
        av.logging.log(av.logging.WARNING, "libx264", "another thread's line\n")
        spoken.set()

    other = threading.Thread(target=elsewhere)
    other.start()
    with closing_report() as lines:
        av.logging.log(av.logging.INFO, "libx264", "SSIM Mean Y:0.9876543 (19.081db)\n")
        av.logging.log(av.logging.INFO, "libx264", "SSIM Mean Y:0.9876543 (19.081db)\n")  # equal lines both come
        av.logging.log(av.logging.DEBUG, "libx264", "too chatty\n")
        inside.set()
        assert spoken.wait(5)
    other.join()
    assert lines == ["SSIM Mean Y:0.9876543 (19.081db)\n"] * 2
    assert "another thread" not in capfd.readouterr().err  # dropped, as PyAV drops it by default
    assert av.logging.get_level() is None and av.logging.get_skip_repeated()


def test_overlapping_windows_keep_the_log_open_until_the_last_closes() -> None:
    first_open, second_done = threading.Event(), threading.Event()
    seen: dict[str, list[str]] = {}

    def second() -> None:
        first_open.wait(5)
        with closing_report() as lines:
            av.logging.log(av.logging.INFO, "libx264", "second\n")
        seen["second"] = lines
        second_done.set()

    helper = threading.Thread(target=second)
    helper.start()
    with closing_report() as lines:
        first_open.set()
        assert second_done.wait(5)
        av.logging.log(av.logging.INFO, "libx264", "first, after the other window closed\n")
    helper.join()
    assert seen["second"] == ["second\n"]
    assert lines == ["first, after the other window closed\n"]
    assert av.logging.get_level() is None


def test_a_level_the_user_set_is_kept() -> None:
    av.logging.set_level(av.logging.VERBOSE)
    try:
        with closing_report() as lines:
            av.logging.log(av.logging.INFO, "libx264", "report\n")
        assert lines == ["report\n"] and av.logging.get_level() == av.logging.VERBOSE
    finally:
        av.logging.set_level(None)
