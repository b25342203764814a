"""The dialog model is served what it was trained on: the tools the agent offers a role and its
system prompt are the ones in the training dialogs and the evaluation (tools/registry.py), down
to the text the chat template writes. The model is a SCRIPTED test model (tests/scripted_model.py,
not a language model) that records what the agent hands it."""

from __future__ import annotations

from importlib import resources
from typing import Any, ClassVar

import pytest
from langchain_core.messages import SystemMessage
from scripted_model import ScriptedChatModel, say

from assistant.agent import Agent
from assistant.store import Store
from assistant.toolcall_eval import Case, as_served
from finetune.dialog.data import SYSTEM, DialogData, agent_prompt
from tools.registry import ROLES, role_tools, system_prompt


class Recording(ScriptedChatModel):
    """Records the tools bound to it (as a backend receives them) and the system prompt."""

    seen: ClassVar[dict[str, Any]] = {}

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        from langchain_core.utils.function_calling import convert_to_openai_tool

        Recording.seen["tools"] = [convert_to_openai_tool(t) for t in tools]
        return super().bind_tools(tools, **kwargs)


def _served(shop, tmp_path, role: str) -> tuple[list[dict], str]:
    def script(messages):
        Recording.seen["system"] = next(m.content for m in messages
                                        if isinstance(m, SystemMessage))
        return say("hello")

    agent = Agent(shop, Recording(script=script), Store(tmp_path / f"{role}.sqlite"))
    agent.chat(agent.store.new_thread(role).thread_id, "hi")
    return Recording.seen["tools"], Recording.seen["system"]


def _tool_lines(tools: list[dict]) -> str:
    """The tool lines of the chat template's system turn, as the model reads them."""
    from transformers.utils.chat_template_utils import _compile_jinja_template

    template = resources.files("finetune.dialog").joinpath("chat_template.jinja").read_text()
    return _compile_jinja_template(template).render(
        messages=[{"role": "user", "content": "hi"}], tools=tools).split("<|im_end|>")[0]


@pytest.mark.parametrize("role", ROLES)
def test_the_agent_offers_the_tools_and_prompt_the_model_was_trained_on(small_shop, tmp_path,
                                                                         role):
    tools, system = _served(small_shop, tmp_path, role)
    trained = DialogData(small_shop, seed=0).tools[role]
    assert tools == trained == role_tools(role)
    assert _tool_lines(tools) == _tool_lines(trained)
    assert system == agent_prompt(role) == system_prompt(role)


@pytest.mark.parametrize("role", ROLES)
def test_evaluation_sends_the_agents_prompt_and_training_also_the_short_one(role):
    case = Case(id="x", role=role, messages=[{"role": "user", "content": "hi"}], expected=[])
    assert as_served(case)[0]["content"] == system_prompt(role)
    assert SYSTEM[role] == system_prompt(role, short=True) != system_prompt(role)
