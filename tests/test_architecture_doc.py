"""docs/architecture.md stays true: its tool tables are each role's registered tools, with their
required and optional arguments, no more and no fewer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.registry import ROLES, role_specs

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
ROW = re.compile(r"^\| `(?P<tool>[a-z_]+)` \| (?P<required>[^|]*) \| (?P<optional>[^|]*) \|")


def documented(role: str) -> dict[str, tuple[list[str], list[str]]]:
    """tool -> (required args, optional args) from the role's table in the doc."""
    section = DOC.read_text().split(f"### {role.capitalize()} tools", 1)[1].split("\n## ", 1)[0]
    section = section.split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if match := ROW.match(line):
            args = [[a.strip() for a in match[part].split(",") if a.strip() not in ("", "-")]
                    for part in ("required", "optional")]
            assert match["tool"] not in rows, f"{match['tool']} listed twice for {role}"
            rows[match["tool"]] = (args[0], args[1])
    return rows


@pytest.mark.parametrize("role", ROLES)
def test_the_architecture_doc_lists_every_tool_of_each_role_with_its_arguments(role):
    listed = documented(role)
    registered = {}
    for spec in role_specs(role):
        schema = spec.openai_schema()["function"]["parameters"]
        required = schema.get("required", [])
        registered[spec.name] = (required, [k for k in schema.get("properties", {})
                                            if k not in required])
    assert sorted(set(listed) - set(registered)) == [], f"documented, not offered to {role}"
    assert sorted(set(registered) - set(listed)) == [], f"offered to {role}, not documented"
    for tool, (required, optional) in registered.items():
        assert (sorted(listed[tool][0]), sorted(listed[tool][1])) == (
            sorted(required), sorted(optional)), tool
