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
    continued = False
    for line in lines:
        follows, continued = continued, line.endswith("\\")
        if follows or continued:
            continue  # an example broken with a shell continuation
        if re.match(r"^(convcli|cat|echo|find|seq|python|X=|\w+=)\b", line) or "  (" in line:
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


# -- issue 23: help a user can copy from ---------------------------------------------------------------------------

#: every command path with its own help screen (groups included)
ALL_COMMANDS = [*COMMANDS]


def _cells(text: str) -> set[str]:
    """The whitespace-separated words of a rendered help screen, box drawing removed."""
    words: set[str] = set()
    for line in text.splitlines():
        for cell in line.split("│"):
            words.update(cell.split())
    return words


def _intended_words(help_text: str) -> list[str]:
    r"""The words a help text means to show: ``\[`` is a bracket escaped from Rich markup, shown as ``[``."""
    return help_text.replace("\\[", "[").split()


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=IDS)
def test_every_word_of_every_option_help_is_shown_whole_at_80_columns(path):
    """Nothing is eaten as Rich markup ('convcli[dask]' -> 'convcli') or cut with '…' (explain's --pool)."""
    shown = _cells(render(path, width=80))
    command = _click_command(path)
    for param in command.params:
        help_text = getattr(param, "help", None)
        if not help_text or getattr(param, "hidden", False):
            continue
        missing = [word for word in _intended_words(help_text) if word not in shown]
        assert not missing, f"{' '.join(path) or 'convcli'} {param.name}: not shown whole: {missing}"


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=IDS)
def test_brackets_in_command_descriptions_survive_rich_markup(path):
    """A word with ``[`` in a command's description is printed as written (Rich treats ``[name]`` as a tag)."""
    command = _click_command(path)
    shown = _cells(render(path, width=400))
    bracketed = [w for w in _intended_words(command.help or "") if "[" in w]
    assert [w for w in bracketed if w not in shown] == []


def test_the_scheduler_help_names_the_dask_extra():
    row = " ".join(render(["apply"], width=400).split())
    assert "'.[dask]'" in row


def _examples(path: list[str], width: int = 80) -> list[str]:
    """The example commands of a help screen as a user would copy them: lines ending in ``\\`` joined."""
    text = render(path, width=width)
    description = text.split("Usage:", 1)[1].split("╭", 1)[0]
    lines = description.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Examples"))
    commands, pending = [], ""
    for line in lines[start + 1:]:
        line = line.strip()
        if not line:
            assert not pending, f"a continued example ends in a blank line: {pending!r}"
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        commands.append(pending + line)
        pending = ""
    assert not pending
    return commands


def _words(command: str) -> list[str]:
    import shlex

    lexer = shlex.shlex(command, posix=True, punctuation_chars=";|&<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)  # raises ValueError on an unbalanced quote


def _convcli_calls(command: str) -> list[list[str]]:
    """The argument lists of every ``convcli`` in a shell line (pipes, ``;``, redirections split off)."""
    calls, current, skip = [], [], False
    for word in [*_words(command), ";"]:
        if skip:
            skip = False
            continue
        if word in (">", "<", ">>"):
            skip = True  # the file name after a redirection
            continue
        if word in (";", "|", "&&", "||", "&"):
            if current and current[0] == "convcli":
                calls.append(current[1:])
            current = []
            continue
        current.append(word)
    return calls


#: what an example line may start with (a wrapped tail starts with an option or a value instead)
_PROGRAMS = ("convcli", "cat", "echo", "find", "python", "seq")


def _parses(args: list[str]) -> None:
    """Parse ``convcli ARGS`` with the real Click commands (types, choices, required values), running nothing."""
    group = typer.main.get_command(app)
    context = group.make_context("convcli", list(args), resilient_parsing=False)
    command, rest = group, [*context._protected_args, *context.args]
    while rest and hasattr(command, "commands"):
        name, command, rest = command.resolve_command(context, rest)
        context = command.make_context(name, list(rest), parent=context)
        rest = [*getattr(context, "_protected_args", []), *context.args] if hasattr(command, "commands") else []
    assert not context.args or not hasattr(command, "commands"), args


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=IDS)
def test_every_example_at_80_columns_is_a_whole_command(path):
    """Each example is one line at 80 columns, or broken with a shell continuation: it can be copied and run.

    Every example shell-splits (balanced quotes), holds at least one ``convcli`` and each ``convcli`` in
    it parses with the real commands; a wrapped tail (``--suffix _edges`` on its own line) is no command.
    """
    examples = _examples(path)
    assert any(_convcli_calls(example) for example in examples), path
    for example in examples:
        assert _words(example)[0] in _PROGRAMS, f"not a command line: {example!r}"
        for args in _convcli_calls(example):
            _parses(args)


def test_explain_pool_help_is_whole_at_80_columns():
    text = render(["explain"], width=80)
    rows = [line for line in text.splitlines() if "│" in line]
    assert not any(line.rstrip(" │").endswith("…") for line in rows), [r for r in rows if "…" in r]


def _kernels_show_runnable_examples() -> list[list[str]]:
    """``kernels show`` examples that print a kernel as text (no file read, no JSON, no picture)."""
    runnable = []
    for example in _examples(["kernels", "show"]):
        (args,) = _convcli_calls(example)
        if "--json" in args or "--picture" in args or any("/" in a or a.endswith(".mat") for a in args):
            continue
        runnable.append(args)
    return runnable


def test_the_first_kernels_show_example_fits_80_columns():
    runnable = _kernels_show_runnable_examples()
    first = _convcli_calls(_examples(["kernels", "show"])[0])[0]
    assert first in runnable, "the first example prints the kernel as text"
    for args in runnable:
        result = CliRunner().invoke(app, args, env={"COLUMNS": "80", "TERM": "dumb"})
        assert result.exit_code == 0, result.output
        widest = max(len(line) for line in result.output.splitlines())
        assert widest <= 80, (args, widest, result.output)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=IDS)
def test_option_examples_wrap_only_between_arguments(path):
    """An option's "E.g." example holds no argument with a space, so a table cell breaks it only between words.

    At 80 columns Rich wraps a cell at spaces: ``-k '1 2 3' --flip`` came out as ``-k '1`` / ``2 3' --flip``.
    """
    for param in _click_command(path).params:
        help_text = getattr(param, "help", None) or ""
        match = re.search(r"\b[Ee]\.g\. (.*)$", help_text)
        if not match:
            continue
        example = match.group(1).rstrip(".").split(", or ")
        for part in example:
            words = [w for w in _words(part) if w not in (";", "|")]
            assert not [w for w in words if re.search(r"\s", w)], f"{param.name}: {part!r}"
