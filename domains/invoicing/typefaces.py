"""The fonts a PDF is set in: Noto Sans from a package, a system CJK font where there is one.

Noto Sans (regular and bold, SIL OFL 1.1) comes from the ``pymupdf-fonts`` package, so Latin, Greek and
Cyrillic print on every machine. Chinese, Japanese and Korean print when the system has a font for them,
found through fontconfig (``fc-match``) or at the usual paths of Noto CJK, WenQuanYi and Droid fallback.
A character no font has prints as :data:`PLACEHOLDER` (from Noto Sans Symbols 2, same package).
A document whose every character is in :data:`CORE_RANGES` is set in a cut of Noto Sans to those ranges: fpdf2
parses the whole font and subsets it for every document, and a sixth of the glyphs takes half the time.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import tempfile
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pymupdf_fonts
from fontTools import subset
from fontTools.ttLib import TTFont
from fpdf import FPDF

BODY = "NotoSans"
CJK = "CJK"
SYMBOLS = "Symbols"
PLACEHOLDER = "\u25a1"  # WHITE SQUARE: the visible stand-in for a character no font has
CJK_PROBE = "\u5c71"  # 山: a font that has it is taken for a CJK font
KNOWN_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
)
_PACKAGED = {(BODY, ""): "notos", (BODY, "B"): "notosbo", (SYMBOLS, ""): "symbol2"}
CORE_RANGES = (  # what most documents print: Latin with its accents, punctuation, currency signs
    (0x20, 0x7E),
    (0xA0, 0x17F),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
)


@dataclass(frozen=True)
class FontFile:
    """A font on disk: its path and, in a collection (``.ttc``), the face's number."""

    path: Path
    index: int = 0


def _codepoints(font: FontFile) -> frozenset[int]:
    """The characters a font has glyphs for."""
    with font.path.open("rb") as handle, TTFont(handle, fontNumber=font.index, lazy=True) as parsed:
        return frozenset(parsed.getBestCmap() or {})


def _covers(font: FontFile, text: str) -> bool:
    """Whether a font file can be read and has a glyph for every character of ``text``."""
    try:
        return {ord(c) for c in text} <= _codepoints(font)
    except Exception:  # an unreadable or odd font is simply not used
        return False


def _fontconfig_candidates() -> list[FontFile]:
    """The font fontconfig would use for Japanese sans-serif text, if fontconfig is installed."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return []
    try:
        found = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [fc_match, "--format=%{file}|%{index}", "sans-serif:lang=ja"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    path, _, index = found.partition("|")
    return [FontFile(Path(path), int(index) if index.isdigit() else 0)] if path else []


def find_cjk_font(candidates: Iterable[FontFile] | None = None) -> FontFile | None:
    """The first font that has CJK glyphs: fontconfig's choice, then the usual install paths."""
    if candidates is None:
        candidates = [*_fontconfig_candidates(), *(FontFile(Path(p)) for p in KNOWN_CJK_FONTS)]
    return next((font for font in candidates if font.path.is_file() and _covers(font, CJK_PROBE)), None)


@functools.cache
def _packaged(name: str, *, core: bool) -> bytes:
    """A packaged font as fpdf2 can embed it, whole or cut to :data:`CORE_RANGES` (a pure function: kept per process).

    Its ttfautohint notes are left out (fpdf2's subsetter cannot keep them), and from the cut the layout tables
    fpdf2 drops anyway; outlines and hints stay as they are.
    """
    source = io.BytesIO(pymupdf_fonts.myfont(name))
    written = io.BytesIO()
    if not core:
        with TTFont(source) as font:
            if "TTFA" in font:
                del font["TTFA"]
            font.save(written)
        return written.getvalue()
    options = subset.Options(notdef_outline=True, recommended_glyphs=True, layout_features=[], hinting=True)
    options.drop_tables += ["TTFA", "GDEF", "GPOS", "GSUB"]
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=[code for first, last in CORE_RANGES for code in range(first, last + 1)])
    with TTFont(source, lazy=True) as font:  # lazy: only the glyphs kept are parsed
        cutter.subset(font)
        font.save(written)
    return written.getvalue()


def _write_packaged(name: str, folder: Path, *, core: bool = False) -> FontFile:
    """Write a packaged font (:func:`_packaged`) to a file in ``folder``: fpdf2 reads fonts from files."""
    path = folder / f"{name}{'-core' if core else ''}.ttf"
    path.write_bytes(_packaged(name, core=core))
    return FontFile(path)


class Typefaces:
    """The fonts of one app's PDFs: written out once (fpdf2 reads fonts from files) and kept until the app goes.

    ``cjk`` is the CJK font to use; by default the system's is looked up (:func:`find_cjk_font`).
    """

    def __init__(self, cjk: FontFile | None = None, *, look_up_cjk: bool = True) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="invoice-sandbox-fonts-")
        weakref.finalize(self, self._folder.cleanup)  # removed with the app, quietly (no ResourceWarning)
        folder = Path(self._folder.name)
        self._files: dict[tuple[str, str], FontFile] = {}
        for (family, style), name in _PACKAGED.items():
            self._files[family, style] = _write_packaged(name, folder)
        self._core = {style: _write_packaged(_PACKAGED[BODY, style], folder, core=True) for style in ("", "B")}
        self._core_coverage = _codepoints(self._core[""]) & _codepoints(self._core["B"])
        self.cjk = cjk if cjk is not None else (find_cjk_font() if look_up_cjk else None)
        if self.cjk is not None:
            self._files[CJK, ""] = self.cjk
        self._coverage = {key: _codepoints(font) for key, font in self._files.items()}
        self._known = frozenset().union(*self._coverage.values())

    def install(self, pdf: FPDF, text: str) -> None:
        """Add Noto Sans (its core cut when ``text`` is all in it) and the fallback fonts ``text`` needs.

        ``text`` is every character the document prints: a character outside the fonts installed prints as
        fpdf2's missing glyph.
        """
        used = {ord(c) for c in text}
        missing = used - self._coverage[BODY, ""]
        fallbacks = [key for key in self._files if key[0] != BODY and missing & self._coverage[key]]
        body = self._core if used <= self._core_coverage else {style: self._files[BODY, style] for style in ("", "B")}
        for family, style in [(BODY, ""), (BODY, "B"), *fallbacks]:
            font = body[style] if family == BODY else self._files[family, style]
            pdf.add_font(family, style, font.path, collection_font_number=font.index)
        pdf.set_fallback_fonts([family for family, _ in fallbacks], exact_match=False)

    def printable(self, text: object) -> str:
        """The text as it prints: newlines kept, other spacing a space, a character no font has the placeholder."""
        return "".join(_printable(c, self._known) for c in str(text if text is not None else ""))


def _printable(character: str, known: frozenset[int]) -> str:
    """One character as it prints (see :meth:`Typefaces.printable`)."""
    if character == "\n":
        return character
    if character.isspace():
        return " "
    return character if character.isprintable() and ord(character) in known else PLACEHOLDER
