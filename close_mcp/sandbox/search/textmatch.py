"""Word and phrase matching shared by both search languages.

Close's docs describe the ``text`` condition in ``full_words`` mode as "a title containing
the word CEO" (developer.close.com/resources/advanced-filtering). Guesses: words are runs of
letters/digits, compared case-insensitively and without accents; ``full_words`` needs every
query word somewhere in the value, ``phrase`` needs the words adjacent and in order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["digits", "full_words_match", "phrase_match", "words"]

_WORD = re.compile(r"\w+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The words of ``text``, folded (lower case, no accents); ``_`` splits words too."""
    return [w for chunk in _WORD.findall(_fold(text)) for w in chunk.split("_") if w]


def digits(text: str) -> str:
    """Only the digits of ``text`` (phone matching ignores formatting)."""
    return re.sub(r"\D", "", text)


def full_words_match(needle: str, values: Iterable[str]) -> bool:
    """Every word of ``needle`` occurs as a whole word in one of ``values``."""
    wanted = words(needle)
    if not wanted:
        return False
    have = {w for v in values for w in words(v)}
    return all(w in have for w in wanted)


def phrase_match(needle: str, values: Iterable[str]) -> bool:
    """The words of ``needle`` occur adjacent and in order inside one of ``values``."""
    wanted = words(needle)
    if not wanted:
        return False
    n = len(wanted)
    for value in values:
        have = words(value)
        if any(have[i : i + n] == wanted for i in range(len(have) - n + 1)):
            return True
    return False
