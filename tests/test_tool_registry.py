import pytest
from pydantic import BaseModel

from knowledge.settings import Settings
from tools import registry


class EchoArgs(BaseModel):
    text: str


def echo(ctx, args: EchoArgs) -> dict:
    return {"text": args.text}


@pytest.fixture(autouse=True, scope="module")
def echo_tool():
    """Registered for this module only: later tests (tool lists, dialog data) see the real
    registry."""
    registry.tool("echo_for_test", "Echo text back.", EchoArgs, roles={"operator"})(echo)
    yield
    registry._REGISTRY.pop("echo_for_test")


def test_schema_is_openai_function_shape():
    schema = registry.get_tool("echo_for_test").openai_schema()
    assert schema["function"]["name"] == "echo_for_test"
    assert schema["function"]["parameters"]["required"] == ["text"]


def test_malformed_arguments_are_a_tool_error_not_a_crash():
    spec = registry.get_tool("echo_for_test")
    ctx = registry.ToolContext(Settings())
    with pytest.raises(registry.ToolError, match="invalid arguments for echo_for_test"):
        spec.invoke(ctx, '{"text": ')
    assert spec.invoke(ctx, '{"text": "hi"}') == {"text": "hi"}


def test_role_is_enforced_by_the_registry():
    spec = registry.get_tool("echo_for_test")
    with pytest.raises(registry.ToolError, match="not available to the customer role"):
        spec.invoke(registry.ToolContext(Settings(), role="customer"), {"text": "x"})


def test_unknown_tool_is_named():
    with pytest.raises(registry.ToolError, match="unknown tool 'nope'"):
        registry.get_tool("nope")
