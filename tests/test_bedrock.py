"""The private Bedrock path: endpoint policy, function wiring and least-privilege role."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import bedrock, policies
from components.bedrock import BedrockFunction, BedrockFunctionArgs
from offline.runner import CapturedResource, StackRun
from tests.conftest import Refused, policy
from tests.iam.access_model import IAM_DIR

IAM_DATA = IAM_DIR / "node_modules" / "@cloud-copilot" / "iam-data" / "data"

REGION, ACCOUNT = "us-east-1", "111111111111"
NOVA = "amazon.nova-micro-v1:0"
HAIKU_PROFILE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{NOVA}"
PROFILE_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{HAIKU_PROFILE}"


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (NOVA, policies.ModelRef(NOVA, NOVA, None)),
        (HAIKU_PROFILE, policies.ModelRef(HAIKU_PROFILE, HAIKU, "us")),
        (
            "global.anthropic.claude-sonnet-4-20250514-v1:0",
            policies.ModelRef(
                "global.anthropic.claude-sonnet-4-20250514-v1:0",
                "anthropic.claude-sonnet-4-20250514-v1:0",
                "global",
            ),
        ),
        ("no-dot", None),
        ("us.", None),
    ],
)
def test_model_ids_are_parsed_into_foundation_model_and_profile(
    model_id: str, expected: policies.ModelRef | None
) -> None:
    assert policies.parse_model_id(model_id) == expected


def test_endpoint_policy_for_a_foundation_model_allows_only_invoke_on_it() -> None:
    document = policies.bedrock_endpoint_policy(
        region=REGION, account_id=ACCOUNT, model_ids=[NOVA], streaming=False
    )
    [statement] = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "bedrock:InvokeModel"
    assert statement["Resource"] == NOVA_ARN
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}


def test_streaming_adds_only_the_stream_action() -> None:
    [statement] = policies.bedrock_endpoint_policy(
        region=REGION, account_id=ACCOUNT, model_ids=[NOVA], streaming=True
    )["Statement"]
    assert statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def test_inference_profile_allows_the_profile_and_its_routed_foundation_models() -> None:
    statements = by_sid(
        policies.bedrock_endpoint_policy(
            region=REGION, account_id=ACCOUNT, model_ids=[HAIKU_PROFILE, NOVA], streaming=False
        )
    )
    assert sorted(as_list(statements["InvokeConfiguredModels"]["Resource"])) == sorted(
        [NOVA_ARN, PROFILE_ARN]
    )
    routed = statements["InvokeFoundationModelsBehindProfiles"]
    # Every Region the profile routes to, but only through the configured profile.
    assert routed["Resource"] == f"arn:aws:bedrock:*::foundation-model/{HAIKU}"
    assert routed["Condition"] == {
        "StringEquals": {
            "aws:PrincipalAccount": ACCOUNT,
            "bedrock:InferenceProfileArn": PROFILE_ARN,
        }
    }


def bedrock_endpoint(run: StackRun) -> CapturedResource:
    [endpoint] = [
        e
        for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["serviceName"] == f"com.amazonaws.{REGION}.bedrock-runtime"
    ]
    return endpoint


def test_stacks_wire_the_endpoint_policy_for_their_models(example_run: StackRun) -> None:
    statements = by_sid(policy(bedrock_endpoint(example_run).inputs))
    resources = as_list(statements["InvokeConfiguredModels"]["Resource"])
    environment = function_of(example_run).inputs["environment"]["variables"]
    routes = json.loads(environment.get("MODEL_ROUTES", "{}"))
    if example_run.stack in ("dev", "byo-vpc"):
        assert resources == [NOVA_ARN]
        assert "InvokeFoundationModelsBehindProfiles" not in statements
    else:
        # Claude through exactly the application profile the stack made for it.
        [app_profile] = routes.values()
        assert sorted(resources) == sorted([NOVA_ARN, app_profile])
        routed = statements["InvokeFoundationModelsBehindProfiles"]
        assert routed["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"] == app_profile
    # Exactly the guardrail version the function pins: never its DRAFT, never another one.
    guardrail = environment["GUARDRAIL_ID"]
    assert (
        statements["InvokeConfiguredModels"]["Condition"]["StringEquals"][
            "bedrock:GuardrailIdentifier"
        ]
        == f"{guardrail}:{environment['GUARDRAIL_VERSION']}"
    )
    assert statements["ApplyTheGuardrail"]["Resource"] == guardrail
    actions = {a for s in statements.values() for a in as_list(s["Action"])}
    assert actions == {"bedrock:InvokeModel", "bedrock:ApplyGuardrail"}


def function_of(run: StackRun) -> CapturedResource:
    [function] = run.of_type("aws:lambda/function:Function")
    return function


def test_function_runs_in_every_private_subnet_with_its_own_security_group(
    example_run: StackRun,
) -> None:
    function = function_of(example_run)
    vpc_config = function.inputs["vpcConfig"]
    assert sorted(vpc_config["subnetIds"]) == sorted(example_run.outputs["subnetIds"])
    [group_id] = vpc_config["securityGroupIds"]
    [group] = [
        g
        for g in example_run.of_type("aws:ec2/securityGroup:SecurityGroup")
        if g.name == "bedrock-function"
    ]
    assert group_id == "sg-" + group_id.removeprefix("sg-")
    assert group.inputs["ingress"] == []
    assert group.inputs["vpcId"] == example_run.outputs["vpcId"]


def test_function_egress_is_https_to_the_endpoints_and_s3_only(example_run: StackRun) -> None:
    [group] = [
        g
        for g in example_run.of_type("aws:ec2/securityGroup:SecurityGroup")
        if g.name == "bedrock-function"
    ]
    endpoint_groups = {
        e.inputs["securityGroupIds"][0]
        for e in example_run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    }
    [s3_gateway] = [
        e
        for e in example_run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["serviceName"].endswith(".s3")
    ]
    rules = group.inputs["egress"]
    for rule in rules:
        assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
        assert not rule.get("cidrBlocks")
        assert not rule.get("ipv6CidrBlocks")
    assert {g for r in rules for g in r.get("securityGroups", [])} == endpoint_groups
    assert [p for r in rules for p in r.get("prefixListIds", [])] == [
        s3_gateway.outputs["prefixListId"]
    ]


def test_function_settings_come_from_config(prod_run: StackRun) -> None:
    function = function_of(prod_run)
    assert function.inputs["runtime"] == "python3.14"
    assert function.inputs["architectures"] == ["arm64"]
    assert function.inputs["handler"] == "handler.lambda_handler"
    assert function.inputs["memorySize"] == 512
    assert function.inputs["timeout"] == 120
    assert function.inputs["reservedConcurrentExecutions"] == 20
    variables = function.inputs["environment"]["variables"]
    guardrail = prod_run.named("aws:bedrock/guardrail:Guardrail", "models-guardrail")
    version = prod_run.named("aws:bedrock/guardrailVersion:GuardrailVersion", "models-guardrail")
    [app_profile] = prod_run.of_type("aws:bedrock/inferenceProfile:InferenceProfile")
    [knowledge_base] = prod_run.of_type("aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase")
    assert variables == {
        "ACCESS_POINT_ARN": "arn:aws:s3:us-east-1:111111111111:accesspoint/analytics",
        "DOCUMENT_PREFIX": "curated/",
        "MODEL_ID": HAIKU_PROFILE,
        "ALLOWED_MODEL_IDS": f"{HAIKU_PROFILE},{NOVA}",
        "MAX_TOKENS": "2048",
        "SYSTEM_PROMPT": variables["SYSTEM_PROMPT"],
        "MAX_DOCUMENT_BYTES": "1000000",
        "MAX_DOCUMENT_CHARS": "100000",
        "GUARDRAIL_ID": guardrail.outputs["guardrailArn"],
        "GUARDRAIL_VERSION": version.outputs["version"],
        "MODEL_ROUTES": json.dumps({HAIKU_PROFILE: app_profile.outputs["arn"]}),
        # The id, the last part of the knowledge base's ARN.
        "KNOWLEDGE_BASE_ID": knowledge_base.outputs["arn"].rsplit("/", 1)[1],
        "KNOWLEDGE_BASE_RESULTS": "6",
    }
    assert variables["SYSTEM_PROMPT"]


def test_unreserved_concurrency_by_default(dev_run: StackRun) -> None:
    assert function_of(dev_run).inputs["reservedConcurrentExecutions"] == -1


def test_function_logs_to_its_own_group_with_retention(example_run: StackRun) -> None:
    function = function_of(example_run)
    logging = function.inputs["loggingConfig"]
    assert logging["logFormat"] == "JSON"
    [group] = [
        g
        for g in example_run.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.outputs["name"] == logging["logGroup"]
    ]
    assert group.name == "bedrock-logs"
    assert group.inputs["retentionInDays"] == (365 if example_run.stack == "prod" else 30)


def role_policy(run: StackRun) -> dict[str, dict[str, Any]]:
    [role_policy_resource] = [
        p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "bedrock-role"
    ]
    return by_sid(policy(role_policy_resource.inputs))


def test_role_reads_only_its_prefix_through_its_access_point(example_run: StackRun) -> None:
    read = role_policy(example_run)["ReadDocumentsThroughAccessPoint"]
    assert read["Effect"] == "Allow"
    assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["Resource"] == (
        "arn:aws:s3:us-east-1:111111111111:accesspoint/analytics/object/curated/*"
    )
    listing = role_policy(example_run)["ListDocumentsWithinPrefix"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == "arn:aws:s3:us-east-1:111111111111:accesspoint/analytics"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "curated/*"}}


def test_role_invokes_only_the_configured_models(example_run: StackRun) -> None:
    statements = role_policy(example_run)
    invoke = statements["InvokeConfiguredModels"]
    assert invoke["Action"] == "bedrock:InvokeModel"
    if example_run.stack != "prod":
        expected = [NOVA_ARN]
    else:
        [app_profile] = example_run.of_type("aws:bedrock/inferenceProfile:InferenceProfile")
        expected = [NOVA_ARN, app_profile.outputs["arn"]]
    assert sorted(as_list(invoke["Resource"])) == sorted(expected)
    bedrock_statements = [
        s
        for s in statements.values()
        if any(a.startswith("bedrock:") for a in as_list(s["Action"]))
        and s["Sid"] != "RetrieveFromItsKnowledgeBase"
    ]
    # invoke and apply the guardrail; prod also the models behind its profile
    assert len(bedrock_statements) == (2 if example_run.stack != "prod" else 3)


def test_role_writes_only_its_own_logs_and_manages_enis(example_run: StackRun) -> None:
    statements = role_policy(example_run)
    [group] = [
        g
        for g in example_run.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.name == "bedrock-logs"
    ]
    assert statements["WriteOwnLogs"]["Resource"] == f"{group.outputs['arn']}:*"
    allowed = [s for s in statements.values() if s["Effect"] == "Allow"]
    granted = {a for s in allowed for a in as_list(s["Action"]) if a.startswith("ec2:")}
    assert granted == set(policies.LAMBDA_VPC_ACTIONS)
    for statement in allowed:
        assert statement["Action"] != "*"
        if statement["Resource"] == "*":
            # Only actions AWS defines no resource types for (Service Authorization Reference,
            # as the IAM evaluator ships it) take "*".
            assert all(not resource_types(a) for a in as_list(statement["Action"])), statement


def resource_types(action: str) -> list[Any]:
    service, name = action.split(":")
    catalog = json.loads((IAM_DATA / "actions" / f"{service}.json").read_text())
    types: list[Any] = catalog[name.lower()]["resourceTypes"]
    return types


def test_role_decrypts_with_the_data_key_only_through_s3(example_run: StackRun) -> None:
    decrypt = role_policy(example_run)["DecryptDataThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt"
    key_arn = example_run.outputs["kmsKeyArn"]
    assert decrypt["Resource"] == key_arn
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    }


def test_role_trusts_only_lambda_for_this_account(example_run: StackRun) -> None:
    [role] = [r for r in example_run.of_type("aws:iam/role:Role") if r.name == "bedrock-role"]
    [trust] = policy(role.inputs, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert function_of(example_run).inputs["role"] == role.outputs["arn"]


def test_access_point_grants_the_function_role_automatically(example_run: StackRun) -> None:
    [role] = [r for r in example_run.of_type("aws:iam/role:Role") if r.name == "bedrock-role"]
    [analytics] = [
        a
        for a in example_run.of_type("aws:s3/accessPoint:AccessPoint")
        if a.inputs["name"] == "analytics"
    ]
    objects = by_sid(policy(analytics.inputs))["ObjectsWithinPrefix"]
    assert role.outputs["arn"] in as_list(objects["Principal"]["AWS"])
    [ingest] = [
        a
        for a in example_run.of_type("aws:s3/accessPoint:AccessPoint")
        if a.inputs["name"] == "ingest"
    ]
    assert role.outputs["arn"] not in str(policy(ingest.inputs))


def test_function_is_created_after_its_permissions(example_run: StackRun) -> None:
    function = function_of(example_run)
    bedrock = example_run.named("datalake:index:BedrockFunction", "bedrock")
    assert function.parent == bedrock.urn
    assert example_run.outputs["functionName"] == function.outputs["name"]
    assert example_run.outputs["invokeCommand"].startswith(
        f"aws lambda invoke --region us-east-1 --function-name {function.outputs['name']} "
    )


def uploaded_code(run: StackRun, name: str = "bedrock") -> Any:
    """The archive the function's code is signed from (the object uploaded for signing)."""
    return run.named("aws:s3/bucketObjectv2:BucketObjectv2", f"{name}-code").inputs["source"]


