"""The message catalogue: ``data/i18n/<surface>.yaml`` files of ``key: {en, zh-CN}``.

Why not gettext: two locales, one of them the source, and the same messages read by
Python (PDF, XLSX, API problems, CLI) and by the live page's script. Keyed entries
with both languages side by side need no compile step (.po to .mo), keep their key
when the English wording changes, give the page a plain JSON object, and let the
loader check what gettext cannot: that every entry has both locales and the same
``{placeholders}`` in each.

A key is ``<file stem>.<entry>``, e.g. ``problems.not-found.title`` or ``live.meters``.
One file per surface keeps parallel work on different surfaces apart.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from carbonstream.errors import CarbonstreamError
from carbonstream.i18n.locale import LOCALES, Locale

PACKAGE = "carbonstream"
FOLDER = "data/i18n"


class CatalogueError(CarbonstreamError):
    """A catalogue file is malformed, or a key is not in the catalogue."""


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


# How a list of messages given as one parameter is joined (a tuple of Msg, see Msg.render).
_LIST_SEPARATOR = {Locale.EN: "; ", Locale.ZH_CN: "；"}


@dataclass(frozen=True)
class Msg:
    """A message to render later, in the reader's locale: a key and its parameters. A
    parameter may itself be a Msg, or a tuple of Msg (rendered and joined as a list)."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, locale: Locale) -> str:
        params = {k: _rendered(v, locale) for k, v in self.params.items()}
        return catalogue().text(self.key, locale, **params)

    def __str__(self) -> str:
        return self.render(Locale.EN)


def _rendered(value: object, locale: Locale) -> object:
    if isinstance(value, Msg):
        return value.render(locale)
    if isinstance(value, tuple) and value and all(isinstance(v, Msg) for v in value):
        return _LIST_SEPARATOR[locale].join(v.render(locale) for v in value)
    return value


class Catalogue:
    """Every message in both locales, checked at load."""

    def __init__(self, entries: Mapping[str, Mapping[Locale, str]]) -> None:
        self.entries = dict(entries)

    @classmethod
    def parse(cls, files: Mapping[str, str]) -> Catalogue:
        """Build from ``{file stem: YAML text}``; every problem is listed at once."""
        entries: dict[str, dict[Locale, str]] = {}
        problems: list[str] = []
        for stem, text in sorted(files.items()):
            data: Any = yaml.safe_load(text) or {}
            if not isinstance(data, dict):
                problems.append(f"{stem}.yaml: the top level must be a mapping of keys")
                continue
            for name, value in data.items():
                key = f"{stem}.{name}"
                if not isinstance(name, str):  # YAML 1.1 reads a bare yes/no/on/off key as bool
                    problems.append(
                        f"{key}: quote the key (YAML reads it as {type(name).__name__})"
                    )
                    continue
                if not isinstance(value, dict):
                    problems.append(f"{key}: expected a mapping of locale to text")
                    continue
                unknown = set(value) - {str(loc) for loc in LOCALES}
                if unknown:
                    problems.append(f"{key}: unknown locale(s) {sorted(unknown)}")
                texts: dict[Locale, str] = {}
                for loc in LOCALES:
                    v = value.get(str(loc))
                    if not isinstance(v, str) or not v.strip():
                        problems.append(f"{key}: no {loc} text")
                    else:
                        texts[loc] = v
                if len(texts) == len(LOCALES):
                    want = _fields(texts[Locale.EN])
                    for loc, v in texts.items():
                        if _fields(v) != want:
                            problems.append(
                                f"{key}: {loc} placeholders {sorted(_fields(v))} differ from "
                                f"en {sorted(want)}"
                            )
                entries[key] = texts
        if problems:
            raise CatalogueError("message catalogue:\n" + "\n".join(f"  - {p}" for p in problems))
        return cls(entries)

    def text(self, key: str, locale: Locale, /, **params: object) -> str:
        try:
            template = self.entries[key][locale]
        except KeyError:
            raise CatalogueError(f"no message {key!r} in the catalogue") from None
        return template.format(**params) if params else template

    def section(self, prefix: str, locale: Locale) -> dict[str, str]:
        """Entries under ``prefix.`` (without it) in one locale: what the live page reads."""
        p = prefix + "."
        return {k[len(p) :]: v[locale] for k, v in self.entries.items() if k.startswith(p)}


@functools.cache
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded and checked once per process."""
    root = resources.files(PACKAGE).joinpath(FOLDER)
    files = {
        f.name.removesuffix(".yaml"): f.read_text("utf-8")
        for f in root.iterdir()
        if f.name.endswith(".yaml")
    }
    return Catalogue.parse(files)


def t(key: str, locale: Locale, /, **params: object) -> str:
    """The message ``key`` in ``locale``, with ``{placeholders}`` filled from ``params``."""
    return catalogue().text(key, locale, **params)
