"""The globs of a file trigger: what ``include`` and ``exclude`` match, and checking them.

A glob without ``/`` is matched against a file's name, at any depth. A glob
with ``/`` is matched against the file's path relative to the watched folder
(always with ``/`` between folders). ``*``, ``?`` and ``[...]`` stay within
one name; a ``**`` segment spans any number of folders, none included, so
``reports/**/*.csv`` matches ``reports/a.csv`` and ``reports/2024/q1/a.csv``.
``[!...]`` (or ``[^...]``) negates a class, and ``]`` first in a class is a
member. There is no escape character: ``[*]`` matches a literal ``*``.
Matching is case-sensitive, and ``*`` matches names that start with a dot.
A file is reported when it matches an include (or there are none) and no
exclude: excludes win.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from atom_desktop.automations.triggers import FileTrigger, TriggerError


class GlobError(ValueError):
    """A glob that cannot be used; ``str(error)`` says why and how to write it."""


def glob_regex(glob: str) -> str:
    """The regular expression (for ``fullmatch``) of one glob; raises GlobError."""
    segments = _segments(glob)
    if len(segments) == 1:
        return _segment_regex(segments[0] if segments[0] != "**" else "*")
    parts: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == "**":
            # Zero or more whole folder names; at the end, anything below.
            parts.append(".+" if index == last else "(?:[^/]+/)*")
        else:
            parts.append(_segment_regex(segment) + ("" if index == last else "/"))
    return "".join(parts)


def _segments(glob: str) -> list[str]:
    """The ``/``-separated parts of ``glob``, once it is known to be a usable shape."""
    if not glob:
        raise GlobError("is empty")
    if "\0" in glob:
        raise GlobError("contains a NUL character")
    if "\\" in glob:
        raise GlobError(
            "contains '\\'; separate folders with '/' (globs have no escape character: "
            "write '[*]' for a literal '*')"
        )
    if glob.startswith("/"):
        raise GlobError(
            "is absolute; globs are relative to the watched folder (e.g. 'reports/*.csv')"
        )
    if glob.endswith("/"):
        raise GlobError(
            f"ends with '/'; globs match files: write '{glob}**' for all in that folder"
        )
    segments = glob.split("/")
    if "" in segments:
        raise GlobError("has an empty folder name ('//')")
    if any(segment in (".", "..") for segment in segments):
        raise GlobError("contains '.' or '..'; paths are matched relative to the watched folder")
    for segment in segments:
        if "**" in segment and segment != "**":
            raise GlobError(
                f"'**' must be a whole path segment (as in 'a/**/b'), not part of {segment!r}; "
                "use '*' within a name"
            )
    return segments


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            class_regex, i = _class_regex(segment, i)
            out.append(class_regex)
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _class_regex(segment: str, start: int) -> tuple[str, int]:
    """The regex of the ``[...]`` class opening at ``start``, and the index of its ``]``."""
    i = start + 1
    negate = i < len(segment) and segment[i] in "!^"
    if negate:
        i += 1
    body_start = i
    if i < len(segment) and segment[i] == "]":
        i += 1  # a ']' right after '[' (or '[!') is a member, as in fnmatch
    end = segment.find("]", i)
    if end < 0:
        raise GlobError(f"has an unclosed '[' in {segment!r}; write '[[]' for a literal '['")
    body = segment[body_start:end]
    items: list[str] = []
    j = 0
    while j < len(body):
        if j + 2 < len(body) and body[j + 1] == "-":
            low, high = body[j], body[j + 2]
            if low > high:
                raise GlobError(f"has a backwards range {low}-{high} in {segment!r}")
            # Every member is escaped so that re never sees '--', '&&', '[' and the
            # like, which it warns about as possible future set syntax.
            items.append(f"{re.escape(low)}-{re.escape(high)}")
            j += 3
        else:
            items.append(re.escape(body[j]))
            j += 1
    # A class never matches '/': it stands for one character of one name.
    return ("[^/" if negate else "[") + "".join(items) + "]", end


class _GlobSet:
    """Several globs compiled into one regex for names and one for relative paths."""

    __slots__ = ("_names", "_paths")

    def __init__(self, globs: Sequence[str]) -> None:
        names = [glob_regex(glob) for glob in globs if "/" not in glob]
        paths = [glob_regex(glob) for glob in globs if "/" in glob]
        self._names = re.compile("|".join(f"(?:{r})" for r in names)) if names else None
        self._paths = re.compile("|".join(f"(?:{r})" for r in paths)) if paths else None

    def matches(self, relative: str, name: str) -> bool:
        return bool(
            (self._names is not None and self._names.fullmatch(name))
            or (self._paths is not None and self._paths.fullmatch(relative))
        )


class GlobFilter:
    """A trigger's ``include`` and ``exclude`` globs, ready to test relative file paths."""

    __slots__ = ("_exclude", "_include")

    def __init__(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        self._include = _GlobSet(include) if include else None
        self._exclude = _GlobSet(exclude)

    def matches(self, relative: str) -> bool:
        """Whether the file at ``relative`` (``/``-separated, below the watched folder) counts."""
        name = relative.rpartition("/")[2]
        if self._exclude.matches(relative, name):
            return False
        return self._include is None or self._include.matches(relative, name)


def expand_path(path: str) -> str:
    """``path`` with ``~`` expanded and normalised; raises GlobError unless it is absolute."""
    if "\0" in path:
        raise GlobError("contains a NUL character")
    try:
        expanded = Path(path).expanduser()
    except RuntimeError:  # ~name of an unknown user: reported as relative below
        expanded = Path(path)
    if not expanded.is_absolute():
        raise GlobError(
            f"{path!r} is relative; give an absolute folder (e.g. /home/me/Downloads) "
            "or one that starts with ~"
        )
    return os.path.normpath(expanded)


def check_globs(trigger: FileTrigger) -> None:
    """Raise TriggerError naming the first bad path or glob of ``trigger`` (e.g. ``include[0]``)."""
    for index, path in enumerate(trigger.paths):
        try:
            expand_path(path)
        except GlobError as exc:
            raise TriggerError(f"paths[{index}]", str(exc)) from None
    for field, globs in (("include", trigger.include), ("exclude", trigger.exclude)):
        for index, glob in enumerate(globs):
            try:
                re.compile(glob_regex(glob))
            except GlobError as exc:
                raise TriggerError(f"{field}[{index}]", f"{glob!r} {exc}") from None
            except re.error as exc:  # a case the checks above did not foresee
                raise TriggerError(
                    f"{field}[{index}]", f"{glob!r} is not a valid glob: {exc}"
                ) from None
