"""convcli.learn.sequences.inputs: sequences and numbers as users give them (inline, files, stdin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from convcli.errors import KernelError, ParameterError, UsageError
from convcli.learn.sequences import convolve_sequences, load_number, load_sequence


def test_load_sequence_from_every_source(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("# prices\n1\n2.5\n\n-3e1\n", encoding="utf-8")
    path = str(tmp_path / "a.txt")
    expected = [1.0, 2.5, -30.0]
    np.testing.assert_array_equal(load_sequence(path), expected)
    np.testing.assert_array_equal(load_sequence("@" + path), expected)
    np.testing.assert_array_equal(load_sequence("1, 2.5 -3e1"), expected)
    np.testing.assert_array_equal(load_sequence("-", stdin="1\n2.5\n-30\n"), expected)
    with pytest.raises(ValueError, match="pass its text as stdin="):
        load_sequence("-")
    with pytest.raises(ParameterError, match=r"^sequence B \(stdin\) holds no numbers"):
        load_sequence("-", name="sequence B", stdin="\n")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ParameterError, match=r"^s: .*bin\.txt is not a text file"):
        load_sequence("@" + str(tmp_path / "bin.txt"), name="s")
    with pytest.raises(ParameterError, match=r"^s: cannot read .*missing\.txt: No such file"):
        load_sequence("@" + str(tmp_path / "missing.txt"), name="s")
    with pytest.raises(ParameterError, match=r"^s 'x1' is neither numbers"):
        load_sequence("x1", name="s")


def test_convolve_sequences_against_numpy() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.integers(-9, 10, size=40), rng.integers(-9, 10, size=7)
    text_a, text_b = ",".join(map(str, a)), " ".join(map(str, b))
    full = np.convolve(a, b).astype(float)
    assert convolve_sequences(text_a, text_b) == full.tolist()
    assert convolve_sequences(text_a, text_b, method="FFT") == full.tolist()
    assert convolve_sequences(text_a, text_b, pad="valid") == np.convolve(a, b, mode="valid").astype(float).tolist()
    same = convolve_sequences(text_a, text_b, pad="same")
    assert same == full[3 : 3 + 40].tolist()  # the kernel's tap len(b) // 2 on each sample
    assert convolve_sequences("-", text_b, stdin=text_a) == full.tolist()
    # a kernel spec stands for its 1-D factor: box:size=5 is five 1/5
    np.testing.assert_allclose(convolve_sequences(text_a, kernel="box:size=5", pad="valid"),
                               np.convolve(a, np.full(5, 0.2), mode="valid"), rtol=1e-12, atol=1e-12)
    with pytest.raises(KernelError, match="not v times v\\^T"):
        convolve_sequences(text_a, kernel="sobel:axis=x")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("1,2",), {}, r"^give the second sequence B or a kernel with -k \(one of them\)$"),
        (("1,2", "3"), {"kernel": "box"}, r"^give the second sequence B or a kernel with -k"),
        (("-", "-"), {"stdin": "1"}, r"^only one of A and B can come from stdin \(-\)$"),
        (("1,2", "3"), {"pad": "wrap"}, r"^--pad must be one of full, same, valid, got 'wrap'$"),
        (("1,2", "3"), {"method": "fast"}, r"^--method must be one of auto, direct, fft, got 'fast'$"),
    ],
)
def test_convolve_sequences_usage_errors(args: tuple[str, ...], kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        convolve_sequences(*args, **kwargs)


def test_load_number(tmp_path: Path) -> None:
    assert load_number(" 0042 ") == "0042"
    (tmp_path / "n.txt").write_text("12 34\n56\n", encoding="utf-8")
    assert load_number(str(tmp_path / "n.txt")) == "123456"
    assert load_number("@" + str(tmp_path / "n.txt")) == "123456"
    (tmp_path / "bad.txt").write_text("12\n3-4\n", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"^A: .*bad\.txt, line 2, column 2: '-' is not a digit"):
        load_number(str(tmp_path / "bad.txt"), name="A")
    (tmp_path / "empty.txt").write_text(" \n", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"^A: .*empty\.txt is empty"):
        load_number("@" + str(tmp_path / "empty.txt"), name="A")
    with pytest.raises(ParameterError, match=r"^B '-3' is neither a non-negative decimal integer"):
        load_number("-3", name="B")
