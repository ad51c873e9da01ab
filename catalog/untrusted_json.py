"""Reading JSON and text from anyone: what Python accepts but the catalog cannot store or serve.

Python's ``json`` module reads ``NaN``, ``Infinity`` and ``1e400`` (an infinite float), strings
holding NUL characters or lone UTF-16 surrogates, and nesting as deep as the interpreter's stack.
None of these can be stored (PostgreSQL text and jsonb refuse NUL; a lone surrogate is not
encodable UTF-8) or sent back as JSON, so they are refused here with a message that says where
the problem is, before anything is written. Pure Python.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from catalog.errors import InvalidRequestError

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body (Neuroglancer states need
fewer than ten levels; the API's manifests about five)."""

_SURROGATE = re.compile("[\ud800-\udfff]")
BLANKS = r"\t\n\x0b\x0c\r\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""Unicode's White_Space characters (what pydantic's ``str_strip_whitespace`` removes) as the body
of a regex character class, spelled out: JSON Schema patterns, Python and the generators that
read patterns do not agree on ``\\s`` (Python's also holds the separators U+001C..U+001F)."""
CONTROLS = r"\x00-\x1f\x7f-\x9f"
"""C0 and C1 control characters, as the body of a regex character class."""


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as text, or None when it can."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which text cannot hold"
    match = _SURROGATE.search(text)
    if match:
        return f"contains a lone surrogate (\\u{ord(match.group()):04x}), which is not Unicode text"
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (JSON numbers are finite)")


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def value_problem(data: Any, max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """The first ``(where, what)`` problem in parsed JSON: too deep, a non-finite number, or a
    string (value or key) that is not storable text. ``where`` is a dotted path like the API's
    field errors (``volumes.0.scale_nm.x``), "" for the whole document. Iterative, so any depth
    is safe to walk."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= max_depth:
                return where, f"nested deeper than {max_depth} levels"
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = text_problem(key) if isinstance(key, str) else None
                    if problem:
                        return where, f"a key {problem}"
                    stack.append((item, _join(where, key), depth + 1))
            else:
                stack.extend((item, _join(where, index), depth + 1) for index, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            return where, f"{value} is not a finite number"
        elif isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return where, problem
    return None


def load(body: bytes | str, *, field: str = "body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a request body as JSON the catalog can store; otherwise ``InvalidRequestError`` (400)
    whose error names the problem and, as its field, where it is (``field`` for the whole body)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as error:
        raise InvalidRequestError.on(field, f"The body is not UTF-8: {error.reason} at byte {error.start}.") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidRequestError.on(field, f"The body is nested deeper than {max_depth} levels.") from None
    except ValueError as error:
        raise InvalidRequestError.on(field, f"The body is not valid JSON: {error}") from None
    problem = value_problem(data, max_depth)
    if problem:
        where, what = problem
        raise InvalidRequestError.on(where or field, f"{what[0].upper()}{what[1:]}.")
    return data
