"""Run a few lines in a fresh Python process, as a second API worker or the CLI would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRELUDE = "from datetime import datetime\nfrom knowledge import warehouse\n"


def in_another_process(code: str, **names: str) -> None:
    """Run `code` in a fresh Python process (``warehouse`` and ``datetime`` imported, `names`
    bound to their string values) and wait for it."""
    bound = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    subprocess.run([sys.executable, "-c", PRELUDE + bound + code], cwd=REPO, check=True,
                   timeout=120)


def start_in_another_process(code: str, **names: str) -> subprocess.Popen:
    """`in_another_process` without waiting."""
    bound = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    return subprocess.Popen([sys.executable, "-c", PRELUDE + bound + code], cwd=REPO)
