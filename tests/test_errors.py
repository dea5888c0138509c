"""errors.py: every exception and the one mapping from error to exit code."""

from __future__ import annotations

import pickle

import pytest

from convcli import errors
from convcli.errors import (
    ConvcliError,
    ImageReadError,
    ImageWriteError,
    Interrupted,
    KernelError,
    KernelFileError,
    OutputConflict,
    ParameterError,
    ShapeError,
    UsageError,
    exit_code_for,
    one_line,
    usage_errors,
)


@pytest.mark.parametrize(("err", "code"), [
    (ConvcliError("x"), 1),
    (ParameterError("x"), 1),
    (ShapeError("x"), 1),
    (KernelError("x"), 1),
    (KernelFileError("k.txt", "x", line=3), 1),
    (ImageReadError("x"), 1),
    (ImageWriteError("x"), 1),
    (UsageError("x"), 2),
    (OutputConflict("x"), 2),
    (KeyboardInterrupt(), 130),
    (Interrupted(), 143),
    (Interrupted(2), 130),
    (BrokenPipeError(), 141),
])
def test_exit_codes(err, code):
    assert exit_code_for(err) == code


def test_the_exit_code_table_holds_every_code_the_command_line_gives():
    # the shell's conventions: 128 + the signal for SIGINT (2), SIGPIPE (13) and SIGTERM (15)
    assert sorted(errors.EXIT_CODES.values()) == [0, 1, 2, 130, 141, 143]
    assert errors.EXIT_CODES["stdout closed"] == exit_code_for(BrokenPipeError())
    assert errors.EXIT_CODES["terminated"] == exit_code_for(Interrupted())


def test_value_errors_for_python_callers():
    for cls in (ParameterError, ShapeError, KernelError, UsageError, OutputConflict):
        assert issubclass(cls, ValueError)
    assert not issubclass(Interrupted, Exception)  # `except Exception` never swallows a signal


def test_messages_are_one_line_whatever_the_file_name():
    err = ImageReadError("bad\nname\x1b[31m.png: no such file")
    assert str(err) == "bad\\nname\\x1b[31m.png: no such file"
    assert "\n" not in str(err)
    assert one_line("a\tb") == "a\tb"  # a tab is kept: it prints on one line


def test_kernel_file_error_names_the_path_and_line():
    assert str(KernelFileError("k.csv", "row 2 has 3 values, row 1 has 2", line=2)) == (
        "k.csv, line 2: row 2 has 3 values, row 1 has 2")
    assert str(KernelFileError("k.csv", "empty")) == "k.csv: empty"


def test_usage_errors_turns_a_parameter_error_into_a_usage_error():
    with pytest.raises(UsageError, match=r"^stride must be positive$") as info:
        with usage_errors():
            raise ParameterError("stride must be positive")
    assert exit_code_for(info.value) == 2


@pytest.mark.parametrize("err", [KernelError("unknown kernel"), ShapeError("empty output"),
                                 ImageReadError("missing"), OutputConflict("clash")])
def test_usage_errors_leaves_other_errors_alone(err):
    with pytest.raises(type(err)) as info:
        with usage_errors():
            raise err
    assert info.value is err


def test_every_error_class_lives_in_errors_and_pickles():
    # worker processes send errors back to the parent
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, BaseException) and obj is not KernelFileError:
            err = obj("message") if obj is not Interrupted else obj(15)
            assert type(pickle.loads(pickle.dumps(err))) is obj
