"""Help screens, -h and shell completion: what a user sees before running anything."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from convcli.cli import app
from convcli.depth import RANGES
from convcli.engine import BORDERS, METHODS
from convcli.kernels import named_kernels
from convcli.operations import ACTIVATIONS
from convcli.streaming import CHANNELS

COMMANDS = [["apply"], ["explain"], ["seq"], ["multiply"], ["outsize"], ["kernels"], ["kernels", "show"], []]
IDS = [" ".join(c) or "convcli" for c in COMMANDS]

#: a value placeholder as newer Typer prints it (<bool>, <str>, <list[str]>, <int range>)
PLACEHOLDER = re.compile(r"<(bool|str|int|float|list\[[^\]]*\]|[a-z]+ range)>")


def render(args: list[str], width: int = 100) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": str(width), "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.output


def _click_command(path: list[str]):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_help_has_no_type_placeholders(path):
    text = render(path)
    assert not PLACEHOLDER.search(text), PLACEHOLDER.search(text)
    assert "BOOLEAN" not in text


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_flags_show_no_value_and_every_option_with_a_value_names_it(path):
    """A flag's row holds only its help; an option that takes a value shows a metavar, never TEXT."""
    text = render(path, width=200)
    command = _click_command(path)
    for param in command.params:
        if param.param_type_name != "option" or param.hidden:
            continue
        long_name = next(o for o in param.opts if o.startswith("--"))
        pattern = re.compile(rf"│ (\*)?\s*{re.escape(long_name)}\b")
        row = next((line for line in text.splitlines() if pattern.search(line)), None)
        assert row is not None, f"{long_name} is not in the help of {path}"
        after = row.split(long_name, 1)[1]
        if param.is_flag:
            shorts = [o for o in param.opts if not o.startswith("--")]
            rest = after.strip()
            for short in shorts:
                rest = rest.removeprefix(short).strip()
            first_word = (param.help or "").split()[0]
            assert rest.startswith(first_word), f"flag {long_name} shows a value before its help: {row!r}"
        else:
            assert not re.search(r"\bTEXT\b", after), f"{long_name} shows TEXT instead of a name: {row!r}"


def _lists(text: str, option: str, values: tuple[str, ...]) -> bool:
    """The option's row shows its values: ``[a|b|c]`` as the metavar, or ``Choices: a, b, c.`` in its help."""
    rows = [line for line in text.splitlines() if re.search(rf"│ (\*)?\s*{option}\s", line)]
    assert len(rows) == 1, (option, rows)
    row = " ".join(rows[0].split())
    return (f"{option} [{'|'.join(values)}]" in row) or (f"Choices: {', '.join(values)}." in row)


def test_apply_help_lists_the_choices_from_the_library():
    text = render(["apply"], width=400)
    for option, values in [("--border", BORDERS), ("--method", METHODS), ("--channels", CHANNELS),
                           ("--range", RANGES), ("--activation", ACTIVATIONS), ("--depth", ("8", "16", "float")),
                           ("--alpha", ("filter", "keep")), ("--frames", ("first", "all"))]:
        assert _lists(text, option, tuple(values)), option


def test_explain_help_lists_the_border_choices():
    assert _lists(render(["explain"], width=400), "--border", tuple(BORDERS))


@pytest.mark.parametrize("path", [["apply"], ["explain"]], ids=["apply", "explain"])
def test_help_at_80_columns_never_breaks_a_word_in_the_option_columns(path):
    """Long choice lists go into the help text, so the metavar column stays narrow."""
    text = render(path, width=80)
    for line in text.splitlines():
        cells = [c for c in line.split("│") if c.strip()]
        if cells:
            assert not re.search(r"\[[a-z0-9|]+$", cells[0].rstrip()), line  # a [a|b|… cut at the edge


_SENTENCE_END = (".", ":", ")", "!", "?")


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_descriptions_are_not_broken_mid_sentence(path):
    """At a width where nothing needs wrapping, every prose line of a description ends a sentence.

    A hard-wrapped docstring shows as lines cut mid-sentence (Rich keeps the author's line breaks and
    re-wraps them again at the terminal's width).
    """
    text = render(path, width=400)
    description = text.split("Usage:", 1)[1].split("╭", 1)[0]
    lines = [line.strip() for line in description.splitlines()[1:] if line.strip()]
    assert lines, text
    for line in lines:
        if re.match(r"^(convcli|cat|find|seq|python|X=|\w+=)\b", line) or "  (" in line:
            continue  # an example command line
        assert line.endswith(_SENTENCE_END), f"{' '.join(path)}: a line ends mid-sentence: {line!r}"


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_short_h_is_help(path):
    long = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    short = CliRunner().invoke(app, [*path, "-h"], env={"COLUMNS": "100"})
    assert short.exit_code == 0 and short.output == long.output


def _complete(words: str) -> list[str]:
    """What bash completion offers for the last word of ``words`` (the real script, as the shell runs it)."""
    script = os.path.join(os.path.dirname(sys.executable), "convcli")
    env = {**os.environ, "_CONVCLI_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    out = subprocess.run([script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_border_names_complete():
    assert _complete("convcli apply --border re") == ["reflect"]
    assert _complete("convcli explain --border s") == ["symmetric"]
    offered = _complete("convcli apply --border ")
    assert set(BORDERS) <= set(offered)


def test_kernel_names_complete():
    names = [k.name for k in named_kernels()]
    assert _complete("convcli apply -k ga") == [n for n in names if n.startswith("ga")]
    assert set(_complete("convcli kernels show ")) >= set(names)


def test_completion_installs_for_bash(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "convcli")
    out = subprocess.run([script, "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "_CONVCLI_COMPLETE=complete_bash" in out.stdout


def test_every_choice_list_the_help_shows_resolves_in_the_library() -> None:
    """Help and completion look the choices up lazily by name: each lookup must find its table."""
    from convcli.cli import options

    for name in options._CHOICES:
        values = options.choices(name)
        assert values and all(isinstance(v, str) and v for v in values), name
