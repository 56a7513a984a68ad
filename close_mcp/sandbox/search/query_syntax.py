"""Close's text search syntax (lead ``query``, opportunity ``query``): tokens → AST.

Forms in our sources: free words; ``"quoted phrases"``; ``field:value``;
``field:"quoted value"``; comparisons with or without spaces (``date_updated>="2024-01-01T00:00"``
in singer-io/tap-closeio; ``created >= "…" AND created <= "…"`` and ``id:"…" OR id:"…"`` in
third-party scripts); ``custom.Industry:"Air Conditioning"`` (third-party PHP client);
``sort:date_updated`` / ``sort:-created`` (TAP; closeio-api issue #96).

Guesses: ``AND``/``OR``/``NOT`` are operators in any letter case; ``-term`` negates;
parentheses group; adjacent terms are ANDed; NOT binds tighter than AND, AND tighter than
OR; ``custom."Two Words":value`` and ``"custom.Two Words":value`` name a custom field whose
name has spaces; an unquoted value after an operator runs to the next space or ``)`` (so
``2024-01-01T00:00`` needs no quotes); function-style terms such as
``status_change(old_status:active …)`` are not supported and are a 400 naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

from close_mcp.sandbox.search.errors import field_error

__all__ = ["And", "Node", "Not", "Or", "Parsed", "Term", "parse_query"]

_OPS = (">=", "<=", ":", ">", "<")
_STOP = set(' \t\r\n()"') | {":", ">", "<"}


@dataclass(frozen=True)
class Term:
    """A free-text term (``field`` is None) or ``field op value``."""

    value: str
    quoted: bool = False
    field: str | None = None
    op: str | None = None


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Term | Not | And | Or


@dataclass(frozen=True)
class Parsed:
    """The filter (None = everything) and the ``sort:`` keys as (field, descending)."""

    root: Node | None
    sort: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class _Tok:
    kind: str  # word, string, op, lparen, rparen, neg
    text: str


def _quoted(query: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    j = i + 1
    while j < len(query):
        ch = query[j]
        if ch == "\\" and j + 1 < len(query):
            out.append(query[j + 1])
            j += 2
            continue
        if ch == '"':
            return "".join(out), j + 1
        out.append(ch)
        j += 1
    raise field_error("query", f"unbalanced quote: the quote at position {i} is never closed")


def _tokens(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            toks.append(_Tok("lparen" if ch == "(" else "rparen", ch))
            i += 1
        elif ch == '"':
            text, i = _quoted(query, i)
            toks.append(_Tok("string", text))
        elif query.startswith(_OPS, i):
            op = next(o for o in _OPS if query.startswith(o, i))
            toks.append(_Tok("op", op))
            i += len(op)
            while i < len(query) and query[i].isspace():
                i += 1
            if i < len(query) and query[i] not in '()"':
                j = i
                while j < len(query) and not query[j].isspace() and query[j] not in "()":
                    j += 1
                toks.append(_Tok("word", query[i:j]))
                i = j
        elif ch == "-" and (not toks or toks[-1].kind in ("lparen", "neg") or query[i - 1].isspace()):
            toks.append(_Tok("neg", ch))
            i += 1
        else:
            j = i
            while j < len(query) and query[j] not in _STOP:
                j += 1
            word = query[i:j]
            if j < len(query) and query[j] == '"' and word.endswith("."):
                text, j = _quoted(query, j)
                word += text
            if j < len(query) and query[j] == "(":
                raise field_error("query", f"function-style term {word}(…) is not supported")
            toks.append(_Tok("word", word))
            i = j
    return toks


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.pos = 0
        self.depth = 0
        self.sort: list[tuple[str, bool]] = []

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.upper() == word

    def parse_or(self) -> Node | None:
        sorts_before = len(self.sort)
        items = [self.parse_and()]
        while self.keyword("OR"):
            self.pos += 1
            items.append(self.parse_and())
        if len(items) > 1 and len(self.sort) != sorts_before:
            raise field_error("query", "sort: must be a top-level term (not inside parentheses, OR or NOT)")
        kept = tuple(i for i in items if i is not None)
        if len(items) > 1 and len(kept) != len(items):
            raise field_error("query", "OR needs a search term on both sides")
        return None if not kept else kept[0] if len(kept) == 1 else Or(kept)

    def parse_and(self) -> Node | None:
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind != "rparen" and not self.keyword("OR"):
            if self.keyword("AND"):
                self.pos += 1
                continue
            item = self.parse_unary()
            if item is not None:
                items.append(item)
        return None if not items else items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node | None:
        tok = self.peek()
        if tok is not None and (tok.kind == "neg" or self.keyword("NOT")):
            self.pos += 1
            self.depth += 1
            item = self.parse_unary()
            self.depth -= 1
            if item is None:
                raise field_error("query", "NOT / - needs a search term after it")
            return Not(item)
        return self.parse_primary()

    def parse_primary(self) -> Node | None:
        tok = self.peek()
        if tok is None or tok.kind == "rparen":
            return None
        self.pos += 1
        if tok.kind == "lparen":
            self.depth += 1
            inner = self.parse_or()
            self.depth -= 1
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise field_error("query", "unbalanced parenthesis: '(' is never closed")
            self.pos += 1
            if inner is None:
                raise field_error("query", "empty parentheses")
            return inner
        if tok.kind == "op":
            raise field_error("query", f"operator {tok.text!r} needs a field name before it")
        nxt = self.peek()
        if nxt is None or nxt.kind != "op":
            return Term(tok.text, quoted=tok.kind == "string")
        self.pos += 1
        value = self.peek()
        if value is None or value.kind not in ("word", "string"):
            raise field_error("query", f"{tok.text}{nxt.text} needs a value")
        self.pos += 1
        if tok.text.casefold() == "sort" and nxt.text == ":":
            self._sort(value.text)
            return None
        return Term(value.text, value.kind == "string", tok.text, nxt.text)

    def _sort(self, value: str) -> None:
        if self.depth:
            raise field_error("query", "sort: must be a top-level term (not inside parentheses, OR or NOT)")
        descending = value.startswith("-")
        self.sort.append((value.lstrip("-"), descending))


def parse_query(query: str) -> Parsed:
    """Parse one search string; a 400 naming unbalanced quotes/parentheses and the like."""
    parser = _Parser(_tokens(query))
    root = parser.parse_or()
    if parser.peek() is not None:
        raise field_error("query", "unbalanced parenthesis: ')' without a matching '('")
    return Parsed(root, tuple(parser.sort))
