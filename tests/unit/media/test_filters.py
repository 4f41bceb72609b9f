"""Filter registry, chain parsing and printing, and what each built-in does to pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from renderrush import FilterChain, FilterError, Param, available_filters, register_filter, unregister_filter
from renderrush.media.filters import BGR, YUV, Planes, gaussian_blur

from ...support.filters import FilterRegistry

W, H = 64, 48
BUILTINS = {"grayscale", "blur", "brightness", "contrast", "sepia", "sharpen", "invert"}


@pytest.fixture
def bgr() -> np.ndarray:
    rng = np.random.default_rng(7)
    return cv2.GaussianBlur(rng.integers(30, 220, (H, W, 3), dtype=np.uint8), (0, 0), 2)


def as_yuv(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).reshape(-1)


def yuv_to_bgr(flat: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(flat.reshape(H * 3 // 2, W), cv2.COLOR_YUV2BGR_I420)


@pytest.mark.parametrize("sigma", [0.5, 2.5, 4.0, 5.0, 12.0])
def test_gaussian_blur_stays_close_to_the_exact_one(sigma: float) -> None:
    """The fast blur (float kernel; half resolution from sigma 4) against OpenCV's exact
    Gaussian on a harsh 360x640 card of random blocks: mean error under half a level, inner pixels within 2."""
    rng = np.random.default_rng(3)
    card = cv2.resize(rng.integers(0, 256, (45, 80), dtype=np.uint8), (640, 360), interpolation=cv2.INTER_NEAREST)
    exact = cv2.GaussianBlur(card, (0, 0), sigma).astype(int)
    fast = gaussian_blur(card, sigma).astype(int)
    error = np.abs(fast - exact)
    margin = int(3 * sigma)
    assert error.mean() < 0.4 and error[margin:-margin, margin:-margin].max() <= 2, (error.mean(), error.max())
    assert fast.std() < card.std(), "it blurs"
    in_place = card.copy()
    assert gaussian_blur(in_place, sigma, dst=in_place) is not None and np.array_equal(in_place, fast)


def test_builtins_are_registered() -> None:
    assert BUILTINS <= set(available_filters())


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("grayscale,blur:5,contrast:1.3", "grayscale,blur:5,contrast:1.3"),
        (" Grayscale , blur:sigma=2.5 ", "grayscale,blur:2.5"),
        ("brightness", "brightness:0"),
        ("", "none"),
        ("none", "none"),
    ],
)
def test_chain_parses_and_prints_canonically(text: str, printed: str) -> None:
    chain = FilterChain.parse(text)
    assert str(chain) == printed
    assert str(FilterChain.parse(str(chain))) == printed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "blurr",
            "unknown filter 'blurr' (did you mean 'blur'?); available: blur, brightness, contrast, grayscale, invert, sepia, sharpen",
        ),
        ("greyscale", "unknown filter 'greyscale' (did you mean 'grayscale'?); available: blur,"),
        ("Greyscale:1", "unknown filter 'Greyscale' (did you mean 'grayscale'?)"),
        ("zzz", "unknown filter 'zzz'; available: blur,"),
        ("blur:0", "blur sigma must be between 0.1 and 50, got 0"),
        ("contrast:abc", "contrast gain must be a number between 0 and 4, got 'abc'"),
        ("grayscale:1", "filter 'grayscale' takes no parameters"),
        ("blur:1:2", "filter 'blur' takes parameters sigma"),
        ("blur:radius=3", "filter 'blur' has no parameter 'radius'; it takes: sigma"),
        ("blur:sigmas=3", "filter 'blur' has no parameter 'sigmas' (did you mean 'sigma'?); it takes: sigma"),
        ("contrast:gian=1.2", "filter 'contrast' has no parameter 'gian' (did you mean 'gain'?); it takes: gain"),
        ("brightness:1e9", "brightness offset must be between -255 and 255"),
    ],
)
def test_bad_chains_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(FilterError) as excinfo:
        FilterChain.parse(text)
    assert message in str(excinfo.value)


def test_chain_keeps_yuv_unless_a_filter_needs_bgr() -> None:
    assert FilterChain.parse("grayscale,blur:5,contrast:1.3,brightness:10,invert,sharpen").pixel_format == YUV
    assert FilterChain.parse("grayscale,sepia").pixel_format == BGR


@pytest.mark.parametrize(
    "text", ["grayscale", "brightness:40", "brightness:-30", "contrast:1.5", "contrast:0.5", "invert"]
)
def test_yuv_path_matches_bgr_path(bgr: np.ndarray, text: str) -> None:
    step = FilterChain.parse(text).steps[0]
    via_yuv = yuv_to_bgr(FilterChain.parse(text).apply(as_yuv(bgr), W, H))
    via_bgr = yuv_to_bgr(as_yuv(step.spec.bgr(bgr.copy(), **step.kwargs)))
    assert np.abs(via_yuv.astype(int) - via_bgr.astype(int)).mean() < 2.5


def test_grayscale_neutralises_chroma_and_keeps_luma(bgr: np.ndarray) -> None:
    frame = as_yuv(bgr)
    luma = frame[: W * H].copy()
    out = FilterChain.parse("grayscale").apply(frame, W, H)
    assert np.array_equal(out[: W * H], luma)
    assert np.all(out[W * H :] == 128)


def test_brightness_contrast_invert_move_luma_the_right_way(bgr: np.ndarray) -> None:
    def mean_luma(text: str) -> float:
        return float(FilterChain.parse(text).apply(as_yuv(bgr), W, H)[: W * H].mean())

    base = mean_luma("none")
    assert mean_luma("brightness:30") == pytest.approx(base + 30 * 219 / 255, abs=1)
    spread = lambda text: float(FilterChain.parse(text).apply(as_yuv(bgr), W, H)[: W * H].std())  # noqa: E731
    assert spread("contrast:2") > 1.8 * spread("none")
    assert mean_luma("invert") == pytest.approx(251 - base, abs=1)


def test_blur_smooths_and_sharpen_adds_detail(bgr: np.ndarray) -> None:
    def detail(text: str) -> float:
        luma = FilterChain.parse(text).apply(as_yuv(bgr), W, H)[: W * H].reshape(H, W)
        return float(np.abs(np.diff(luma.astype(int), axis=1)).mean())

    assert detail("blur:3") < 0.5 * detail("none") < detail("sharpen:2")


@pytest.mark.parametrize("sigma", [3.0, 5.0])
@pytest.mark.parametrize("gray", [False, True])
def test_yuv_blur_equals_blurring_every_plane(bgr: np.ndarray, sigma: float, gray: bool) -> None:
    """Flat chroma planes (as after grayscale) are skipped: that must change no pixel."""
    frame = FilterChain.parse("grayscale" if gray else "none").apply(as_yuv(bgr), W, H)
    expected = Planes.packed(frame.copy(), W, H)
    for plane, plane_sigma in zip(expected, (sigma, sigma / 2, sigma / 2)):
        gaussian_blur(plane, plane_sigma, dst=plane)
    out = Planes.packed(FilterChain.parse(f"blur:{sigma}").apply(frame, W, H), W, H)
    assert all(np.array_equal(got, want) for got, want in zip(out, expected))


def test_sepia_tints_warm(bgr: np.ndarray) -> None:
    gray = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    out = FilterChain.parse("sepia").apply(gray.reshape(-1), W, H).reshape(H, W, 3).astype(int)
    blue, green, red = out[..., 0].mean(), out[..., 1].mean(), out[..., 2].mean()
    assert red > green > blue


def test_register_filter_validates_names_and_duplicates(registry: FilterRegistry) -> None:
    with pytest.raises(FilterError, match="lower-case"):
        register_filter("Bad Name")(lambda f: f)
    with pytest.raises(FilterError, match="exists already"):
        register_filter("blur")(lambda f: f)


def test_user_filter_parameters_are_validated_and_applied(bgr: np.ndarray, registry: FilterRegistry) -> None:
    @register_filter("tint_red", amount=Param(10, 0, 100))
    def tint_red(frame: np.ndarray, amount: int) -> np.ndarray:
        """Add red."""
        frame[..., 2] = cv2.add(frame[..., 2], amount)
        return frame

    assert available_filters()["tint_red"].description == "Add red."
    with pytest.raises(FilterError, match="whole number"):
        FilterChain.parse("tint_red:1.5")
    chain = FilterChain.parse("tint_red:20")
    assert chain.pixel_format == BGR
    out = chain.apply(bgr.reshape(-1).copy(), W, H).reshape(H, W, 3)
    assert np.array_equal(out[..., 2].astype(int), np.minimum(bgr[..., 2].astype(int) + 20, 255))
    unregister_filter("tint_red")
    with pytest.raises(FilterError, match="unknown filter 'tint_red'"):
        FilterChain.parse("tint_red")


def test_user_filter_returning_wrong_shape_is_reported(bgr: np.ndarray, registry: FilterRegistry) -> None:
    registry.register("shrink")(lambda frame: frame[::2])
    with pytest.raises(FilterError, match=r"returned uint8 \(24, 64, 3\); it must return uint8 \(48, 64, 3\)"):
        FilterChain.parse("shrink").apply(bgr.reshape(-1).copy(), W, H)
