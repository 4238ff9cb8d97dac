"""Proof by evaluation: who reaches what, from where, under the policies the program produces.

Each row of MATRIX is one request (principal, action, resource, origin, TLS, access point) and
its expected decision. The policies are those of a mocked run of each example stack; the
requests are evaluated by @cloud-copilot/iam-simulate through tests/iam/access_model.py (one
Node process for the whole matrix). docs/access-proof.md explains the model and how to add a row.

Identities: an application role here has no S3 permission in its own IAM policies, so whatever
it can do is exactly what the stack's policies grant it. "+s3:*" marks the same role with an
over-privileged IAM policy, to prove the fences that hold whatever the caller's IAM says (the
endpoint, the bucket policy's TLS and VPC rules). The function's IAM policy is the one the
program attaches to its role.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from components import policies
from components.offline import StackRun, load_stack_values, run_stack
from tests.iam.access_model import (
    ACCESS_POINT_KEYS,
    FOREIGN_ACCESS_POINT,
    IAM_DIR,
    INTERNET,
    VPC,
    Identity,
    Outcome,
    PolicyDocument,
    Request,
    Simulator,
    SimulatorUnavailable,
    StackPolicies,
    combine,
)

DATA, PARTNER = "111111111111", "222222222222"
PARTNER_VPC = "vpc-0123456789abcdef0"  # prod: the partner-share access point's VPC
ALLOWED_VPC = "vpc-0a1b2c3d4e5f67890"  # prod: bucket.allowedVpcIds
OTHER_VPC = "vpc-0fedcba9876543210"  # a VPC no policy allows
TLS, PLAIN = True, False
BOTH = ("dev", "prod")
Expect = Literal["Allowed", "Denied", "ExplicitlyDenied"]
ALLOW: Expect = "Allowed"
DENY: Expect = "Denied"  # implicitly or explicitly
EXPLICIT: Expect = "ExplicitlyDenied"  # an explicit deny statement decided


def role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def grants(name: str, action: str) -> tuple[str, PolicyDocument]:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    return name, {"Version": "2012-10-17", "Statement": [statement]}


S3_ALL = grants("s3-everything", "s3:*")
EVERYTHING = grants("administrator", "*")
SSO = "aws-reserved/sso.amazonaws.com"

IDENTITIES: dict[str, Identity] = {
    # Application roles (Pulumi.<stack>.yaml principals) with no S3 permission of their own.
    "analytics": Identity(role(DATA, "analytics")),
    "bi-dashboards": Identity(role(DATA, "bi-dashboards")),
    "ingest": Identity(role(DATA, "ingest-pipeline")),
    "curation": Identity(role(DATA, "curation-jobs")),
    # The same roles with s3:* on everything in their own IAM policies.
    "analytics+s3:*": Identity(role(DATA, "analytics"), (S3_ALL,)),
    "ingest+s3:*": Identity(role(DATA, "ingest-pipeline"), (S3_ALL,)),
    "curation+s3:*": Identity(role(DATA, "curation-jobs"), (S3_ALL,)),
    # A role of the data account that no access point lists, allowed everything by IAM.
    "over-privileged": Identity(role(DATA, "data-engineer"), (EVERYTHING,)),
    # bucket.adminRoleArns: dev names platform-admin; prod an SSO pattern and ci-deployer.
    "platform-admin": Identity(role(DATA, "platform-admin"), (EVERYTHING,)),
    "sso-data-admin": Identity(
        role(DATA, f"{SSO}/AWSReservedSSO_DataAdmin_0a1b2c3d4e5f6789"), (EVERYTHING,)
    ),
    "ci-deployer": Identity(role(DATA, "ci-deployer"), (EVERYTHING,)),
    "sso-read-only+s3:*": Identity(
        role(DATA, f"{SSO}/AWSReservedSSO_ReadOnly_0a1b2c3d"), (S3_ALL,)
    ),
    # The partner account (prod). A cross-account request also needs the caller's own IAM
    # allow, so the partner's reader is modelled with s3:* in its account.
    "partner-reader+s3:*": Identity(role(PARTNER, "partner-reader"), (S3_ALL,)),
    "partner-other": Identity(role(PARTNER, "other-team")),
    "partner-other+s3:*": Identity(role(PARTNER, "other-team"), (S3_ALL,)),
    "partner-admin": Identity(role(PARTNER, "partner-admin"), (EVERYTHING,)),
}
FUNCTION = "function"  # the Bedrock function's role, as the program creates it

REGION = "us-east-1"
NOVA = "amazon.nova-micro-v1:0"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"


def model(foundation_model: str, region: str = REGION) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{foundation_model}"


def profile(profile_id: str, region: str = REGION) -> str:
    return f"arn:aws:bedrock:{region}:{DATA}:inference-profile/{profile_id}"


HAIKU_PROFILE = profile(f"us.{HAIKU}")
ROUTED_BY_HAIKU_PROFILE = {"bedrock:InferenceProfileArn": HAIKU_PROFILE}


@dataclass(frozen=True)
class Row:
    """One request and its expected decision (see docs/access-proof.md)."""

    principal: str
    action: str
    resource: str
    origin: str
    tls: bool
    access_point: str | None
    expect: Expect
    why: str
    stacks: tuple[str, ...] = BOTH
    context: Mapping[str, str] = field(default_factory=dict)


MATRIX: list[Row] = [
    # --- Each application, within its prefix and mode, through its own access point ---
    Row("analytics", "s3:GetObject", "curated/sales/2024.csv", VPC, TLS, "analytics", ALLOW,
        "reads its prefix"),
    Row("analytics", "s3:GetObjectVersion", "curated/sales/2024.csv", VPC, TLS, "analytics",
        ALLOW, "reads an older version"),
    Row("analytics", "s3:ListBucket", "curated/", VPC, TLS, "analytics", ALLOW,
        "lists its prefix"),
    Row("analytics", "s3:ListBucket", "curated/sales/", VPC, TLS, "analytics", ALLOW,
        "lists below its prefix"),
    Row("bi-dashboards", "s3:GetObject", "curated/kpi.parquet", VPC, TLS, "analytics", ALLOW,
        "second principal of the analytics access point", stacks=("prod",)),
    Row("ingest", "s3:PutObject", "raw/batch-0001.json", VPC, TLS, "ingest", ALLOW,
        "writes its prefix"),
    Row("ingest", "s3:AbortMultipartUpload", "raw/big.bin", VPC, TLS, "ingest", ALLOW,
        "aborts its multipart upload"),
    Row("ingest", "s3:ListMultipartUploadParts", "raw/big.bin", VPC, TLS, "ingest", ALLOW,
        "lists the parts of its upload"),
    Row("curation", "s3:GetObject", "curated/x.csv", VPC, TLS, "curation", ALLOW,
        "readwrite reads", stacks=("prod",)),
    Row("curation", "s3:PutObject", "curated/x.csv", VPC, TLS, "curation", ALLOW,
        "readwrite writes", stacks=("prod",)),
    Row("curation", "s3:DeleteObject", "curated/x.csv", VPC, TLS, "curation", ALLOW,
        "readwrite deletes (a delete marker)", stacks=("prod",)),
    Row("curation", "s3:ListBucket", "curated/", VPC, TLS, "curation", ALLOW,
        "readwrite lists", stacks=("prod",)),
    Row(FUNCTION, "s3:GetObject", "curated/doc.txt", VPC, TLS, "analytics", ALLOW,
        "the function reads its documents"),
    Row(FUNCTION, "s3:ListBucket", "curated/", VPC, TLS, "analytics", ALLOW,
        "the function lists its prefix (NoSuchKey instead of AccessDenied)"),
    # --- Outside its prefix ---
    Row("analytics", "s3:GetObject", "raw/batch-0001.json", VPC, TLS, "analytics", DENY,
        "another prefix"),
    Row("analytics", "s3:GetObject", "curated-archive/old.csv", VPC, TLS, "analytics", DENY,
        "a sibling that only starts like its prefix"),
    Row("analytics", "s3:ListBucket", "raw/", VPC, TLS, "analytics", DENY,
        "lists another prefix"),
    Row("analytics", "s3:ListBucket", "", VPC, TLS, "analytics", DENY,
        "lists the whole bucket (no s3:prefix)"),
    Row("ingest", "s3:PutObject", "curated/poison.csv", VPC, TLS, "ingest", DENY,
        "writes outside its prefix"),
    Row("curation", "s3:PutObject", "raw/x.json", VPC, TLS, "curation", DENY,
        "readwrite, but not outside its prefix", stacks=("prod",)),
    Row(FUNCTION, "s3:GetObject", "raw/batch-0001.json", VPC, TLS, "analytics", DENY,
        "the function outside its prefix"),
    # --- Beyond its mode ---
    Row("analytics", "s3:PutObject", "curated/x.csv", VPC, TLS, "analytics", DENY,
        "read cannot write"),
    Row("analytics", "s3:DeleteObject", "curated/x.csv", VPC, TLS, "analytics", DENY,
        "read cannot delete"),
    Row("analytics", "s3:PutObjectTagging", "curated/x.csv", VPC, TLS, "analytics", DENY,
        "read cannot tag"),
    Row("ingest", "s3:GetObject", "raw/batch-0001.json", VPC, TLS, "ingest", DENY,
        "write is a drop box: no reading"),
    Row("ingest", "s3:ListBucket", "raw/", VPC, TLS, "ingest", DENY,
        "write is a drop box: no listing"),
    Row("ingest", "s3:DeleteObject", "raw/batch-0001.json", VPC, TLS, "ingest", DENY,
        "write cannot delete"),
    Row("curation", "s3:DeleteObjectVersion", "curated/x.csv", VPC, TLS, "curation", DENY,
        "permanent deletion is never granted through an access point", stacks=("prod",)),
    Row(FUNCTION, "s3:PutObject", "curated/doc.txt", VPC, TLS, "analytics", DENY,
        "the function only reads"),
    # --- Without TLS ---
    Row("analytics", "s3:GetObject", "curated/x.csv", VPC, PLAIN, "analytics", EXPLICIT,
        "plain HTTP is refused by the bucket policy"),
    Row("ingest", "s3:PutObject", "raw/x.json", VPC, PLAIN, "ingest", EXPLICIT,
        "plain HTTP is refused for writes too"),
    Row("platform-admin", "s3:GetObject", "curated/x.csv", INTERNET, PLAIN, None, EXPLICIT,
        "admins too need TLS", stacks=("dev",)),
    # --- From outside the allowed VPCs ---
    Row("analytics", "s3:GetObject", "curated/x.csv", INTERNET, TLS, "analytics", EXPLICIT,
        "from the internet"),
    Row("analytics", "s3:GetObject", "curated/x.csv", OTHER_VPC, TLS, "analytics", EXPLICIT,
        "from a VPC no one allowed"),
    Row("ingest", "s3:PutObject", "raw/x.json", INTERNET, TLS, "ingest", EXPLICIT,
        "writes from the internet"),
    Row("partner-reader+s3:*", "s3:GetObject", "shared/partner/a.csv", INTERNET, TLS,
        "partner-share", EXPLICIT, "the partner from the internet", stacks=("prod",)),
    # --- Through another application's access point ---
    Row("analytics", "s3:GetObject", "raw/batch-0001.json", VPC, TLS, "ingest", DENY,
        "not listed on the ingest access point"),
    Row("ingest", "s3:GetObject", "curated/x.csv", VPC, TLS, "analytics", DENY,
        "not listed on the analytics access point"),
    Row("analytics", "s3:GetObject", "curated/x.csv", VPC, TLS, "curation", DENY,
        "same prefix, but not its access point", stacks=("prod",)),
    Row("analytics", "s3:PutObject", "curated/x.csv", VPC, TLS, "curation", DENY,
        "no write by borrowing a readwrite access point", stacks=("prod",)),
    Row(FUNCTION, "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", DENY,
        "the function cannot use the ingest access point"),
    Row("analytics", "s3:GetObject", "shared/partner/a.csv", VPC, TLS, "partner-share", DENY,
        "a data-account role through the partner's access point", stacks=("prod",)),
    # --- An over-privileged identity (s3:* or *) in the data account ---
    Row("over-privileged", "s3:GetObject", "curated/x.csv", VPC, TLS, None, DENY,
        "the endpoint refuses the bucket unless through an access point"),
    Row("over-privileged", "s3:PutObject", "curated/x.csv", VPC, TLS, None, DENY,
        "no direct writes from the VPC either"),
    Row("over-privileged", "s3:ListBucket", "", VPC, TLS, None, DENY,
        "no direct listing from the VPC"),
    Row("over-privileged", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "outside the VPC the bucket policy denies data access"),
    Row("analytics+s3:*", "s3:GetObject", "curated/x.csv", OTHER_VPC, TLS, None, EXPLICIT,
        "an application role going to the bucket from another VPC"),
    Row("over-privileged", "s3:GetObject", "curated/x.csv", ALLOWED_VPC, TLS, None, ALLOW,
        "bucket.allowedVpcIds: data may be used from that VPC (its endpoint is not ours)",
        stacks=("prod",)),
    Row("sso-read-only+s3:*", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "an SSO role that does not match the admin pattern", stacks=("prod",)),
    Row("over-privileged", "s3:GetObject", "exports/x.csv", VPC, TLS, FOREIGN_ACCESS_POINT,
        DENY, "another account's access point through our endpoint"),
    Row("over-privileged", "s3:PutObject", "exfil/x.csv", VPC, TLS, FOREIGN_ACCESS_POINT,
        DENY, "no exfiltration through another account's access point"),
    Row("over-privileged", "s3:PutObject", "arn:aws:s3:::exfil-bucket-999999999999/x.csv",
        VPC, TLS, None, DENY, "no exfiltration to another account's bucket"),
    Row("over-privileged", "s3:GetObject",
        "arn:aws:s3:::al2023-repos-us-east-1-de612dc2/core/repodata/repomd.xml", VPC, TLS,
        None, ALLOW, "network.extraS3Buckets can be read", stacks=("prod",)),
    Row("over-privileged", "s3:PutObject",
        "arn:aws:s3:::al2023-repos-us-east-1-de612dc2/x", VPC, TLS, None, DENY,
        "network.extraS3Buckets are read-only", stacks=("prod",)),
    Row("partner-admin", "s3:GetObject", "curated/x.csv", VPC, TLS, "analytics", DENY,
        "another account's credentials used inside our VPC", stacks=("prod",)),
    Row("analytics+s3:*", "s3:GetObject", "raw/batch-0001.json", VPC, TLS, "analytics", DENY,
        "outside its prefix even with s3:* in IAM"),
    Row("analytics+s3:*", "s3:PutObject", "curated/x.csv", VPC, TLS, "analytics", DENY,
        "beyond its mode even with s3:* in IAM"),
    Row("analytics+s3:*", "s3:GetObject", "raw/batch-0001.json", VPC, TLS, "ingest", DENY,
        "another application's access point even with s3:* in IAM"),
    Row("curation+s3:*", "s3:DeleteObjectVersion", "curated/x.csv", VPC, TLS, "curation",
        DENY, "no permanent deletion through an access point even with s3:* in IAM",
        stacks=("prod",)),
    Row("over-privileged", "s3:GetObject", "curated/x.csv", VPC, TLS, "analytics", DENY,
        "a data-account role no access point lists"),
    # --- Admins are not locked out ---
    Row("platform-admin", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, ALLOW,
        "an admin reads from the console", stacks=("dev",)),
    Row("platform-admin", "s3:PutBucketPolicy", "", INTERNET, TLS, None, ALLOW,
        "an admin can repair the bucket policy", stacks=("dev",)),
    Row("sso-data-admin", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, ALLOW,
        "the SSO admin pattern matches a generated role name", stacks=("prod",)),
    Row("sso-data-admin", "s3:DeleteObjectVersion", "curated/x.csv", INTERNET, TLS, None,
        ALLOW, "permanent deletion stays with the admins", stacks=("prod",)),
    Row("ci-deployer", "s3:PutBucketPolicy", "", INTERNET, TLS, None, ALLOW,
        "CI can update the bucket policy", stacks=("prod",)),
    Row("over-privileged", "s3:PutBucketPolicy", "", VPC, TLS, None, DENY,
        "bucket configuration is not reachable through the data VPC's endpoint"),
    # --- The cross-account access point: its partner principal, and only it ---
    Row("partner-reader+s3:*", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, TLS,
        "partner-share", ALLOW, "the partner reads its share from its VPC", stacks=("prod",)),
    Row("partner-reader+s3:*", "s3:ListBucket", "shared/partner/", PARTNER_VPC, TLS,
        "partner-share", ALLOW, "the partner lists its share", stacks=("prod",)),
    Row("partner-reader+s3:*", "s3:GetObject", "curated/x.csv", PARTNER_VPC, TLS,
        "partner-share", DENY, "the bucket bounds the partner to its prefix", stacks=("prod",)),
    Row("partner-reader+s3:*", "s3:ListBucket", "", PARTNER_VPC, TLS, "partner-share", DENY,
        "the partner cannot list the whole bucket", stacks=("prod",)),
    Row("partner-reader+s3:*", "s3:PutObject", "shared/partner/a.csv", PARTNER_VPC, TLS,
        "partner-share", DENY, "the bucket bounds the partner to read", stacks=("prod",)),
    Row("partner-reader+s3:*", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, PLAIN,
        "partner-share", EXPLICIT, "the partner needs TLS too", stacks=("prod",)),
    Row("partner-other", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, TLS,
        "partner-share", DENY, "another partner role is not listed", stacks=("prod",)),
    Row("partner-other+s3:*", "s3:GetObject", "curated/x.csv", PARTNER_VPC, TLS,
        "partner-share", DENY, "whatever the partner's IAM says, the bucket bounds the prefix",
        stacks=("prod",)),
    Row("partner-reader+s3:*", "s3:GetObject", "curated/x.csv", PARTNER_VPC, TLS, "analytics",
        DENY, "the partner through one of our access points", stacks=("prod",)),
    Row("partner-reader+s3:*", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, TLS, None,
        DENY, "the partner going to the bucket directly", stacks=("prod",)),
    # --- Bedrock: the function and its models, through the bedrock-runtime endpoint ---
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, ALLOW,
        "a configured foundation model"),
    Row(FUNCTION, "bedrock:InvokeModelWithResponseStream", model(NOVA), VPC, TLS, None, DENY,
        "streaming is off"),
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA, "us-west-2"), VPC, TLS, None, DENY,
        "a foundation model is allowed in the stack's Region only"),
    Row(FUNCTION, "bedrock:InvokeModel", model("amazon.titan-text-express-v1"), VPC, TLS, None,
        DENY, "a model that is not configured"),
    Row(FUNCTION, "bedrock:InvokeModel", HAIKU_PROFILE, VPC, TLS, None, ALLOW,
        "a configured inference profile", stacks=("prod",)),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "us-east-1"), VPC, TLS, None, ALLOW,
        "the profile routes to its foundation model at home", stacks=("prod",),
        context=ROUTED_BY_HAIKU_PROFILE),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "us-west-2"), VPC, TLS, None, ALLOW,
        "the profile routes to another Region", stacks=("prod",),
        context=ROUTED_BY_HAIKU_PROFILE),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU), VPC, TLS, None, DENY,
        "a model configured behind a profile is not callable directly", stacks=("prod",)),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "eu-west-1"), VPC, TLS, None, DENY,
        "routed by a profile that is not configured", stacks=("prod",),
        context={"bedrock:InferenceProfileArn": profile(f"eu.{HAIKU}", "eu-west-1")}),
    Row(FUNCTION, "bedrock:InvokeModel", profile("us.anthropic.claude-3-opus-20240229-v1:0"),
        VPC, TLS, None, DENY, "a profile that is not configured", stacks=("prod",)),
    Row(FUNCTION, "bedrock:InvokeModel", model("anthropic.claude-3-opus-20240229-v1:0",
        "us-west-2"), VPC, TLS, None, DENY,
        "another model, even with a configured profile's ARN in the context", stacks=("prod",),
        context=ROUTED_BY_HAIKU_PROFILE),
    Row("over-privileged", "bedrock:InvokeModel", model("amazon.titan-text-express-v1"), VPC,
        TLS, None, DENY, "the endpoint refuses models that are not configured"),
    Row("partner-admin", "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "the endpoint refuses other accounts' credentials", stacks=("prod",)),
]  # fmt: skip


# --- Running the matrix --------------------------------------------------------------------


@pytest.fixture(scope="session")
def simulator() -> Simulator:
    """The evaluator; a missing toolchain fails in CI and skips (with the reason) elsewhere."""
    try:
        return Simulator.locate()
    except SimulatorUnavailable as missing:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"the IAM evaluator must run in CI: {missing}")
        pytest.skip(f"IAM evaluator not available: {missing}")


@pytest.fixture(scope="session")
def stacks(dev_run: StackRun, prod_run: StackRun) -> dict[str, StackPolicies]:
    return {"dev": StackPolicies.from_run(dev_run), "prod": StackPolicies.from_run(prod_run)}


def identity(name: str, stack: StackPolicies) -> Identity:
    return stack.function if name == FUNCTION else IDENTITIES[name]


def request(row: Row, stack: StackPolicies) -> Request:
    return Request(
        identity=identity(row.principal, stack),
        action=row.action,
        resource=row.resource,
        origin=row.origin,
        tls=row.tls,
        access_point=row.access_point,
        context=row.context,
    )


def cases() -> list[tuple[str, Row]]:
    return [(stack, row) for row in MATRIX for stack in row.stacks]


def decide_all(
    simulator: Simulator, stacks: Mapping[str, StackPolicies], selected: list[tuple[str, Row]]
) -> list[Outcome]:
    return simulator.decide([(stacks[s], request(row, stacks[s])) for s, row in selected])


@pytest.fixture(scope="session")
def outcomes(simulator: Simulator, stacks: dict[str, StackPolicies]) -> dict[int, Outcome]:
    """The whole matrix, both stacks, in one batch."""
    return dict(enumerate(decide_all(simulator, stacks, cases())))


def meets(expect: Expect, decision: str) -> bool:
    return decision == expect or (expect == DENY and decision != ALLOW)


def case_id(stack: str, row: Row) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", row.why.lower()).strip("-")
    return f"{stack}-{row.principal}-{row.action.split(':')[1]}-{words}"[:110]


def parametrized_cases() -> list[Any]:
    return [
        pytest.param(
            index,
            stack,
            row,
            id=case_id(stack, row),
        )
        for index, (stack, row) in enumerate(cases())
    ]


@pytest.mark.parametrize(("index", "stack", "row"), parametrized_cases())
def test_matrix(index: int, stack: str, row: Row, outcomes: dict[int, Outcome]) -> None:
    outcome = outcomes[index]
    assert meets(row.expect, outcome.decision), (
        f"{row.principal} {row.action} {row.resource!r} via {row.access_point} from "
        f"{row.origin} (tls={row.tls}): expected {row.expect}, got {outcome.decision} "
        f"[{outcome.explain()}] - {row.why}"
    )


def test_matrix_covers_every_access_point_principal_and_model(
    stacks: dict[str, StackPolicies],
) -> None:
    """Adding an access point, principal or model to an example stack needs matrix rows."""
    for name, stack in stacks.items():
        rows = [row for row in MATRIX if name in row.stacks]
        values = load_stack_values(name)
        for entry in values["private-datalake:accessPoints"]:
            through = [r for r in rows if r.access_point == entry["name"]]
            assert any(r.expect == ALLOW for r in through), (name, entry["name"], "no allow")
            assert any(r.expect != ALLOW for r in through), (name, entry["name"], "no deny")
            for principal in entry.get("principals", []):
                assert any(
                    identity(r.principal, stack).arn == principal and r.expect == ALLOW
                    for r in through
                ), (name, entry["name"], principal)
        for model_id in values["private-datalake:bedrock"]["modelIds"]:
            assert any(
                r.principal == FUNCTION and r.expect == ALLOW and r.resource.endswith(model_id)
                for r in rows
            ), (name, model_id)


def test_matrix_rows_are_unique() -> None:
    keys = [(s, r.principal, r.action, r.resource, r.origin, r.tls, r.access_point,
             tuple(sorted(r.context.items()))) for s, r in cases()]  # fmt: skip
    assert len(keys) == len(set(keys))


def test_every_context_key_reaches_the_evaluator(outcomes: dict[int, Outcome]) -> None:
    """iam-simulate drops context keys that do not apply to an action and resource type: a
    misspelt key would silently vanish. Only the access point keys on the bucket evaluation
    may be dropped by its validation, and the model passes those on (simulate.mjs)."""
    for outcome in outcomes.values():
        for result in outcome.results:
            ignored = set(result.ignored_context_keys)
            if result.evaluation.unfiltered_context:
                assert ignored <= ACCESS_POINT_KEYS, ignored
            else:
                assert not ignored, (result.evaluation.label, ignored)


def test_bucket_evaluation_needs_the_access_point_keys(outcomes: dict[int, Outcome]) -> None:
    """Why the workaround exists: without the access point keys, the bucket policy's
    delegation never applies (if iam-simulate learns these keys, this test tells)."""
    bucket_halves = [
        r
        for o in outcomes.values()
        for r in o.results
        if r.evaluation.unfiltered_context and r.evaluation.identity.policies == ()
    ]
    assert bucket_halves
    assert any(r.decision == ALLOW and r.validated_decision != ALLOW for r in bucket_halves)


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        (["Allowed", "Allowed"], "Allowed"),
        (["Allowed", "ImplicitlyDenied"], "ImplicitlyDenied"),
        (["ImplicitlyDenied", "ExplicitlyDenied"], "ExplicitlyDenied"),
        (["ExplicitlyDenied", "Allowed"], "ExplicitlyDenied"),
        ([], "ImplicitlyDenied"),
    ],
)
def test_decisions_combine_like_aws(decisions: list[Any], expected: str) -> None:
    assert combine(decisions) == expected


def test_the_evaluator_is_pinned(simulator: Simulator, outcomes: dict[int, Outcome]) -> None:
    package = json.loads((IAM_DIR / "package.json").read_text())
    lock = json.loads((IAM_DIR / "package-lock.json").read_text())
    for name, pinned in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"pin {name} exactly (no ^ or ~)"
        assert lock["packages"][f"node_modules/{name}"]["version"] == pinned
    assert simulator.version == package["dependencies"]["@cloud-copilot/iam-simulate"]
    assert '"resolved"' not in (IAM_DIR / "package-lock.json").read_text(), (
        "no registry URLs in the lock file (tests/iam/.npmrc omit-lockfile-registry-resolved)"
    )


# --- Mutations: the matrix has teeth --------------------------------------------------------
# Each mutation changes one condition in the output of one builder of components.policies (the
# code is untouched: the builder is monkeypatched), reruns the program and the matrix, and
# expects at least one row that held to fail. Transforms leave documents they do not apply to
# unchanged; the test checks that the stack's policies did change.

Transform = Callable[[PolicyDocument], PolicyDocument]


def flip_operator(key: str, old: str, new: str) -> Transform:
    def transform(document: PolicyDocument) -> PolicyDocument:
        mutated = copy.deepcopy(document)
        for statement in mutated["Statement"]:
            conditions = statement.get("Condition", {})
            if key in conditions.get(old, {}):
                conditions.setdefault(new, {})[key] = conditions[old].pop(key)
                if not conditions[old]:
                    del conditions[old]
        return mutated

    return transform


def rename_key(old: str, new: str) -> Transform:
    def transform(document: PolicyDocument) -> PolicyDocument:
        text = json.dumps(document)
        mutated: PolicyDocument = json.loads(text.replace(f'"{old}"', f'"{new}"'))
        return mutated

    return transform


def drop_key(key: str) -> Transform:
    def transform(document: PolicyDocument) -> PolicyDocument:
        mutated = copy.deepcopy(document)
        for statement in mutated["Statement"]:
            for operator, values in list(statement.get("Condition", {}).items()):
                values.pop(key, None)
                if not values:
                    del statement["Condition"][operator]
            if statement.get("Condition") == {}:
                del statement["Condition"]
        return mutated

    return transform


def drop_statement(sid: str) -> Transform:
    def transform(document: PolicyDocument) -> PolicyDocument:
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        return {**document, "Statement": kept}

    return transform


@dataclass(frozen=True)
class Mutation:
    stack: str
    builder: str
    transform: Transform
    what: str


MUTATIONS = [
    Mutation("dev", "bucket_policy",
             flip_operator("s3:DataAccessPointAccount", "StringEquals", "StringNotEquals"),
             "delegation to any other account's access points instead of ours"),
    Mutation("dev", "bucket_policy", drop_statement("DenyInsecureTransport"), "TLS not required"),
    Mutation("dev", "bucket_policy", rename_key("aws:SourceVpc", "aws:SourceVpcId"),
             "misspelt VPC key: the VPC rule denies everyone"),
    Mutation("prod", "bucket_policy", flip_operator("aws:PrincipalArn", "ArnNotLike", "ArnLike"),
             "the admin exemption inverted"),
    Mutation("prod", "bucket_policy", drop_key("s3:DataAccessPointArn"),
             "the partner's grants no longer bound to its access point"),
    Mutation("dev", "s3_gateway_endpoint_policy", drop_key("s3:DataAccessPointAccount"),
             "the endpoint lets the bucket be reached directly"),
    Mutation("dev", "access_point_policy",
             flip_operator("aws:PrincipalArn", "ArnNotEquals", "ArnEquals"),
             "the deny inverted: listed principals shut out, everyone else let in"),
    Mutation("dev", "access_point_policy", drop_statement("DenyObjectsOutsidePrefix"),
             "an over-privileged application role reads outside its prefix"),
    Mutation("prod", "access_point_policy", drop_statement("DenyObjectActionsBeyondMode"),
             "an over-privileged application role deletes for good or writes when read-only"),
    Mutation("prod", "bedrock_invoke_statements", drop_key("bedrock:InferenceProfileArn"),
             "foundation models behind a profile callable directly"),
    Mutation("prod", "bedrock_endpoint_policy",
             flip_operator("aws:PrincipalAccount", "StringEquals", "StringNotEquals"),
             "the Bedrock endpoint for other accounts' principals only"),
]  # fmt: skip


def patch_builder(monkeypatch: pytest.MonkeyPatch, name: str, transform: Transform) -> None:
    original = getattr(policies, name)

    def mutated(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if isinstance(result, list):  # a list of statements
            return transform(policies.document(*result))["Statement"]
        return transform(result)

    monkeypatch.setattr(policies, name, mutated)


@pytest.mark.parametrize(
    "mutation", MUTATIONS, ids=[f"{m.stack}-{m.builder}-{m.what}" for m in MUTATIONS]
)
def test_a_mutated_policy_builder_fails_the_matrix(
    mutation: Mutation,
    monkeypatch: pytest.MonkeyPatch,
    simulator: Simulator,
    stacks: dict[str, StackPolicies],
    outcomes: dict[int, Outcome],
) -> None:
    patch_builder(monkeypatch, mutation.builder, mutation.transform)
    mutated = {mutation.stack: StackPolicies.from_run(run_stack(mutation.stack))}
    assert mutated[mutation.stack] != stacks[mutation.stack], "the mutation changed no policy"
    selected = [
        (index, stack, row) for index, (stack, row) in enumerate(cases()) if stack == mutation.stack
    ]
    after = decide_all(simulator, mutated, [(s, r) for _, s, r in selected])
    caught = [
        f"{case_id(stack, row)}: {outcomes[index].decision} -> {outcome.decision}"
        for (index, stack, row), outcome in zip(selected, after, strict=True)
        if meets(row.expect, outcomes[index].decision) and not meets(row.expect, outcome.decision)
    ]
    assert caught, f"the matrix did not notice: {mutation.what}"