def test_function_package_is_the_handler_alone(dev_run: StackRun) -> None:
    code = uploaded_code(dev_run)
    assert list(code.assets) == ["handler.py"]
    assert code.assets["handler.py"].path.endswith("lambda_src/handler.py")


# --- The building block alone, from its own args -------------------------------------------

FUNCTION_ARGS: BedrockFunctionArgs = {
    "region": "us-east-1",
    "account_id": "111111111111",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-1", "subnet-2"],
    "endpoint_security_group_ids": ["sg-endpoints"],
    "s3_prefix_list_id": "pl-63a5400a",
    "detached_security_group_id": "sg-default",
    "access_point_arn": "arn:aws:s3:us-east-1:111111111111:accesspoint/docs",
    "model_ids": ["amazon.nova-micro-v1:0", "amazon.nova-lite-v1:0"],
}


def test_function_alone_defaults_to_the_packaged_code_arm64_and_the_first_model(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    run = build(lambda: BedrockFunction("fn", FUNCTION_ARGS))
    function = run.named("aws:lambda/function:Function", "fn-function")
    assert function.inputs["architectures"] == ["arm64"]
    assert sorted(uploaded_code(run, "fn").assets) == ["handler.py"]
    assert uploaded_code(run, "fn").assets["handler.py"].path == str(bedrock.function_source())
    variables = function.inputs["environment"]["variables"]
    assert variables["MODEL_ID"] == "amazon.nova-micro-v1:0"
    assert variables["SYSTEM_PROMPT"] == bedrock.DEFAULT_SYSTEM_PROMPT
    assert variables["DOCUMENT_PREFIX"] == ""
    assert function.inputs["timeout"] == bedrock.DEFAULT_TIMEOUT_SECONDS


def test_function_alone_takes_code_of_its_own(
    build: Callable[[Callable[[], object]], StackRun], tmp_path: Path
) -> None:
    (tmp_path / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    code = pulumi.FileArchive(str(tmp_path))
    run = build(lambda: BedrockFunction("fn", {**FUNCTION_ARGS, "code": code}))
    assert uploaded_code(run, "fn").path == str(tmp_path)


def test_function_alone_refuses_a_default_model_it_may_not_call(refused: Refused) -> None:
    problems = refused(
        lambda: BedrockFunction("fn", {**FUNCTION_ARGS, "default_model_id": "amazon.titan-x"})
    )
    assert problems == ["defaultModelId: 'amazon.titan-x' is not one of modelIds"]


@pytest.mark.parametrize("missing", ["guardrail_arn", "guardrail_version"])
def test_a_guardrail_that_resolves_to_nothing_fails_instead_of_dropping_the_condition(
    build: Callable[[Callable[[], object]], StackRun], missing: str
) -> None:
    """Whether the role and the function require a guardrail follows from the arguments: an
    output that resolved to nothing stops the deployment, it never yields a role policy
    without the guardrail condition."""

    def program() -> None:
        guarded: BedrockFunctionArgs = {
            **FUNCTION_ARGS,
            "guardrail_arn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/abc",
            "guardrail_version": "1",
        }
        guarded[missing] = pulumi.Output.from_input("")  # type: ignore[literal-required]
        BedrockFunction("fn", guarded)

    with pytest.raises(Exception, match="resolved to nothing"):
        build(program)


def test_a_guardrail_given_reaches_the_role_and_the_function(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    guardrail = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/abc"
    run = build(
        lambda: BedrockFunction(
            "fn",
            {
                **FUNCTION_ARGS,
                "guardrail_arn": pulumi.Output.from_input(guardrail),
                "guardrail_version": "3",
            },
        )
    )
    role_policy = by_sid(policy(run.named("aws:iam/rolePolicy:RolePolicy", "fn-role").inputs))
    assert role_policy["InvokeConfiguredModels"]["Condition"]["StringEquals"] == {
        "bedrock:GuardrailIdentifier": f"{guardrail}:3"
    }
    variables = run.named("aws:lambda/function:Function", "fn-function").inputs["environment"][
        "variables"
    ]
    assert (variables["GUARDRAIL_ID"], variables["GUARDRAIL_VERSION"]) == (guardrail, "3")
