"""The message catalogue and locale negotiation: a missing translation or a placeholder
that differs between the locales fails at load, naming the key."""

from __future__ import annotations

import re

import pytest

from carbonstream.i18n import (
    Catalogue,
    CatalogueError,
    Locale,
    Msg,
    catalogue,
    localized,
    negotiate,
    t,
)

CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")


def test_an_entry_without_its_chinese_text_fails_at_load_naming_the_key() -> None:
    with pytest.raises(CatalogueError, match=r"live\.meters: no zh-CN text"):
        Catalogue.parse({"live": "meters: {en: Meters}\n"})


def test_placeholders_must_be_the_same_in_both_locales() -> None:
    text = 'updated: {en: "updated {time}", zh-CN: "更新于 {tme}"}\n'
    with pytest.raises(CatalogueError, match=r"live\.updated: zh-CN placeholders \['tme'\]"):
        Catalogue.parse({"live": text})


def test_an_unknown_locale_is_refused() -> None:
    with pytest.raises(CatalogueError, match="unknown locale"):
        Catalogue.parse({"live": "x: {en: a, zh-CN: 乙, fr: b}\n"})


def test_a_key_yaml_reads_as_a_boolean_is_refused() -> None:
    with pytest.raises(CatalogueError, match=r"report\.True: quote the key"):
        Catalogue.parse({"report": "yes: {en: 'yes', zh-CN: 是}\n"})


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(CatalogueError) as e:
        Catalogue.parse({"a": "x: {en: a}\ny: {zh-CN: 乙}\n"})
    assert "a.x: no zh-CN text" in str(e.value) and "a.y: no en text" in str(e.value)


def test_the_shipped_catalogue_loads_and_its_chinese_is_chinese() -> None:
    c = catalogue()
    assert len(c.entries) > 100
    # A zh-CN text that is not Chinese is an English text copied over, not a translation.
    # The switch's label names the other language, so it is the one exception.
    not_chinese = [
        k
        for k, v in c.entries.items()
        if not CJK.search(v[Locale.ZH_CN]) and k != "live.switch-title" and k != "live.switch-to"
    ]
    assert not_chinese == []


def test_terms_are_the_ones_chinese_standards_use() -> None:
    assert t("live.scope1", Locale.ZH_CN) == "范围一"
    assert t("live.basis-location", Locale.ZH_CN) == "基于位置"
    assert t("live.basis-market", Locale.ZH_CN) == "基于市场"


def test_a_message_renders_its_nested_messages_in_the_same_locale() -> None:
    m = Msg("problems.detail.no-such", {"what": Msg("problems.noun.site"), "name": "hall-9"})
    assert m.render(Locale.ZH_CN) == "没有厂区 'hall-9'"
    assert m.render(Locale.EN) == "no site 'hall-9'"
    assert str(m) == "no site 'hall-9'"


def test_an_unknown_key_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(CatalogueError, match=r"no message 'live\.nope'"):
        t("live.nope", Locale.EN)


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (None, Locale.EN),
        ("", Locale.EN),
        ("zh-CN,zh;q=0.9,en;q=0.8", Locale.ZH_CN),
        ("zh", Locale.ZH_CN),
        ("zh-Hans-CN", Locale.ZH_CN),
        ("en-US,en;q=0.9", Locale.EN),
        ("en;q=0.5, zh;q=0.8", Locale.ZH_CN),
        ("de-DE, en;q=0.1", Locale.EN),
        ("fr", Locale.EN),  # nothing we have: the default
        ("zh-TW", Locale.EN),  # traditional Chinese is not zh-CN: the default
        ("zh-CN;q=0, en", Locale.EN),  # q=0 means "not this"
        ("*", Locale.EN),
        ("zh-CN;q=abc", Locale.EN),  # a malformed weight counts as 0
        ("zh-CN," * 200, Locale.EN),  # longer than we parse: the default
    ],
)
def test_accept_language_negotiation(header: str | None, want: Locale) -> None:
    assert negotiate(header) == want


def test_the_configured_default_applies_when_the_reader_does_not_ask() -> None:
    assert negotiate(None, Locale.ZH_CN) == Locale.ZH_CN
    assert negotiate("fr", Locale.ZH_CN) == Locale.ZH_CN
    assert negotiate("en", Locale.ZH_CN) == Locale.EN


def test_names_in_the_locale_fall_back_to_the_english_name_then_the_id() -> None:
    assert localized("Hall 1", "一号厂房", Locale.ZH_CN) == "一号厂房"
    assert localized("Hall 1", "一号厂房", Locale.EN) == "Hall 1"
    assert localized("Hall 1", "", Locale.ZH_CN) == "Hall 1"
    assert localized("", "", Locale.ZH_CN, "assembly") == "assembly"
    assert localized("", "一号厂房", Locale.EN) == "一号厂房"
