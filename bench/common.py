"""What every benchmark script shares: the results file with its date and machine."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def write_results(path: Path, benchmark: str, **payload) -> None:
    """Write ``payload`` as JSON to ``path``, stamped with the time and the machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "benchmark": benchmark,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        **payload,
    }, indent=2))
    print(f"wrote {path}")
