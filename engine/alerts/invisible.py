"""Characters that render as nothing, and how an alert shows or drops them.

A database name can carry characters no reader sees: format characters (Unicode category Cf:
zero-width space and joiners, the soft hyphen, bidi marks and overrides, the Arabic letter mark,
the Mongolian vowel separator, the tag block U+E0000–E007F), line and paragraph separators
(Zl, Zp: they break a line where a renderer does not expect one), C0/C1 controls (Cc), lone
surrogates (Cs: they cannot even be encoded) and the Hangul fillers (U+115F, U+1160, U+3164,
U+FFA0: letters by category, blank on screen).

Free text (SQL, descriptions, error text) loses them: :func:`strip`. An *identity* — a user,
host, client application, database or object — must not: a role named ``rdsadmin`` followed by a
zero-width space, silently cleaned, would read as AWS's own ``rdsadmin`` and look harmless. So
identities keep a visible mark where each character was: :func:`mark` gives
``rdsadmin⟨U+200B⟩``.

The class is written out as ranges (one compiled regex, no per-character Python work on the
usual ASCII text); a test checks it against ``unicodedata`` of the running Python so a newer
Unicode version that adds format characters is noticed. Tabs and newlines are not in it: each
caller decides what a line break means for its output.
"""

from __future__ import annotations

import re

HANGUL_FILLERS = "\u115f\u1160\u3164\uffa0"
CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

# Cc (but \t and \n), Cf, Zl, Zp, Cs as of Unicode 15.1, the Hangul fillers and the whole tag
# block. Surrogates are written with escapes the regex engine reads (a literal lone surrogate
# cannot be in this source file).
_RANGES = (
    "\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\xad"
    "\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890-\\u0891\\u08e2"
    "\\u115f-\\u1160\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f"
    "\\u3164\\ud800-\\udfff\\ufeff\\uffa0\\ufff9-\\ufffb"
    "\\U000110bd\\U000110cd\\U00013430-\\U0001343f\\U0001bca0-\\U0001bca3"
    "\\U0001d173-\\U0001d17a\\U000e0000-\\U000e007f"
)
INVISIBLE = re.compile(f"[{_RANGES}]")
# The same without \t: callers that turn tabs into spaces first keep this one.
INVISIBLE_WITH_TAB = re.compile(f"[\\t{_RANGES}]")


def strip(text: str) -> str:
    """``text`` without invisible characters (tabs and newlines kept)."""
    return INVISIBLE.sub("", text)


def marker(match: re.Match[str]) -> str:
    """``⟨U+200B⟩`` for a match of :data:`INVISIBLE` (a ``re.sub`` replacement)."""
    return f"⟨U+{ord(match.group()):04X}⟩"


def mark(text: str) -> str:
    """``text`` with each invisible character shown as ``⟨U+XXXX⟩`` (for identities)."""
    return INVISIBLE_WITH_TAB.sub(marker, text)
