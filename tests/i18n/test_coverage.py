"""No user-visible string without its zh-CN text.

The strings people read are extracted from where they are written, and each must be a
catalogue key with both locales:
- the live page: `data-i18n` keys in index.html, and every text in it sits in such an
  element; `T("key")` calls in live.js (prefix keys such as `T("st-" + m.status)`
  are expanded over every value the API can send);
- Python: `t("key", ...)` and `Msg("key", ...)` calls anywhere in the package;
- API problems: every `Problem(...)` type has a title in the catalogue, and its English
  title there is the one written at the call.
"""

from __future__ import annotations

import ast
import functools
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import get_args

import pytest

from carbonstream.alerts.rules import Measure
from carbonstream.api.routes.alerts import ActiveAlert
from carbonstream.config.fuels import Fuel
from carbonstream.core.budget import BudgetState
from carbonstream.core.health import MeterState
from carbonstream.core.plausible import QUALITY_NAMES
from carbonstream.i18n import LOCALES, catalogue
from carbonstream.monthly.gather import FLAG_NOTES
from carbonstream.transport.payload import Quality

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "carbonstream"
STATIC = SRC / "api" / "static"


def _keys() -> set[str]:
    return set(catalogue().entries)


class _Texts(HTMLParser):
    """Text nodes of a page with the data-i18n key of the nearest enclosing element."""

    SKIP = frozenset({"script", "style", "code"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.keys: list[str] = []
        self.bare: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        key = dict(attrs).get("data-i18n")
        if key:
            self.keys.append(key)
        if tag not in ("meta", "link", "input", "br"):
            self.stack.append((tag, key))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text or any(t in self.SKIP for t, _ in self.stack):
            return
        if any(k for _, k in self.stack):
            return
        self.bare.append(text)


def test_every_text_of_the_live_page_html_is_a_catalogue_entry() -> None:
    page = _Texts()
    page.feed((STATIC / "index.html").read_text("utf-8"))
    # The brand and the language switch's own label (the other language's name) are the
    # same in every locale; the switch is relabelled by live.js from the catalogue.
    assert [b for b in page.bare if b not in ("carbonstream", "中文")] == []
    missing = sorted({k for k in page.keys if f"live.{k}" not in _keys()})
    assert missing == []


def _js_keys() -> tuple[set[str], set[str]]:
    js = (STATIC / "live.js").read_text("utf-8")
    exact = set(re.findall(r'\bT\("([\w.-]+)"\s*[,)]', js))
    prefixes = set(re.findall(r'\bT\("([\w.-]+)"\s*\+', js))
    # A call with a non-literal key would escape this check: the only one is the loop over
    # index.html's data-i18n keys (checked above).
    rest = js.replace("function T(key, params)", "").replace("T(e.dataset.i18n)", "")
    assert re.findall(r"\bT\((?![\"'])", rest) == []
    return exact, prefixes


def test_every_message_the_live_script_asks_for_is_in_the_catalogue() -> None:
    exact, prefixes = _js_keys()
    assert len(exact) > 50
    expanded = {
        "st-": {f"st-{s.value}" for s in MeterState},
        "bs-": {f"bs-{s.value}" for s in BudgetState},
        "q-": {f"q-{q.value}" for q in Quality} | {f"q-{q}" for q in QUALITY_NAMES.values()},
        "so-far-forecast-": {"so-far-forecast-month", "so-far-forecast-year"},
        "measure-": {f"measure-{m.value}" for m in Measure},
        "alert-": {f"alert-{s}" for s in get_args(ActiveAlert.model_fields["status"].annotation)},
    }
    assert prefixes == set(expanded), "a new prefix key in live.js: list its values here"
    wanted = exact | set().union(*expanded.values())
    assert sorted(k for k in wanted if f"live.{k}" not in _keys()) == []


def test_no_live_message_is_left_unused() -> None:
    exact, prefixes = _js_keys()
    page = _Texts()
    page.feed((STATIC / "index.html").read_text("utf-8"))
    used = exact | set(page.keys)
    unused = [
        k
        for k in catalogue().section("live", LOCALES[0])
        if k not in used and not any(k.startswith(p) for p in prefixes)
    ]
    assert unused == []


@functools.cache
def _trees() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text("utf-8"))) for p in sorted(SRC.rglob("*.py"))]


