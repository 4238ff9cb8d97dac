"""Scanner-clean (issue 23): what the standard scanners check holds on the stacks, and the
Terraform plan they read keeps what their checks need.

The policies' effect (who may use which key, the function's network interfaces, the xray
endpoint) is proven by evaluation in tests/test_access_matrix.py, section "Scanner-clean
(issue 23)", and over every KMS action in tests/test_perimeter_invariants.py.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from components import bedrock, policies
from offline.runner import CapturedResource, StackRun
from synth import scan
from synth.terraform import (
    PLURALIZED,
    TERRAFORM_TYPES,
    UnmappedType,
    nested_types,
    snake_case,
    terraform_plan,
)
from tests.iam.access_model import (
    IAM_DIR,
)

IAM_DATA = IAM_DIR / "node_modules" / "@cloud-copilot" / "iam-data" / "data"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"


def key_policy_of(run: StackRun, key_arn: str) -> dict[str, Any]:
    [key] = [k for k in run.of_type(KEY) if k.outputs["arn"] == key_arn]
    document: dict[str, Any] = json.loads(key.inputs["policy"])
    return document


def logs_statement(policy: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any]
    [found] = [s for s in policy["Statement"] if s.get("Principal", {}).get("Service", "")
               .startswith("logs.")]  # fmt: skip
    return found


def arn_patterns(condition: Mapping[str, Any]) -> list[str]:
    values = next(iter(condition.values()))["kms:EncryptionContext:aws:logs:arn"]
    return [values] if isinstance(values, str) else list(values)


def iam_matches(pattern: str, value: str) -> bool:
    """IAM's ArnLike: * any characters, ? exactly one (fnmatch's, without its [] classes)."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


# --- Every log group under a customer key that admits CloudWatch Logs for it alone ---------


def test_every_log_group_has_a_key_that_admits_logs_for_that_log_group_only(
    example_run: StackRun,
) -> None:
    groups = example_run.of_type(LOG_GROUP)
    assert groups
    for group in groups:
        policy = key_policy_of(example_run, group.inputs["kmsKeyId"])
        statement = logs_statement(policy)
        assert statement["Principal"] == {"Service": f"logs.{example_run.region}.amazonaws.com"}
        patterns = arn_patterns(statement["Condition"])
        admitted = [
            g.name for g in groups if any(iam_matches(p, g.outputs["arn"]) for p in patterns)
        ]
        assert admitted == [group.name]
        # Nothing else of the account: another log group whose name only starts alike.
        sibling = group.outputs["arn"] + "-extra"
        assert not any(iam_matches(p, sibling) for p in patterns)


def test_autonamed_log_group_patterns_match_only_names_autonaming_gives() -> None:
    pattern = policies.log_group_arn("us-east-1", "111111111111", "bedrock-logs-???????")
    arn = "arn:aws:logs:us-east-1:111111111111:log-group:"
    assert iam_matches(pattern, arn + "bedrock-logs-1a2b3c4")
    assert not iam_matches(pattern, arn + "bedrock-logs-1a2b3c45")
    assert not iam_matches(pattern, arn + "bedrock-logs")
    assert not iam_matches(
        pattern, arn.replace("111111111111", "222222222222") + "bedrock-logs-1a2b3c4"
    )


def test_the_invocation_logs_use_one_key_in_both_destinations(prod_run: StackRun) -> None:
    group = prod_run.named(LOG_GROUP, "models-invocation-logs")
    [encryption] = [
        r
        for r in prod_run.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        if r.name == "models-invocation-logs"
    ]
    default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": group.inputs["kmsKeyId"]}
    bedrock_statement = next(
        s
        for s in key_policy_of(prod_run, group.inputs["kmsKeyId"])["Statement"]
        if s.get("Principal") == {"Service": "bedrock.amazonaws.com"}
    )
    assert bedrock_statement["Action"] == "kms:GenerateDataKey"
    assert bedrock_statement["Condition"]["StringEquals"]["kms:EncryptionContext:aws:s3:arn"] == (
        f"arn:aws:s3:::{prod_run.outputs['bucketName']}-invocations"
    )


# --- The function: environment key, network interfaces, signed code, tracing --------------


def function_of(run: StackRun) -> CapturedResource:
    [function] = run.of_type("aws:lambda/function:Function")
    return function


def test_the_function_environment_is_under_its_own_key(example_run: StackRun) -> None:
    function = function_of(example_run)
    key = example_run.named(KEY, "bedrock-key")
    assert function.inputs["kmsKeyArn"] == key.outputs["arn"]
    assert example_run.named(LOG_GROUP, "bedrock-logs").inputs["kmsKeyId"] == key.outputs["arn"]


