"""Everything a person reads, in zh-CN and en: locales, the message catalogue, names.

The catalogue is data (``carbonstream/data/i18n/*.yaml``): one entry per message
key, each with both locales side by side. Loading refuses an entry that lacks a
locale or whose placeholders differ between them, so a missing translation fails
at start and in tests, never on a page. Modules call :func:`t` with a key; the
live page reads the same entries as JSON.
"""

from carbonstream.i18n.catalogue import Catalogue, CatalogueError, Msg, catalogue, t
from carbonstream.i18n.locale import DEFAULT_LOCALE, LOCALES, Locale, localized, negotiate

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "Catalogue",
    "CatalogueError",
    "Locale",
    "Msg",
    "catalogue",
    "localized",
    "negotiate",
    "t",
]