def _calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                if called == name:
                    found.append((path, node))
    return found


def _known(key: str) -> bool:
    """A full key (`report.scope1`), or a module's own wrapper's short one (footprint/text.py
    `t("year_total", lang)` reads `footprint.year-total`): in some surface's file."""
    if "." in key:
        return key in _keys()
    stems = {k.split(".", 1)[0] for k in _keys()}
    return any(f"{stem}.{k}" in _keys() for stem in stems for k in (key, key.replace("_", "-")))


@pytest.mark.slow
def test_every_message_key_written_in_python_is_in_the_catalogue() -> None:
    missing = []
    n = 0
    for name in ("t", "tr", "Msg"):
        for path, call in _calls(name):
            arg = call.args[0] if call.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                n += 1
                if not _known(arg.value):
                    missing.append(f"{path.relative_to(ROOT)}:{call.lineno} {arg.value}")
    assert n > 10 and missing == []


def test_every_problem_type_has_its_title_in_both_languages() -> None:
    wrong = []
    calls = _calls("Problem")
    assert len(calls) > 30
    for path, call in calls:
        if len(call.args) < 4:  # about:blank (generic HTTP errors): keyed by status
            continue
        title, type_ = call.args[1], call.args[3]
        if not (isinstance(type_, ast.Constant) and isinstance(title, ast.Constant)):
            wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}: type and title as literals")
            continue
        key = f"problems.{type_.value!s}.title"
        entry = catalogue().entries.get(key)
        if entry is None:
            wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}: no {key}")
        elif entry[LOCALES[1]] != title.value:
            wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}: en title is {entry}")
    assert wrong == []


def test_every_noun_a_not_found_problem_names_is_translated() -> None:
    nouns = {
        str(c.args[0].value)
        for _, c in _calls("not_found")
        if c.args and isinstance(c.args[0], ast.Constant)
    }
    assert "site" in nouns
    assert sorted(n for n in nouns if f"problems.noun.{n}" not in _keys()) == []


def test_every_fuel_has_its_chinese_name() -> None:
    assert sorted(f.value for f in Fuel if f"report.fuel-{f.value}" not in _keys()) == []


def test_every_meter_flag_the_report_shows_has_its_chinese_words() -> None:
    assert sorted(f for f in FLAG_NOTES if f"report.flag-{f}" not in _keys()) == []


def _literal_text(node: ast.AST) -> bool:
    """Whether an expression writes text itself (a string or f-string outside a Msg)."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Msg":
        return False
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c.isalpha() for c in node.value)
    return any(_literal_text(child) for child in ast.iter_child_nodes(node))


def _english_str(node: ast.AST) -> bool:
    """`str(e)`: an error's message passed on as text, its English."""
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "str"


@pytest.mark.slow
def test_no_problem_detail_is_written_as_english_text() -> None:
    """A detail is a Msg (translated), or passes on what it is given: a domain error's
    own detail (a Msg: `e.detail`, never its English `str(e)`) or a helper's parameter,
    whose callers are checked the same way."""
    helpers: dict[str, int] = {}  # function name -> index of the parameter used as detail
    for _, tree in _trees():
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            params = [a.arg for a in fn.args.args]
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "Problem"
                    and len(node.args) >= 3
                    and isinstance(node.args[2], ast.Name)
                    and node.args[2].id in params
                ):
                    helpers[fn.name] = params.index(node.args[2].id)
    assert "_invalid" in helpers and "_unauthorized" in helpers
    written = []
    for name, index in [("Problem", 2), *helpers.items()]:
        for path, call in _calls(name):
            detail = call.args[index] if len(call.args) > index else None
            if detail is not None and (_literal_text(detail) or _english_str(detail)):
                written.append(f"{path.relative_to(ROOT)}:{call.lineno} {name}")
    assert written == []
