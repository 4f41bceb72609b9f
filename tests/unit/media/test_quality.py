"""The quality meters: their PSNR and SSIM agree with ffmpeg's filters frame by frame, they
measure the frames they say they do, x264's own figures change no byte of its output and
reach the thread whose encoder closed, and VMAF through the ffmpeg binary agrees with libvmaf."""

from __future__ import annotations

import gc
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from renderrush.media.decode import Picture
from renderrush.media.encode import EncodeSettings, SegmentWriter, VideoTags
from renderrush.media.quality import (
    PSNR_CAP,
    VMAF_MODEL,
    EncoderMeter,
    QualityMeter,
    luma,
    measured_writer,
    meter_beside,
    mse_of,
    psnr_of,
    sampled_frames,
    segment_mean,
    ssim_of,
)

from ...support.media import ffmpeg
from ...support.quality import ffmpeg_luma_stats, ffmpeg_vmaf, noisy_clip, psnr_of_mean


@pytest.fixture(scope="module")
def grainy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return noisy_clip(tmp_path_factory.mktemp("quality") / "grainy.mp4", seconds=1, noise=12)


def frames_of(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return [frame.reformat(format="yuv420p") for frame in container.decode(video=0)]


def encode(frames: list[av.VideoFrame], path: Path, crf: float, vmaf: bool = False) -> QualityMeter:
    """Encode `frames` through a SegmentWriter with a meter beside it, as a segment does."""
    width, height = frames[0].width, frames[0].height
    writer = SegmentWriter(path, Fraction(30), EncodeSettings(crf=crf, threads=1), Picture(width, height), VideoTags())
    meter = meter_beside(writer, len(frames), vmaf=vmaf)
    for frame in frames:
        copy = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        meter.keep(copy)
        writer.write(copy)
    writer.finish()
    return meter


def test_frame_measures_equal_ffmpegs_filters(grainy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    encode(frames_of(grainy), out, crf=30).finish()
    mse, ssim = ffmpeg_luma_stats(out, grainy, tmp_path)
    pairs = list(zip(frames_of(grainy), frames_of(out)))
    assert len(pairs) == len(mse) == 30
    for i, (reference, distorted) in enumerate(pairs):
        a, b = luma(reference, 320, 180), luma(distorted, 320, 180)
        assert mse_of(a, b) == pytest.approx(mse[i], abs=0.01)  # ffmpeg prints two decimals
        assert ssim_of(a, b) == pytest.approx(ssim[i], abs=1e-5)
    assert ssim_of(a, a) == 1.0 and psnr_of(0.0) == PSNR_CAP
    assert psnr_of(mse_of(a, b)) < 40  # grain at CRF 30 costs real quality: the check is not vacuous


def test_the_meter_measures_the_ends_and_every_11th_frame_as_ffmpeg_does(grainy: Path, tmp_path: Path) -> None:
    frames = frames_of(grainy)[:25]
    out = tmp_path / "out.mp4"
    quality = encode(frames, out, crf=28).finish()
    assert sorted(sampled_frames(25)) == [0, 11, 22, 24]
    assert (quality.frames, quality.sample_every, quality.vmaf, quality.vmaf_model) == (4, 11, None, None)
    mse, ssim = ffmpeg_luma_stats(out, grainy, tmp_path)  # ffmpeg stops at the shorter input
    # the ends stand for themselves, frames 11 and 22 for the 23 between
    assert quality.psnr == pytest.approx(psnr_of_mean([mse[0], mse[24]] + [(mse[11] + mse[22]) / 2] * 23), abs=0.01)
    assert quality.ssim == pytest.approx((ssim[0] + ssim[24] + 23 * (ssim[11] + ssim[22]) / 2) / 25, abs=1e-4)
    assert quality.psnr == pytest.approx(psnr_of_mean(mse[:25]), abs=0.5)  # and the sample stands for them all
    assert quality.ssim == pytest.approx(np.mean(ssim[:25]), abs=0.01)


def test_the_sample_and_its_mean() -> None:
    assert sorted(sampled_frames(60)) == [0, 11, 22, 33, 44, 55, 59]
    assert sorted(sampled_frames(8)) == [0, 4, 7]  # no 11th frame between the ends: the middle one
    assert sorted(sampled_frames(2)) == [0, 1] and sorted(sampled_frames(1)) == [0]
    assert sorted(sampled_frames(5, every=1)) == [0, 1, 2, 3, 4]
    assert segment_mean({0: 1.0, 4: 10.0, 7: 4.0}, 8) == (1 + 6 * 10 + 4) / 8
    assert segment_mean({i: float(i) for i in range(5)}, 5) == 2.0  # every frame: the plain mean
    assert segment_mean({0: 3.0}, 1) == 3.0


def test_the_sample_of_an_hevc_segment_stands_for_all_its_frames(tmp_path: Path) -> None:
    """x265's anchor frames come every 5th (veryfast: 4 B-frames), so a sample of every 10th
    frame met only them and put a segment 1 dB above ffmpeg's PSNR over all its frames."""
    source = tmp_path / "grain.nut"
    grain = "testsrc2=size=320x180:rate=30:duration=2,noise=alls=6:allf=t,format=yuv420p10le"
    ffmpeg("-f", "lavfi", "-i", grain, "-c:v", "ffv1", "-y", source)
    with av.open(str(source)) as container:
        frames = list(container.decode(video=0))
    settings = EncodeSettings(codec="hevc", depth=10, crf=30, threads=1)
    out = tmp_path / "out.mp4"
    writer, meter = measured_writer(out, Fraction(30), settings, Picture(320, 180), VideoTags(), 60)
    assert isinstance(meter, QualityMeter)
    for frame in frames:
        meter.keep(frame)
        writer.write(frame)
    writer.finish()
    quality = meter.finish()
    mse, ssim = ffmpeg_luma_stats(out, source, tmp_path)
    every_frame = 10 * np.log10(1023**2 / np.mean(mse))
    tenth = 10 * np.log10(1023**2 / np.mean([mse[i] for i in range(60) if i % 10 == 0 or i == 59]))
    assert tenth - every_frame > 0.6  # the old sample's bias: the check is not vacuous
    assert quality.psnr == pytest.approx(every_frame, abs=0.25)
    assert quality.ssim == pytest.approx(np.mean(ssim), abs=0.005)


def test_a_worse_encode_measures_worse(grainy: Path, tmp_path: Path) -> None:
    frames = frames_of(grainy)
    good = encode(frames, tmp_path / "good.mp4", crf=18).finish()
    bad = encode(frames, tmp_path / "bad.mp4", crf=40).finish()
    assert good.psnr > bad.psnr + 6 and good.ssim > bad.ssim + 0.05


def test_vmaf_through_the_ffmpeg_binary_agrees_with_libvmaf_on_the_files(grainy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    quality = encode(frames_of(grainy), out, crf=30, vmaf=True).finish()
    expected = np.mean(ffmpeg_vmaf(out, grainy, tmp_path))
    assert quality.vmaf_model == VMAF_MODEL and quality.frames == 4  # PSNR and SSIM still on the sample
    assert quality.vmaf == pytest.approx(expected, abs=0.5)  # VMAF reads luma only: neutral chroma changes nothing
    assert 20 < quality.vmaf < 95


def test_edge_psnr_takes_the_first_the_middle_third_and_the_last_frame() -> None:
    from renderrush.media.quality import edge_psnr, psnr_of

    measured = {0: 1.0, 10: 4.0, 20: 6.0, 30: 9.0, 40: 16.0, 44: 2.0}  # a 45-frame segment's sample
    first, middle, last = edge_psnr(measured, 45)  # type: ignore[misc]
    assert (first, last) == (psnr_of(1.0), psnr_of(2.0))
    assert middle == psnr_of((6.0 + 9.0) / 2)  # frames 20 and 30 lie in 15..30
    assert edge_psnr({0: 1.0, 4: 2.0}, 5) == (psnr_of(1.0), psnr_of(2.0), psnr_of(2.0))  # frame 4 is nearest 2.5
    assert edge_psnr({10: 1.0}, 20) is None


def encode_measured(frames: list[av.VideoFrame], path: Path, crf: float, threads: int = 1) -> tuple[SegmentWriter, Any]:
    """Encode `frames` through `measured_writer` as a segment does; returns the writer and its meter."""
    width, height = frames[0].width, frames[0].height
    settings = EncodeSettings(crf=crf, threads=threads)
    writer, meter = measured_writer(path, Fraction(30), settings, Picture(width, height), VideoTags(), len(frames))
    for frame in frames:
        copy = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        meter.keep(copy)
        writer.write(copy)
    writer.finish()
    return writer, meter


@pytest.mark.parametrize("crf", [18, 30, 45])
def test_x264_measures_every_frame_as_ffmpegs_filters_do(grainy: Path, tmp_path: Path, crf: int) -> None:
    out = tmp_path / "out.mp4"
    _, meter = encode_measured(frames_of(grainy), out, crf)
    assert isinstance(meter, EncoderMeter)
    quality = meter.finish()
    mse, ssim = ffmpeg_luma_stats(out, grainy, tmp_path)
    assert (quality.frames, quality.sample_every) == (30, 1) and sorted(meter.frame_mse) == list(range(30))
    with av.open(str(out)) as container:
        types = ["?IPB"[int(frame.pict_type)] for frame in container.decode(video=0)]  # AVPictureType
    for i, expected in enumerate(mse):
        exact = types[i] in ("I", "P")  # x264 measures non-reference B-frames before the loop filter
        assert meter.frame_mse[i] == pytest.approx(expected, abs=0.01 if exact else expected * 0.02), (i, types[i])
    assert types[0] == "I" and types[-1] != "B" and "B" in types  # the check covers every kind
    assert quality.psnr == pytest.approx(psnr_of_mean(mse), abs=0.05)
    assert quality.ssim == pytest.approx(np.mean(ssim), abs=0.01)  # x264's windows sit two pixels over
    assert quality.edges == pytest.approx((psnr_of(mse[0]), quality.edges[1], psnr_of(mse[-1])), abs=0.01)  # type: ignore[index]


def test_x264_measuring_itself_changes_no_byte(grainy: Path, tmp_path: Path) -> None:
    frames = frames_of(grainy)
    encode_measured(frames, tmp_path / "measured.mp4", 26)
    plain = SegmentWriter(
        tmp_path / "plain.mp4", Fraction(30), EncodeSettings(crf=26, threads=1), Picture(320, 180), VideoTags()
    )
    for frame in frames:
        plain.write(av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p"))
    plain.finish()

    def packets(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.size]

    assert packets(tmp_path / "measured.mp4") == packets(tmp_path / "plain.mp4")


def test_sliced_threads_and_vmaf_are_measured_by_decoding(grainy: Path, tmp_path: Path) -> None:
    # x264's own figures are off by up to 0.14 dB and 0.013 SSIM at slice edges
    frames = frames_of(grainy)[:12]
    writer, meter = encode_measured(frames, tmp_path / "sliced.mp4", 26, threads=2)
    assert isinstance(meter, QualityMeter) and not writer.measures and meter.finish().sample_every == 11
    picture, settings = Picture(320, 180), EncodeSettings(crf=26, threads=1)
    writer, meter = measured_writer(tmp_path / "v.mp4", Fraction(30), settings, picture, VideoTags(), 12, vmaf=True)
    assert isinstance(meter, QualityMeter) and meter.vmaf is not None
    writer.abandon()
    meter.close()


def test_encoders_closing_at_once_each_get_their_own_report_and_the_log_goes_quiet_again(
    grainy: Path, tmp_path: Path
) -> None:
    frames = frames_of(grainy)[:20]
    reports: dict[int, Any] = {}

    def encode(k: int) -> None:
        writer, meter = encode_measured(frames, tmp_path / f"{k}.mp4", 28)  # equal inputs: equal report lines
        reports[k] = (meter.finish(), writer.report)

    workers = [threading.Thread(target=encode, args=(k,)) for k in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(reports) == 4
    assert len({quality.ssim for quality, _ in reports.values()}) == 1  # none lost to PyAV's repeat filter
    for _, report in reports.values():
        assert sum("SSIM Mean Y" in line for line in report) == 1  # its own, not its neighbour's
    assert av.logging.get_level() is None and av.logging.get_skip_repeated()  # PyAV's defaults, as before


def test_an_encoder_kept_alive_by_a_reference_cycle_still_reports_its_ssim(grainy: Path, tmp_path: Path) -> None:
    frames = frames_of(grainy)[:12]
    settings = EncodeSettings(crf=28, threads=1)
    writer, meter = measured_writer(tmp_path / "out.mp4", Fraction(30), settings, Picture(320, 180), VideoTags(), 12)
    cycle: list[Any] = [writer.stream.codec_context]
    cycle.append(cycle)  # garbage only the cycle collector frees
    del cycle
    gc.disable()  # so that it does not run at a moment of its own choosing
    try:
        for frame in frames:
            writer.write(av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p"))
        writer.finish()
        assert not any("SSIM Mean" in line for line in writer.report)  # the encoder outlived the writer
        quality = meter.finish()  # and is collected where its report is heard
    finally:
        gc.enable()
    assert 0.3 < quality.ssim < 1 and quality.frames == 12


def test_a_10_bit_encode_is_measured_on_its_own_scale_as_ffmpeg_measures_it(grainy: Path, tmp_path: Path) -> None:
    # HEVC Main 10 (phone and HDR sources): samples up to 1023, read as 16-bit, PSNR on 1023
    deep = tmp_path / "deep.nut"  # NUT keeps 1/30 s times: ffmpeg pairs the frames as encoded
    ffmpeg("-i", grainy, "-frames:v", 12, "-pix_fmt", "yuv420p10le", "-c:v", "ffv1", "-y", deep)
    with av.open(str(deep)) as container:
        frames = [frame.reformat(format="yuv420p10le") for frame in container.decode(video=0)]
    settings = EncodeSettings(codec="hevc", depth=10, crf=30, threads=1)
    out = tmp_path / "out.mp4"
    writer, meter = measured_writer(out, Fraction(30), settings, Picture(320, 180), VideoTags(), 12, vmaf=True)
    assert isinstance(meter, QualityMeter) and meter.peak == 1023
    for frame in frames:
        copy = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p10le")
        meter.keep(copy)
        writer.write(copy)
    writer.finish()
    quality = meter.finish()
    mse, ssim = ffmpeg_luma_stats(out, deep, tmp_path)  # ffmpeg's filters on 10-bit samples
    sampled = [0, 6, 11]  # the ends, and the middle one for the 10 between
    assert sorted(meter.frame_mse) == sampled
    for i in sampled:
        assert meter.frame_mse[i] == pytest.approx(mse[i], abs=0.01)
    mean = (mse[0] + mse[11] + 10 * mse[6]) / 12
    assert quality.psnr == pytest.approx(10 * np.log10(1023**2 / mean), abs=0.01)
    assert quality.ssim == pytest.approx((ssim[0] + ssim[11] + 10 * ssim[6]) / 12, abs=1e-4)
    assert quality.vmaf == pytest.approx(np.mean(ffmpeg_vmaf(out, deep, tmp_path)), abs=1.0)
    assert 25 < quality.psnr < 50 and 0.5 < quality.ssim < 1  # on the 10-bit scale, not bytes misread
