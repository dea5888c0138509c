"""What tifffile says about a TIFF, and what its tags say, turned into one ``Error:`` or a warning.

tifffile logs the problems it tolerates (a tag it cannot parse, an
invalid value it replaces) through its ``tifffile`` logger, which would
otherwise write them to stderr on its own.  :func:`tifffile_log` collects
those records instead, and :func:`judged` decides per record:

===============================================  =============================================
tifffile logs a problem with                     convcli
===============================================  =============================================
a tag the pixels depend on (sizes, samples,      the file fails: ``Error: NAME: the image is
sample format, compression, predictor, planar    damaged ...`` with tifffile's words
configuration with 2+ samples, strip or tile
layout, offsets, byte counts, JPEG tables,
orientation), or anything else
a tag the pixels do not depend on (text,         a warning: the pixels are read as from an
resolution, ICC profile, dates, private tags)    intact file (tifffile decodes without them)
or tifffile's own shaped/ImageJ description
===============================================  =============================================

A page whose SamplesPerPixel disagrees with its photometric interpretation
and ExtraSamples (:func:`sample_count_problem`, e.g. 65535 samples declared
on an RGB page) has its first strip or tile decoded when it is opened: if
that fails, the file is damaged, with or without a memory limit (rather
than "not enough memory" when the declared tile does not fit).

The tags are checked too (:func:`page_problems`): an invalid
PlanarConfiguration (not 1 or 2) with 2 or more samples, or a strip or tile
that ends past the end of the file, fails the file; a strip or tile with a
byte count of 0 at a real offset is read as zeros, as tifffile and libtiff
read it, with a warning saying so (an offset of 0 with a count of 0 is a
sparse tile, GDAL's convention, read as zeros silently).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["judged", "page_problems", "sample_count_problem", "tifffile_log"]

#: tags tifffile needs to decode the pixels (a problem with one of them fails the file)
_PIXEL_TAGS = frozenset({
    256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 317, 322, 323, 324, 325, 338, 339, 347, 530, 532,
})
_PLANAR = 284
_TAG = re.compile(r"<tifffile\.TiffTag (\d+) @")
#: tifffile's messages about its own metadata conventions (the description's shape), which convcli ignores
_OWN_METADATA = ("shaped series metadata", "imagej series metadata", "series metadata")

_lock = threading.Lock()
_records: list[logging.LogRecord] = []
_active = 0  # blocks collecting; outside them records are dropped
_installed = False


class _Collector(logging.Handler):
    """Keeps tifffile's records for :func:`tifffile_log` (and so, being a handler, stops Python's last resort
    handler from writing them to stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        with _lock:
            if _active and len(_records) < 1000:  # a damaged file can log in a loop: the first ones say it
                _records.append(record)


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            logging.getLogger("tifffile").addHandler(_Collector(logging.WARNING))
            _installed = True


@contextlib.contextmanager
def tifffile_log() -> Iterator[list[str]]:
    """The messages tifffile logs (WARNING and above) while the block runs, in the list yielded.

    The list is filled when the block ends.

    Examples
    --------
    >>> import logging
    >>> with tifffile_log() as said:
    ...     logging.getLogger("tifffile").warning("<tifffile.TiffTag 305 @8> coercing invalid ASCII to bytes")
    >>> said
    ['<tifffile.TiffTag 305 @8> coercing invalid ASCII to bytes']
    """
    global _active
    _install()
    with _lock:
        start = len(_records)
        _active += 1
    said: list[str] = []
    try:
        yield said
    finally:
        with _lock:
            _active -= 1
            new = _records[start:]
            del _records[start:]
        said.extend(_text(r) for r in new)


def _text(record: logging.LogRecord) -> str:
    try:
        return " ".join(record.getMessage().split())
    except Exception:  # a record whose arguments do not format
        return " ".join(str(record.msg).split())


