"""What the encoders accept: presets and quality (CRF) values, checked before any work starts.
Imports nothing heavy: the CLI's parser and the job options read it.
"""

from __future__ import annotations

from ..core.errors import SettingsError

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
"""x264 presets, fastest first."""


def check_preset(preset: object) -> str:
    if preset not in PRESETS:
        raise SettingsError(f"unknown x264 preset '{preset}'; use one of {', '.join(PRESETS)}")
    return str(preset)


def check_crf(crf: object) -> float:
    if isinstance(crf, bool) or not isinstance(crf, (int, float)) or not 0 <= crf <= 51:
        raise SettingsError(f"CRF must be between 0 (lossless) and 51 (worst), got {crf}")
    return crf
