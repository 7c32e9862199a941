"""README.md, docs/ and the deploy files name API paths and carbonstream commands: each one
checked against the code (the app's routes, the CLI's parser), not against a list kept by hand."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonstream.api import ApiSettings, create_app
from carbonstream.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
DEPLOY = sorted(
    p for p in (ROOT / "deploy").rglob("*") if p.suffix in {".yml", ".yaml", ".json", ".md"}
)
# /v1/... as an HTTP path (also after host:port in a URL), not the MQTT topics
# carbonstream/v1/{site}/{gateway}/...
API_PATH = re.compile(r"(?:(?<![\w/])|(?<=[0-9]))/v1/[\w{}<>.:/-]*[\w}>]")
PLACEHOLDER = re.compile(r"\{[^}/]*\}|<[^>/]*>")


def _routes() -> list[re.Pattern[str]]:
    plant = ROOT / "config" / "plant.example.yaml"
    app = create_app(ApiSettings(plant=str(plant)), "postgresql://unused@127.0.0.1:1/unused")
    return [
        re.compile("^" + "[^/]+".join(map(re.escape, PLACEHOLDER.split(path))) + "$")
        for path in app.openapi()["paths"]
    ]


@pytest.mark.slow
def test_api_paths_named_in_docs_and_deploy_exist() -> None:
    routes = _routes()
    unknown = []
    for f in DOCS + DEPLOY:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            for m in API_PATH.finditer(line):
                path = PLACEHOLDER.sub("x", m.group(0))
                if not any(r.match(path) for r in routes):
                    unknown.append(f"{f.relative_to(ROOT)}:{n}: {m.group(0)}")
    assert not unknown, "paths the API does not serve:\n" + "\n".join(unknown)


# --- carbonstream commands ------------------------------------------------------------------

# `carbonstream ...` in a code span; in a fenced shell block, a line that runs it, or runs it
# through `docker compose run --rm api ...` (the image's entrypoint); in any fenced block, a
# line `$ carbonstream ...` (a command shown with its output).
SPAN = re.compile(r"`(carbonstream [^`]+)`")
SHELL = re.compile(r"^\s*(?:\$ )?(carbonstream .*)$|\brun --rm (?:api|ingest|migrate) (.*)$")
PROMPT = re.compile(r"^\s*\$ (carbonstream .*)$")


def mentions(f: Path) -> Iterator[tuple[int, str, bool]]:
    """(line, command without 'carbonstream', whether it is a full command to run)."""
    lines = f.read_text().splitlines()
    fence: str | None = None  # the open fenced block's language
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            fence = line.strip().removeprefix("```") if fence is None else None
            continue
        if fence is None:
            for s in SPAN.finditer(line):
                yield n, s.group(1).removeprefix("carbonstream "), False
            continue
        m = (SHELL if fence in {"sh", "bash", "console"} else PROMPT).search(line)
        if m:
            text, k = (m.group(1) or "carbonstream " + m.group(2)), n
            while text.rstrip().endswith("\\") and k < len(lines):
                text, k = text.rstrip()[:-1] + " " + lines[k], k + 1
            yield n, text.removeprefix("carbonstream "), True


def _words(command: str) -> tuple[list[str], list[str]]:
    """All words (optional [...] groups included), and the words of the command without them;
    the first alternative of a|b, one word per <placeholder>, no comment or pipe after it."""
    command = re.sub(r"<[^>]*>", "X", command.replace(r"\|", "|"))
    command = re.split(r"\s#|\s\||\s>|\s&|;", command)[0]
    every = re.sub(r"[\[\]|]", " ", command).split()
    required = re.sub(r"\[[^\]]*\]?", " ", command)  # an unclosed [ runs to the end
    return every, shlex.split(re.sub(r"(\S+?)\|\S+", r"\1", required))


def _subcommand(
    parser: argparse.ArgumentParser, words: list[str]
) -> tuple[argparse.ArgumentParser, list[str]]:
    """The (nested) subparser the words name, and the words after its name."""
    while words:
        sub = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not sub or words[0] not in sub[0].choices:
            break
        parser, words = sub[0].choices[words[0]], words[1:]
    return parser, words


def _commands() -> Iterator[tuple[str, str, bool]]:
    for f in DOCS:
        for n, command, full in mentions(f):
            yield f"{f.relative_to(ROOT)}:{n}", command, full


@pytest.mark.parametrize(("where", "command", "full"), list(_commands()), ids=lambda v: str(v))
def test_commands_in_docs_exist(where: str, command: str, full: bool) -> None:
    every, runnable = _words(command)
    root = _parser()
    if every and every[0] in {o for a in root._actions for o in a.option_strings}:
        return  # a top-level option: --version, --help
    parser, rest = _subcommand(root, every)
    assert parser is not root, f"{where}: no command {every[0]!r}"
    options = {o: a for a in parser._actions for o in a.option_strings}
    named = [w.split("=")[0] for w in rest if w.startswith("--")]
    unknown = [w for w in named if w not in options]
    assert not unknown, f"{where}: carbonstream {command}: no option {unknown}"
    required = [a.option_strings[0] for a in parser._actions if a.required and a.option_strings]
    if full or set(named) & set(required):  # shown with some of what it needs: with all of it
        missing = [o for o in required if o not in named]
        assert not missing, f"{where}: carbonstream {command}: {missing} required"
    if full:
        try:
            root.parse_args(runnable)
        except SystemExit:
            pytest.fail(f"{where}: carbonstream {command} does not parse: {runnable}")
