"""The command line as a new user meets it: a version, examples in every --help, and a
sentence saying what to pass when a command has no usable database (never a traceback)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest

from carbonstream import __version__
from carbonstream.cli import _parser, main
from carbonstream.cli_help import EXAMPLES


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"carbonstream {__version__}"


def test_every_command_shows_examples_that_name_it() -> None:
    parser = _parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subs.choices) == set(EXAMPLES)
    for name, sub in subs.choices.items():
        text = sub.format_help()
        assert "examples:" in text, name
        assert any(line.startswith(f"carbonstream {name} ") for line in EXAMPLES[name])
        for line in EXAMPLES[name]:  # each example is a command this parser accepts
            argv = shlex.split(line)
            assert argv[0] == "carbonstream"
            assert parser.parse_args(argv[1:]).func is not None, line
    assert "examples:" in parser.format_help()


@pytest.mark.slow
def test_report_on_a_database_without_carbonstream_says_what_to_pass(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--month", "2026-12", "--db-url", db_url]) == 1
    err = capsys.readouterr().err
    assert 'no carbonstream tables (relation "plant" does not exist)' in err
    assert "--db-url postgresql://" in err and "CARBONSTREAM_DB_URL" in err
    assert "carbonstream demo" in err and "Traceback" not in err


def test_an_unreachable_database_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2"
    assert main(["keys", "list", "--db-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("carbonstream: error: cannot connect to the database: ")
    assert "pass --db-url postgresql://" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [
        ["keys", "list"],
        ["seal"],
        ["migrate"],
        ["restate", "--from", "2026-11-01", "--to", "2026-11-30", "--label", "x"],
    ],
)
def test_no_database_and_no_embedded_one_says_what_to_pass(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No --db-url, no database.url, no $CARBONSTREAM_DB_URL, and an embedded PostgreSQL
    that cannot start (its folder would be inside a regular file)."""
    monkeypatch.delenv("CARBONSTREAM_DB_URL", raising=False)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"plant: plant.yaml\ndatabase: {{data_dir: {blocker / 'pg'}}}\n")
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--config", str(settings)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("carbonstream: error: no database given, and an embedded PostgreSQL in")
    assert "pass --db-url postgresql://" in err and "CARBONSTREAM_DB_URL" in err
    assert "Traceback" not in err
