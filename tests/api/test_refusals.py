"""What the domain refuses reaches a client as the RFC 9457 problem the API documents:
every refusal kind has its status and type (a kind added to the domain without a
mapping fails here and in mypy, through the ``match``)."""

from __future__ import annotations

from typing import get_args

import pytest

from carbonstream.api.problems import TYPE_BASE, refused
from carbonstream.domain.errors import NotFoundError, RefusalError, RefusalKind
from carbonstream.i18n import Locale, Msg

STATUS = {
    "not-found": 404,
    "invalid-request": 422,
    "invalid-period": 422,
    "already-claimed": 409,
    "ledger-rule": 422,
}


def test_every_refusal_kind_has_a_documented_status() -> None:
    assert set(get_args(RefusalKind)) == set(STATUS)


@pytest.mark.parametrize("kind", sorted(STATUS))
def test_a_refusal_becomes_its_problem_with_the_domain_detail(kind: RefusalKind) -> None:
    detail = Msg("problems.detail.version-unknown", {"version": "x"})
    p = refused(RefusalError(kind, detail))
    assert (p.status, p.type) == (STATUS[kind], TYPE_BASE + kind)
    assert p.detail == detail


def test_not_found_names_the_thing_in_the_reader_language() -> None:
    p = refused(NotFoundError("restatement", "7"))
    assert (p.status, p.type) == (404, TYPE_BASE + "not-found")
    assert isinstance(p.detail, Msg)
    zh = p.detail.render(Locale.ZH_CN)
    en = p.detail.render(Locale.EN)
    assert "'7'" in en and "'7'" in zh and en != zh
