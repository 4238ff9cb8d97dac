"""The package as a Pulumi provider: its committed schema is the one the code gives, and
PrivateDataLake built through the provider (as TypeScript, Go, .NET, Java or YAML programs
build it) registers what the Python program registers."""

import json
from pathlib import Path
from typing import Any

import pytest

from components import provider
from offline.runner import CapturedResource, StackRun, load_stack_values, run_stack
from tests.test_program import COMPONENTS, KNOWLEDGE_BASE, LAKE

THROUGH_PROVIDER = Path(__file__).resolve().parent / "programs" / "through_provider.py"


def test_committed_schema_is_the_one_the_code_gives() -> None:
    assert provider.SCHEMA_FILE.read_text() == provider.schema_text(), (
        "components/schema.json is stale: run `make schema` and commit it"
    )


def test_every_component_input_and_type_is_documented() -> None:
    schema = provider.schema()
    undocumented = [
        f"{token}.{name}"
        for token, spec in {**schema["resources"], **schema["types"]}.items()
        for section in ("inputProperties", "properties")
        for name, prop in spec.get(section, {}).items()
        if not prop.get("description")
    ]
    assert undocumented == []


def test_no_input_is_a_list_of_enum_values() -> None:
    """The SDK's provider (pulumi 3.272, ComponentProvider.map_input_properties) maps each item
    of a list whose items are a named type as an object, so a list of enum values reaches the
    component as a list of empty dicts: such inputs must be flags or objects instead."""
    schema = provider.schema()
    enums = {f"#/types/{token}" for token, spec in schema["types"].items() if "enum" in spec}
    lists_of_enums = [
        f"{token}.{name}"
        for token, spec in {**schema["resources"], **schema["types"]}.items()
        for section in ("inputProperties", "properties")
        for name, prop in spec.get(section, {}).items()
        if prop.get("items", {}).get("$ref") in enums
    ]
    assert lists_of_enums == []


def test_type_tokens_keep_the_existing_stacks_types() -> None:
    """The schema serves exactly the component types the program's stacks hold."""
    assert set(provider.schema()["resources"]) == {LAKE, *COMPONENTS, KNOWLEDGE_BASE}


def registered(run: StackRun) -> list[tuple[str, str, str, str, bool, bool]]:
    """Every registration, comparable across runs (the function's archive by its files)."""

    def plain(value: Any) -> Any:
        return sorted(value.assets) if hasattr(value, "assets") else str(value)

    return sorted(
        (r.urn, r.parent, r.provider, json.dumps(r.inputs, sort_keys=True, default=plain),
         r.protect, r.retain_on_delete)
        for r in run.resources
    )  # fmt: skip


@pytest.mark.parametrize("stack", ["dev", "prod", "byo-vpc"])
def test_through_the_provider_the_same_resources_and_policies(
    stack: str, request: pytest.FixtureRequest
) -> None:
    program_run: StackRun = request.getfixturevalue(f"{stack.replace('-', '_')}_run")
    provider_run = run_stack(stack, program=THROUGH_PROVIDER)
    assert registered(provider_run) == registered(program_run)
    lake: CapturedResource = provider_run.named(LAKE, "datalake")
    state = provider_run.outputs["state"]
    assert state["bucketName"] == program_run.outputs["bucketName"]
    assert state["accessPoints"] == program_run.outputs["accessPoints"]
    assert state["organizationPolicies"] == program_run.outputs["organizationPolicies"]
    assert lake.parent.endswith("::private-datalake-" + stack)


def test_through_the_provider_a_preview_assumes_the_partners_preview_role(
    prod_preview_run: StackRun,
) -> None:
    """The provider builds the component in the engine's dry run too (Construct's dryRun)."""
    provider_run = run_stack("prod", program=THROUGH_PROVIDER, preview=True)
    assert registered(provider_run) == registered(prod_preview_run)
    [partner] = [
        p for p in provider_run.of_type("pulumi:providers:aws") if "assumeRoles" in p.inputs
    ]
    [assumed] = json.loads(partner.inputs["assumeRoles"])
    assert assumed["roleArn"] == "arn:aws:iam::222222222222:role/previewer"


def test_a_secret_where_a_plain_value_decides_is_refused_by_key_path() -> None:
    values = load_stack_values("dev") | {"test:secretKeys": ["accountId"]}
    registrations: list[int] = []
    with pytest.raises(Exception, match=r"accountId: must be a plain value") as raised:
        run_stack("dev", values=values, program=THROUGH_PROVIDER, progress=registrations.append)
    assert "invalid stack configuration" in str(raised.value)
    assert registrations == []


