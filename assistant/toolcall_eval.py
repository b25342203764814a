"""`shopmind eval toolcalls FILE.jsonl --model PATH`: score tool calls against an evaluation
file in the DESIGN.md format. Per case: tool name match; every expected argument present and
equal after normalisation (strings trimmed and case-folded, numbers as numbers), either as
written or as the tool receives it (both sides through the tool's own input validation: "#17855"
is user 17855, "six weeks" is 42 days, an omitted default is the default); extra arguments
allowed; JSON validity of every emitted call. ``expected: []`` cases measure irrelevance (no
call is right). ``tool_call_accuracy_as_written`` keeps the stricter, text-only comparison."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assistant.backends.types import ChatRequest
from tools.registry import ToolError, get_tool, role_tools, system_prompt

NONE = "(no call)"


class EvalFileError(ValueError):
    """An evaluation file that cannot be read; names the line and the problem."""


class Case(BaseModel):
    id: str
    role: str = "operator"
    messages: list[dict[str, Any]]
    expected: list[dict[str, Any]]
    kind: str | None = None


class CaseResult(BaseModel):
    id: str
    kind: str | None
    expected: str
    predicted: str
    name_ok: bool
    args_ok: bool
    args_as_written: bool  # the arguments match without the tool's validation
    correct: bool
    valid_json: int
    invalid_json: int
    seconds: float
    arguments: dict[str, Any] | None = None
    content: str = ""


class Report(BaseModel):
    model: str
    cases: list[CaseResult]

    def summary(self) -> dict[str, Any]:
        calls = [c for c in self.cases if c.expected != NONE]
        empty = [c for c in self.cases if c.expected == NONE]
        named = [c for c in calls if c.name_ok]
        emitted = sum(c.valid_json + c.invalid_json for c in self.cases)
        per_tool: dict[str, list[bool]] = defaultdict(list)
        per_kind: dict[str, list[bool]] = defaultdict(list)
        for c in self.cases:
            per_tool[c.expected].append(c.correct)
            per_kind[(c.kind or "").split(":")[0]].append(c.correct)
        confusion = Counter(f"{c.expected} -> {c.predicted}" for c in self.cases
                            if c.expected != c.predicted)
        seconds = sorted(c.seconds for c in self.cases)
        return {
            "model": self.model, "cases": len(self.cases),
            "overall_accuracy": _mean(c.correct for c in self.cases),
            "tool_call_accuracy": _mean(c.correct for c in calls),
            "tool_call_accuracy_as_written": _mean(c.correct and c.args_as_written for c in calls),
            "tool_name_accuracy": _mean(c.name_ok for c in calls),
            "argument_accuracy": _mean(c.args_ok for c in named),
            "irrelevance_accuracy": _mean(c.correct for c in empty),
            "valid_json_rate": 1.0 if not emitted else
            sum(c.valid_json for c in self.cases) / emitted,
            "per_tool": {k: {"n": len(v), "accuracy": _mean(v)} for k, v in sorted(per_tool.items())},
            "per_kind": {k: {"n": len(v), "accuracy": _mean(v)} for k, v in sorted(per_kind.items())},
            "confusion": dict(confusion.most_common()),
            "median_seconds_per_case": seconds[len(seconds) // 2] if seconds else None,
        }


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else None


def normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().casefold()
        try:
            return float(text)
        except ValueError:
            return text
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


def args_match(expected: dict[str, Any], got: dict[str, Any]) -> bool:
    """Every expected argument present and equal (nested objects: the same rule per key)."""
    for key, want in expected.items():
        if key not in got:
            return False
        if isinstance(want, dict) and isinstance(got[key], dict):
            if not args_match(want, got[key]):
                return False
        elif normalise(want) != normalise(got[key]):
            return False
    return True


def as_tool_receives(name: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """``args`` after ``name``'s input validation, or None when the tool would refuse them."""
    try:
        return get_tool(name).input_model.model_validate(args).model_dump()
    except (ToolError, ValidationError):
        return None


def served_args_match(name: str, expected: dict[str, Any], got: dict[str, Any]) -> bool:
    """``args_match`` on the values the tool would run with (only the expected keys count)."""
    want, have = as_tool_receives(name, expected), as_tool_receives(name, got)
    if want is None or have is None:
        return False
    return args_match({k: want[k] for k in expected if k in want}, have)


def read_cases(path: Path) -> list[Case]:
    if not path.is_file():
        raise EvalFileError(f"{path}: evaluation file not found")
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(Case.model_validate_json(line))
        except ValidationError as err:
            raise EvalFileError(f"{path}:{number}: not a valid case ({err.errors()[0]['msg']} "
                                f"at {'.'.join(map(str, err.errors()[0]['loc']))})") from err
    if not cases:
        raise EvalFileError(f"{path}: no cases")
    return cases


def score_case(case: Case, result, seconds: float) -> CaseResult:
    calls = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
             for c in result.tool_calls]
    want = case.expected[0] if case.expected else None
    predicted, args = (calls[0][0], calls[0][1]) if calls else (NONE, None)
    invalid = len(getattr(result, "invalid_tool_calls", []))
    if want is None:
        name_ok = args_ok = written = not calls and not invalid
    else:
        name_ok = predicted == want["name"]
        expected_args = want.get("arguments", {})
        written = name_ok and args_match(expected_args, args or {})
        args_ok = written or (name_ok and served_args_match(predicted, expected_args, args or {}))
    return CaseResult(
        id=case.id, kind=case.kind, expected=want["name"] if want else NONE,
        predicted=predicted if not invalid or calls else "(invalid json)",
        name_ok=name_ok, args_ok=args_ok, args_as_written=written, correct=name_ok and args_ok and not invalid,
        valid_json=len(calls), invalid_json=invalid, seconds=round(seconds, 3),
        arguments=args, content=result.content[:300],
    )


def as_served(case: Case) -> list[dict[str, Any]]:
    """The case's messages as the agent sends them: its role's system prompt first (unless the
    case brings its own), so a score is the product's, not a bare template's."""
    if case.messages and case.messages[0].get("role") == "system":
        return case.messages
    return [{"role": "system", "content": system_prompt(case.role)}, *case.messages]


def evaluate_file(path: Path, client, limit: int | None = None,
                  max_tokens: int = 160, served: bool = True) -> Report:
    """Score every case of ``path`` (``served``: with the agent's system prompt, see
    ``as_served``)."""
    from tqdm import tqdm

    cases = read_cases(path)[:limit]
    tools = {role: role_tools(role) for role in {c.role for c in cases}}
    results = []
    for case in tqdm(cases, desc=f"eval {path.name}"):
        messages = as_served(case) if served else case.messages
        request = ChatRequest(messages=messages, tools=tools[case.role],
                              max_tokens=max_tokens)
        started = time.perf_counter()
        result = client.chat(request)
        results.append(score_case(case, result, time.perf_counter() - started))
    return Report(model=str(getattr(client, "name", "model")), cases=results)


def make_client(model: str, url: str | None = None, constrained: bool = False,
                threads: int | None = None, precision: str = "fp32"):
    if url:
        from assistant.backends.openai_compat import OpenAIBackend

        return OpenAIBackend(url, model if not Path(model).exists() else None)
    from assistant.backends.local import LocalBackend

    return LocalBackend(model, constrained=constrained, threads=threads, precision=precision)
