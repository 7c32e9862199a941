"""Every label a person reads on the footprint declaration and the disclosure page comes
from the shared message catalogue (``data/i18n/footprint.yaml``, zh-CN and en side by side,
checked at load)."""

from __future__ import annotations

from typing import Literal

from carbonstream.i18n import Locale
from carbonstream.i18n import t as _t

Lang = Literal["zh", "en"]


def locale(lang: Lang) -> Locale:
    return Locale.ZH_CN if lang == "zh" else Locale.EN


def t(key: str, lang: Lang) -> str:
    return _t("footprint." + key.replace("_", "-"), locale(lang))


def both(key: str) -> str:
    """'中文 / English', for documents read in both languages at once (PDF)."""
    return f"{t(key, 'zh')} / {t(key, 'en')}"
