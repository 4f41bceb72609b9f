"""`renderrush.ui.output`: the codec, container and HDR choice of the panel. It gives the job's
`codec` and `tonemap` options and the output's suffix, names a combination that cannot go
together in one sentence before any job, and for an HDR source shows the keep / tone-map
choice with a before/after frame, upright."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from renderrush.media.probe import probe
from renderrush.ui.output import KEEP, TONEMAP, OutputChoice, tonemap_preview

from ...support.hdr import hlg_phone_clip, pq_bands_clip


@pytest.fixture(scope="module")
def hlg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hlg_phone_clip(tmp_path_factory.mktemp("hlg"), seconds=1)


def decoded(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_an_sdr_source_gets_the_default_codec_and_no_hdr_choice(clip: Path) -> None:
    choice = OutputChoice()
    choice.show_source(probe(clip))
    assert choice.settings() == {"codec": None, "tonemap": False} and choice.suffix == ".mp4"
    assert choice.hdr_row.layout.display == "none"
    assert "H.264, 8-bit, in MP4" in choice.message.value
    choice.hdr.value = TONEMAP  # hidden for SDR: it cannot turn tone mapping on
    assert choice.settings()["tonemap"] is False
    choice.container.value = "webm"
    assert choice.suffix == ".webm" and "VP9, 8-bit, in WEBM" in choice.message.value


def test_what_cannot_go_together_is_one_sentence_before_any_job(clip: Path) -> None:
    choice = OutputChoice()
    choice.show_source(probe(clip))
    choice.codec.value, choice.container.value = "prores", "webm"
    problem = choice.check()
    assert "ProRes cannot go in WEBM" in problem and "\n" not in problem
    assert problem.split(":")[0] in choice.message.value


def test_an_hdr_source_offers_keep_or_tonemap_with_an_upright_before_and_after(hlg: Path) -> None:
    info = probe(hlg)
    choice = OutputChoice()
    choice.show_source(info)
    assert choice.hdr_row.layout.display == "" and "HLG" in choice.hdr.description
    assert choice.hdr.value == KEEP and choice.settings() == {"codec": None, "tonemap": False}
    assert "HEVC, 10-bit" in choice.message.value
    before, after = decoded(choice.before.value), decoded(choice.after.value)
    assert before.shape == after.shape == (320, 180, 3)  # the phone clip, upright (it is stored 320x180)
    choice.hdr.value = TONEMAP
    assert choice.settings() == {"codec": None, "tonemap": True} and "H.264, 8-bit" in choice.message.value
    choice.hdr.value, choice.codec.value = KEEP, "h264"
    assert "HDR" in choice.check() and "--tonemap" in choice.check()


def test_the_tonemapped_preview_puts_pq_light_where_the_render_does(tmp_path: Path) -> None:
    bands = pq_bands_clip(tmp_path)  # 10, 100 and 1000 cd/m² bands
    before, after = (cv2.cvtColor(decoded(j), cv2.COLOR_BGR2GRAY) for j in tonemap_preview(probe(bands)))
    columns = [after[:, k * 80 + 20 : (k + 1) * 80 - 20].mean() for k in range(3)]
    assert columns[0] < columns[1] < columns[2]
    assert columns[2] > 230  # 1000 cd/m² lands near SDR white (full-range grey of luma 235)
    assert before[:, 200:220].mean() < columns[2] - 20  # the raw PQ signal shows 1000 nits dimmer
