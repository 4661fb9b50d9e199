"""Reading a user's text file whatever its encoding, and saying what reading it changed.

Protocol files are UTF-8 and LF by rule (:mod:`artifacts.io` refuses anything else); the
files harness only *reads* from a user (the quickstart's claude-progress.txt) come as they
come: UTF-16 with a byte-order mark from a Windows editor, cp1252, CRLF line endings.
:func:`read_any` decodes them without losing a character and lists every difference
between the bytes and the text harness will write elsewhere (UTF-8, LF), so a caller can
say it instead of claiming "verbatim".
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8 with a byte-order mark"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


@dataclass(frozen=True)
class Decoded:
    """A file's text with LF line endings, and how its bytes differ from that text in UTF-8."""

    text: str
    encoding: str
    """What the bytes were: "UTF-8", "UTF-16", "cp1252", ..."""
    differences: list[str] = field(default_factory=list)

    @property
    def verbatim(self) -> bool:
        """The text, written as UTF-8, is the file's bytes exactly."""
        return not self.differences


def read_any(data: bytes) -> Decoded:
    """Decode ``data``: a byte-order mark's encoding, else UTF-8, else cp1252 (else Latin-1,
    which decodes any byte); CRLF and lone CR become LF. Nothing is dropped."""
    differences: list[str] = []
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(codec, errors="replace")
            encoding = label
            differences.append(f"it is {label}: the text is kept as UTF-8")
            break
    else:
        try:
            text, encoding = data.decode("utf-8"), "UTF-8"
        except UnicodeDecodeError as error:
            encoding = "cp1252"
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text, encoding = data.decode("latin-1"), "Latin-1"
            differences.append(
                f"it is not UTF-8 (byte {error.start}): read as {encoding}, kept as UTF-8"
            )
    crlf = text.count("\r\n")
    lone = text.count("\r") - crlf
    if crlf:
        differences.append(f"its {crlf:,} CRLF line ending(s) are LF")
    if lone:
        differences.append(f"its {lone:,} lone CR(s) are LF")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return Decoded(text, encoding, differences)
