"""The Chinese font every PDF carbonstream draws uses, and a quiet font lookup.

A module of its own, importing only matplotlib and the font wheel: the monthly report
and the footprint declaration both draw PDFs, and neither may import the other's
package (monthly imports the API's inventory builder, whose routes import footprint).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator

from matplotlib import font_manager
from pylopdf_fonts_zh_cn import sans_path


@functools.cache
def cjk_font() -> str:
    """Noto Sans SC from the pylopdf-fonts-zh-cn wheel (a dependency, OFL-1.1): the same
    Chinese font on every machine, no system package. Added to matplotlib once per process;
    embedded in the PDF as a TrueType subset (text stays searchable)."""
    path = sans_path()
    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=path).get_name())


@contextlib.contextmanager
def quiet_font_lookup() -> Iterator[None]:
    """A CJK font without a bold face is used regular in bold text: not worth a log line
    per lookup."""
    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)
