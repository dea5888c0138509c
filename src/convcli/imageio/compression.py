"""Every compression rule, in one place: which values each output format takes, its default, the messages.

======  ==========================================  =========  ====================================
format  takes                                       default    why
======  ==========================================  =========  ====================================
PNG     a zlib level, 0 (stored) to 9 (smallest)    1          the fastest level whose files are no
                                                               bigger than libvips' default ones
                                                               (``benchmarks/results/png_levels.md``)
TIFF    deflate, zstd, lzw or none                  deflate    what every TIFF reader decodes
Zarr    deflate, zstd or none                       zstd       zarr's own default; no LZW codec
others  nothing (JPEG, WebP, ... ignore a value)    --         --
======  ==========================================  =========  ====================================

The sinks (:mod:`.formats`) ask :func:`checked_compression` before anything
is written; the command line asks :func:`compression_option` once, with the
output format when it is fixed; a batch whose formats follow its inputs asks
:func:`compression_for` for each output, so that one value reaches the
outputs it fits and the others keep their defaults.
"""

from __future__ import annotations

from ..errors import ParameterError

__all__ = ["COMPRESSIONS", "DEFAULT_PNG_LEVEL", "PNG_LEVELS", "checked_compression", "compression_for",
           "compression_option", "compressions_of", "default_compression"]

#: the zlib levels a PNG output takes, as ``--compression`` spells them
PNG_LEVELS: tuple[str, ...] = tuple(str(level) for level in range(10))
#: the zlib level of PNG outputs when none is given (see the module's table)
DEFAULT_PNG_LEVEL = 1
#: every codec name a TIFF output takes (Zarr takes all but ``lzw``), its default first
COMPRESSIONS: tuple[str, ...] = ("deflate", "zstd", "lzw", "none")
_CODECS = {"TIFF": COMPRESSIONS, "ZARR": ("deflate", "zstd", "none")}
_DEFAULT_CODEC = {"TIFF": "deflate", "ZARR": "zstd"}
_NAMES = {"TIFF": "TIFF", "ZARR": "Zarr"}


def compressions_of(fmt: str) -> tuple[str, ...]:
    """The ``compression`` values an output format takes (empty for formats that take none).

    Examples
    --------
    >>> compressions_of("ZARR"), compressions_of("JPEG"), compressions_of("PNG")[:3]
    (('deflate', 'zstd', 'none'), (), ('0', '1', '2'))
    """
    fmt = fmt.upper()
    return PNG_LEVELS if fmt == "PNG" else _CODECS.get(fmt, ())


def default_compression(fmt: str) -> int | str | None:
    """The compression an output format gets when none is given (None: it takes none).

    Examples
    --------
    >>> default_compression("PNG"), default_compression("TIFF"), default_compression("ZARR"), default_compression("GIF")
    (1, 'deflate', 'zstd', None)
    """
    fmt = fmt.upper()
    return DEFAULT_PNG_LEVEL if fmt == "PNG" else _DEFAULT_CODEC.get(fmt)


def _is_level(compression: object) -> bool:
    """Whether ``compression`` is a zlib level: an integer 0-9 or its digit (not a bool)."""
    if isinstance(compression, str):
        return compression.strip() in PNG_LEVELS
    return isinstance(compression, int) and not isinstance(compression, bool) and 0 <= compression <= 9


def _misfit(fmt: str, compression: object) -> str:
    """The end of the message refusing ``compression`` for a ``fmt`` output: what that format takes."""
    if fmt == "PNG":
        return (f"does not fit a PNG output, which takes a zlib level 0-9 (default {DEFAULT_PNG_LEVEL}); "
                "deflate, zstd and none are for TIFF and Zarr outputs, lzw for TIFF only")
    codecs = _CODECS[fmt]
    listed = f"{', '.join(codecs[:-1])} or {codecs[-1]}"
    tail = "; a zlib level 0-9 is for PNG outputs" if _is_level(compression) else ""
    return f"does not fit a {_NAMES[fmt]} output, which takes {listed} (default {_DEFAULT_CODEC[fmt]}){tail}"


