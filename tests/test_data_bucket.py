"""The shared data bucket, its key and its log bucket, as the program registers them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.storage import DataBucket, DataBucketArgs
from offline.runner import CapturedResource, StackRun
from tests.conftest import Refused, policy

ACCOUNT = "111111111111"

BUCKET = "aws:s3/bucket:Bucket"


def bucket_settings(run: StackRun, bucket: CapturedResource, type_token: str) -> dict[str, Any]:
    [setting] = [
        r for r in run.of_type(type_token) if r.inputs["bucket"] == bucket.outputs["bucket"]
    ]
    return setting.inputs


def data_keys(run: StackRun) -> list[CapturedResource]:
    """The data key the stack creates (none with bucket.kmsKeyArn); other keys (the alarm
    topic's) are not the data's."""
    return [k for k in run.of_type("aws:kms/key:Key") if k.name == "data-key"]


def data_bucket(run: StackRun) -> CapturedResource:
    return run.named(BUCKET, "data")


def log_bucket(run: StackRun) -> CapturedResource:
    return run.named(BUCKET, "data-access-logs")


def test_both_buckets_are_private_versioned_acl_free_and_tls_only(example_run: StackRun) -> None:
    for bucket in (data_bucket(example_run), log_bucket(example_run)):
        block = bucket_settings(
            example_run, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
        )
        assert all(
            block[key] is True
            for key in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
        ownership = bucket_settings(
            example_run, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
        )
        assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        versioning = bucket_settings(
            example_run, bucket, "aws:s3/bucketVersioning:BucketVersioning"
        )
        assert versioning["versioningConfiguration"]["status"] == "Enabled"
        statements = policy(
            bucket_settings(example_run, bucket, "aws:s3/bucketPolicy:BucketPolicy")
        )["Statement"]
        [tls] = [s for s in statements if s["Sid"] == "DenyInsecureTransport"]
        assert tls["Effect"] == "Deny"
        assert tls["Action"] == "s3:*"
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert sorted(tls["Resource"]) == sorted(
            [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"]
        )


def encryption_of(run: StackRun, bucket: CapturedResource) -> dict[str, Any]:
    settings = bucket_settings(
        run,
        bucket,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    [rule] = settings["rules"]
    return dict(rule)


def test_data_bucket_uses_sse_kms_with_bucket_keys_on_a_rotating_key(dev_run: StackRun) -> None:
    rule = encryption_of(dev_run, data_bucket(dev_run))
    [key] = data_keys(dev_run)
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.outputs["arn"],
    }
    assert rule["bucketKeyEnabled"] is True
    assert key.inputs["enableKeyRotation"] is True


def test_an_existing_key_is_used_instead_of_creating_one(prod_run: StackRun) -> None:
    assert data_keys(prod_run) == []
    rule = encryption_of(prod_run, data_bucket(prod_run))
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == (
        "arn:aws:kms:us-east-1:111111111111:key/0f3c6d2e-7a51-4e8b-9d2a-5b7c1e9f4a10"
    )


def test_log_bucket_uses_sse_s3_because_log_delivery_requires_it(example_run: StackRun) -> None:
    rule = encryption_of(example_run, log_bucket(example_run))
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_access_logs_go_to_the_log_bucket_which_only_s3_logging_may_write(
    example_run: StackRun,
) -> None:
    data, logs = data_bucket(example_run), log_bucket(example_run)
    [logging] = [
        r
        for r in example_run.of_type("aws:s3/bucketLogging:BucketLogging")
        if r.inputs["bucket"] == data.outputs["bucket"]
    ]
    assert logging.inputs["targetBucket"] == logs.outputs["bucket"]
    statements = policy(bucket_settings(example_run, logs, "aws:s3/bucketPolicy:BucketPolicy"))[
        "Statement"
    ]
    [delivery] = [s for s in statements if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    # The data bucket's, and in the logging owner's stack the invocation-log bucket's too.
    sources = delivery["Condition"]["ArnLike"]["aws:SourceArn"]
    assert data.outputs["arn"] in ([sources] if isinstance(sources, str) else sources)
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": "111111111111"}


def test_access_logs_can_be_turned_off(dev_values: dict[str, Any], run_with: Any) -> None:
    dev_values["private-datalake:bucket"]["accessLogs"] = False
    run = run_with(dev_values)
    # No access-log bucket; the data and the function's artifact buckets log nowhere.
    assert sorted(b.name for b in run.of_type(BUCKET)) == ["bedrock-artifacts", "data"]
    assert run.of_type("aws:s3/bucketLogging:BucketLogging") == []


def lifecycle_rules(run: StackRun, bucket: CapturedResource) -> dict[str, Any]:
    settings = bucket_settings(
        run, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    return {rule["id"]: rule for rule in settings["rules"]}


def test_lifecycle_aborts_uploads_and_expires_old_versions(dev_run: StackRun) -> None:
    rules = lifecycle_rules(dev_run, data_bucket(dev_run))
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 7
    }
    versions = rules["expire-old-versions"]
    assert versions["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    # Current data never expires; only the markers left by deletes are cleaned up.
    assert versions["expiration"] == {"expiredObjectDeleteMarker": True}
    log_rules = lifecycle_rules(dev_run, log_bucket(dev_run))
    assert log_rules["expire-old-versions"]["expiration"]["days"] == 90


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("prod", True)])
def test_deletion_protection_follows_the_stack_config(
    stack: str, protected: bool, request: Any
) -> None:
    run: StackRun = request.getfixturevalue(f"{stack}_run")
    kept = [data_bucket(run), log_bucket(run), *data_keys(run)]
    for resource in kept:
        assert (resource.protect, resource.retain_on_delete) == (protected, protected), (
            resource.name
        )
    for bucket in (data_bucket(run), log_bucket(run)):
        assert bucket.inputs["forceDestroy"] is (not protected)


def test_protection_is_the_default(dev_values: dict[str, Any], run_with: Any) -> None:
    del dev_values["private-datalake:bucket"]["deletionProtection"]
    run = run_with(dev_values)
    [key] = data_keys(run)
    assert data_bucket(run).protect
    assert data_bucket(run).retain_on_delete
    assert key.protect
    assert key.retain_on_delete
    assert key.inputs["deletionWindowInDays"] == 30


def test_key_policy_lets_cross_account_owners_use_it_only_through_s3_for_this_bucket(
    dev_values: dict[str, Any], run_with: Any
) -> None:
    dev_values["private-datalake:accessPoints"].append(
        {
            "name": "partner-share",
            "prefix": "shared/",
            "principals": ["arn:aws:iam::222222222222:role/reader"],
            "accountId": "222222222222",
            "roleArn": "arn:aws:iam::222222222222:role/deployer",
            "vpcId": "vpc-0123456789abcdef0",
        }
    )
    run = run_with(dev_values)
    [key] = data_keys(run)
    statements = {s["Sid"]: s for s in policy(key.inputs)["Statement"]}
    assert statements["DataAccountAdministersThroughIam"]["Principal"] == {
        "AWS": "arn:aws:iam::111111111111:root"
    }
    partner = statements["CrossAccountAccessPointOwnersDecrypt"]
    assert partner["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert partner["Action"] == "kms:Decrypt"
    assert partner["Condition"]["StringEquals"] == {
        "kms:ViaService": "s3.us-east-1.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": data_bucket(run).outputs["arn"],
    }
    assert "CrossAccountAccessPointOwnersEncrypt" not in statements, "read-only partner"


# --- The building block alone, from its own args -------------------------------------------

STACK_ENDPOINT = "vpce-0aaaaaaaaaaaaaaaa"
BUCKET_ARGS: DataBucketArgs = {
    "region": "us-east-1",
    "account_id": "111111111111",
    "s3_endpoint_id": STACK_ENDPOINT,
}


def test_data_bucket_alone_is_protected_keyed_and_logged_by_default(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    run = build(lambda: DataBucket("data", BUCKET_ARGS))
    buckets = {r.inputs["bucket"]: r for r in run.of_type("aws:s3/bucket:Bucket")}
    # The default name is the running project's and stack's, as the program's.
    assert set(buckets) == {
        "private-datalake-test-111111111111",
        "private-datalake-test-111111111111-logs",
    }
    assert all(b.protect and b.retain_on_delete for b in buckets.values())
    [key] = run.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    data_policy = policy(run.named("aws:s3/bucketPolicy:BucketPolicy", "data").inputs)
    # The deployer manages what it deployed; access points are used through the given endpoint.
    assert "pulumi-deploy" in json.dumps(data_policy)
    [pinned] = [
        s
        for s in data_policy["Statement"]
        if s["Sid"] == "DenyDataAccountAccessPointsOutsideStackEndpoints"
    ]
    assert pinned["Condition"]["StringNotEquals"] == {"aws:SourceVpce": STACK_ENDPOINT}


def test_data_bucket_alone_refuses_to_run_without_its_endpoint(
    refused: Refused, build: Callable[[Callable[[], object]], StackRun]
) -> None:
    no_endpoint: DataBucketArgs = {"region": "us-east-1", "account_id": "111111111111"}
    [problem] = refused(lambda: DataBucket("data", no_endpoint))
    assert problem.startswith("s3EndpointId: is required while restrictToVpcs is true")
    # Without the endpoint rule the bucket needs no endpoint (access points still refuse
    # other networks, by their own network origin).
    run = build(lambda: DataBucket("data", {**no_endpoint, "restrict_to_vpcs": False}))
    data_policy = policy(run.named("aws:s3/bucketPolicy:BucketPolicy", "data").inputs)
    assert "aws:SourceVpce" not in json.dumps(data_policy)


def test_data_bucket_alone_takes_an_existing_key_and_no_logs(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    key_arn = "arn:aws:kms:us-east-1:111111111111:key/0f3c6d2e-7a51-4e8b-9d2a-5b7c1e9f4a10"
    run = build(
        lambda: DataBucket(
            "data",
            {**BUCKET_ARGS, "name": "team-data", "kms_key_arn": key_arn, "access_logs": False},
        )
    )
    assert not run.of_type("aws:kms/key:Key")
    assert [b.inputs["bucket"] for b in run.of_type("aws:s3/bucket:Bucket")] == ["team-data"]
    assert not run.of_type("aws:s3/bucketLogging:BucketLogging")


# --- Athena access points: their workgroup and results bucket ----------------------------------


def test_an_athena_access_point_gets_a_workgroup_that_keeps_results_in_the_data_account(
    prod_run: StackRun,
) -> None:
    [workgroup] = prod_run.of_type("aws:athena/workgroup:Workgroup")
    configuration = workgroup.inputs["configuration"]
    # Enforced: a query cannot name its own output location or encryption.
    assert configuration["enforceWorkgroupConfiguration"] is True
    results = configuration["resultConfiguration"]
    bucket = f"private-datalake-prod-{ACCOUNT}-athena"
    assert results["outputLocation"] == f"s3://{bucket}/athena-curated/"
    assert results["expectedBucketOwner"] == ACCOUNT
    data_key = prod_run.outputs["kmsKeyArn"]
    assert results["encryptionConfiguration"] == {
        "encryptionOption": "SSE_KMS",
        "kmsKeyArn": data_key,
    }
    assert prod_run.outputs["athenaWorkgroups"] == {"athena-curated": workgroup.inputs["name"]}
    # The results bucket is hardened like the others, under the data key, access-logged.
    encryption = prod_run.named(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "data-athena-results",
    )
    [rule] = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == data_key
    assert prod_run.named("aws:s3/bucketLogging:BucketLogging", "data-athena-results")
    # The data key's statements cover the results bucket too (prod brings its own key).
    statements = json.loads(prod_run.outputs["dataKeyPolicyStatements"])["Statement"]
    contexts = statements[0]["Condition"]["StringEquals"]["kms:EncryptionContext:aws:s3:arn"]
    assert f"arn:aws:s3:::{bucket}" in contexts


def test_no_workgroup_without_an_athena_access_point(dev_run: StackRun) -> None:
    assert dev_run.of_type("aws:athena/workgroup:Workgroup") == []
    assert "athenaWorkgroups" not in dev_run.outputs
