"""Values from a shop's mapping as SQL text: identifiers quoted, constants as literals, never code."""

from __future__ import annotations

Constant = str | int | float | bool


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Constant) -> str:
    """A constant from shop.yaml as a SQL literal (strings quoted; never code)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
