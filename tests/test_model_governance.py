"""Bedrock governance (issue 14): the guardrail every call carries, application inference
profiles for cost allocation, the account's model invocation logging and the alarms.

Config rules are checked through parse_stack_config; what is built and wired through mocked
runs of the program (the ``run_with``/``dev_values`` fixtures). What the policies allow and deny
is proven in tests/test_access_matrix.py."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from components import policies
from components.model_governance import INVOCATION_LOG_PREFIX
from components.settings import MIN_FUNCTION_TIMEOUT_SECONDS
from offline.runner import PROJECT_DIR, CapturedResource, StackRun, load_stack_values
from tests.conftest import policy
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
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert settings["BucketVersioning"].inputs["versioningConfiguration"]["status"] == "Enabled"
    [lifecycle] = settings["BucketLifecycleConfiguration"].inputs["rules"]
    assert lifecycle["expiration"]["days"] == 731
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
    for sid in ("DenyLogAccessExceptAdministrators", "DenyGuardrailChangesByOthers"):
        assert statements[sid]["Condition"] == data_logs[sid]["Condition"]
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
    assert len(run.of_type("aws:s3/bucket:Bucket")) == 2


# --- Alarms -----------------------------------------------------------------------------------


def alarms(run: StackRun) -> dict[str, dict[str, Any]]:
    return {
        r.name.removeprefix("alarms-"): r.inputs
        for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def test_function_alarms_use_its_timeout_and_reservation(prod_run: StackRun) -> None:
    found = alarms(prod_run)
    function_name = prod_run.outputs["functionName"]
    assert found["function-errors"]["name"] == "private-datalake-prod function failing"
    for key in ("function-errors", "function-throttles", "function-duration",
                "function-concurrency"):  # fmt: skip
        assert found[key]["namespace"] == "AWS/Lambda"
        assert found[key]["dimensions"] == {"FunctionName": function_name}
    assert found["function-duration"]["threshold"] == 120 * 1000 * 0.8
    assert found["function-duration"]["statistic"] == "Maximum"
    assert found["function-concurrency"]["threshold"] == math.ceil(20 * 0.8)


def test_no_concurrency_alarm_without_a_reservation(dev_run: StackRun) -> None:
    assert "function-concurrency" not in alarms(dev_run)


def test_model_alarms_watch_what_the_function_invokes(prod_run: StackRun) -> None:
    found = alarms(prod_run)
    [profile] = prod_run.of_type("aws:bedrock/inferenceProfile:InferenceProfile")
    dimensions = {
        (inputs["metricName"], inputs["dimensions"]["ModelId"])
        for inputs in found.values()
        if inputs["namespace"] == "AWS/Bedrock" and inputs.get("dimensions")
    }
    for invoked in (profile.outputs["arn"], NOVA):
        for metric in ("InvocationThrottles", "InvocationClientErrors", "InvocationServerErrors"):
            assert (metric, invoked) in dimensions


def test_the_logging_owner_is_paged_when_logs_go_undelivered(
    prod_run: StackRun, dev_run: StackRun
) -> None:
    delivery = {
        inputs["metricName"]
        for inputs in alarms(prod_run).values()
        if "Delivery" in inputs["metricName"]
    }
    assert delivery == {
        "ModelInvocationLogsCloudWatchDeliveryFailure",
        "ModelInvocationLogsS3DeliveryFailure",
    }
    assert not [i for i in alarms(dev_run).values() if "Delivery" in i["metricName"]]


def test_every_alarm_notifies_the_encrypted_topic_on_alarm_and_recovery(
    example_run: StackRun,
) -> None:
    [topic] = example_run.of_type("aws:sns/topic:Topic")
    key = example_run.named("aws:kms/key:Key", "alarms-topic")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    cloudwatch = by_sid(policy(key.inputs))["CloudWatchPublishesThisAccountsAlarms"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    for inputs in alarms(example_run).values():
        assert inputs["alarmActions"] == [topic.outputs["arn"]]
        assert inputs["okActions"] == [topic.outputs["arn"]]
        assert inputs["treatMissingData"] == "notBreaching"
        assert inputs["alarmDescription"]
    topic_policy = by_sid(
        policy(example_run.named("aws:sns/topicPolicy:TopicPolicy", "alarms-topic").inputs)
    )
    assert topic_policy["CloudWatchAlarmsPublish"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"
    }
    emails = load_stack_values(example_run.stack)["private-datalake:alarms"]["email"]
    subscriptions = example_run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(emails)
    assert {s.inputs["protocol"] for s in subscriptions} == {"email"}


def test_an_existing_topic_is_notified_instead(
    dev_values: dict[str, Any], run_with: RunWith
) -> None:
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:oncall"
    dev_values["private-datalake:alarms"] = {"topicArn": arn}
    run = run_with(dev_values)
    assert run.of_type("aws:sns/topic:Topic") == []
    assert {tuple(a["alarmActions"]) for a in alarms(run).values()} == {(arn,)}


def test_policy_sizes_count_each_application_profile() -> None:
    """Every tagged model adds its profile's ARN to the function's role policy (an id of up to
    64 characters, as AWS allows): the size check before deploying must count them."""
    values = with_change("bedrock.modelIds", [f"amazon.model-{i:03d}-v1:0" for i in range(25)])
    assert parse(values)
    values["bedrock"]["modelTags"] = {m: {"team": "x"} for m in values["bedrock"]["modelIds"]}
    [problem] = problems_of(values)
    assert problem.startswith("bedrock.modelIds: the function role's inline policy would be ")
