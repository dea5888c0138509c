"""Fuzz image reading with corrupted files: the only outcomes allowed are a result or a ConvcliError.

Every case takes a seed file of ``tests/fuzz_corpus/`` (small PNG, JPEG, TIFF,
GIF, BMP, WebP, PPM, TGA and .npy files in many modes), mutates its bytes (bit
flips, interesting values, truncation, insertions, deletions, duplicated
ranges, splices with another seed, and format-aware changes: PNG chunks
dropped, repeated, swapped or rewritten with a valid CRC, JPEG segment
lengths, TIFF directory entries) and runs it through what ``convcli apply``
does to a file: :func:`convcli.imageio.probe_image` (``--dry-run``),
:func:`~convcli.imageio.read_image`, :func:`~convcli.streaming.stream_filter`
with a 3x3 box, :func:`~convcli.depth.to_depth` and
:func:`~convcli.imageio.encode_image`.  Reading may fail only with a
:class:`~convcli.errors.ConvcliError`; once read, the rest must succeed, and
the array must have the shape and dtype the header-only probe announced
(unless a note says that the pixels decode to another size than the header's).

Run a long fuzz (the CI runs a short, seeded slice of the same code from
``tests/test_fuzz.py``)::

    python -m tests.fuzz_images --minutes 10 --seed 1

It prints one JSON line of counts at the end, and saves every input that broke
the rule (with its traceback) under ``--crashes`` (default
``fuzz-crashes/images``), to be turned into a regression test.
``python -m tests.fuzz_images --make-corpus`` rewrites the seed files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import struct
import sys
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
#: the pixel limit while fuzzing: a mutated header may declare anything
MAX_PIXELS = 1 << 22
#: a case that takes longer than this is a failure (a hang), when the decoder lets Python stop it
CASE_SECONDS = 20
#: a case slower than this is listed (and saved) as slow
SLOW_SECONDS = 2.0

_INTERESTING_8 = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x10, 0x20, 0x40)
_INTERESTING_32 = (0, 1, 2, 0x7F, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x40000000)


# --- the corpus -------------------------------------------------------------------------


def make_corpus(folder: Path = CORPUS) -> list[Path]:
    """Write the seed files: every format and mode convcli reads, each a few kilobytes."""
    from PIL import Image

    from convcli.imageio import encode_image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261122)
    yy, xx = np.mgrid[0:24, 0:32]
    smooth = ((xx * 8 + yy * 3) % 256).astype(np.uint8)
    rgb = np.stack([smooth, smooth[::-1], rng.integers(0, 256, smooth.shape).astype(np.uint8)], axis=2)
    rgba = np.concatenate([rgb, np.where(xx < 16, 0, 255).astype(np.uint8)[..., None]], axis=2)
    deep = (xx * 2000 + yy * 37).astype(np.uint16)
    written: list[Path] = []

    def save(name: str, image: Image.Image, **options: object) -> None:
        image.save(folder / name, **options)
        written.append(folder / name)

    gray = Image.fromarray(smooth)
    colour = Image.fromarray(rgb)
    save("gray.png", gray)
    save("rgb.png", colour)
    save("rgba.png", Image.fromarray(rgba))
    save("la.png", gray.convert("LA"))
    palette = colour.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    save("palette.png", palette, transparency=0)
    save("bilevel.png", gray.convert("1"))
    save("gray16.png", Image.fromarray(deep))
    (folder / "rgb16.png").write_bytes(encode_image(np.stack([deep, deep[::-1], 65535 - deep], axis=2), "PNG"))
    written.append(folder / "rgb16.png")
    save("baseline.jpg", colour, quality=80)
    save("progressive.jpg", colour, quality=80, progressive=True)
    save("gray.jpg", gray, quality=80)
    save("cmyk.jpg", colour.convert("CMYK"), quality=80)
    exif = Image.Exif()
    exif[0x0112] = 6
    save("rotated.jpg", colour, quality=80, exif=exif.tobytes())
    save("plain.tif", colour)
    save("lzw.tif", colour, compression="tiff_lzw")
    save("packbits.tif", gray, compression="packbits")
    save("gray16.tif", Image.fromarray(deep))
    save("float.tif", Image.fromarray((smooth / 255.0).astype(np.float32)))
    save("int32.tif", Image.fromarray(deep.astype(np.int32) * 3 - 1000))
    save("cmyk.tif", colour.convert("CMYK"))
    pages = [gray, Image.fromarray(smooth[::-1].copy()), Image.fromarray(255 - smooth)]
    save("pages.tif", pages[0], save_all=True, append_images=pages[1:])
    save("anim.gif", pages[0], save_all=True, append_images=pages[1:], duration=50, loop=0)
    save("rgb.bmp", colour)
    save("lossless.webp", colour, lossless=True)
    save("rgb.ppm", colour)
    save("gray16.pgm", Image.fromarray(deep))
    save("rgba.tga", Image.fromarray(rgba))
    np.save(folder / "float.npy", (smooth / 255.0).astype(np.float32))
    np.save(folder / "rgb.npy", rgb)
    written += [folder / "float.npy", folder / "rgb.npy"]
    return sorted(written)


def load_corpus(folder: Path = CORPUS) -> list[tuple[str, bytes]]:
    """The seed files as (name, bytes), sorted by name."""
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]


# --- mutations ----------------------------------------------------------------------------


def _bit_flips(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    for _ in range(int(rng.integers(1, 9))):
        head = rng.random() < 0.4  # headers hold the interesting fields
        limit = min(len(data), 128) if head else len(data)
        i = int(rng.integers(0, limit))
        data[i] ^= 1 << int(rng.integers(0, 8))


def _interesting(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    if rng.random() < 0.5 or len(data) < 8:
        data[int(rng.integers(0, len(data)))] = int(rng.choice(_INTERESTING_8))
        return
    i = int(rng.integers(0, len(data) - 3))
    value = int(rng.choice(_INTERESTING_32))
    data[i : i + 4] = struct.pack(">I" if rng.random() < 0.5 else "<I", value)


def _truncate(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    del data[int(rng.integers(0, len(data))) :]


def _insert(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    i = int(rng.integers(0, len(data) + 1))
    data[i:i] = rng.integers(0, 256, int(rng.integers(1, 64))).astype(np.uint8).tobytes()


def _delete(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    i = int(rng.integers(0, len(data)))
    del data[i : i + int(rng.integers(1, 64))]


def _duplicate(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    i = int(rng.integers(0, len(data)))
    j = min(len(data), i + int(rng.integers(1, 256)))
    k = int(rng.integers(0, len(data) + 1))
    data[k:k] = data[i:j]


def _splice(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    other = seeds[int(rng.integers(0, len(seeds)))]
    cut = int(rng.integers(0, len(data) + 1))
    at = int(rng.integers(0, len(other) + 1))
    data[cut:] = other[at:]


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        chunks.append((kind, payload))
        pos += 12 + length
    return chunks or None


def _png_build(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, payload in chunks:
        out.append(struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload)))
    return b"".join(out)


def _png_chunk_level(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    chunks = _png_chunks(bytes(data))
    if chunks is None:
        _bit_flips(data, rng, seeds)
        return
    action = int(rng.integers(0, 6))
    i = int(rng.integers(0, len(chunks)))
    if action == 0 and len(chunks) > 1:
        del chunks[i]
    elif action == 1:
        chunks.insert(int(rng.integers(0, len(chunks) + 1)), chunks[i])
    elif action == 2:
        j = int(rng.integers(0, len(chunks)))
        chunks[i], chunks[j] = chunks[j], chunks[i]
    elif action == 3:  # rewrite a payload, keeping the CRC valid so that decoding goes deeper
        payload = bytearray(chunks[i][1]) or bytearray(b"\x00")
        _interesting(payload, rng, seeds) if rng.random() < 0.5 else _bit_flips(payload, rng, seeds)
        chunks[i] = (chunks[i][0], bytes(payload))
    elif action == 4:  # IHDR fields: size, depth, colour type, interlace
        kind, payload = chunks[0]
        if kind == b"IHDR" and len(payload) == 13:
            fields = bytearray(payload)
            spot = int(rng.choice([0, 4, 8, 9, 10, 11, 12]))
            if spot < 8:
                fields[spot : spot + 4] = struct.pack(">I", int(rng.choice(_INTERESTING_32)) % 5000)
            else:
                fields[spot] = int(rng.choice([0, 1, 2, 3, 4, 6, 8, 16, 255]))
            chunks[0] = (kind, bytes(fields))
    else:  # a chunk of another kind, with a valid CRC
        kind = bytes(rng.choice([b"tRNS", b"PLTE", b"iCCP", b"eXIf", b"zTXt", b"iTXt", b"acTL", b"fcTL", b"gAMA",
                                 b"sBIT", b"pHYs", b"IDAT"]))
        payload = rng.integers(0, 256, int(rng.integers(0, 40))).astype(np.uint8).tobytes()
        chunks.insert(int(rng.integers(1, len(chunks) + 1)), (kind, payload))
    data[:] = _png_build(chunks)


def _jpeg_segment_level(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    markers = [i for i in range(2, len(data) - 4) if data[i] == 0xFF and 0xC0 <= data[i + 1] <= 0xFE]
    if not data.startswith(b"\xff\xd8") or not markers:
        _bit_flips(data, rng, seeds)
        return
    i = markers[int(rng.integers(0, len(markers)))]
    choice = rng.random()
    if choice < 0.4:  # the segment length
        data[i + 2 : i + 4] = struct.pack(">H", int(rng.choice([0, 1, 2, 3, 0xFF, 0xFFFF, 0x8000])))
    elif choice < 0.7:  # a field inside the segment (sizes, component counts, tables)
        j = min(len(data) - 1, i + 4 + int(rng.integers(0, 12)))
        data[j] = int(rng.choice(_INTERESTING_8))
    else:  # the marker itself
        data[i + 1] = int(rng.integers(0xC0, 0xFF))


def _tiff_entry_level(data: bytearray, rng: np.random.Generator, seeds: list[bytes]) -> None:
    order = bytes(data[:2])
    if order not in (b"II", b"MM") or len(data) < 8:
        _bit_flips(data, rng, seeds)
        return
    e = "<" if order == b"II" else ">"
    (ifd,) = struct.unpack(e + "I", data[4:8])
    if ifd + 2 > len(data):
        _bit_flips(data, rng, seeds)
        return
    (count,) = struct.unpack(e + "H", data[ifd : ifd + 2])
    if count == 0 or ifd + 2 + 12 * count > len(data):
        _bit_flips(data, rng, seeds)
        return
    entry = ifd + 2 + 12 * int(rng.integers(0, count))
    part = int(rng.integers(0, 3))  # type, count, value/offset
    if part == 0:
        data[entry + 2 : entry + 4] = struct.pack(e + "H", int(rng.integers(0, 20)))
    else:
        spot = entry + 4 if part == 1 else entry + 8
        data[spot : spot + 4] = struct.pack(e + "I", int(rng.choice(_INTERESTING_32)))


Mutation = Callable[[bytearray, np.random.Generator, list[bytes]], None]
MUTATIONS: dict[str, Mutation] = {
    "bitflip": _bit_flips,
    "interesting": _interesting,
    "truncate": _truncate,
    "insert": _insert,
    "delete": _delete,
    "duplicate": _duplicate,
    "splice": _splice,
    "png-chunk": _png_chunk_level,
    "jpeg-segment": _jpeg_segment_level,
    "tiff-entry": _tiff_entry_level,
}


def mutate(data: bytes, rng: np.random.Generator, seeds: list[bytes]) -> tuple[bytes, list[str]]:
    """``data`` with 1-3 random mutations; returns the bytes and the names of the mutations."""
    out = bytearray(data)
    names = list(MUTATIONS)
    applied = []
    for _ in range(int(rng.integers(1, 4))):
        if not out:
            break
        name = names[int(rng.integers(0, len(names)))]
        MUTATIONS[name](out, rng, seeds)
        applied.append(name)
    return bytes(out), applied


# --- one case -----------------------------------------------------------------------------


class CaseTimeout(Exception):
    """A case ran longer than :data:`CASE_SECONDS`."""


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):  # pragma: no cover - not on Linux
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise CaseTimeout(f"the case took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_image_bytes(name: str, data: bytes) -> str:
    """Run one file through probe, read, filter, depth and encode.

    Returns ``"ok"`` or ``"convcli-error"``; raises anything else (a bug), or
    ``AssertionError`` when the array disagrees with what the probe announced.
    """
    from convcli.depth import natural_depth, nominal_max, to_depth
    from convcli.errors import ConvcliError
    from convcli.imageio import count_frames, encode_image, fit_depth, probe_image, read_image
    from convcli.kernels import kernel
    from convcli.operations import Convolve
    from convcli.streaming import stream_filter

    try:
        frames = count_frames(name, data=data, max_pixels=MAX_PIXELS)
    except ConvcliError:
        frames = 1
    assert frames >= 1
    for frame in (None, frames - 1) if frames > 1 else (None,):  # the first frame, and the last of several
        probed = None
        try:
            probed = probe_image(name, data=data, max_pixels=MAX_PIXELS, frame=frame)
        except ConvcliError:
            pass
        try:
            array, info = read_image(name, data=data, max_pixels=MAX_PIXELS, frame=frame)
        except ConvcliError:
            return "convcli-error"
        assert isinstance(array, np.ndarray) and array.ndim in (2, 3) and min(array.shape) >= 1, array.shape
        resized = any("pixels but they decode to" in note for note in info.notes)  # said so: damaged
        if probed is not None and not resized:
            shape, dtype, _ = probed
            assert tuple(shape) == array.shape and np.dtype(dtype) == array.dtype, (
                shape, dtype, array.shape, array.dtype)
    result = stream_filter(array, [Convolve(kernel("box:size=3"))], alpha=info.alpha).collect()
    channels = 1 if result.ndim == 2 else int(result.shape[2])
    try:
        depth = fit_depth("PNG", natural_depth(array.dtype), channels)
    except ConvcliError:  # more channels than PNG holds (a .npy array): write it as .npy
        encode_image(result, "NPY")
        return "ok"
    samples = to_depth(result, depth, source_max=nominal_max(array.dtype), alpha=info.alpha and channels in (2, 4))
    encode_image(samples, "PNG", info=info, name="fuzz.png")
    return "ok"


# --- the run ------------------------------------------------------------------------------


@dataclass
class Report:
    """Counts of a fuzz run."""

    seed: int
    cases: int = 0
    ok: int = 0
    convcli_errors: int = 0
    other_exceptions: int = 0
    seconds: float = 0.0
    slowest_case_seconds: float = 0.0
    by_mutation: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "fuzzer": "images", "seed": self.seed, "cases": self.cases, "ok": self.ok,
            "convcli_errors": self.convcli_errors, "other_exceptions": self.other_exceptions,
            "seconds": round(self.seconds, 1), "slowest_case_seconds": round(self.slowest_case_seconds, 3),
            "by_mutation": dict(sorted(self.by_mutation.items())), "failures": self.failures[:20],
            "slow_cases": len(self.slow), "slow": self.slow[:20],
        }


def run(*, seed: int, cases: int | None = None, seconds: float | None = None,
        crashes: Path | None = None, corpus: Path = CORPUS, progress: bool = False) -> Report:
    """Fuzz until ``cases`` cases or ``seconds`` have passed (whichever comes first).

    The same seed and case count give the same cases.
    """
    if cases is None and seconds is None:
        raise ValueError("give cases or seconds")
    seeds = load_corpus(corpus)
    if not seeds:
        raise ValueError(f"no seed files in {corpus}; run python -m tests.fuzz_images --make-corpus")
    rng = np.random.default_rng(seed)
    report = Report(seed=seed)
    raw = [d for _, d in seeds]
    start = time.monotonic()
    last = start
    while (cases is None or report.cases < cases) and (seconds is None or time.monotonic() - start < seconds):
        name, data = seeds[int(rng.integers(0, len(seeds)))]
        mutated, applied = mutate(data, rng, raw)
        report.cases += 1
        report.by_mutation.update(applied)
        t0 = time.monotonic()
        try:
            with _time_limit(CASE_SECONDS), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow warns about odd files; convcli turns them into notes
                outcome = check_image_bytes(name, mutated)
        except Exception as err:  # a bug: record it and go on
            report.other_exceptions += 1
            text = traceback.format_exc()
            summary = f"case {report.cases} ({name}, {'+'.join(applied)}): {type(err).__name__}: {err}"
            report.failures.append(summary[:500])
            if crashes is not None:
                crashes.mkdir(parents=True, exist_ok=True)
                stem = f"{seed}-{report.cases}-{Path(name).stem}"
                (crashes / f"{stem}{Path(name).suffix}").write_bytes(mutated)
                (crashes / f"{stem}.txt").write_text(summary + "\n\n" + text)
            outcome = "other"
        took = time.monotonic() - t0
        report.slowest_case_seconds = max(report.slowest_case_seconds, took)
        if took > SLOW_SECONDS:
            report.slow.append(f"case {report.cases} ({name}, {'+'.join(applied)}): {took:.1f} s")
            if crashes is not None:
                crashes.mkdir(parents=True, exist_ok=True)
                (crashes / f"slow-{seed}-{report.cases}-{Path(name).stem}{Path(name).suffix}").write_bytes(mutated)
        if outcome == "ok":
            report.ok += 1
        elif outcome == "convcli-error":
            report.convcli_errors += 1
        if progress and time.monotonic() - last > 30:
            last = time.monotonic()
            print(json.dumps({"progress": report.cases, "other_exceptions": report.other_exceptions,
                              "seconds": round(last - start)}), file=sys.stderr, flush=True)
    report.seconds = time.monotonic() - start
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz_images", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=None, help="how long to run (default: --cases)")
    parser.add_argument("--cases", type=int, default=None, help="how many cases (default 2000 without --minutes)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same cases")
    parser.add_argument("--crashes", type=Path, default=Path("fuzz-crashes/images"),
                        help="where inputs that broke the rule are saved")
    parser.add_argument("--make-corpus", action="store_true", help="rewrite the seed files and exit")
    args = parser.parse_args(argv)
    if args.make_corpus:
        for path in make_corpus():
            print(f"{path.name}: {path.stat().st_size} bytes")
        return 0
    cases = args.cases if args.cases is not None or args.minutes is not None else 2000
    seconds = args.minutes * 60 if args.minutes is not None else None
    report = run(seed=args.seed, cases=cases, seconds=seconds, crashes=args.crashes, progress=True)
    print(json.dumps(report.to_dict()))
    return 1 if report.other_exceptions else 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())


__all__ = ["MUTATIONS", "Report", "check_image_bytes", "load_corpus", "make_corpus", "mutate", "run"]
