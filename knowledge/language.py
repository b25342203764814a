"""Which script a text is written in, where a component serves languages differently (the
query side of the by-language text encoder, the grounding of Chinese requests)."""

from __future__ import annotations

import re

CJK = re.compile(r"[\u3400-\u9fff]")  # CJK unified ideographs (with extension A)


def is_chinese(text: str) -> bool:
    """Whether ``text`` has a Chinese character (a mixed question counts as Chinese)."""
    return CJK.search(text) is not None
