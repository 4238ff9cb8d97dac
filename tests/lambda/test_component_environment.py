"""The two sides of the function's configuration agree: what BedrockFunction puts in the
environment (from the example stacks' mocked runs) is what lambda_src/handler.py loads."""

from __future__ import annotations

from types import ModuleType

import pytest

from offline.runner import StackRun


def environment_of(run: StackRun) -> dict[str, str]:
    """The function's variables, with those Lambda itself sets."""
    [function] = run.of_type("aws:lambda/function:Function")
    variables: dict[str, str] = function.inputs["environment"]["variables"]
    return {
        **variables,
        "AWS_REGION": run.region,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(int(function.inputs["memorySize"])),
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_handler_loads_what_the_component_sets(
    stack: str, request: pytest.FixtureRequest, pure_handler: ModuleType
) -> None:
    run: StackRun = request.getfixturevalue(f"{stack}_run")
    settings = pure_handler.load_settings(environment_of(run))
    knowledge_bases = run.of_type("aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase")
    if not knowledge_bases:
        assert settings.knowledge_base is None
        return
    [knowledge_base] = knowledge_bases
    assert settings.knowledge_base.identifier == knowledge_base.outputs["arn"].rsplit("/", 1)[1]
    assert settings.knowledge_base.results == 6  # prod's bedrock.knowledgeBase.results
