"""A shell line split into the simple commands the shell will run, as far as a parser can tell.

Enough of the POSIX shell grammar (and of bash's additions) to find every
command in a line: quotes and escapes, the operators that separate commands
(``;`` ``&`` ``&&`` ``||`` ``|`` ``|&``, newlines, subshell parentheses),
redirections and their targets, here-documents, comments, and the command
substitutions ``$(...)``, backticks, ``<(...)`` and ``>(...)``, whose text
are split in the same pass. Nothing is expanded: ``$HOME`` stays ``$HOME``.
A line that is not well formed (a quote or a substitution left open, a
redirection without a target) or nests substitutions more than
MAX_NESTING deep raises ShellSyntaxError. Each character is read once (the
text between backticks twice), so a line costs time in proportion to its
length.

``shlex`` is not enough for this: it gives a quoted ``';'`` back as ``;``,
the same token as the operator, and ends a word at a ``#`` inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPERATORS = (
    *("&>>", "<<<", "<<-", ";;&"),
    *("&&", "||", ";;", ";&", "|&", ">>", ">|", ">&", "<&", "<>", "<<", "&>"),
    *(";", "&", "|", "(", ")", "<", ">"),
)
# Longest first, by the character they start with.
_OPERATORS_AT = {c: [o for o in _OPERATORS if o[0] == c] for c in ";&|()<>"}
# Runs of characters that mean only themselves, outside and inside "...".
_PLAIN = re.compile(r"[^\s;&|()<>'\"`$\\]+")
_PLAIN_QUOTED = re.compile(r"[^\"`$\\]+")
SEPARATORS = frozenset({";", "&", "&&", "||", "|", "|&", "\n", ";;", ";&", ";;&", "(", ")"})
REDIRECTIONS = frozenset({"<", ">", ">>", ">|", "<>", "<<", "<<-", "<<<", ">&", "<&", "&>", "&>>"})
HERE_DOCUMENTS = frozenset({"<<", "<<-"})
# Reserved words that come before a command (or stand alone) and run nothing.
_RESERVED = frozenset(
    {"!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until"}
)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^]]*\])?\+?=")
MAX_NESTING = 32
_HEX = re.compile(r"[0-9A-Fa-f]{1,2}")
_C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f"}


class ShellSyntaxError(ValueError):
    """The line is not one a shell would run as written (a quote left open, ...)."""


@dataclass(frozen=True, slots=True)
class Redirect:
    """A redirection: its operator and its target (a here-document's target is its text)."""

    op: str
    target: str


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """A program and its arguments (quotes removed, nothing expanded), with its redirections.

    ``substitutions`` are the command substitutions in its words, assignments
    and redirections: commands the shell runs before this one.
    """

    words: tuple[str, ...]
    redirects: tuple[Redirect, ...] = ()
    substitutions: tuple[Substitution, ...] = ()


@dataclass(frozen=True, slots=True)
class Substitution:
    """``$(...)``, backticks, ``<(...)`` or ``>(...)``: its text and its commands."""

    text: str
    commands: tuple[SimpleCommand, ...]


def split_commands(line: str) -> list[SimpleCommand]:
    """The simple commands of ``line``, in order (raises ShellSyntaxError)."""
    return _commands(_Lexer(line).tokens())


def _commands(tokens: list[_Word | _Op]) -> list[SimpleCommand]:
    commands: list[SimpleCommand] = []
    words: list[str] = []
    redirects: list[Redirect] = []
    substitutions: list[Substitution] = []
    stream = iter(tokens)
    for token in stream:
        if isinstance(token, _Word):
            substitutions.extend(token.substitutions)
            if words or not _leads(token):
                words.append(token.text)
        elif token.text in SEPARATORS:
            if words or redirects or substitutions:  # "x=$(cmd)" alone runs cmd
                commands.append(SimpleCommand(tuple(words), tuple(redirects), tuple(substitutions)))
            words, redirects, substitutions = [], [], []
        else:
            target = next(stream, None)
            if not isinstance(target, _Word):
                raise ShellSyntaxError(f"the redirection {token.text!r} has no target")
            substitutions.extend(target.substitutions)
            text = token.document if token.document is not None else target.text
            redirects.append(Redirect(token.text, text))
    if words or redirects or substitutions:
        commands.append(SimpleCommand(tuple(words), tuple(redirects), tuple(substitutions)))
    return commands


def _leads(word: _Word) -> bool:
    """Whether ``word``, first in a command, is not its program (an assignment, ``if``, ...)."""
    if word.quoted:
        return False
    return word.text in _RESERVED or bool(_ASSIGNMENT.match(word.text))


@dataclass(slots=True)
class _Word:
    text: str
    substitutions: list[Substitution]
    quoted: bool


@dataclass(slots=True)
class _Op:
    text: str
    document: str | None = None  # a here-document's text, read at the end of its line


@dataclass(slots=True)
class _Pending:
    """A word being read."""

    parts: list[str] = field(default_factory=list)
    substitutions: list[Substitution] = field(default_factory=list)
    quoted: bool = False


class _Lexer:
    """Words and operators of one line (or of one substitution in it), in one pass."""

    def __init__(self, line: str, start: int = 0, nesting: int = 0) -> None:
        if nesting > MAX_NESTING:
            raise ShellSyntaxError(f"command substitutions are nested more than {MAX_NESTING} deep")
        self.s = line
        self.i = start
        self.nesting = nesting
        self.out: list[_Word | _Op] = []
        self.word: _Pending | None = None
        self.documents: list[tuple[_Op, str, bool]] = []  # here-documents to read
        self.document_op: _Op | None = None  # waiting for its delimiter word
        self.open_parens = 0  # subshells open inside a substitution

    def tokens(self, *, until_paren: bool = False) -> list[_Word | _Op]:
        """Read to the end of the line, or (``until_paren``) to the ``)`` that closes it."""
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\r":
                self.flush()
                self.i += 1
            elif c == "\n":
                self.flush()
                self.out.append(_Op("\n"))
                self.i += 1
                self.read_documents()
            elif c == "#" and self.word is None:
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            elif c == ")" and until_paren and self.open_parens == 0:
                self.flush()
                self.i += 1
                return self.out
            elif c in ";&|()" or (c in "<>" and s[self.i + 1 : self.i + 2] != "("):
                self.operator()
            else:
                self.word_part(self.pending(), inside_quotes=False)
        if until_paren:
            raise ShellSyntaxError("a command substitution $( or <( is not closed")
        self.flush()
        if self.documents or self.document_op is not None:
            self.read_documents()
        return self.out

    def pending(self) -> _Pending:
        if self.word is None:
            self.word = _Pending()
        return self.word

    def flush(self) -> None:
        word, self.word = self.word, None
        if word is None:
            return
        text = "".join(word.parts)
        if self.document_op is not None:
            op, self.document_op = self.document_op, None
            self.documents.append((op, text, op.text == "<<-"))
        self.out.append(_Word(text, word.substitutions, word.quoted))

    def operator(self) -> None:
        op = next(o for o in _OPERATORS_AT[self.s[self.i]] if self.s.startswith(o, self.i))
        word = self.word
        if op in REDIRECTIONS and word and not word.quoted and "".join(word.parts).isdigit():
            self.word = None  # "2>": a file descriptor number, not a word
        self.flush()
        token = _Op(op)
        self.out.append(token)
        self.i += len(op)
        self.open_parens += (op == "(") - (op == ")")
        if op in HERE_DOCUMENTS:
            self.document_op = token

    def read_documents(self) -> None:
        """Read the here-documents begun on the line that just ended."""
        s = self.s
        for op, delimiter, strip_tabs in self.documents:
            lines: list[str] = []
            while self.i < len(s):
                end = s.find("\n", self.i)
                end = len(s) if end < 0 else end
                text, self.i = s[self.i : end], min(end + 1, len(s))
                if (text.lstrip("\t") if strip_tabs else text) == delimiter:
                    break
                lines.append(text)
            op.document = "\n".join(lines)
        self.documents = []

    def word_part(self, word: _Pending, *, inside_quotes: bool) -> None:
        """Read one piece of a word at ``self.i`` (a character, a quote, a substitution)."""
        s, i = self.s, self.i
        c = s[i]
        if c == "\\":
            self.backslash(word, inside_quotes=inside_quotes)
        elif c == "'" and not inside_quotes:
            end = s.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("a single quote is not closed")
            word.parts.append(s[i + 1 : end])
            word.quoted = True
            self.i = end + 1
        elif c == '"' and not inside_quotes:
            word.quoted = True
            self.i = self.double_quoted(word, i + 1)
        elif c == "`":
            inner, self.i = self.backticks(i + 1)
            word.parts.append(s[i : self.i])
            tokens = _Lexer(inner, nesting=self.nesting + 1).tokens()
            word.substitutions.append(Substitution(inner, tuple(_commands(tokens))))
        elif c == "$":
            self.dollar(word, inside_quotes=inside_quotes)
        elif c in "<>" and not inside_quotes:  # "<(" or ">(": a process substitution
            self.substitution(word, i, i + 2)
        else:
            plain = (_PLAIN_QUOTED if inside_quotes else _PLAIN).match(s, i)
            end = plain.end() if plain else i + 1
            word.parts.append(s[i:end])
            self.i = end

    def backslash(self, word: _Pending, *, inside_quotes: bool) -> None:
        s, i = self.s, self.i
        escaped = s[i + 1 : i + 2]
        if escaped == "\n":
            self.i = i + 2  # a continued line
        elif inside_quotes and escaped not in ("$", "`", '"', "\\"):
            word.parts.append("\\")  # kept: inside "..." only these four are escaped
            self.i = i + 1
        else:
            word.parts.append(escaped)
            word.quoted = True
            self.i = i + 2

    def double_quoted(self, word: _Pending, start: int) -> int:
        """Read ``"..."`` from just after its quote into ``word``; the index after its end."""
        self.i = start
        while self.i < len(self.s) and self.s[self.i] != '"':
            self.word_part(word, inside_quotes=True)
        if self.i >= len(self.s):
            raise ShellSyntaxError("a double quote is not closed")
        return self.i + 1

    def dollar(self, word: _Pending, *, inside_quotes: bool) -> None:
        s, i = self.s, self.i
        after = s[i + 1 : i + 2]
        if s.startswith("((", i + 1):
            self.i = self.arithmetic(i + 3)  # "$((...))" is arithmetic, not a command
            word.parts.append(s[i : self.i])
        elif after == "(":
            self.substitution(word, i, i + 2)
        elif after == "{":
            end = self.closing_brace(i + 2)
            word.parts.append(s[i:end])
            self.i = end
        elif after == "'" and not inside_quotes:
            self.i = self.c_string(word, i + 2)
        elif after == '"' and not inside_quotes:
            self.i = i + 1  # $"...": a translated string, quoted like "..."
        else:
            word.parts.append("$")
            self.i = i + 1

    def substitution(self, word: _Pending, begin: int, start: int) -> None:
        """Lex the substitution whose text starts at ``start`` up to its ``)``, in this pass."""
        inner = _Lexer(self.s, start, self.nesting + 1)
        tokens = inner.tokens(until_paren=True)
        self.i = inner.i
        word.parts.append(self.s[begin : self.i])
        text = self.s[start : self.i - 1]
        word.substitutions.append(Substitution(text, tuple(_commands(tokens))))

    def arithmetic(self, start: int) -> int:
        """The index after the ``))`` that ends an arithmetic expansion begun before ``start``."""
        depth, i = 2, start
        while i < len(self.s):
            depth += (self.s[i] == "(") - (self.s[i] == ")")
            i += 1
            if depth == 0:
                return i
        raise ShellSyntaxError("a $(( is not closed")

    def backticks(self, start: int) -> tuple[str, int]:
        """The command between backticks (its escapes undone), and the index after it."""
        s, i, inner = self.s, start, []
        while i < len(s) and s[i] != "`":
            if s[i] == "\\" and s[i + 1 : i + 2] in ("`", "\\", "$"):
                inner.append(s[i + 1])
                i += 2
            else:
                inner.append(s[i])
                i += 1
        if i >= len(s):
            raise ShellSyntaxError("a backtick is not closed")
        return "".join(inner), i + 1

    def closing_brace(self, start: int) -> int:
        s, depth, i = self.s, 1, start
        while i < len(s):
            if s[i] == "\\":
                i += 2
                continue
            depth += (s[i] == "{") - (s[i] == "}")
            if depth == 0:
                return i + 1
            i += 1
        raise ShellSyntaxError("a ${ is not closed")

    def c_string(self, word: _Pending, start: int) -> int:
        """Read bash's ``$'...'`` (C escapes) from ``start``; the index after its quote."""
        s, i = self.s, start
        word.quoted = True
        while i < len(s) and s[i] != "'":
            if s[i] == "\\" and i + 1 < len(s):
                code = s[i + 1]
                if code == "x" and (digits := _HEX.match(s, i + 2, i + 4)):
                    word.parts.append(chr(int(digits.group(), 16)))
                    i += 2 + len(digits.group())
                    continue
                word.parts.append(_C_ESCAPES.get(code, code))
                i += 2
            else:
                word.parts.append(s[i])
                i += 1
        if i >= len(s):
            raise ShellSyntaxError("a $' quote is not closed")
        return i + 1
