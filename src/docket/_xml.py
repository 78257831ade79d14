"""Text fit for XML 1.0: the JUnit reports of ``docket validate`` and ``docket conformance run``.

XML 1.0 cannot hold some characters even as character references: C0 controls other than
tab, LF and CR, lone surrogates, U+FFFE and U+FFFF. A key or a file name may hold any of them,
so they are written as ``\\uXXXX`` escapes before the text is escaped as XML.
"""

from __future__ import annotations

import functools
import re


@functools.cache
def _not_xml() -> re.Pattern[str]:
    # Compiled on first use: only XML output needs it (``docket validate`` imports this
    # module for its JUnit format whatever the format asked for).
    return re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with what XML cannot hold written as ``\\uXXXX`` escapes."""
    return _not_xml().sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# xml.sax.saxutils imports urllib.request (and ssl, http): only XML output pays for it.
def escape(text: str) -> str:
    """``text`` as XML character data."""
    from xml.sax import saxutils

    return saxutils.escape(xml_safe(text))


def quoteattr(text: str) -> str:
    """``text`` as a quoted XML attribute value."""
    from xml.sax import saxutils

    return saxutils.quoteattr(xml_safe(text))
