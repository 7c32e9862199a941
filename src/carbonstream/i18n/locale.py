"""The two locales, Accept-Language negotiation and localised names."""

from __future__ import annotations

from enum import StrEnum


class Locale(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


LOCALES: tuple[Locale, ...] = (Locale.ZH_CN, Locale.EN)
# English stays the default so an unconfigured install reads as before; a plant sets
# `locale: zh-CN` in its file, and a browser or client asks by Accept-Language.
DEFAULT_LOCALE = Locale.EN
_MAX_HEADER_BYTES = 512  # longer Accept-Language headers are not parsed (bounded work)


def _match(tag: str) -> Locale | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag in ("zh", "zh-cn", "zh-hans", "zh-hans-cn", "zh-sg") or tag.startswith("zh-hans"):
        return Locale.ZH_CN
    if tag == "en" or tag.startswith("en-"):
        return Locale.EN
    return None


def negotiate(accept_language: str | None, default: Locale = DEFAULT_LOCALE) -> Locale:
    """The best of our locales for an Accept-Language header (RFC 9110 12.5.4), else the
    default. Traditional Chinese tags (zh-TW, zh-Hant) do not match zh-CN: simplified text
    is not what they ask for, so they get the default."""
    if not accept_language or len(accept_language) > _MAX_HEADER_BYTES:
        return default
    best: tuple[float, int, Locale] | None = None
    for order, part in enumerate(accept_language.split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag.strip() == "*":
            found: Locale | None = default
        else:
            found = _match(tag)
        if found is None or q <= 0:
            continue
        key = (q, -order, found)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best is not None else default


def localized(name: str, name_zh: str | None, locale: Locale, fallback: str = "") -> str:
    """A configured name in the locale: the Chinese name in zh-CN when the config has one,
    else the (English) name, else the fallback (usually the id)."""
    if locale == Locale.ZH_CN and name_zh:
        return name_zh
    return name or name_zh or fallback