def judged(said: list[str], *, samples: int | None = None) -> tuple[str | None, list[str]]:
    """tifffile's messages split: the first that fails the file (None: none does), and the harmless ones.

    ``samples``: the page's samples per pixel, when known (the planar
    configuration matters only with 2 or more).

    Examples
    --------
    >>> judged(["<tifffile.TiffTag 305 @8> coercing invalid ASCII to bytes"])
    (None, ['<tifffile.TiffTag 305 @8> coercing invalid ASCII to bytes'])
    >>> judged(["<tifffile.TiffTag 284 @118> raised ValueError('0 is not a valid PLANARCONFIG')"], samples=3)[0]
    "<tifffile.TiffTag 284 @118> raised ValueError('0 is not a valid PLANARCONFIG')"
    """
    fatal: str | None = None
    harmless: list[str] = []
    for message in dict.fromkeys(said):  # once each, in order
        found = _TAG.search(message)
        if found is not None:
            tag = int(found.group(1))
            bad = tag in _PIXEL_TAGS or (tag == _PLANAR and (samples is None or samples > 1))
        else:
            bad = not any(what in message.lower() for what in _OWN_METADATA)
        if bad:
            fatal = fatal or message
        else:
            harmless.append(message)
    return fatal, harmless


def page_problems(page: Any, file_size: int | None) -> tuple[str | None, list[str]]:
    """What the tags of a ``page`` say is wrong: the first fatal problem (None: none), and warnings.

    Examples
    --------
    >>> import io, tifffile
    >>> buffer = io.BytesIO()
    >>> tifffile.imwrite(buffer, np.zeros((32, 32), np.uint8), tile=(16, 16))
    >>> with tifffile.TiffFile(io.BytesIO(buffer.getvalue())) as tif:
    ...     page_problems(tif.pages[0], len(buffer.getvalue()))
    (None, [])
    """
    samples = int(page.samplesperpixel)
    planar = page.tags.get(_PLANAR)
    if planar is not None:
        try:
            value = int(planar.value)
        except (TypeError, ValueError):
            value = -1
        if value not in (1, 2) and samples > 1:
            return (f"its PlanarConfiguration is {planar.value!r}, which is invalid (1: contiguous samples, 2: "
                    f"separate planes), so its {samples} samples per pixel cannot be told apart", [])
    offsets = np.asarray(page.dataoffsets, dtype=np.uint64)
    counts = np.asarray(page.databytecounts, dtype=np.uint64)
    n = min(len(offsets), len(counts))
    offsets, counts = offsets[:n], counts[:n]
    what = "tile" if page.is_tiled else "strip"
    if file_size is not None and n:
        size = np.uint64(file_size)
        room = np.where(offsets <= size, size - np.minimum(offsets, size), np.uint64(0))  # no overflow
        past = np.flatnonzero((counts > 0) & (counts > room))
        if len(past):
            i = int(past[0])
            return (f"{what} {i + 1} of {n} claims {int(counts[i]):,} bytes at offset {int(offsets[i]):,}, past the "
                    f"end of the file ({file_size:,} bytes)", [])
    empty = np.flatnonzero((counts == 0) & (offsets != 0))
    notes = []
    if len(empty):
        listed = ", ".join(str(int(i) + 1) for i in empty[:5]) + (", ..." if len(empty) > 5 else "")
        notes.append(f"{len(empty)} {what}(s) of {n} ({listed}) have a byte count of 0 at a real offset: read as "
                     "zeros, as tifffile and libtiff read them; the file may be damaged")
    return None, notes


def sample_count_problem(page: Any) -> str | None:
    """Why ``page``'s SamplesPerPixel cannot be right (None: it can): the colour samples plus ExtraSamples.

    The TIFF specification lists every sample beyond the photometric
    interpretation's own in ExtraSamples.  Such a page is tolerated when its
    data agrees (an RGBA page without the tag); the caller decodes one tile
    to see.

    Examples
    --------
    >>> import io, tifffile
    >>> buffer = io.BytesIO()
    >>> tifffile.imwrite(buffer, np.zeros((16, 16, 4), np.uint8), photometric="rgb", extrasamples=["unassalpha"])
    >>> with tifffile.TiffFile(io.BytesIO(buffer.getvalue())) as tif:
    ...     sample_count_problem(tif.pages[0]) is None
    True
    """
    try:
        samples = int(page.samplesperpixel)
        photometric = int(page.photometric) if page.photometric is not None else 1
        extras = len(tuple(page.extrasamples or ()))
    except (TypeError, ValueError):
        return "its sample layout cannot be read"
    base = 3 if photometric in (2, 6, 8) else 4 if photometric == 5 else 1
    if samples != base + extras:
        return (f"it declares {samples} samples per pixel, but its photometric interpretation has {base} and its "
                f"ExtraSamples tag names {extras} more")
    return None
