"""A product category from the words of its title, for exports that have no category column.

``category_keywords`` (shop.yaml) maps a category to words; a product gets the first category,
in the mapping's order, with one of its words in the title as a whole word (a plural ending in
S or ES counts too, any case), else ``other``. A heuristic the shop states, not the shop's own
catalogue: the import report says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from knowledge.importers.sql_text import literal

OTHER = "other"


def pattern(words: Sequence[str]) -> str:
    """The regular expression (RE2 and Python agree on it) that finds any of ``words``."""
    return rf"\b(?:{'|'.join(re.escape(w.upper()) for w in words)})(?:S|ES)?\b"


def category_sql(title: str, keywords: Mapping[str, Sequence[str]]) -> str:
    """SQL for the category of the title expression ``title``."""
    branches = " ".join(f"WHEN regexp_matches(upper({title}), {literal(pattern(words))}) "
                        f"THEN {literal(category)}" for category, words in keywords.items() if words)
    return f"CASE {branches} ELSE {literal(OTHER)} END"