def test_the_function_runs_only_the_code_the_stack_signed(example_run: StackRun) -> None:
    """Wired end to end: the uploaded archive is the signing job's source, the function's code
    is the job's signed object, and the function's code-signing configuration enforces the
    stack's own signing profile."""
    function = function_of(example_run)
    [job] = example_run.of_type("aws:signer/signingJob:SigningJob")
    [unsigned] = example_run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    [profile] = example_run.of_type("aws:signer/signingProfile:SigningProfile")
    [config] = example_run.of_type("aws:lambda/codeSigningConfig:CodeSigningConfig")

    [signed] = job.outputs["signedObjects"][0]["s3s"]
    assert (function.inputs["s3Bucket"], function.inputs["s3Key"]) == (
        signed["bucket"],
        signed["key"],
    )
    assert "code" not in function.inputs
    assert job.inputs["source"]["s3"] == {
        "bucket": unsigned.inputs["bucket"],
        "key": unsigned.inputs["key"],
        "version": unsigned.outputs["versionId"],
    }
    assert job.inputs["profileName"] == profile.outputs["name"]
    assert profile.inputs["platformId"] == bedrock.LAMBDA_SIGNING_PLATFORM
    assert function.inputs["codeSigningConfigArn"] == config.outputs["arn"]
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Enforce"}
    assert config.inputs["allowedPublishers"] == {
        "signingProfileVersionArns": [profile.outputs["versionArn"]]
    }


def test_the_artifact_bucket_is_hardened_like_the_others(example_run: StackRun) -> None:
    name = f"{example_run.outputs['bucketName']}-artifacts"
    types = {r.type for r in example_run.resources if r.name == "bedrock-artifacts"}
    assert {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketLogging:BucketLogging",
    } <= types
    assert example_run.named("aws:s3/bucket:Bucket", "bedrock-artifacts").inputs["bucket"] == name
    # The access-log bucket accepts its logs.
    log_policy = json.loads(
        example_run.named("aws:s3/bucketPolicy:BucketPolicy", "data-access-logs").inputs["policy"]
    )
    sources = log_policy["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"]
    assert f"arn:aws:s3:::{name}" in sources


def test_tracing_is_off_by_default_and_adds_the_xray_endpoint(
    dev_run: StackRun, prod_run: StackRun
) -> None:
    def services(run: StackRun) -> set[str]:
        return {
            r.inputs["serviceName"].rsplit(".", 1)[-1]
            for r in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        }

    assert "tracingConfig" not in function_of(dev_run).inputs
    assert "xray" not in services(dev_run)
    assert function_of(prod_run).inputs["tracingConfig"] == {"mode": "Active"}
    [xray] = [
        r
        for r in prod_run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs["serviceName"].endswith(".xray")
    ]
    [allowed] = json.loads(xray.inputs["policy"])["Statement"]
    assert sorted(allowed["Action"]) == sorted(policies.INTERFACE_ENDPOINT_ACTIONS["xray"])
    role_policy = json.loads(
        prod_run.named("aws:iam/rolePolicy:RolePolicy", "bedrock-role").inputs["policy"]
    )
    assert any(s["Sid"] == "SendTraces" for s in role_policy["Statement"])


# --- plan.json: what the checks need, linked as Terraform links it --------------------------


@pytest.fixture(scope="module")
def dev_plan(dev_run: StackRun) -> dict[str, Any]:
    return terraform_plan(dev_run)


def planned(plan: Mapping[str, Any], address: str) -> dict[str, Any]:
    [found] = [
        r for r in plan["planned_values"]["root_module"]["resources"] if r["address"] == address
    ]
    values: dict[str, Any] = found["values"]
    return values


def references(plan: Mapping[str, Any], address: str) -> dict[str, list[str]]:
    [found] = [
        r for r in plan["configuration"]["root_module"]["resources"] if r["address"] == address
    ]
    return {key: value["references"] for key, value in found["expressions"].items()}


def test_the_plan_links_each_bucket_setting_to_its_bucket(dev_plan: dict[str, Any]) -> None:
    # The logging resource is named after the logs it writes.
    for address in (
        "aws_s3_bucket_server_side_encryption_configuration.data",
        "aws_s3_bucket_versioning.data",
        "aws_s3_bucket_public_access_block.data",
        "aws_s3_bucket_lifecycle_configuration.data",
        "aws_s3_bucket_policy.data",
        "aws_s3_bucket_logging.data-access-logs",
    ):
        assert "aws_s3_bucket.data.id" in references(dev_plan, address)["bucket"], address
        # Unknown until the bucket exists, as in a real plan of a new stack.
        assert "bucket" not in planned(dev_plan, address)
    encryption = planned(dev_plan, "aws_s3_bucket_server_side_encryption_configuration.data")
    [rule] = encryption["rule"]
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    assert rule["apply_server_side_encryption_by_default"][0]["kms_master_key_id"]
    versioning = planned(dev_plan, "aws_s3_bucket_versioning.data")
    assert versioning["versioning_configuration"] == [{"status": "Enabled"}]
    block = planned(dev_plan, "aws_s3_bucket_public_access_block.data")
    assert all(block[flag] is True for flag in (
        "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"
    ))  # fmt: skip
    logging = references(dev_plan, "aws_s3_bucket_logging.data-access-logs")
    assert "aws_s3_bucket.data-access-logs.id" in logging["target_bucket"]