def checked_compression(fmt: str, compression: int | str | None, *, name: str = "") -> int | str | None:
    """``compression`` checked for a ``fmt`` output and normalised: a PNG level as an int, a codec name as given.

    None stays None (the writer takes :func:`default_compression`); formats
    that take no compression ignore any value (None).

    Parameters
    ----------
    fmt : str
        The output format (``PNG``, ``TIFF``, ``ZARR``, ...).
    compression : int, str or None
        A zlib level 0-9 (PNG) or a codec name (TIFF, Zarr).
    name : str, optional
        The output's name, starting the message.

    Raises
    ------
    ParameterError
        A value the format does not take, naming what it takes.

    Examples
    --------
    >>> checked_compression("PNG", "9"), checked_compression("TIFF", "zstd"), checked_compression("JPEG", 3)
    (9, 'zstd', None)
    >>> checked_compression("TIFF", 9, name="out.tif")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: out.tif: compression 9 does not fit a TIFF output, which takes deflate, zstd, lzw \
or none (default deflate); a zlib level 0-9 is for PNG outputs
    >>> checked_compression("ZARR", "lzw")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: compression 'lzw' is a TIFF compression; a Zarr output takes deflate, zstd or none
    """
    fmt = fmt.upper()
    if compression is None or not compressions_of(fmt):
        return None
    start = f"{name}: " if name else ""
    level = _is_level(compression)
    if (fmt == "PNG") != level:
        raise ParameterError(f"{start}compression {compression!r} {_misfit(fmt, compression)}")
    if level:
        return int(compression)
    if fmt == "ZARR" and compression == "lzw":
        raise ParameterError(f"{start}compression 'lzw' is a TIFF compression; a Zarr output takes deflate, zstd "
                             "or none")
    if compression not in _CODECS[fmt]:
        raise ParameterError(f"{start}compression must be one of {', '.join(COMPRESSIONS)}, got {compression!r}")
    return str(compression)


def compression_for(fmt: str | None, compression: int | str | None) -> int | str | None:
    """The part of ``compression`` that applies to a ``fmt`` output: a level for PNG, a codec for TIFF and Zarr.

    For a batch whose outputs keep their inputs' formats: one value given to
    all of them applies where it fits, and the other outputs keep their
    default (``None``).

    Examples
    --------
    >>> compression_for("PNG", "3"), compression_for("TIFF", "3"), compression_for("TIFF", "zstd")
    (3, None, 'zstd')
    >>> compression_for("PNG", "zstd"), compression_for("ZARR", "lzw"), compression_for("JPEG", "3")
    (None, None, None)
    """
    if compression is None or fmt is None:
        return None
    try:
        return checked_compression(fmt, compression)
    except ParameterError:
        return None


def _parsed(text: str | int, what: str) -> str:
    """A value as typed, normalised: a level ``"0"``-``"9"`` or a codec name; anything else refused."""
    from ..specs import closest

    word = str(text).strip().lower()
    if word in PNG_LEVELS or word in COMPRESSIONS:
        return word
    hint = closest(word, COMPRESSIONS)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    raise ParameterError(f"{what} must be a zlib level 0-9 (.png outputs) or one of {', '.join(COMPRESSIONS)} (.tif "
                         f"and .zarr outputs), got {text!r}{suggestion}")


def compression_option(text: str | int | None, *, fmt: str | None,
                       what: str = "--compression") -> tuple[str | None, tuple[str, ...]]:
    """The ``--compression`` option checked: its normalised value and the notes to show about it.

    Parameters
    ----------
    text : str, int or None
        The value as typed (None: not given).
    fmt : str or None
        The output format when it is fixed (``-o``, ``--format``); None when
        each output follows its input's format.
    what : str, optional
        The option's name, starting the messages.

    Returns
    -------
    value : str or None
        A level ``"0"``-``"9"`` or a codec name.
    notes : tuple of str
        What the value does not reach: other formats of a batch, or a fixed
        format that takes no compression.

    Raises
    ------
    ParameterError
        Neither a level nor a codec name (naming the closest), or a value the
        fixed format does not take (naming what it takes).

    Examples
    --------
    >>> compression_option(" 6", fmt="PNG"), compression_option(None, fmt="TIFF")
    (('6', ()), (None, ()))
    >>> compression_option("ZSTD", fmt=None)[1]
    ('--compression zstd is a codec, to the .tif and .zarr outputs only; outputs of other formats keep their \
defaults (the output format follows each input here; --format fixes it)',)
    >>> compression_option("zstandard", fmt=None)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --compression must be a zlib level 0-9 (.png outputs) or one of deflate, zstd, \
lzw, none (.tif and .zarr outputs), got 'zstandard'; did you mean 'zstd'?
    >>> compression_option("lzw", fmt="ZARR")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: --compression lzw: Zarr outputs have no LZW codec; use deflate, zstd or none
    """
    if text is None:
        return None, ()
    value = _parsed(text, what)
    fmt = None if fmt is None else fmt.upper()
    if fmt is None:
        kind = "a zlib level, to the .png outputs" if value.isdigit() else "a codec, to the .tif and .zarr outputs"
        return value, (f"{what} {value} is {kind} only; outputs of other formats keep their defaults (the output "
                       "format follows each input here; --format fixes it)",)
    if not compressions_of(fmt):
        return value, (f"{what} has no effect on {fmt} outputs; it applies to .png (a level 0-9), .tif and .zarr "
                       "outputs",)
    if fmt == "ZARR" and value == "lzw":
        raise ParameterError(f"{what} lzw: Zarr outputs have no LZW codec; use deflate, zstd or none")
    if (fmt == "PNG") != _is_level(value):
        raise ParameterError(f"{what} {value} {_misfit(fmt, value)}")
    return value, ()