def test_building_blocks_alone_through_the_provider_take_camel_case_enums_and_floats() -> None:
    """ModelGovernance and Alarms as a YAML program writes them: camelCase keys, enum values
    as strings, every number a float on the wire."""
    region, account = "us-east-1", "111111111111"
    governance = run_stack(
        "dev",
        values={
            "aws:region": region,
            "test:component": "datalake:index:ModelGovernance",
            "test:args": {
                "region": region,
                "accountId": account,
                "namePrefix": "team-dev",
                "kmsKeyArn": f"arn:aws:kms:{region}:{account}:key/1234",
                "guardrail": {
                    "contentFilters": [{"type": "PROMPT_ATTACK", "outputStrength": "NONE"}],
                    "sensitiveInformation": {"entities": [{"type": "EMAIL", "action": "BLOCK"}]},
                },
                "invocationLogging": {"cloudWatch": True, "retentionDays": 30},
            },
        },
        program=THROUGH_PROVIDER,
    )
    guardrail = governance.named("aws:bedrock/guardrail:Guardrail", "modelgovernance-guardrail")
    assert guardrail.inputs["contentPolicyConfig"]["filtersConfigs"] == [
        {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"}
    ]
    assert guardrail.inputs["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"] == [
        {"type": "EMAIL", "action": "BLOCK"}
    ]
    [log_group] = governance.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["retentionInDays"] == 30
    state = governance.outputs["state"]
    assert state["guardrailArn"] == guardrail.outputs["guardrailArn"]

    alarms = run_stack(
        "dev",
        values={
            "aws:region": region,
            "test:component": "datalake:index:Alarms",
            "test:args": {
                "region": region,
                "accountId": account,
                "namePrefix": "team-dev",
                "functionName": "team-dev-fn",
                "timeoutSeconds": 30,
                "reservedConcurrency": 4,
                "invocationLogging": {"cloudWatch": True, "retentionDays": 90},
                "email": ["oncall@example.com"],
            },
        },
        program=THROUGH_PROVIDER,
    )
    metrics = {
        a.inputs["metricName"]: a.inputs
        for a in alarms.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert metrics["Duration"]["threshold"] == 30 * 1000 * 0.8
    assert metrics["ConcurrentExecutions"]["threshold"] == 4
    assert "ModelInvocationLogsCloudWatchDeliveryFailure" in metrics
    assert (
        alarms.outputs["state"]["topicArn"]
        == alarms.of_type("aws:sns/topic:Topic")[0].outputs["arn"]
    )


def test_the_knowledge_base_alone_through_the_provider() -> None:
    """KnowledgeBase as a YAML program writes it: camelCase keys, the chunking strategy as a
    string, numbers as floats, outputs (administrators) as plain lists."""
    region, account = "us-east-1", "111111111111"
    run = run_stack(
        "dev",
        values={
            "aws:region": region,
            "test:component": KNOWLEDGE_BASE,
            "test:args": {
                "region": region,
                "accountId": account,
                "namePrefix": "team-dev",
                "bucketName": "team-dev-data",
                "prefixes": ["curated/", "reports/"],
                "dimensions": 512,
                "chunking": {"strategy": "semantic", "breakpointPercentileThreshold": 90},
                "ingestionSchedule": "rate(6 hours)",
                "administrators": [f"arn:aws:iam::{account}:role/platform-admin"],
            },
        },
        program=THROUGH_PROVIDER,
    )
    [index] = run.of_type("aws:s3/vectorsIndex:VectorsIndex")
    assert index.inputs["dimension"] == 512
    sources = run.of_type("aws:bedrock/agentDataSource:AgentDataSource")
    assert len(sources) == 2
    chunking = sources[0].inputs["vectorIngestionConfiguration"]["chunkingConfiguration"]
    assert chunking["chunkingStrategy"] == "SEMANTIC"
    assert chunking["semanticChunkingConfiguration"]["breakpointPercentileThreshold"] == 90
    [schedule] = run.of_type("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(6 hours)"
    state = run.outputs["state"]
    [knowledge_base] = run.of_type("aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase")
    assert state["knowledgeBaseArn"] == knowledge_base.outputs["arn"]
    assert set(state["dataSourceIds"]) == {"curated/", "reports/"}