def test_the_plan_keeps_the_function_in_its_vpc_and_each_log_group_under_its_key(
    dev_plan: dict[str, Any],
) -> None:
    function = planned(dev_plan, "aws_lambda_function.bedrock-function")
    [vpc] = function["vpc_config"]
    assert len(vpc["subnet_ids"]) == 2
    assert len(vpc["security_group_ids"]) == 1
    vpc_refs = references(dev_plan, "aws_lambda_function.bedrock-function")["vpc_config"]
    assert "aws_security_group.bedrock-function.id" in vpc_refs
    assert {"aws_subnet.datalake-private-0.id", "aws_subnet.datalake-private-1.id"} <= set(vpc_refs)
    for group in ("bedrock-logs", "datalake-flow-logs"):
        address = f"aws_cloudwatch_log_group.{group}"
        assert references(dev_plan, address)["kms_key_id"][0].startswith("aws_kms_key.")
        [change] = [c for c in dev_plan["resource_changes"] if c["address"] == address]
        assert change["change"]["after_unknown"] == {"kms_key_id": True}


def test_an_unmapped_type_stops_the_conversion(dev_run: StackRun) -> None:
    stray = CapturedResource(
        urn="urn:pulumi:dev::p::aws:sqs/queue:Queue::q",
        type="aws:sqs/queue:Queue",
        name="q",
        parent="",
        provider="",
        custom=True,
        protect=False,
        retain_on_delete=False,
        inputs={},
        outputs={},
    )
    run = StackRun(stack="dev", region="us-east-1", resources=[*dev_run.resources, stray])
    with pytest.raises(UnmappedType, match="aws:sqs/queue:Queue"):
        terraform_plan(run)


def test_the_mapping_names_real_properties_of_pulumi_aws() -> None:
    """The plural exceptions name inputs the installed pulumi_aws types have, and their
    Terraform names differ from the plain snake_case (else they would not be exceptions)."""
    for token, renames in PLURALIZED.items():
        owner = token if token in TERRAFORM_TYPES else None
        known = set(nested_types(token)) if owner is None else set()
        for pulumi_name, terraform in renames.items():
            assert terraform != snake_case(pulumi_name)
            if owner is None:
                # Nested lists of blocks are object types of their own.
                assert pulumi_name in known, (token, pulumi_name)


def test_every_example_stack_type_has_a_terraform_type(example_run: StackRun) -> None:
    plan = terraform_plan(example_run)
    managed = [r for r in example_run.resources if r.custom and not r.type.startswith("pulumi:")]
    assert len(plan["planned_values"]["root_module"]["resources"]) == len(managed)


# --- The scan: every finding justified in writing, every justification needed --------------


def finding(stack: str, check: str, resource: str) -> scan.Finding:
    return scan.Finding(stack=stack, check=check, resource=resource, title="")


def test_the_scan_fails_on_an_unjustified_finding_and_on_an_unused_justification() -> None:
    justified = scan.Suppression("CKV_AWS_116", ("aws_lambda_function.*",), "synchronous")
    scoped = scan.Suppression("CKV_AWS_50", ("aws_lambda_function.f",), "optional", ("dev",))
    unused = scan.Suppression("CKV_AWS_1", ("aws_s3_bucket.x",), "stale")
    findings = [
        finding("dev", "CKV_AWS_116", "aws_lambda_function.f"),
        finding("dev", "CKV_AWS_50", "aws_lambda_function.f"),
        finding("prod", "CKV_AWS_50", "aws_lambda_function.f"),
    ]
    verdict = scan.judge(
        findings, {"dev": 10, "prod": 9}, ["dev", "prod"], [justified, scoped, unused]
    )
    assert verdict.unjustified == (findings[2],)
    assert verdict.unused == (unused,)
    assert verdict.suppressed == {"dev": 2, "prod": 0}
    assert verdict.failed == {"dev": 2, "prod": 1}
    # A stack-scoped justification is not judged by a scan of other stacks.
    alone = scan.judge([], {}, ["prod"], [scoped])
    assert alone.unused == ()


def test_every_suppression_says_why(tmp_path: Path) -> None:
    entries = scan.load_suppressions()
    assert entries
    assert all(len(entry.why) > 80 for entry in entries)
    broken = tmp_path / "suppressions.yaml"
    broken.write_text("- check: CKV_AWS_116\n  resources: [aws_lambda_function.f]\n")
    with pytest.raises(ValueError, match="why missing"):
        scan.load_suppressions(broken)


def test_the_report_is_read_per_stack(tmp_path: Path) -> None:
    plans = {stack: tmp_path / stack / "plan.json" for stack in ("dev", "prod")}
    report = [
        {
            "check_type": "terraform_plan",
            "results": {
                "failed_checks": [
                    {"check_id": "CKV_AWS_116", "file_path": "/dev/plan.json",
                     "resource": "aws_lambda_function.f", "check_name": "DLQ"},
                ],
                "passed_checks": [{"file_path": "/prod/plan.json"}] * 2,
            },
        }
    ]  # fmt: skip
    findings, passed = scan.parse_report(report, plans)
    assert findings == [scan.Finding("dev", "CKV_AWS_116", "aws_lambda_function.f", "DLQ")]
    assert passed == {"prod": 2}
