"""Bedrock governance (issue 14): the guardrail every call carries, application inference
profiles for cost allocation, the account's model invocation logging and the alarms.

Config rules are checked through parse_stack_config; what is built and wired through mocked
runs of the program (the ``run_with``/``dev_values`` fixtures). What the policies allow and deny
is proven in tests/test_access_matrix.py."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components import policies
from components.model_governance import (
    INVOCATION_LOG_PREFIX,
    GuardrailSettings,
    ModelGovernance,
    ModelGovernanceArgs,
)
from components.settings import (
    MIN_FUNCTION_TIMEOUT_SECONDS,
    ContentFilterType,
    FilterStrength,
    PiiEntityType,
)
from offline.runner import (
    PROJECT_DIR,
    CapturedResource,
    StackRun,
    default_deployer_arn,
    load_stack_values,
    run_program,
)
from tests.conftest import Build, Refused, policy
from tests.test_config import MINIMAL, parse, problems_of, with_change

REGION, ACCOUNT = "us-east-1", "111111111111"
HAIKU_PROFILE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA = "amazon.nova-micro-v1:0"
GUARDRAIL = "bedrock.guardrail"
RunWith = Callable[[dict[str, Any]], StackRun]
BEDROCK = "private-datalake:bedrock"


def by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def variables(run: StackRun) -> dict[str, str]:
    [function] = run.of_type("aws:lambda/function:Function")
    found: dict[str, str] = function.inputs["environment"]["variables"]
    return found


def role_statements(run: StackRun) -> dict[str, dict[str, Any]]:
    return by_sid(policy(run.named("aws:iam/rolePolicy:RolePolicy", "bedrock-role").inputs))


def endpoint_statements(run: StackRun) -> dict[str, dict[str, Any]]:
    [endpoint] = [
        e
        for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["serviceName"].endswith(".bedrock-runtime")
    ]
    return by_sid(policy(endpoint.inputs))


# --- Config -----------------------------------------------------------------------------------


def test_governance_is_off_unless_configured() -> None:
    config = parse(dict(MINIMAL))
    assert config.bedrock.guardrail is None
    assert config.bedrock.invocation_logging is None
    assert config.bedrock.model_tags == {}
    assert config.alarms is None
    assert config.function.timeout_seconds == 60


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("function.timeoutSeconds", MIN_FUNCTION_TIMEOUT_SECONDS - 1,
         rf"^function\.timeoutSeconds: 14 seconds cannot fit one model call; at least "
         rf"{MIN_FUNCTION_TIMEOUT_SECONDS}"),
        ("function.maxDocumentBytes", 4_500_001,
         r"^function\.maxDocumentBytes: .*less than or equal to 4500000"),
        ("function.maxDocumentChars", 0,
         r"^function\.maxDocumentChars: .*greater than or equal to 1"),
        ("bedrock.modelIds", [HAIKU_PROFILE],
         r"^bedrock\.modelIds\[0\]: .* third-party \(anthropic\) model: subscribe .* list "
         r"'anthropic' in bedrock\.subscribedProviders"),
        ("bedrock.modelTags", {HAIKU_PROFILE: {"team": "a"}},
         r"^bedrock\.modelTags\.us\.anthropic.*: is not one of bedrock\.modelIds"),
        ("bedrock.modelTags", {NOVA: {"aws:team": "a"}},
         r"^bedrock\.modelTags\.amazon\.nova-micro-v1:0\.aws:team: .*not starting with aws:"),
        ("bedrock.modelTags", {NOVA: {}}, r"^bedrock\.modelTags\.amazon\.nova-micro-v1:0: "),
        (GUARDRAIL, {"id": "abc123"}, r"^bedrock\.guardrail: an existing guardrail needs both"),
        (GUARDRAIL, {"id": "abc123", "version": "1", "profanity": True},
         r"^bedrock\.guardrail: either id and version .* not both"),
        (GUARDRAIL, {}, r"^bedrock\.guardrail: defines no policy"),
        (GUARDRAIL, {"id": "abc123", "version": "DRAFT"},
         r"^bedrock\.guardrail\.version: 'DRAFT' must be a published numeric version"),
        (GUARDRAIL, {"contentFilters": [{"type": "PROMPT_ATTACK"}]},
         r"^bedrock\.guardrail\.contentFilters\[0\]\.outputStrength: must be NONE"),
        (GUARDRAIL, {"contentFilters": [{"type": "GOSSIP"}]},
         r"^bedrock\.guardrail\.contentFilters\[0\]\.type: Input should be"),
        (GUARDRAIL, {"sensitiveInformation": {"entities": [{"type": "SHOE_SIZE"}]}},
         r"^bedrock\.guardrail\.sensitiveInformation\.entities\[0\]\.type: Input should be"),
        (GUARDRAIL, {"sensitiveInformation": {"regexes": [{"name": "x", "pattern": "("}]}},
         r"\.regexes\[0\]\.pattern: '\(' is not a valid regular expression"),
        (GUARDRAIL, {"deniedTopics": [{"name": "x", "definition": "y" * 201}]},
         r"^bedrock\.guardrail\.deniedTopics\[0\]\.definition: "),
        ("bedrock.invocationLogging", {"ownerStack": "dev"},
         r"^bedrock\.invocationLogging: choose a destination: cloudWatch, s3 or both"),
        ("bedrock.invocationLogging", {"ownerStack": "dev", "s3": True},
         r"^bedrock\.invocationLogging\.s3: the log bucket is readable only by the "
         r"administrators .* there are none besides the deployer"),
        ("bedrock.invocationLogging", {"ownerStack": "prod", "cloudWatch": True, "textData": False},
         r"^bedrock\.invocationLogging\.cloudWatch: only the owner stack 'prod' configures"),
        ("bedrock.invocationLogging", {"ownerStack": "dev", "cloudWatch": True,
                                       "retentionDays": 10},
         r"^bedrock\.invocationLogging\.retentionDays: 10 is not a CloudWatch Logs retention"),
        ("bedrock.subscribedProviders", ["Anthropic"],
         r"^bedrock\.subscribedProviders\[0\]: 'Anthropic' must be a model provider"),
        ("bedrock.invocationLogging", {"ownerStack": "org/prod"},
         r"^bedrock\.invocationLogging\.ownerStack: 'org/prod' must be the name of a stack"),
        ("alarms", {}, r"^alarms: set either email .* or topicArn"),
        ("alarms", {"email": ["a@example.com"], "topicArn": "arn:aws:sns:us-east-1:111111111111:t"},
         r"^alarms: set either email"),
        ("alarms", {"topicArn": "arn:aws:sns:eu-west-1:111111111111:t"},
         r"^alarms\.topicArn: must be in us-east-1"),
        ("alarms", {"email": ["not-an-address"]}, r"^alarms\.email\[0\]: 'not-an-address' must"),
    ],
)  # fmt: skip
def test_each_governance_rule_names_the_key_and_the_rule(
    path: str, value: Any, expected: str
) -> None:
    problems = problems_of(with_change(path, value))
    assert any(re.search(expected, p) for p in problems), problems


def test_a_non_owner_names_every_key_it_must_leave_to_the_owner() -> None:
    settings = {"ownerStack": "prod", "cloudWatch": True, "textData": False}
    problems = problems_of(with_change("bedrock.invocationLogging", settings))
    assert [p.split(":")[0] for p in problems] == [
        "bedrock.invocationLogging.cloudWatch",
        "bedrock.invocationLogging.textData",
    ]


def test_a_third_party_model_is_accepted_once_its_provider_is_subscribed() -> None:
    values = with_change("bedrock.modelIds", [HAIKU_PROFILE, NOVA])
    values["bedrock"]["subscribedProviders"] = ["anthropic"]
    assert parse(values).bedrock.model_ids == (HAIKU_PROFILE, NOVA)


def test_the_minimum_timeout_itself_is_accepted() -> None:
    config = parse(with_change("function.timeoutSeconds", MIN_FUNCTION_TIMEOUT_SECONDS))
    assert config.function.timeout_seconds == MIN_FUNCTION_TIMEOUT_SECONDS


def test_stacks_in_one_account_and_region_agree_on_one_logging_owner() -> None:
    """The setting is one per account and Region: of the repository's stacks that share them
    and configure it, all name the same owner, and the owner is one of them (CI refuses a
    second owner before any of them is deployed)."""
    owners: dict[tuple[str, str], set[str]] = {}
    stacks: dict[tuple[str, str], set[str]] = {}
    for path in sorted(PROJECT_DIR.glob("Pulumi.*.yaml")):
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        values = load_stack_values(stack)
        logging = (values.get(BEDROCK) or {}).get("invocationLogging")
        if logging is None:
            continue
        place = (str(values["private-datalake:accountId"]), str(values["aws:region"]))
        owners.setdefault(place, set()).add(logging["ownerStack"])
        stacks.setdefault(place, set()).add(stack)
    assert owners
    for place, named in owners.items():
        assert len(named) == 1, f"{place}: more than one owner {sorted(named)}"
        assert named <= stacks[place], f"{place}: owner {named} is not among {stacks[place]}"


def test_example_stacks_enable_guardrail_logging_and_alarms_and_prod_a_profile() -> None:
    for stack in ("dev", "prod"):
        values = load_stack_values(stack)
        assert values[BEDROCK]["guardrail"]
        assert values[BEDROCK]["invocationLogging"]
        assert values["private-datalake:alarms"]
    assert load_stack_values("prod")[BEDROCK]["modelTags"]


# --- Guardrail --------------------------------------------------------------------------------


def test_the_stack_creates_and_publishes_the_guardrail_with_the_data_key(
    prod_run: StackRun,
) -> None:
    guardrail = prod_run.named("aws:bedrock/guardrail:Guardrail", "models-guardrail")
    version = prod_run.named("aws:bedrock/guardrailVersion:GuardrailVersion", "models-guardrail")
    inputs = guardrail.inputs
    assert inputs["kmsKeyArn"] == prod_run.outputs["kmsKeyArn"]
    assert inputs["name"] == "private-datalake-prod-guardrail"
    assert re.fullmatch(r"[0-9a-zA-Z_-]{1,50}", inputs["name"])  # AWS's pattern
    filters = {f["type"]: f for f in inputs["contentPolicyConfig"]["filtersConfigs"]}
    assert filters["PROMPT_ATTACK"]["outputStrength"] == "NONE"
    assert filters["HATE"] == {"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"}
    [topic] = inputs["topicPolicyConfig"]["topicsConfigs"]
    assert (topic["name"], topic["type"]) == ("Investment advice", "DENY")
    sensitive = inputs["sensitiveInformationPolicyConfig"]
    entities = {e["type"]: e["action"] for e in sensitive["piiEntitiesConfigs"]}
    assert entities["US_SOCIAL_SECURITY_NUMBER"] == "BLOCK"
    assert entities["EMAIL"] == "ANONYMIZE"
    assert sensitive["regexesConfigs"][0]["pattern"] == "EMP-[0-9]{6}"
    assert inputs["wordPolicyConfig"]["managedWordListsConfigs"] == [{"type": "PROFANITY"}]
    assert version.inputs["guardrailArn"] == guardrail.outputs["guardrailArn"]
    assert variables(prod_run)["GUARDRAIL_ID"] == guardrail.outputs["guardrailArn"]
    assert variables(prod_run)["GUARDRAIL_VERSION"] == version.outputs["version"]


def test_empty_guardrail_policies_are_left_out(dev_run: StackRun) -> None:
    inputs = dev_run.named("aws:bedrock/guardrail:Guardrail", "models-guardrail").inputs
    assert "topicPolicyConfig" not in inputs
    assert "wordPolicyConfig" not in inputs


def test_a_policy_change_publishes_a_new_version(
    dev_values: dict[str, Any], run_with: RunWith
) -> None:
    def description(values: dict[str, Any]) -> str:
        run = run_with(values)
        version = run.named("aws:bedrock/guardrailVersion:GuardrailVersion", "models-guardrail")
        return str(version.inputs["description"])

    before = description(dev_values)
    assert description(dev_values) == before
    dev_values[BEDROCK]["guardrail"]["words"] = ["confidential"]
    assert description(dev_values) != before


def test_the_role_may_invoke_only_with_the_guardrail_and_decrypt_it_through_bedrock(
    dev_run: StackRun,
) -> None:
    statements = role_statements(dev_run)
    guarded = f"{variables(dev_run)['GUARDRAIL_ID']}:{variables(dev_run)['GUARDRAIL_VERSION']}"
    assert statements["InvokeConfiguredModels"]["Condition"] == {
        "StringEquals": {"bedrock:GuardrailIdentifier": guarded}
    }
    assert statements["ApplyTheGuardrail"]["Resource"] == variables(dev_run)["GUARDRAIL_ID"]
    decrypt = statements["DecryptGuardrailThroughBedrock"]
    assert decrypt["Resource"] == dev_run.outputs["kmsKeyArn"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "bedrock.us-east-1.amazonaws.com"}
    }


def test_an_existing_guardrail_is_used_as_configured(
    dev_values: dict[str, Any], run_with: RunWith
) -> None:
    dev_values[BEDROCK]["guardrail"] = {"id": "gr0abc123def", "version": "3"}
    run = run_with(dev_values)
    arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/gr0abc123def"
    assert run.of_type("aws:bedrock/guardrail:Guardrail") == []
    assert (variables(run)["GUARDRAIL_ID"], variables(run)["GUARDRAIL_VERSION"]) == (arn, "3")
    statements = role_statements(run)
    assert statements["InvokeConfiguredModels"]["Condition"] == {
        "StringEquals": {"bedrock:GuardrailIdentifier": f"{arn}:3"}
    }
    assert "DecryptGuardrailThroughBedrock" not in statements  # its key is not the stack's
    # Known before deployment, so the endpoint names it exactly too.
    assert endpoint_statements(run)["ApplyTheGuardrail"]["Resource"] == arn


def test_without_a_guardrail_nothing_asks_for_one(
    dev_values: dict[str, Any], run_with: RunWith
) -> None:
    del dev_values[BEDROCK]["guardrail"]
    run = run_with(dev_values)
    assert not {"GUARDRAIL_ID", "GUARDRAIL_VERSION"} & set(variables(run))
    for statements in (role_statements(run), endpoint_statements(run)):
        assert "ApplyTheGuardrail" not in statements
        assert "GuardrailIdentifier" not in json.dumps(statements)


def test_invoke_statements_require_the_guardrail_at_the_entry_point_only() -> None:
    guardrail = policies.GuardrailRef(f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/g1", "2")
    app = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/p1"
    statements = by_sid(
        policies.document(
            *policies.bedrock_invoke_statements(
                region=REGION,
                account_id=ACCOUNT,
                model_ids=[HAIKU_PROFILE, NOVA],
                streaming=True,
                guardrail=guardrail,
                routes={NOVA: app},
            )
        )
    )
    entry = statements["InvokeConfiguredModels"]
    assert sorted(entry["Resource"]) == sorted(
        [app, f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{HAIKU_PROFILE}"]
    )
    assert entry["Condition"] == {
        "StringEquals": {"bedrock:GuardrailIdentifier": guardrail.identifier}
    }
    behind = statements["InvokeFoundationModelsBehindProfiles"]
    assert sorted(behind["Resource"]) == sorted(
        [
            f"arn:aws:bedrock:*::foundation-model/{HAIKU_PROFILE.removeprefix('us.')}",
            f"arn:aws:bedrock:{REGION}::foundation-model/{NOVA}",
        ]
    )
    assert sorted(behind["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]) == sorted(
        [app, f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{HAIKU_PROFILE}"]
    )
    assert statements["ApplyTheGuardrail"]["Resource"] == guardrail.arn


# --- Application inference profiles -----------------------------------------------------------


def test_a_tagged_model_gets_an_application_profile_the_function_invokes(
    prod_run: StackRun,
) -> None:
    [profile] = prod_run.of_type("aws:bedrock/inferenceProfile:InferenceProfile")
    assert profile.inputs["modelSource"] == {
        "copyFrom": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{HAIKU_PROFILE}"
    }
    # AWS's patterns for application inference profile names and descriptions.
    assert re.fullmatch(r"([0-9a-zA-Z][ _-]?){1,64}", profile.inputs["name"])
    assert re.fullmatch(r"([0-9a-zA-Z:.][ _-]?)+", profile.inputs["description"])
    # Its own tags for cost allocation, on top of the provider's default tags.
    assert profile.inputs["tags"] == {"cost-center": "cc-4711", "application": "document-qa"}
    assert json.loads(variables(prod_run)["MODEL_ROUTES"]) == {
        HAIKU_PROFILE: profile.outputs["arn"]
    }
    routed = role_statements(prod_run)["InvokeFoundationModelsBehindProfiles"]
    assert routed["Condition"] == {
        "StringEquals": {"bedrock:InferenceProfileArn": profile.outputs["arn"]}
    }


def test_a_foundation_model_profile_copies_the_model_in_this_region(
    dev_values: dict[str, Any], run_with: RunWith
) -> None:
    dev_values[BEDROCK]["modelTags"] = {NOVA: {"cost-center": "cc-1"}}
    run = run_with(dev_values)
    [profile] = run.of_type("aws:bedrock/inferenceProfile:InferenceProfile")
    assert profile.inputs["modelSource"] == {
        "copyFrom": f"arn:aws:bedrock:{REGION}::foundation-model/{NOVA}"
    }
    assert role_statements(run)["InvokeConfiguredModels"]["Resource"] == profile.outputs["arn"]


def test_without_tags_there_are_no_routes(dev_run: StackRun) -> None:
    assert dev_run.of_type("aws:bedrock/inferenceProfile:InferenceProfile") == []
    assert "MODEL_ROUTES" not in variables(dev_run)


# --- Model invocation logging -----------------------------------------------------------------


def logging_configuration(run: StackRun) -> dict[str, Any]:
    [resource] = run.of_type(
        "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"
    )
    config: dict[str, Any] = resource.inputs["loggingConfig"]
    return config


def test_the_owner_stack_logs_to_cloudwatch_and_s3_with_the_configured_data(
    prod_run: StackRun,
) -> None:
    config = logging_configuration(prod_run)
    group = prod_run.named("aws:cloudwatch/logGroup:LogGroup", "models-invocation-logs")
    role = prod_run.named("aws:iam/role:Role", "models-invocation-logging")
    assert config["cloudwatchConfig"] == {
        "logGroupName": group.outputs["name"],
        "roleArn": role.outputs["arn"],
    }
    assert group.inputs["retentionInDays"] == 731
    assert config["s3Config"] == {
        "bucketName": "private-datalake-prod-111111111111-invocations",
        "keyPrefix": INVOCATION_LOG_PREFIX.rstrip("/"),
    }
    assert (
        config["textDataDeliveryEnabled"],
        config["imageDataDeliveryEnabled"],
        config["embeddingDataDeliveryEnabled"],
        config["videoDataDeliveryEnabled"],
    ) == (True, False, False, False)


def test_the_delivery_role_is_bound_to_this_account_and_writes_one_stream(
    prod_run: StackRun,
) -> None:
    role = prod_run.named("aws:iam/role:Role", "models-invocation-logging")
    [trust] = policy(role.inputs, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:*"},
    }
    group = prod_run.named("aws:cloudwatch/logGroup:LogGroup", "models-invocation-logs")
    [write] = policy(
        prod_run.named("aws:iam/rolePolicy:RolePolicy", "models-invocation-logging").inputs
    )["Statement"]
    assert write["Resource"] == (f"{group.outputs['arn']}:log-stream:aws/bedrock/modelinvocations")


def bucket_settings(run: StackRun, name: str) -> dict[str, CapturedResource]:
    return {r.type.split(":")[-1]: r for r in run.resources if r.name == name}


def test_the_invocation_log_bucket_is_hardened_and_readable_by_admins_only(
    prod_run: StackRun,
) -> None:
    settings = bucket_settings(prod_run, "models-invocation-logs")
    bucket = settings["Bucket"]
    assert bucket.protect  # prod keeps its logs
    assert bucket.retain_on_delete
    assert all(
        settings["BucketPublicAccessBlock"].inputs[key]
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls")
    )
    assert settings["BucketOwnershipControls"].inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    [rule] = settings["BucketServerSideEncryptionConfiguration"].inputs["rules"]
    key = prod_run.named("aws:kms/key:Key", "models-invocation-logs")
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.outputs["arn"],
    }
    assert settings["BucketVersioning"].inputs["versioningConfiguration"]["status"] == "Enabled"
    rules = settings["BucketLifecycleConfiguration"].inputs["rules"]
    assert all(rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""} for rule in rules)
    assert {rule.get("expiration", {}).get("days") for rule in rules} == {None, 731}
    assert {
        rule["noncurrentVersionExpiration"]["noncurrentDays"]
        for rule in rules
        if "noncurrentVersionExpiration" in rule
    } == {1}
    assert any("abortIncompleteMultipartUpload" in rule for rule in rules)
    assert settings["BucketLogging"].inputs["targetBucket"] == (
        "private-datalake-prod-111111111111-logs"
    )
    statements = by_sid(policy(settings["BucketPolicy"].inputs))
    bucket_arn = "arn:aws:s3:::private-datalake-prod-111111111111-invocations"
    delivery = statements["BedrockDeliversInvocationLogs"]
    assert delivery["Resource"] == (
        f"{bucket_arn}/{INVOCATION_LOG_PREFIX}AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/*"
    )
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    # The same administrators as the access-log bucket's: what they may do is proven there and
    # in the matrix rows for this bucket.
    data_logs = by_sid(
        policy(prod_run.named("aws:s3/bucketPolicy:BucketPolicy", "data-access-logs").inputs)
    )
    sid = "DenyEverythingExceptAdministrators"
    assert statements[sid]["Condition"] == data_logs[sid]["Condition"]
    assert statements[sid]["Action"] == "s3:*"
    assert "DenyInsecureTransport" in statements


def test_the_access_log_bucket_accepts_the_invocation_log_buckets_logs(
    prod_run: StackRun,
) -> None:
    log_bucket = "private-datalake-prod-111111111111-logs"
    [log_policy] = [
        r
        for r in prod_run.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if r.inputs["bucket"] == log_bucket
    ]
    sources = [
        s["Condition"]["ArnLike"]["aws:SourceArn"]
        for s in policy(log_policy.inputs)["Statement"]
        if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    source_arn = "arn:aws:s3:::private-datalake-prod-111111111111-invocations"
    assert any(source_arn in ([v] if isinstance(v, str) else v) for v in sources), sources


def test_only_the_owner_stack_registers_logging(dev_run: StackRun) -> None:
    assert (
        dev_run.of_type(
            "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"
        )
        == []
    )
    assert not [r for r in dev_run.resources if "invocation" in r.name]


def test_the_owner_is_warned_at_preview_time(
    dev_values: dict[str, Any], run_with: RunWith, caplog: pytest.LogCaptureFixture
) -> None:
    """The mocked engine hands the program's warnings to Python logging, as the CLI shows
    them in every preview."""
    dev_values[BEDROCK]["invocationLogging"] = {"ownerStack": "test", "cloudWatch": True}
    with caplog.at_level(logging.WARNING):
        run_with(dev_values)
    assert any(
        record.levelno == logging.WARNING
        and "owns Amazon Bedrock model invocation logging for account 111111111111"
        in record.getMessage()
        for record in caplog.records
    )


def test_cloudwatch_only_logging_needs_no_bucket(
    dev_values: dict[str, Any], run_with: RunWith
) -> None:
    dev_values[BEDROCK]["invocationLogging"] = {"ownerStack": "test", "cloudWatch": True}
    run = run_with(dev_values)
    assert "s3Config" not in logging_configuration(run)
    # The data, access-log and artifact buckets: no invocation-log bucket.
    assert {b.name for b in run.of_type("aws:s3/bucket:Bucket")} == {
        "data",
        "data-access-logs",
        "bedrock-artifacts",
    }


def test_policy_sizes_count_each_application_profile() -> None:
    """Every tagged model adds its profile's ARN to the function's role policy (an id of up to
    64 characters, as AWS allows): the size check before deploying must count them."""
    values = with_change("bedrock.modelIds", [f"amazon.model-{i:03d}-v1:0" for i in range(25)])
    assert parse(values)
    values["bedrock"]["modelTags"] = {m: {"team": "x"} for m in values["bedrock"]["modelIds"]}
    [problem] = problems_of(values)
    assert problem.startswith("bedrock.modelIds: the function role's inline policy would be ")


# --- The component from its own args ----------------------------------------------------------

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GOVERNANCE_ARGS: ModelGovernanceArgs = {
    "region": REGION,
    "account_id": ACCOUNT,
    "name_prefix": "team-dev",
    "kms_key_arn": KEY_ARN,
}
DEPLOYER = default_deployer_arn(ACCOUNT)


def test_governance_alone_creates_nothing_by_default(build: Build) -> None:
    routes: list[dict[str, str]] = []

    def program() -> None:
        governance = ModelGovernance("gov", GOVERNANCE_ARGS)
        assert governance.guardrail_arn is None
        governance.routes.apply(routes.append)

    run = build(program)
    assert [r.type for r in run.resources] == ["datalake:index:ModelGovernance"]
    assert routes == [{}]


def test_governance_alone_publishes_a_guardrail_from_its_policies(build: Build) -> None:
    guardrail: GuardrailSettings = {
        "content_filters": [
            {"type": ContentFilterType.HATE},
            {"type": ContentFilterType.PROMPT_ATTACK, "output_strength": FilterStrength.NONE},
        ],
        "sensitive_information": {"entities": [{"type": PiiEntityType.EMAIL}]},
    }
    run = build(lambda: ModelGovernance("gov", {**GOVERNANCE_ARGS, "guardrail": guardrail}))
    created = run.named("aws:bedrock/guardrail:Guardrail", "gov-guardrail")
    assert created.inputs["name"] == "team-dev-guardrail"
    assert created.inputs["kmsKeyArn"] == KEY_ARN
    assert created.inputs["contentPolicyConfig"]["filtersConfigs"] == [
        {"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"},
        {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"},
    ]
    assert created.inputs["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"] == [
        {"type": "EMAIL", "action": "ANONYMIZE"}
    ]
    version = run.named("aws:bedrock/guardrailVersion:GuardrailVersion", "gov-guardrail")
    assert version.inputs["guardrailArn"] == created.outputs["guardrailArn"]


def test_governance_alone_routes_a_tagged_model_through_its_profile(build: Build) -> None:
    routes: list[dict[str, str]] = []

    def program() -> None:
        governance = ModelGovernance(
            "gov", {**GOVERNANCE_ARGS, "model_tags": {NOVA: {"cost-center": "42"}}}
        )
        governance.routes.apply(routes.append)

    run = build(program)
    [profile] = run.of_type("aws:bedrock/inferenceProfile:InferenceProfile")
    assert profile.inputs["tags"] == {"cost-center": "42"}
    assert profile.inputs["modelSource"]["copyFrom"] == (
        f"arn:aws:bedrock:{REGION}::foundation-model/{NOVA}"
    )
    assert routes == [{NOVA: profile.outputs["arn"]}]


def invocation_log_readers(run: StackRun) -> list[str]:
    statements = by_sid(
        policy(run.named("aws:s3/bucketPolicy:BucketPolicy", "gov-invocation-logs").inputs)
    )
    condition = statements["DenyEverythingExceptAdministrators"]["Condition"]
    readers: str | list[str] = condition["ArnNotLike"]["aws:PrincipalArn"]
    return [readers] if isinstance(readers, str) else readers


@pytest.mark.parametrize(
    ("administrators", "expected"),
    [
        ([], [DEPLOYER]),
        (
            [f"arn:aws:iam::{ACCOUNT}:role/DataAdmin"],
            [f"arn:aws:iam::{ACCOUNT}:role/DataAdmin", DEPLOYER],
        ),
        ([DEPLOYER], [DEPLOYER]),
    ],
)
def test_governance_alone_keeps_the_deployer_among_the_log_bucket_administrators(
    build: Build, administrators: list[str], expected: list[str]
) -> None:
    def program() -> None:
        ModelGovernance(
            "gov",
            {
                **GOVERNANCE_ARGS,
                "invocation_logging": {"s3": True, "retention_days": 30},
                "invocation_log_bucket_name": "team-dev-invocations",
                # An output, as DataBucket's administrators are.
                "administrators": pulumi.Output.from_input(administrators),
                "deletion_protection": False,
            },
        )

    run = build(program)
    assert sorted(invocation_log_readers(run)) == sorted(expected)
    bucket = run.named("aws:s3/bucket:Bucket", "gov-invocation-logs")
    assert bucket.inputs["bucket"] == "team-dev-invocations"
    assert bucket.inputs["forceDestroy"] is True
    assert not bucket.protect
    assert run.of_type("aws:s3/bucketLogging:BucketLogging") == []
    assert run.of_type("aws:cloudwatch/logGroup:LogGroup") == []


def test_governance_alone_sends_the_log_buckets_access_logs_where_told(build: Build) -> None:
    run = build(
        lambda: ModelGovernance(
            "gov",
            {
                **GOVERNANCE_ARGS,
                "invocation_logging": {"s3": True},
                "invocation_log_bucket_name": "team-dev-invocations",
                "access_log_bucket_name": "team-dev-logs",
            },
        )
    )
    [access_logs] = run.of_type("aws:s3/bucketLogging:BucketLogging")
    assert access_logs.inputs["targetBucket"] == "team-dev-logs"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"guardrail": {"id": "abc123"}},
            "guardrail: an existing guardrail needs both id and version",
        ),
        ({"guardrail": {}}, "guardrail: defines no policy"),
        (
            {"guardrail": {"sensitive_information": {"entities": [{"type": "SSN"}]}}},
            "guardrail.sensitiveInformation.entities[0].type: Input should be 'ADDRESS'",
        ),
        (
            {"guardrail": {"contentFilters": [{"type": "PROMPT_ATTACK"}]}},
            "guardrail.contentFilters[0].outputStrength: must be NONE for PROMPT_ATTACK",
        ),
        (
            {"guardrail": {"words": ["x"], "wrods": []}},
            "guardrail.wrods: unknown key; did you mean 'words'?",
        ),
        ({"model_tags": {NOVA: {"aws:team": "x"}}}, f"modelTags.{NOVA}.aws:team"),
        ({"invocation_logging": {}}, "invocationLogging: choose a destination"),
        (
            {"invocation_logging": {"s3": True}},
            "invocationLogBucketName: is required with invocationLogging.s3",
        ),
        (
            {"invocation_logging": {"cloud_watch": True, "retention_days": 10}},
            "invocationLogging.retentionDays: 10 is not",
        ),
        ({"name_prefix": "team dev"}, "namePrefix: 'team dev' must be letters"),
    ],
)
def test_governance_alone_refuses_bad_args_naming_the_key(
    refused: Refused, changes: dict[str, Any], expected: str
) -> None:
    [problem] = refused(lambda: ModelGovernance("gov", {**GOVERNANCE_ARGS, **changes}))  # type: ignore[typeddict-item]
    assert problem.startswith(expected), problem


def test_governance_alone_refuses_an_output_among_its_policies(refused: Refused) -> None:
    problems = refused(
        lambda: ModelGovernance(
            "gov",
            {**GOVERNANCE_ARGS, "guardrail": {"words": pulumi.Output.secret(["x"])}},  # type: ignore[typeddict-item]
        )
    )
    assert [p.split(":")[0] for p in problems] == ["guardrail.words"]


def test_governance_alone_makes_no_identity_center_role_an_administrator_implicitly() -> None:
    """The invocation-log bucket's readers include whoever deploys, but only a dedicated role
    implicitly: a permission set's role, shared by its users, must be named on purpose."""
    sso = (
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_{'0' * 16}"
    )

    def program(administrators: list[str]) -> Callable[[], object]:
        return lambda: ModelGovernance(
            "gov",
            {
                **GOVERNANCE_ARGS,
                "invocation_logging": {"s3": True},
                "invocation_log_bucket_name": "team-dev-invocations",
                "administrators": administrators,
            },
        )

    config = {"aws:region": REGION, "private-datalake:accountId": ACCOUNT}
    with pytest.raises(Exception, match="name this principal on purpose in administrators"):
        run_program(program([]), config=config, deployer_arn=sso)
    run = run_program(program([sso]), config=config, deployer_arn=sso)
    assert invocation_log_readers(run) == [sso]
