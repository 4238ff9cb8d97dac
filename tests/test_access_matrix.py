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
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pytest

from components import policies
from offline.runner import default_deployer_arn, load_stack_values, run_stack
from tests.iam.access_model import (
    ENDPOINT_VPCS,
    FOREIGN_ACCESS_POINT,
    IAM_DIR,
    INTERNET,
    OTHER_ENDPOINT_IN_VPC,
    ROGUE_ACCESS_POINT,
    ROGUE_INTERNET_ACCESS_POINT,
    ROGUE_OPEN_ACCESS_POINT,
    UNFILTERED_KEYS,
    VPC,
    VPC_OWNERS,
    WIDENED,
    Identity,
    Outcome,
    PolicyDocument,
    Request,
    Simulator,
    StackPolicies,
    combine,
)
from tests.iam.stacks import run_example

DATA, PARTNER = "111111111111", "222222222222"
PARTNER_VPC = "vpc-0123456789abcdef0"  # prod: the partner-share access point's VPC
ALLOWED_VPC = "vpc-0a1b2c3d4e5f67890"  # prod: the VPC of bucket.allowedVpcEndpointIds
ALLOWED_ENDPOINT = "vpce-0a1b2c3d4e5f67890"  # prod: bucket.allowedVpcEndpointIds
ENDPOINT_VPCS[ALLOWED_ENDPOINT] = ALLOWED_VPC
VPC_OWNERS[PARTNER_VPC] = PARTNER
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

ORG = "o-a1b2c3d4e5"  # prod: organizationId; the data account is in it, the partner is not
THIEF = "333333333333"  # an account outside the organization, with no business here


def data_role(name: str, *policies: tuple[str, PolicyDocument]) -> Identity:
    return Identity(role(DATA, name), policies, organization_id=ORG)


IDENTITIES: dict[str, Identity] = {
    # Application roles (Pulumi.<stack>.yaml principals) with no S3 permission of their own.
    "analytics": data_role("analytics"),
    "bi-dashboards": data_role("bi-dashboards"),
    "ingest": data_role("ingest-pipeline"),
    "curation": data_role("curation-jobs"),
    # The same roles with s3:* on everything in their own IAM policies.
    "analytics+s3:*": data_role("analytics", S3_ALL),
    "bi-dashboards+s3:*": data_role("bi-dashboards", S3_ALL),
    "ingest+s3:*": data_role("ingest-pipeline", S3_ALL),
    "curation+s3:*": data_role("curation-jobs", S3_ALL),
    "bi-dashboards+*": data_role("bi-dashboards", EVERYTHING),
    # A role of the data account that no access point lists, allowed everything by IAM.
    "over-privileged": data_role("data-engineer", EVERYTHING),
    # bucket.adminRoleArns: dev names platform-admin; prod ci-deployer, and the DataAdmin
    # permission set (bucket.adminPermissionSets) whose role Identity Center names.
    "platform-admin": data_role("platform-admin", EVERYTHING),
    "sso-data-admin": data_role(f"{SSO}/AWSReservedSSO_DataAdmin_0a1b2c3d4e5f6789", EVERYTHING),
    "sso-data-admin-eu": data_role(
        f"{SSO}/eu-west-1/AWSReservedSSO_DataAdmin_89abcdef01234567", EVERYTHING
    ),
    "sso-data-admin-contractors": data_role(
        f"{SSO}/AWSReservedSSO_DataAdmin_Contractors_0a1b2c3d4e5f6789", EVERYTHING
    ),
    "ci-deployer": data_role("ci-deployer", EVERYTHING),
    "sso-read-only+s3:*": data_role(f"{SSO}/AWSReservedSSO_ReadOnly_0a1b2c3d", S3_ALL),
    # Whoever runs `pulumi up` (the mocked caller identity; no stack lists it as an admin).
    "deployer": Identity(default_deployer_arn(DATA), (EVERYTHING,), ORG),
    # The partner account (prod), outside the organization. A cross-account request also
    # needs the caller's own IAM allow, so the partner's reader is modelled with s3:*.
    "partner-reader+s3:*": Identity(role(PARTNER, "partner-reader"), (S3_ALL,)),
    "partner-other": Identity(role(PARTNER, "other-team")),
    "partner-other+s3:*": Identity(role(PARTNER, "other-team"), (S3_ALL,)),
    "partner-admin": Identity(role(PARTNER, "partner-admin"), (EVERYTHING,)),
    # Another account, outside the organization, allowed everything by its own IAM.
    "thief": Identity(role(THIEF, "thief"), (EVERYTHING,)),
    # The data account's root user (the break-glass), which IAM allows everything.
    "root": Identity(f"arn:aws:iam::{DATA}:root", (EVERYTHING,), ORG),
    # prod: bucket.replicationSources and bucket.configurationReaderArns.
    "partner-replication+s3:*": Identity(role(PARTNER, "partner-replication"), (S3_ALL,)),
    "config-reader+s3:*": data_role(
        "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig", S3_ALL
    ),
    # === Scanner-clean (issue 23) ===
    # CloudWatch Logs in the stacks' Region, the service principal the log keys admit.
    "logs-service": Identity("logs.us-east-1.amazonaws.com"),
}
# prod's knowledge base: its role (named up front), over-privileged by its own IAM to prove
# what the bucket, vector bucket and organization policies hold it to whatever IAM says.
KB_ROLE_ARN = role(DATA, "private-datalake-prod-knowledge-base")
IDENTITIES |= {
    "kb-role+s3:*": Identity(KB_ROLE_ARN, (S3_ALL,), ORG),
    "kb-role+*": Identity(KB_ROLE_ARN, (EVERYTHING,), ORG),
}
KB_ROLE = "knowledge-base-role"  # the knowledge base's role with the policy the stack gives it
KB_RUNNER = "knowledge-base-ingestion"  # the ingestion state machine's role, likewise
# The role Bedrock assumes to write invocation logs to CloudWatch (prod owns logging).
LOG_WRITER = "invocation-log-writer"
FUNCTION = "function"  # the Bedrock function's role, as the program creates it

REGION = "us-east-1"
NOVA = "amazon.nova-micro-v1:0"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"


def model(foundation_model: str, region: str = REGION) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{foundation_model}"


def profile(profile_id: str, region: str = REGION) -> str:
    return f"arn:aws:bedrock:{region}:{DATA}:inference-profile/{profile_id}"


def application_profile(profile_id: str) -> str:
    return f"arn:aws:bedrock:{REGION}:{DATA}:application-inference-profile/{profile_id}"


HAIKU_PROFILE = profile(f"us.{HAIKU}")
ROUTED_BY_HAIKU_PROFILE = {"bedrock:InferenceProfileArn": HAIKU_PROFILE}
# Placeholders for what AWS names at creation, filled in from the run (StackPolicies.resolve).
HAIKU_APP_PROFILE = f"<app-profile:us.{HAIKU}>"
ROUTED_BY_HAIKU_APP_PROFILE = {"bedrock:InferenceProfileArn": HAIKU_APP_PROFILE}
GUARDED = {"bedrock:GuardrailIdentifier": "<guardrail-version>"}
OTHER_GUARDRAIL_ARN = f"arn:aws:bedrock:{REGION}:{DATA}:guardrail/0ther0guardrail"
OTHER_GUARDRAIL = {"bedrock:GuardrailIdentifier": f"{OTHER_GUARDRAIL_ARN}:1"}
FOREIGN = "999999999999"
BEDROCK_SERVICE = "bedrock-service"  # the Bedrock service principal, for the roles it assumes
LOGGING_ROLE = "<role:models-invocation-logging>"
INVOCATION_LOGS = f"arn:aws:s3:::private-datalake-prod-{DATA}-invocations"  # prod owns logging
INVOCATION_LOG = (
    f"/bedrock-invocations/AWSLogs/{DATA}/BedrockModelInvocationLogs/{REGION}/2026/12/03/x.json.gz"
)


def bedrock_source(account: str, region: str = REGION) -> dict[str, str]:
    """What Bedrock puts in the context when it assumes a role for ``account``."""
    return {
        "aws:SourceAccount": account,
        "aws:SourceArn": f"arn:aws:bedrock:{region}:{account}:model-invocation-logging",
    }


DATA_KEY = "<the stack's data key ARN>"  # replaced per stack in request()
FOREIGN_KEY = "arn:aws:kms:us-east-1:999999999999:key/1b2c3d4e-0000-4000-8000-000000000000"
SSE_DATA_KEY = {
    "s3:x-amz-server-side-encryption": "aws:kms",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": DATA_KEY,
}
SSE_FOREIGN_KEY = {**SSE_DATA_KEY, "s3:x-amz-server-side-encryption-aws-kms-key-id": FOREIGN_KEY}
# What S3 tells KMS when it uses the dev stack's key for its bucket (bucket keys on).
KMS_VIA_S3 = {
    "kms:ViaService": "s3.us-east-1.amazonaws.com",
    "kms:CallerAccount": DATA,
    "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::private-datalake-dev-111111111111",
}
# A forward access session: Athena calls S3 with the caller's credentials.
VIA_ATHENA: dict[str, str | list[str]] = {
    "aws:CalledVia": ["athena.amazonaws.com"],
    "aws:CalledViaFirst": "athena.amazonaws.com",
    "aws:ViaAWSService": "true",
}
IN_ORGANIZATION = {"aws:ResourceOrgID": ORG}
LOG_GROUP = f"arn:aws:logs:{REGION}:{DATA}:log-group:app"
LOGS = {stack: f"arn:aws:s3:::private-datalake-{stack}-{DATA}-logs" for stack in BOTH}
# === Scanner-clean (issue 23) ===
LOGS_CONTEXT = "kms:EncryptionContext:aws:logs:arn"
INVOCATION_LOG_WRITE = {"kms:ViaService": "s3.us-east-1.amazonaws.com",
                        "kms:EncryptionContext:aws:s3:arn": INVOCATION_LOGS}  # fmt: skip
VIA_LAMBDA = {"kms:ViaService": "lambda.us-east-1.amazonaws.com"}
EC2 = f"arn:aws:ec2:{REGION}:{DATA}"
SOURCE_FUNCTION = "lambda:SourceFunctionArn"


TABLE = f"arn:aws:dynamodb:{REGION}:{DATA}:table/orders"
# What CreateGuardrail names when it uses a cross-Region guardrail profile (iam-data knows the
# action only with one of its optional resources).
GUARDRAIL_PROFILE = f"arn:aws:bedrock:{REGION}:{DATA}:guardrail-profile/us.guardrail.v1:0"
TOPIC = f"arn:aws:sns:{REGION}:{DATA}:alerts"
SECRET = f"arn:aws:secretsmanager:{REGION}:{DATA}:secret:app-AbCdEf"
OTHER_KEY = f"arn:aws:kms:{REGION}:{DATA}:key/2b3c4d5e-0000-4000-8000-000000000000"
IN_DATA_ACCOUNT = {"aws:ResourceAccount": DATA}
WORKGROUP = f"arn:aws:athena:{REGION}:{DATA}:workgroup/private-datalake-prod-{DATA}-athena-curated"
OTHER_WORKGROUP = f"arn:aws:athena:{REGION}:{DATA}:workgroup/primary"
ATHENA_RESULTS = f"arn:aws:s3:::private-datalake-prod-{DATA}-athena"
INVOCATION_LOG_GROUP = (
    f"arn:aws:logs:{REGION}:{DATA}:log-group:/aws/bedrock/modelinvocations/private-datalake-prod"
)
INVOCATION_LOG_STREAM = f"{INVOCATION_LOG_GROUP}:log-stream:aws/bedrock/modelinvocations"
KNOWLEDGE_BASE = "<knowledge-base>"
OTHER_KNOWLEDGE_BASE = f"arn:aws:bedrock:{REGION}:{DATA}:knowledge-base/OTHERKB001"
INDEX = "<vector-bucket>/index/chunks"
VECTOR_BUCKET = "<vector-bucket>"
TITAN_EMBED = model("amazon.titan-embed-text-v2:0")
AGENT_RUNTIME = "bedrock-agent-runtime"


def knowledge_base_source(resource: str, account: str = DATA) -> dict[str, str]:
    """What Bedrock puts in the context when it assumes a role for a knowledge base."""
    return {"aws:SourceAccount": account, "aws:SourceArn": resource}


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
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    organization_policies: bool = False
    """Evaluate with the SCP and RCP the stack outputs, attached to the data account."""
    without_bucket_policy: bool = False
    """After the root user's break-glass: the data bucket has no policy."""
    endpoint: str = "bedrock-runtime"
    """The VPC endpoint a Bedrock request from the VPC goes to."""


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
    Row("over-privileged", "s3:GetObject", "curated/x.csv", ALLOWED_ENDPOINT, TLS, None,
        EXPLICIT, "bucket.allowedVpcEndpointIds admit data requests through access points only",
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
    # === The data perimeter (issue 12) ===
    # --- 1. Listing beyond the mode: only ListBucket within the prefix passes an access point ---
    *[Row("analytics+s3:*", action, prefix, VPC, TLS, "analytics", EXPLICIT,
          f"no listing of versions or uploads through a read access point ({prefix or 'all'})")
      for action in ("s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
      for prefix in ("curated/", "raw/", "")],
    Row("ingest+s3:*", "s3:ListBucketMultipartUploads", "raw/", VPC, TLS, "ingest", EXPLICIT,
        "a drop box lists nothing"),
    Row("curation+s3:*", "s3:ListBucketVersions", "curated/", VPC, TLS, "curation", EXPLICIT,
        "readwrite lists keys, not versions", stacks=("prod",)),
    # --- 2. The data only through an access point, from any VPC, for all but the admins ---
    *[Row("over-privileged", action, "curated/x.csv", origin, TLS, None, EXPLICIT,
          f"no direct {action} from an allowed VPC ({origin})", stacks=("prod",))
      for action in ("s3:PutObject", "s3:DeleteObjectVersion")
      for origin in (ALLOWED_ENDPOINT, PARTNER_VPC)],
    Row("over-privileged", "s3:GetObject", "curated/x.csv", PARTNER_VPC, TLS, None, EXPLICIT,
        "no direct reads from a cross-account access point's VPC", stacks=("prod",)),
    Row("over-privileged", "s3:DeleteObjectVersion", "curated/x.csv", VPC, TLS, None, DENY,
        "no permanent deletion from the stack's VPC"),
    Row("platform-admin", "s3:GetObject", "curated/x.csv", VPC, TLS, None, DENY,
        "the endpoint keeps even administrators to access points inside the data VPC",
        stacks=("dev",)),
    Row("deployer", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, ALLOW,
        "the deploying role reaches the data directly (it empties throwaway buckets)"),
    # --- 3. Who may use a cross-account access point, whatever its owner writes in its policy ---
    Row("partner-reader+s3:*", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, TLS,
        WIDENED + "partner-share", ALLOW, "the configured partner principal still reads",
        stacks=("prod",)),
    Row("thief", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, TLS,
        WIDENED + "partner-share", DENY,
        "a third account through a widened partner access point", stacks=("prod",)),
    Row("partner-other+s3:*", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, TLS,
        WIDENED + "partner-share", EXPLICIT,
        "another partner role through its widened access point", stacks=("prod",)),
    Row("over-privileged", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, TLS,
        WIDENED + "partner-share", EXPLICIT,
        "a data-account role through a widened partner access point", stacks=("prod",)),
    # --- 4. Only the administrators and the deployer change the bucket and its access points ---
    *[Row("over-privileged", action, "", origin, TLS, None,
          EXPLICIT if origin == INTERNET else DENY, f"only administrators may {action} ({origin})")
      for action in ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning",
                     "s3:PutLifecycleConfiguration", "s3:PutReplicationConfiguration",
                     "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock",
                     "s3:PutBucketOwnershipControls", "s3:PutBucketLogging", "s3:PutBucketAcl",
                     "s3:DeleteBucket")
      for origin in (INTERNET, VPC)],
    Row("analytics+s3:*", "s3:PutBucketPolicy", "", INTERNET, TLS, None, EXPLICIT,
        "an application role cannot rewrite the bucket policy"),
    Row("deployer", "s3:PutBucketPolicy", "", INTERNET, TLS, None, ALLOW,
        "the deploying role updates the bucket policy without being listed"),
    Row("deployer", "s3:PutEncryptionConfiguration", "", INTERNET, TLS, None, ALLOW,
        "the deploying role updates the bucket's settings"),
    Row("sso-data-admin", "s3:PutBucketVersioning", "", INTERNET, TLS, None, ALLOW,
        "the DataAdmin permission set manages the bucket", stacks=("prod",)),
    *[Row("over-privileged", action, "", VPC, TLS, "analytics", EXPLICIT,
          f"{action}: the organization policies stop non-administrators",
          organization_policies=True)
      for action in ("s3:PutAccessPointPolicy", "s3:DeleteAccessPointPolicy",
                     "s3:DeleteAccessPoint")],
    Row("over-privileged", "s3:PutAccessPointPolicy", "", VPC, TLS, "analytics", ALLOW,
        "without the organization policies nothing stops it: AWS applies no bucket or endpoint "
        "policy to S3 Control (README: what remains the organization's job)"),
    Row("deployer", "s3:PutAccessPointPolicy", "", INTERNET, TLS, "analytics", ALLOW,
        "the deployer manages access points under the organization policies",
        organization_policies=True),
    Row("platform-admin", "s3:DeleteAccessPoint", "", INTERNET, TLS, "analytics", ALLOW,
        "an administrator manages access points under the organization policies",
        stacks=("dev",), organization_policies=True),
    Row("sso-data-admin-eu", "s3:DeleteAccessPointPolicy", "", INTERNET, TLS, "analytics", ALLOW,
        "the permission set's role in a Region path manages access points",
        stacks=("prod",), organization_policies=True),
    # --- 5. Access points created outside the stack ---
    *[Row(principal, action, "curated/x.csv", VPC, TLS, ap, EXPLICIT,
          f"{action} through an access point the stack did not create ({ap})")
      for principal in ("over-privileged", "analytics+s3:*")
      for action in ("s3:GetObject", "s3:DeleteObject")
      for ap in (ROGUE_ACCESS_POINT, ROGUE_INTERNET_ACCESS_POINT)],
    Row("over-privileged", "s3:GetObject", "curated/x.csv", INTERNET, TLS,
        ROGUE_INTERNET_ACCESS_POINT, EXPLICIT, "a rogue Internet access point from outside"),
    Row("over-privileged", "s3:CreateAccessPoint", "", INTERNET, TLS, ROGUE_ACCESS_POINT, EXPLICIT,
        "the organization policies stop creating access points in the data account",
        organization_policies=True),
    Row("deployer", "s3:CreateAccessPoint", "", INTERNET, TLS, ROGUE_ACCESS_POINT, ALLOW,
        "the deployer creates the stack's access points", organization_policies=True),
    Row("over-privileged", "s3:GetObject", "curated/x.csv", VPC, TLS, ROGUE_ACCESS_POINT, ALLOW,
        "beyond 100 access points the bucket cannot name each: preventing rogue access points "
        "is the organization's job (README)", stacks=("prod-wide",)),
    *[Row("over-privileged", action, "curated/x.csv", VPC, TLS, ROGUE_ACCESS_POINT, EXPLICIT,
          f"beyond 100 access points, still no {action} through any access point",
          stacks=("prod-wide",))
      for action in ("s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:ListBucketVersions")],
    Row("over-privileged", "s3:GetObject", "curated/x.csv", VPC, TLS,
        ROGUE_INTERNET_ACCESS_POINT, EXPLICIT,
        "beyond 100 access points, still no unconfigured Internet access point",
        stacks=("prod-wide",)),
    Row("thief", "s3:GetObject", "curated/x.csv", ALLOWED_ENDPOINT, TLS,
        ROGUE_OPEN_ACCESS_POINT, EXPLICIT,
        "an open rogue access point still serves no one outside the organization",
        stacks=("prod", "prod-wide")),
    # --- 6. Writes use the data key or none ---
    Row("ingest", "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", EXPLICIT,
        "another account's KMS key", context=SSE_FOREIGN_KEY),
    Row("ingest", "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", EXPLICIT,
        "SSE-S3 instead of the data key", context={"s3:x-amz-server-side-encryption": "AES256"}),
    Row("ingest", "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", EXPLICIT,
        "a customer-provided key (SSE-C)",
        context={"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"}),
    Row("ingest", "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", ALLOW,
        "naming the data key", context=SSE_DATA_KEY),
    Row("curation", "s3:PutObject", "curated/x.csv", VPC, TLS, "curation", EXPLICIT,
        "readwrite with a foreign key", stacks=("prod",), context=SSE_FOREIGN_KEY),
    Row("deployer", "s3:PutObject", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "administrators too write with the data key only",
        context={"s3:x-amz-server-side-encryption": "AES256"}),
    # --- 7. The perimeter: principals of the organization (prod) or the account (dev) ---
    Row("thief", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "a principal outside the perimeter"),
    Row("partner-admin", "s3:GetObject",
        "arn:aws:s3:::al2023-repos-us-east-1-de612dc2/core/repodata/repomd.xml", VPC, TLS, None,
        DENY, "the S3 endpoint serves the perimeter's principals only", stacks=("prod",)),
    Row("over-privileged", "sts:AssumeRole", "arn:aws:iam::999999999999:role/exfil", VPC, TLS,
        None, DENY, "the sts endpoint assumes no role outside the organization",
        stacks=("prod",)),
    Row("over-privileged", "sts:AssumeRole", role(DATA, "etl"), VPC, TLS, None, ALLOW,
        "the sts endpoint assumes roles of the organization", stacks=("prod",),
        context=IN_ORGANIZATION),
    Row("partner-admin", "sts:AssumeRole", role(DATA, "etl"), VPC, TLS, None, DENY,
        "the sts endpoint serves no credentials from outside the organization",
        stacks=("prod",), context=IN_ORGANIZATION),
    *[Row("over-privileged", action, resource, VPC, TLS, None, DENY,
          f"the logs endpoint carries no {action}", stacks=("prod",), context=IN_ORGANIZATION)
      for action, resource in (
          ("logs:PutSubscriptionFilter", LOG_GROUP),
          ("logs:CreateExportTask", LOG_GROUP),
          ("logs:DeleteLogGroup", LOG_GROUP),
          ("logs:PutDestination", f"arn:aws:logs:{REGION}:{DATA}:destination:exfil"),
      )],
    Row("over-privileged", "logs:PutLogEvents", f"{LOG_GROUP}:log-stream:app", VPC, TLS, None,
        ALLOW, "the logs endpoint carries log events", stacks=("prod",), context=IN_ORGANIZATION),
    # --- 8. The access-log bucket: TLS, administrators only ---
    *[Row("over-privileged", action, f"{LOGS[stack]}{key}", origin, TLS, None,
          EXPLICIT if origin == INTERNET else DENY,
          f"the access logs are for administrators ({action})", stacks=(stack,))
      for stack in BOTH
      for action, key in (("s3:GetObject", "/2026/12/03/x"), ("s3:DeleteObject", "/2026/12/03/x"),
                          ("s3:ListBucket", ""))
      for origin in (INTERNET, VPC)],
    Row("over-privileged", "s3:PutBucketPolicy", LOGS["dev"], INTERNET, TLS, None, EXPLICIT,
        "only administrators change the log bucket", stacks=("dev",)),
    Row("platform-admin", "s3:GetObject", LOGS["dev"] + "/2026/12/03/x", INTERNET, TLS, None,
        ALLOW, "an administrator reads the access logs", stacks=("dev",)),
    Row("sso-data-admin", "s3:GetObject", LOGS["prod"] + "/2026/12/03/x", INTERNET, TLS, None,
        ALLOW, "the DataAdmin permission set reads the access logs", stacks=("prod",)),
    Row("platform-admin", "s3:GetObject", LOGS["dev"] + "/2026/12/03/x", INTERNET, PLAIN, None,
        EXPLICIT, "the access logs need TLS", stacks=("dev",)),
    # --- 9. Permission-set administrators: exactly their role, in any Region path ---
    Row("sso-data-admin-eu", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, ALLOW,
        "the permission set's role under a Region path", stacks=("prod",)),
    Row("sso-data-admin-contractors", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None,
        EXPLICIT, "another permission set whose name starts alike", stacks=("prod",)),
    Row("sso-data-admin-contractors", "s3:PutBucketPolicy", "", INTERNET, TLS, None, EXPLICIT,
        "another permission set cannot manage the bucket", stacks=("prod",)),
    # --- 10. The data key, through S3, for this bucket (dev: the stack creates its key) ---
    Row("analytics", "kms:Decrypt", "data-key", VPC, TLS, None, ALLOW,
        "an application decrypts through S3 for this bucket", stacks=("dev",),
        context=KMS_VIA_S3),
    Row("ingest", "kms:GenerateDataKey", "data-key", VPC, TLS, None, ALLOW,
        "an application encrypts through S3 for this bucket", stacks=("dev",),
        context=KMS_VIA_S3),
    Row("analytics", "kms:Decrypt", "data-key", VPC, TLS, None, DENY,
        "not through another service", stacks=("dev",),
        context={**KMS_VIA_S3, "kms:ViaService": "ec2.us-east-1.amazonaws.com"}),
    Row("analytics", "kms:Decrypt", "data-key", VPC, TLS, None, DENY,
        "not for another bucket", stacks=("dev",),
        context={**KMS_VIA_S3, "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::other"}),
    Row("analytics", "kms:Decrypt", "data-key", VPC, TLS, None, DENY,
        "not directly", stacks=("dev",),
        context={k: v for k, v in KMS_VIA_S3.items() if k != "kms:ViaService"}),
    Row("thief", "kms:Decrypt", "data-key", INTERNET, TLS, None, DENY,
        "not from another account", stacks=("dev",),
        context={**KMS_VIA_S3, "kms:CallerAccount": THIEF}),
    # --- 12. Athena on a caller's behalf, through a viaServices access point (prod) ---
    Row("bi-dashboards", "s3:GetObject", "curated/kpi.parquet", INTERNET, TLS, "athena-curated",
        ALLOW, "Athena reads for the BI role", stacks=("prod",), context=VIA_ATHENA),
    Row("bi-dashboards", "s3:ListBucket", "curated/", INTERNET, TLS, "athena-curated",
        ALLOW, "Athena lists for the BI role", stacks=("prod",), context=VIA_ATHENA),
    Row("bi-dashboards+s3:*", "s3:GetObject", "curated/kpi.parquet", INTERNET, TLS,
        "athena-curated", EXPLICIT, "the BI role itself, not through Athena", stacks=("prod",)),
    Row("bi-dashboards+s3:*", "s3:GetObject", "curated/kpi.parquet", VPC, TLS,
        "athena-curated", EXPLICIT, "the BI role from the VPC, not through Athena",
        stacks=("prod",)),
    Row("analytics+s3:*", "s3:GetObject", "curated/kpi.parquet", INTERNET, TLS,
        "athena-curated", EXPLICIT, "Athena for a role the access point does not list",
        stacks=("prod",), context=VIA_ATHENA),
    Row("bi-dashboards", "s3:GetObject", "raw/batch-0001.json", INTERNET, TLS,
        "athena-curated", DENY, "Athena outside the prefix", stacks=("prod",),
        context=VIA_ATHENA),
    Row("over-privileged", "s3:GetObject", "curated/kpi.parquet", INTERNET, TLS, None,
        EXPLICIT, "Athena to the bucket directly", stacks=("prod",), context=VIA_ATHENA),
    Row("thief", "s3:GetObject", "curated/kpi.parquet", INTERNET, TLS, "athena-curated",
        DENY, "Athena for another account's principal", stacks=("prod",), context=VIA_ATHENA),
    # --- Bedrock: the function and its models, through the bedrock-runtime endpoint ---
    # Every call the function makes carries its guardrail (GUARDED); see the last section.
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, ALLOW,
        "a configured foundation model", context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModelWithResponseStream", model(NOVA), VPC, TLS, None, DENY,
        "streaming is off", context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA, "us-west-2"), VPC, TLS, None, DENY,
        "a foundation model is allowed in the stack's Region only", context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", model("amazon.titan-text-express-v1"), VPC, TLS, None,
        DENY, "a model that is not configured", context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU), VPC, TLS, None, DENY,
        "a model configured behind a profile is not callable directly", stacks=("prod",),
        context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "eu-west-1"), VPC, TLS, None, DENY,
        "routed by a profile that is not configured", stacks=("prod",),
        context={"bedrock:InferenceProfileArn": profile(f"eu.{HAIKU}", "eu-west-1")}),
    Row(FUNCTION, "bedrock:InvokeModel", profile("us.anthropic.claude-3-opus-20240229-v1:0"),
        VPC, TLS, None, DENY, "a profile that is not configured", stacks=("prod",),
        context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", model("anthropic.claude-3-opus-20240229-v1:0",
        "us-west-2"), VPC, TLS, None, DENY,
        "another model, even with a configured profile's ARN in the context", stacks=("prod",),
        context=ROUTED_BY_HAIKU_APP_PROFILE),
    Row("over-privileged", "bedrock:InvokeModel", model("amazon.titan-text-express-v1"), VPC,
        TLS, None, DENY, "the endpoint refuses models that are not configured",
        context=GUARDED),
    Row("partner-admin", "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "the endpoint refuses other accounts' credentials", stacks=("prod",), context=GUARDED),
    # --- Bedrock governance (issue 14): guardrail, application profile, invocation logging ---
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "a call without the guardrail"),
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "a call with another guardrail of the account", context=OTHER_GUARDRAIL),
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "a call with the guardrail's draft instead of its published version",
        context={"bedrock:GuardrailIdentifier": "<guardrail>:DRAFT"}),
    Row(FUNCTION, "bedrock:ApplyGuardrail", "<guardrail>", VPC, TLS, None, ALLOW,
        "Bedrock applies the guardrail with the function's permissions"),
    Row(FUNCTION, "bedrock:ApplyGuardrail", OTHER_GUARDRAIL_ARN, VPC, TLS, None, DENY,
        "no other guardrail"),
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "the endpoint refuses calls without a guardrail, whatever IAM allows"),
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "the endpoint admits the stack's guardrail version alone, not another of the account",
        context=OTHER_GUARDRAIL),
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, ALLOW,
        "the endpoint admits a configured model with the stack's guardrail version",
        context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", HAIKU_APP_PROFILE, VPC, TLS, None, ALLOW,
        "the application profile that carries the cost tags", stacks=("prod",),
        context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", HAIKU_APP_PROFILE, VPC, TLS, None, DENY,
        "the application profile without the guardrail", stacks=("prod",)),
    Row(FUNCTION, "bedrock:InvokeModel", HAIKU_PROFILE, VPC, TLS, None, ALLOW,
        "the system profile behind the application profile, through it", stacks=("prod",),
        context=ROUTED_BY_HAIKU_APP_PROFILE),
    Row(FUNCTION, "bedrock:InvokeModel", HAIKU_PROFILE, VPC, TLS, None, DENY,
        "the system profile directly: spend would miss the cost tags", stacks=("prod",),
        context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "us-east-1"), VPC, TLS, None, ALLOW,
        "the profile routes to its foundation model at home", stacks=("prod",),
        context=ROUTED_BY_HAIKU_APP_PROFILE),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "us-west-2"), VPC, TLS, None, ALLOW,
        "the profile routes to another Region", stacks=("prod",),
        context=ROUTED_BY_HAIKU_APP_PROFILE),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "us-west-2"), VPC, TLS, None, DENY,
        "the foundation model through the system profile, bypassing the application profile",
        stacks=("prod",), context=ROUTED_BY_HAIKU_PROFILE),
    Row(FUNCTION, "bedrock:InvokeModel", HAIKU_PROFILE, INTERNET, TLS, None, DENY,
        "the function's credentials outside the VPC: its role alone keeps the system profile "
        "behind the application profile", stacks=("prod",), context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA), INTERNET, TLS, None, DENY,
        "the function's credentials outside the VPC: its role alone requires the guardrail"),
    Row(FUNCTION, "bedrock:InvokeModel", application_profile("0ther0profile"), VPC, TLS, None,
        DENY, "another application profile of the account", stacks=("prod",),
        context=GUARDED),
    Row(BEDROCK_SERVICE, "sts:AssumeRole", LOGGING_ROLE, INTERNET, TLS, None, ALLOW,
        "Bedrock delivers this account's invocation logs", stacks=("prod",),
        context=bedrock_source(DATA)),
    Row(BEDROCK_SERVICE, "sts:AssumeRole", LOGGING_ROLE, INTERNET, TLS, None, DENY,
        "Bedrock acting for another account cannot use the delivery role", stacks=("prod",),
        context=bedrock_source(FOREIGN)),
    Row(BEDROCK_SERVICE, "sts:AssumeRole", LOGGING_ROLE, INTERNET, TLS, None, DENY,
        "another account naming our resources", stacks=("prod",),
        context={**bedrock_source(DATA), "aws:SourceAccount": FOREIGN}),
    Row(BEDROCK_SERVICE, "sts:AssumeRole", LOGGING_ROLE, INTERNET, TLS, None, DENY,
        "our account's Bedrock in another Region", stacks=("prod",),
        context=bedrock_source(DATA, "eu-west-1")),
    *[Row("over-privileged", action, f"{INVOCATION_LOGS}{key}", origin, TLS, None,
          EXPLICIT if origin == INTERNET else DENY,
          f"the invocation logs are for administrators ({action})", stacks=("prod",))
      for action, key in (("s3:GetObject", INVOCATION_LOG), ("s3:PutObject", INVOCATION_LOG),
                          ("s3:DeleteObject", INVOCATION_LOG), ("s3:ListBucket", ""))
      for origin in (INTERNET, VPC)],
    Row("over-privileged", "s3:PutBucketPolicy", INVOCATION_LOGS, INTERNET, TLS, None, EXPLICIT,
        "only administrators change the invocation-log bucket", stacks=("prod",)),
    Row("sso-data-admin", "s3:GetObject", f"{INVOCATION_LOGS}{INVOCATION_LOG}", INTERNET, TLS,
        None, ALLOW, "the DataAdmin permission set reads the invocation logs", stacks=("prod",)),
    Row("ci-deployer", "s3:GetObject", f"{INVOCATION_LOGS}{INVOCATION_LOG}", INTERNET, PLAIN,
        None, EXPLICIT, "the invocation logs need TLS", stacks=("prod",)),
    # === The perimeter by construction (issue 18): each class closed, legitimate paths open ===
    # --- 1. No path but the access points': every action, replication included ---
    *[Row(principal, action, "curated/x.csv", origin, TLS, None, EXPLICIT,
          f"{action} reaches the bucket without an access point ({origin})")
      for principal in ("over-privileged", "analytics+s3:*")
      for action in ("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags",
                     "s3:ObjectOwnerOverrideToBucketOwner", "s3:InitiateReplication",
                     "s3:UpdateObjectEncryption", "s3:PutObjectAcl", "s3:PutObjectRetention",
                     "s3:GetObjectAttributes", "s3:GetObjectVersionForReplication")
      for origin in (INTERNET, OTHER_ENDPOINT_IN_VPC)],
    Row("partner-replication+s3:*", "s3:ReplicateObject", "inbound/partner/a.csv", INTERNET, TLS,
        None, ALLOW, "the configured replication source writes replicas into its prefix",
        stacks=("prod",)),
    Row("partner-replication+s3:*", "s3:ReplicateDelete", "inbound/partner/a.csv", INTERNET,
        TLS, None, ALLOW, "the configured replication source replicates delete markers",
        stacks=("prod",)),
    Row("partner-replication+s3:*", "s3:ReplicateObject", "curated/poison.csv", INTERNET, TLS,
        None, EXPLICIT, "the replication source outside its prefix", stacks=("prod",)),
    Row("partner-replication+s3:*", "s3:GetObject", "inbound/partner/a.csv", INTERNET, TLS,
        None, EXPLICIT, "the replication source reads nothing", stacks=("prod",)),
    Row("partner-other+s3:*", "s3:ReplicateObject", "inbound/partner/a.csv", INTERNET, TLS,
        None, EXPLICIT, "another role of the partner cannot replicate in", stacks=("prod",)),
    Row("over-privileged", "s3:ReplicateObject", "inbound/partner/a.csv", INTERNET, TLS, None,
        EXPLICIT, "a data-account role cannot replicate in either", stacks=("prod",)),
    Row("config-reader+s3:*", "s3:GetBucketPolicy", "", INTERNET, TLS, None, ALLOW,
        "a configuration reader reads the bucket's settings", stacks=("prod",)),
    Row("config-reader+s3:*", "s3:GetEncryptionConfiguration", "", INTERNET, TLS, None, ALLOW,
        "a configuration reader reads the encryption settings", stacks=("prod",)),
    Row("config-reader+s3:*", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "a configuration reader reads no data", stacks=("prod",)),
    Row("over-privileged", "s3:GetBucketPolicy", "", INTERNET, TLS, None, EXPLICIT,
        "a role that is no configuration reader reads no settings"),
    Row("analytics+s3:*", "s3:GetObjectAcl", "curated/x.csv", VPC, TLS, "analytics", EXPLICIT,
        "an action no mode grants, through an access point"),
    # --- 2. Writes name the data key, or no encryption at all ---
    *[Row("ingest", "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", EXPLICIT,
          f"{algorithm} without a key id would use the AWS managed aws/s3 key",
          context={"s3:x-amz-server-side-encryption": algorithm})
      for algorithm in ("aws:kms", "aws:kms:dsse")],
    Row("ingest", "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", ALLOW,
        "dual-layer encryption with the data key",
        context={**SSE_DATA_KEY, "s3:x-amz-server-side-encryption": "aws:kms:dsse"}),
    Row("ingest", "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", ALLOW,
        "no encryption named: the bucket's default, the data key"),
    # --- 3. Endpoints serve vetted actions only ---
    *[Row("over-privileged", action, TABLE, VPC, TLS, None, DENY,
          f"the DynamoDB endpoint carries no {action}")
      for action in ("dynamodb:ExportTableToPointInTime", "dynamodb:PutResourcePolicy",
                     "dynamodb:DeleteTable", "dynamodb:CreateBackup",
                     "dynamodb:RestoreTableToPointInTime")],
    Row("over-privileged", "dynamodb:GetItem", TABLE, VPC, TLS, None, ALLOW,
        "the DynamoDB endpoint carries item reads on the data account's tables"),
    Row("over-privileged", "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{THIEF}:table/exfil",
        VPC, TLS, None, DENY, "the DynamoDB endpoint reaches no other account's table"),
    Row("over-privileged", "sns:Subscribe", TOPIC, VPC, TLS, None, DENY,
        "the sns endpoint carries no subscription (to an outside address)",
        stacks=("dev-every-endpoint",), context=IN_DATA_ACCOUNT),
    Row("over-privileged", "sns:Publish", TOPIC, VPC, TLS, None, ALLOW,
        "the sns endpoint carries publishing to the account's topics",
        stacks=("dev-every-endpoint",), context=IN_DATA_ACCOUNT),
    Row("over-privileged", "secretsmanager:PutResourcePolicy", SECRET, VPC, TLS, None, DENY,
        "the secretsmanager endpoint changes no resource policy",
        stacks=("dev-every-endpoint",), context=IN_DATA_ACCOUNT),
    Row("over-privileged", "kms:ScheduleKeyDeletion", OTHER_KEY, VPC, TLS, None, DENY,
        "the kms endpoint schedules no key deletion", stacks=("dev-every-endpoint",),
        context=IN_DATA_ACCOUNT),
    # --- 4. The stack's own S3 endpoint, not its VPC ---
    *[Row(principal, "s3:GetObject", "curated/x.csv", OTHER_ENDPOINT_IN_VPC, TLS, ap, EXPLICIT,
          f"{principal} through another S3 endpoint of the stack's VPC",
          stacks=("dev", "prod", "byo-vpc"))
      for principal, ap in (("analytics", "analytics"), (FUNCTION, "analytics"))],
    Row("ingest", "s3:PutObject", "raw/x.json", OTHER_ENDPOINT_IN_VPC, TLS, "ingest", EXPLICIT,
        "writes through another S3 endpoint of the stack's VPC", stacks=("dev", "byo-vpc")),
    Row("analytics", "s3:GetObject", "curated/x.csv", VPC, TLS, "analytics", ALLOW,
        "the stack's own endpoint in a VPC of the user's", stacks=("byo-vpc",)),
    Row("partner-reader+s3:*", "s3:GetObject", "shared/partner/a.csv", OTHER_VPC, TLS,
        "partner-share", EXPLICIT, "the partner's access point used from another VPC",
        stacks=("prod",)),
    Row("partner-reader+s3:*", "s3:GetObject", "shared/partner/a.csv", INTERNET, TLS,
        WIDENED + "partner-share", EXPLICIT,
        "the partner's access point re-created open to the Internet", stacks=("prod",)),
    # --- 5. Athena: its workgroups, its results bucket, its endpoint ---
    Row("bi-dashboards+*", "athena:StartQueryExecution", OTHER_WORKGROUP, INTERNET, TLS,
        None, EXPLICIT, "the Athena principal in another workgroup (results anywhere)",
        stacks=("prod",), organization_policies=True),
    Row("bi-dashboards+*", "athena:StartQueryExecution", WORKGROUP, VPC, TLS, None, ALLOW,
        "the Athena principal in the stack's workgroup, through the stack's endpoint",
        stacks=("prod",), organization_policies=True, context=IN_ORGANIZATION),
    Row("bi-dashboards+*", "athena:StartQueryExecution", WORKGROUP, INTERNET, TLS, None,
        EXPLICIT, "the Athena principal from outside the stack's endpoint", stacks=("prod",),
        organization_policies=True),
    Row("bi-dashboards+*", "athena:StartQueryExecution", WORKGROUP, INTERNET, TLS, None,
        ALLOW, "without the organization policies Athena is reached from anywhere (README)",
        stacks=("prod",)),
    Row("bi-dashboards", "s3:PutObject", f"{ATHENA_RESULTS}/athena-curated/q.csv", INTERNET,
        TLS, None, ALLOW, "Athena writes the BI role's query results", stacks=("prod",),
        context=VIA_ATHENA),
    Row("bi-dashboards", "s3:GetObject", f"{ATHENA_RESULTS}/athena-curated/q.csv", INTERNET,
        TLS, None, ALLOW, "Athena reads them back for it", stacks=("prod",),
        context=VIA_ATHENA),
    Row("bi-dashboards+s3:*", "s3:GetObject", f"{ATHENA_RESULTS}/athena-curated/q.csv",
        INTERNET, TLS, None, EXPLICIT, "the BI role itself, not through Athena",
        stacks=("prod",)),
    Row("over-privileged", "s3:GetObject", f"{ATHENA_RESULTS}/athena-curated/q.csv", INTERNET,
        TLS, None, EXPLICIT, "another role of the account, even through Athena",
        stacks=("prod",), context=VIA_ATHENA),
    Row("bi-dashboards", "s3:PutObject", f"{ATHENA_RESULTS}/athena-curated/q.csv", INTERNET,
        TLS, None, EXPLICIT, "results under another key", stacks=("prod",),
        context={**VIA_ATHENA, **SSE_FOREIGN_KEY}),
    Row("sso-data-admin", "s3:GetObject", f"{ATHENA_RESULTS}/athena-curated/q.csv", INTERNET,
        TLS, None, ALLOW, "an administrator reads the results", stacks=("prod",)),
    # --- 6. Bedrock governance under the organization policies ---
    *[Row("over-privileged", action, resource, INTERNET, TLS, None, EXPLICIT,
          f"{action}: only administrators", organization_policies=True)
      for action, resource in (
          ("bedrock:PutModelInvocationLoggingConfiguration", "*"),
          ("bedrock:DeleteModelInvocationLoggingConfiguration", "*"),
          ("bedrock:CreateGuardrail", GUARDRAIL_PROFILE),
          ("bedrock:UpdateGuardrail", "<guardrail>"),
          ("bedrock:DeleteGuardrail", "<guardrail>"),
          ("bedrock:CreateGuardrailVersion", "<guardrail>"),
          ("bedrock:PutResourcePolicy", "<guardrail>"),
      )],
    Row("over-privileged", "bedrock:PutModelInvocationLoggingConfiguration", "*", INTERNET, TLS,
        None, ALLOW, "without the organization policies nothing stops it (README)"),
    Row("sso-data-admin", "bedrock:PutModelInvocationLoggingConfiguration", "*", INTERNET, TLS,
        None, ALLOW, "an administrator changes invocation logging", stacks=("prod",),
        organization_policies=True),
    Row("platform-admin", "bedrock:UpdateGuardrail", "<guardrail>", INTERNET, TLS, None, ALLOW,
        "an administrator updates the guardrail", stacks=("dev",), organization_policies=True),
    Row("over-privileged", "bedrock:GetGuardrail", "<guardrail>", INTERNET, TLS, None, ALLOW,
        "reading the guardrail stays open", organization_policies=True),
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA), INTERNET, TLS, None, EXPLICIT,
        "a model call without a guardrail", organization_policies=True),
    Row("platform-admin", "bedrock:InvokeModel", model(NOVA), INTERNET, TLS, None, EXPLICIT,
        "an administrator's model call without a guardrail too", stacks=("dev",),
        organization_policies=True),
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA), INTERNET, TLS, None, ALLOW,
        "a model call with a published guardrail of the account", organization_policies=True,
        context=OTHER_GUARDRAIL),
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA), INTERNET, TLS, None, EXPLICIT,
        "a model call with a guardrail's DRAFT", organization_policies=True,
        context={"bedrock:GuardrailIdentifier": "<guardrail>:DRAFT"}),
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA), INTERNET, TLS, None, EXPLICIT,
        "a model call with another account's guardrail", organization_policies=True,
        context={
            "bedrock:GuardrailIdentifier": f"arn:aws:bedrock:{REGION}:{THIEF}:guardrail/x:1"
        }),
    Row("over-privileged", "bedrock:InvokeModel", application_profile("0ther0profile"), INTERNET,
        TLS, None, EXPLICIT, "an application profile entered without a guardrail",
        stacks=("prod",), organization_policies=True),
    Row("over-privileged", "bedrock:InvokeModel", HAIKU_PROFILE, INTERNET, TLS, None, EXPLICIT,
        "a system inference profile entered without a guardrail", stacks=("prod",),
        organization_policies=True),
    Row("over-privileged", "bedrock:InvokeModel", model(HAIKU, "us-west-2"), INTERNET, TLS, None,
        EXPLICIT, "a foundation model routed by another account's profile, without a guardrail",
        stacks=("prod",), organization_policies=True,
        context={"bedrock:InferenceProfileArn":
                 f"arn:aws:bedrock:{REGION}:{THIEF}:inference-profile/us.{HAIKU}"}),
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, ALLOW,
        "the function's call under the organization policies", organization_policies=True,
        context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", HAIKU_APP_PROFILE, VPC, TLS, None, ALLOW,
        "the function's call through its application profile, under them", stacks=("prod",),
        organization_policies=True, context=GUARDED),
    Row(FUNCTION, "bedrock:InvokeModel", HAIKU_PROFILE, VPC, TLS, None, ALLOW,
        "routed on to the system profile, under them", stacks=("prod",),
        organization_policies=True, context=ROUTED_BY_HAIKU_APP_PROFILE),
    # --- 10. The bedrock-runtime endpoint: the stack's guardrail version and profiles only ---
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "the endpoint refuses the guardrail's DRAFT",
        context={"bedrock:GuardrailIdentifier": "<guardrail>:DRAFT"}),
    Row("over-privileged", "bedrock:InvokeModel", application_profile("0ther0profile"), VPC,
        TLS, None, DENY, "the endpoint refuses an application profile the stack did not make",
        stacks=("prod",), context=GUARDED),
    Row("over-privileged", "bedrock:InvokeModel", model(HAIKU, "us-west-2"), VPC, TLS, None,
        DENY, "the endpoint refuses a model routed by another application profile",
        stacks=("prod",),
        context={"bedrock:InferenceProfileArn": application_profile("0ther0profile")}),
    # --- 7. The CloudWatch copy of the invocation logs: administrators read, Bedrock writes ---
    *[Row("over-privileged", action, resource, INTERNET, TLS, None, EXPLICIT,
          f"{action} on the invocation logs: only administrators", stacks=("prod",),
          organization_policies=True)
      for action, resource in (
          ("logs:GetLogEvents", INVOCATION_LOG_STREAM),
          ("logs:FilterLogEvents", INVOCATION_LOG_GROUP),
          ("logs:StartQuery", INVOCATION_LOG_GROUP),
          ("logs:DeleteLogGroup", INVOCATION_LOG_GROUP),
          ("logs:PutRetentionPolicy", INVOCATION_LOG_GROUP),
          ("logs:PutSubscriptionFilter", INVOCATION_LOG_GROUP),
          ("logs:CreateExportTask", INVOCATION_LOG_GROUP),
          ("logs:PutLogEvents", INVOCATION_LOG_STREAM),
      )],
    Row("partner-admin", "logs:GetLogEvents", INVOCATION_LOG_STREAM, INTERNET, TLS, None,
        EXPLICIT, "another account's principal, by the resource control policy",
        stacks=("prod",), organization_policies=True),
    Row("sso-data-admin", "logs:GetLogEvents", INVOCATION_LOG_STREAM, INTERNET, TLS, None,
        ALLOW, "an administrator reads the invocation logs", stacks=("prod",),
        organization_policies=True),
    Row(LOG_WRITER, "logs:PutLogEvents", INVOCATION_LOG_STREAM, INTERNET, TLS, None, ALLOW,
        "Bedrock's delivery role writes them", stacks=("prod",), organization_policies=True),
    Row("over-privileged", "logs:GetLogEvents", INVOCATION_LOG_STREAM, INTERNET, TLS, None,
        ALLOW, "without the organization policies IAM alone decides (README)",
        stacks=("prod",)),
    Row("over-privileged", "logs:GetLogEvents", f"{LOG_GROUP}:log-stream:app", INTERNET, TLS,
        None, ALLOW, "other log groups are untouched", stacks=("prod",),
        organization_policies=True),
    # --- 9. Break-glass: the root user deletes a bucket policy that locks everyone out ---
    Row("root", "s3:DeleteBucketPolicy", "", INTERNET, TLS, None, ALLOW,
        "the root user deletes the bucket policy under the organization policies",
        organization_policies=True),
    Row("root", "s3:PutBucketPolicy", "", INTERNET, TLS, None, EXPLICIT,
        "the root user writes no bucket policy of its own there", organization_policies=True),
    Row("root", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "the root user reads no data"),
    Row("root", "s3:DeleteAccessPoint", "", INTERNET, TLS, "analytics", EXPLICIT,
        "the root user deletes no access point", organization_policies=True),
    *[Row("over-privileged", action, key, INTERNET, TLS, None, EXPLICIT,
          f"with the bucket policy deleted, the organization policies still refuse {action}",
          organization_policies=True, without_bucket_policy=True)
      for action, key in (("s3:DeleteBucketPolicy", ""), ("s3:PutBucketPolicy", ""),
                          ("s3:GetObject", "curated/x.csv"), ("s3:PutObject", "curated/x.csv"),
                          ("s3:ListBucket", ""), ("s3:ReplicateObject", "curated/x.csv"))],
    Row("analytics", "s3:GetObject", "curated/x.csv", VPC, TLS, "analytics", DENY,
        "with the bucket policy deleted, nothing delegates to the access points: applications "
        "wait for the next deployment (it fails closed)", organization_policies=True,
        without_bucket_policy=True),
    Row("over-privileged", "s3:GetObject", "curated/x.csv", INTERNET, TLS, None, ALLOW,
        "with the bucket policy deleted and no organization policies, IAM alone decides: "
        "redeploy at once (README, break-glass)", without_bucket_policy=True),
    Row("ingest+s3:*", "s3:ListBucket", "raw/", VPC, TLS, "ingest", EXPLICIT,
        "a drop box lists nothing, even with s3:* in IAM"),
    # --- 12. The Region rule ---
    Row("over-privileged", "dynamodb:GetItem",
        f"arn:aws:dynamodb:eu-west-1:{DATA}:table/orders", INTERNET, TLS, None, EXPLICIT,
        "another Region", organization_policies=True),
    Row("over-privileged", "dynamodb:GetItem", TABLE, INTERNET, TLS, None, ALLOW,
        "the stack's Region", organization_policies=True),
    Row("over-privileged", "iam:ListRoles", "*", INTERNET, TLS, None, ALLOW,
        "a global service, from us-east-1", organization_policies=True,
        context={"aws:RequestedRegion": "us-east-1"}),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "us-west-2"), VPC, TLS, None, ALLOW,
        "cross-Region inference routes to a destination Region of its profile",
        stacks=("prod",), organization_policies=True, context=ROUTED_BY_HAIKU_APP_PROFILE),
    Row(FUNCTION, "bedrock:InvokeModel", model(HAIKU, "eu-west-1"), VPC, TLS, None, EXPLICIT,
        "a Region the configured profiles do not route to", stacks=("prod",),
        organization_policies=True, context=ROUTED_BY_HAIKU_APP_PROFILE),
    Row("over-privileged", "bedrock:InvokeModel", model(NOVA, "us-west-2"), INTERNET, TLS, None,
        EXPLICIT, "a model called directly in another Region", stacks=("prod",),
        organization_policies=True, context=OTHER_GUARDRAIL),
    # === Private RAG over the lake (issue 21): prod's knowledge base over curated/ ===
    # The role Bedrock ingests with reads its prefix directly, and nothing else.
    Row(KB_ROLE, "s3:GetObject", "curated/reports/q3.pdf", INTERNET, TLS, None, ALLOW,
        "the knowledge base role reads its prefix directly (ingestion)", stacks=("prod",)),
    Row(KB_ROLE, "s3:ListBucket", "curated/", INTERNET, TLS, None, ALLOW,
        "the knowledge base role lists its prefix", stacks=("prod",)),
    Row(KB_ROLE, "s3:GetObject", "curated/reports/q3.pdf", INTERNET, TLS, None, ALLOW,
        "the knowledge base role reads under the organization policies", stacks=("prod",),
        organization_policies=True),
    Row(KB_ROLE, "s3:GetObject", "raw/batch-0001.json", INTERNET, TLS, None, DENY,
        "the knowledge base role reads no other prefix", stacks=("prod",)),
    Row(KB_ROLE, "s3:PutObject", "curated/x.csv", INTERNET, TLS, None, DENY,
        "the knowledge base role writes nothing", stacks=("prod",)),
    Row(KB_ROLE, "s3:GetObject", "raw/batch-0001.json", INTERNET, TLS, None, DENY,
        "its own policy reads no other prefix, the bucket policy deleted", stacks=("prod",),
        without_bucket_policy=True),
    Row("kb-role+s3:*", "s3:GetObject", "raw/batch-0001.json", INTERNET, TLS, None, EXPLICIT,
        "the bucket holds the knowledge base role to its prefixes whatever its IAM says",
        stacks=("prod",)),
    Row("kb-role+s3:*", "s3:ListBucket", "", INTERNET, TLS, None, EXPLICIT,
        "the knowledge base role cannot list the whole bucket", stacks=("prod",)),
    Row("kb-role+s3:*", "s3:ListBucket", "raw/", INTERNET, TLS, None, EXPLICIT,
        "the knowledge base role cannot list another prefix", stacks=("prod",)),
    Row("kb-role+s3:*", "s3:PutObject", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "the bucket lets the knowledge base role write nothing", stacks=("prod",)),
    Row("kb-role+s3:*", "s3:GetObjectVersion", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "the knowledge base role reads current objects only", stacks=("prod",)),
    Row("kb-role+s3:*", "s3:GetObject", "curated/x.csv", VPC, TLS, None, DENY,
        "the stack's S3 endpoint does not carry the knowledge base's direct reads",
        stacks=("prod",)),
    Row("kb-role+s3:*", "s3:PutObject", "curated/x.csv", INTERNET, TLS, None, EXPLICIT,
        "with the bucket policy deleted, the SCP still lets it write nothing", stacks=("prod",),
        organization_policies=True, without_bucket_policy=True),
    Row("kb-role+s3:*", "s3:GetObject", "raw/batch-0001.json", INTERNET, TLS, None, EXPLICIT,
        "with the bucket policy deleted, the SCP still holds it to its prefixes",
        stacks=("prod",), organization_policies=True, without_bucket_policy=True),
    Row("kb-role+s3:*", "s3:ListBucket", "", INTERNET, TLS, None, EXPLICIT,
        "with the bucket policy deleted, the SCP still holds its listings to its prefixes",
        stacks=("prod",), organization_policies=True, without_bucket_policy=True),
    # Nobody else uses the exception.
    Row("over-privileged", "s3:GetObject", "curated/reports/q3.pdf", INTERNET, TLS, None,
        EXPLICIT, "another data-account role cannot read directly as the knowledge base does",
        stacks=("prod",)),
    Row("analytics+s3:*", "s3:ListBucket", "curated/", INTERNET, TLS, None, EXPLICIT,
        "an access point's principal cannot list directly as the knowledge base does",
        stacks=("prod",)),
    Row("partner-admin", "s3:GetObject", "curated/reports/q3.pdf", INTERNET, TLS, None, DENY,
        "a partner cannot read directly as the knowledge base does", stacks=("prod",)),
    # Bedrock assumes the role for this account's knowledge bases in this Region only.
    Row(BEDROCK_SERVICE, "sts:AssumeRole", f"<role:{KB_ROLE}>", INTERNET, TLS, None, ALLOW,
        "Bedrock assumes the role for the stack's knowledge base", stacks=("prod",),
        context=knowledge_base_source(KNOWLEDGE_BASE)),
    Row(BEDROCK_SERVICE, "sts:AssumeRole", f"<role:{KB_ROLE}>", INTERNET, TLS, None, DENY,
        "not for another account's knowledge base", stacks=("prod",),
        context=knowledge_base_source(
            f"arn:aws:bedrock:{REGION}:{FOREIGN}:knowledge-base/FOREIGNKB1", FOREIGN)),
    Row(BEDROCK_SERVICE, "sts:AssumeRole", f"<role:{KB_ROLE}>", INTERNET, TLS, None, DENY,
        "not for a knowledge base in another Region", stacks=("prod",),
        context=knowledge_base_source(f"arn:aws:bedrock:eu-west-1:{DATA}:knowledge-base/EUKB000001")),
    Row(BEDROCK_SERVICE, "sts:AssumeRole", f"<role:{KB_ROLE}>", INTERNET, TLS, None, DENY,
        "not for anything of Bedrock's but a knowledge base", stacks=("prod",),
        context=bedrock_source(DATA)),
    # It embeds with its model, and no other.
    Row(KB_ROLE, "bedrock:InvokeModel", TITAN_EMBED, INTERNET, TLS, None, ALLOW,
        "the knowledge base role embeds with its model", stacks=("prod",)),
    Row(KB_ROLE, "bedrock:InvokeModel", TITAN_EMBED, INTERNET, TLS, None, ALLOW,
        "embeddings need no guardrail under the organization policies", stacks=("prod",),
        organization_policies=True),
    Row(KB_ROLE, "bedrock:InvokeModel", model(NOVA), INTERNET, TLS, None, DENY,
        "the knowledge base role calls no other model", stacks=("prod",)),
    Row(KB_ROLE, "bedrock:InvokeModel", model("amazon.titan-embed-text-v1"), INTERNET, TLS,
        None, DENY, "nor another embedding model", stacks=("prod",)),
    Row("kb-role+*", "bedrock:InvokeModel", model(NOVA), INTERNET, TLS, None, EXPLICIT,
        "the SCP holds the knowledge base role to its model whatever its IAM says",
        stacks=("prod",), organization_policies=True),
    Row("over-privileged", "bedrock:InvokeModel", TITAN_EMBED, INTERNET, TLS, None, EXPLICIT,
        "nobody else calls the embedding model without a guardrail", stacks=("prod",),
        organization_policies=True),
    # Questions: the function retrieves from the stack's knowledge base through its endpoint.
    Row(FUNCTION, "bedrock:Retrieve", KNOWLEDGE_BASE, VPC, TLS, None, ALLOW,
        "the function retrieves through the bedrock-agent-runtime endpoint", stacks=("prod",),
        endpoint=AGENT_RUNTIME),
    Row(FUNCTION, "bedrock:Retrieve", KNOWLEDGE_BASE, VPC, TLS, None, ALLOW,
        "the function retrieves under the organization policies", stacks=("prod",),
        endpoint=AGENT_RUNTIME, organization_policies=True),
    Row(FUNCTION, "bedrock:Retrieve", OTHER_KNOWLEDGE_BASE, VPC, TLS, None, DENY,
        "the endpoint and the function's role refuse another knowledge base",
        stacks=("prod",), endpoint=AGENT_RUNTIME),
    Row(FUNCTION, "bedrock:Retrieve", OTHER_KNOWLEDGE_BASE, INTERNET, TLS, None, DENY,
        "the function's role retrieves from no other knowledge base", stacks=("prod",)),
    Row("over-privileged", "bedrock:Retrieve", OTHER_KNOWLEDGE_BASE, VPC, TLS, None, DENY,
        "the endpoint refuses another knowledge base whatever the caller's IAM says",
        stacks=("prod",), endpoint=AGENT_RUNTIME),
    Row("over-privileged", "bedrock:RetrieveAndGenerate", "*", VPC, TLS, None, DENY,
        "the endpoint serves no generation around the function's guardrail", stacks=("prod",),
        endpoint=AGENT_RUNTIME),
    Row("over-privileged", "bedrock:InvokeAgent",
        f"arn:aws:bedrock:{REGION}:{DATA}:agent-alias/AGENT00001/ALIAS00001", VPC, TLS, None,
        DENY, "nor agents", stacks=("prod",), endpoint=AGENT_RUNTIME),
    Row(FUNCTION, "bedrock:InvokeModel", model(NOVA), VPC, TLS, None, DENY,
        "the bedrock-agent-runtime endpoint does not carry model calls", stacks=("prod",),
        endpoint=AGENT_RUNTIME, context=GUARDED),
    Row(FUNCTION, "bedrock:Retrieve", KNOWLEDGE_BASE, VPC, TLS, None, DENY,
        "the bedrock-runtime endpoint does not carry retrieval", stacks=("prod",)),
    Row("over-privileged", "bedrock:Retrieve", KNOWLEDGE_BASE, INTERNET, TLS, None, EXPLICIT,
        "only the function retrieves: another role reads no passage", stacks=("prod",),
        organization_policies=True),
    Row("ci-deployer", "bedrock:Retrieve", KNOWLEDGE_BASE, VPC, TLS, None, EXPLICIT,
        "the administrators ask through the function too", stacks=("prod",),
        endpoint=AGENT_RUNTIME, organization_policies=True),
    Row(FUNCTION, "bedrock:Retrieve", KNOWLEDGE_BASE, INTERNET, TLS, None, EXPLICIT,
        "the function's credentials retrieve nothing outside the stack's endpoint",
        stacks=("prod",), organization_policies=True),
    # The vectors (and the passages' text beside them): the role and the administrators.
    Row(KB_ROLE, "s3vectors:QueryVectors", INDEX, INTERNET, TLS, None, ALLOW,
        "the knowledge base queries its index", stacks=("prod",)),
    Row(KB_ROLE, "s3vectors:PutVectors", INDEX, INTERNET, TLS, None, ALLOW,
        "ingestion writes its index", stacks=("prod",)),
    Row(KB_ROLE, "s3vectors:DeleteIndex", INDEX, INTERNET, TLS, None, DENY,
        "the knowledge base role deletes no index", stacks=("prod",)),
    Row("kb-role+*", "s3vectors:DeleteVectorBucket", VECTOR_BUCKET, INTERNET, TLS, None,
        EXPLICIT, "the vector bucket holds the role to its index's data whatever its IAM says",
        stacks=("prod",)),
    Row("kb-role+*", "s3vectors:PutVectorBucketPolicy", VECTOR_BUCKET, INTERNET, TLS, None,
        EXPLICIT, "the knowledge base role rewrites no vector bucket policy", stacks=("prod",)),
    Row("over-privileged", "s3vectors:QueryVectors", INDEX, INTERNET, TLS, None, EXPLICIT,
        "another data-account role reads no vector", stacks=("prod",)),
    Row("over-privileged", "s3vectors:GetVectors", INDEX, INTERNET, TLS, None, EXPLICIT,
        "nor the passages stored beside them", stacks=("prod",)),
    Row("partner-admin", "s3vectors:QueryVectors", INDEX, INTERNET, TLS, None, DENY,
        "a partner cannot reach the vector bucket", stacks=("prod",)),
    Row("partner-admin", "s3vectors:GetVectorBucketPolicy", VECTOR_BUCKET, INTERNET, TLS, None,
        DENY, "a partner reads nothing of it", stacks=("prod",)),
    Row("thief", "s3vectors:GetVectors", INDEX, INTERNET, TLS, None, DENY,
        "another account cannot reach the vector bucket", stacks=("prod",)),
    Row("ci-deployer", "s3vectors:PutVectorBucketPolicy", VECTOR_BUCKET, INTERNET, TLS, None,
        ALLOW, "the administrators manage the vector bucket", stacks=("prod",)),
    # Knowledge-base changes are the administrators'; ingestion is the runner's.
    Row(KB_RUNNER, "bedrock:StartIngestionJob", KNOWLEDGE_BASE, INTERNET, TLS, None, ALLOW,
        "the state machine starts an ingestion", stacks=("prod",), organization_policies=True),
    Row(KB_RUNNER, "bedrock:ListDataSources", KNOWLEDGE_BASE, INTERNET, TLS, None, ALLOW,
        "the state machine lists the data sources", stacks=("prod",),
        organization_policies=True),
    Row(KB_RUNNER, "bedrock:UpdateDataSource", KNOWLEDGE_BASE, INTERNET, TLS, None, DENY,
        "the state machine changes nothing", stacks=("prod",)),
    Row("over-privileged", "bedrock:StartIngestionJob", KNOWLEDGE_BASE, INTERNET, TLS, None,
        EXPLICIT, "nobody else ingests", stacks=("prod",), organization_policies=True),
    Row("ci-deployer", "bedrock:StartIngestionJob", KNOWLEDGE_BASE, INTERNET, TLS, None,
        EXPLICIT, "the administrators ingest through the state machine", stacks=("prod",),
        organization_policies=True),
    Row("over-privileged", "bedrock:UpdateDataSource", KNOWLEDGE_BASE, INTERNET, TLS, None,
        EXPLICIT, "only the administrators change a data source", stacks=("prod",),
        organization_policies=True),
    Row("over-privileged", "bedrock:DeleteKnowledgeBase", KNOWLEDGE_BASE, INTERNET, TLS, None,
        EXPLICIT, "only the administrators delete the knowledge base", stacks=("prod",),
        organization_policies=True),
    Row("over-privileged", "bedrock:IngestKnowledgeBaseDocuments", KNOWLEDGE_BASE, INTERNET,
        TLS, None, EXPLICIT, "nobody else writes documents into the index around the bucket",
        stacks=("prod",), organization_policies=True),
    Row("over-privileged", "bedrock:CreateKnowledgeBase", "*", INTERNET, TLS, None, EXPLICIT,
        "only the administrators create knowledge bases (and pass the role)",
        stacks=("prod",), organization_policies=True),
    Row("ci-deployer", "bedrock:UpdateKnowledgeBase", KNOWLEDGE_BASE, INTERNET, TLS, None, ALLOW,
        "the administrators change the knowledge base", stacks=("prod",),
        organization_policies=True),
    Row("ci-deployer", "bedrock:CreateKnowledgeBase", "*", INTERNET, TLS, None, ALLOW,
        "the administrators create knowledge bases", stacks=("prod",),
        organization_policies=True),
    # --- Legitimate traffic under the organization policies ---
    Row("analytics", "s3:GetObject", "curated/x.csv", VPC, TLS, "analytics", ALLOW,
        "an application reads under the organization policies", organization_policies=True),
    Row("ingest", "s3:PutObject", "raw/x.json", VPC, TLS, "ingest", ALLOW,
        "an application writes under them", organization_policies=True),
    Row("partner-reader+s3:*", "s3:GetObject", "shared/partner/a.csv", PARTNER_VPC, TLS,
        "partner-share", ALLOW, "the partner reads under them", stacks=("prod",),
        organization_policies=True),
    Row("bi-dashboards", "s3:GetObject", "curated/kpi.parquet", INTERNET, TLS, "athena-curated",
        ALLOW, "Athena reads for the BI role under them", stacks=("prod",),
        organization_policies=True, context=VIA_ATHENA),
    Row("ci-deployer", "s3:PutBucketPolicy", "", INTERNET, TLS, None, ALLOW,
        "CI deploys under them", stacks=("prod",), organization_policies=True),
    Row("deployer", "s3:PutBucketPolicy", "", INTERNET, TLS, None, ALLOW,
        "the deploying role deploys under them", organization_policies=True),
    # === Scanner-clean (issue 23) ===
    # --- The log keys: CloudWatch Logs for exactly the stack's log groups, and administrators ---
    *[Row("logs-service", action, f"<key:{key}>", INTERNET, TLS, None, ALLOW,
          f"CloudWatch Logs {action} for {group}", stacks=stacks,
          context={LOGS_CONTEXT: f"<log-group:{group}>"})
      for key, group, stacks in (("bedrock-key", "bedrock-logs", BOTH),
                                 ("datalake-flow-logs", "datalake-flow-logs", BOTH),
                                 ("models-invocation-logs", "models-invocation-logs", ("prod",)))
      for action in ("kms:GenerateDataKey", "kms:Decrypt")],
    *[Row("logs-service", "kms:Decrypt", f"<key:{key}>", INTERNET, TLS, None, DENY,
          f"CloudWatch Logs with the {key} key for {other}", stacks=stacks,
          context={LOGS_CONTEXT: other})
      for key, other, stacks in (("bedrock-key", LOG_GROUP, BOTH),
                                 ("bedrock-key", "<log-group:datalake-flow-logs>", BOTH),
                                 ("datalake-flow-logs", "<log-group:bedrock-logs>", BOTH),
                                 ("models-invocation-logs", "<log-group:bedrock-logs>",
                                  ("prod",)))],
    Row("logs-service", "kms:Decrypt", "<key:bedrock-key>", INTERNET, TLS, None, DENY,
        "CloudWatch Logs without a log group in the encryption context"),
    *[Row(principal, action, f"<key:{key}>", INTERNET, TLS, None, DENY,
          f"{principal}: {action} on the {key} key, whatever its IAM allows", stacks=stacks)
      for principal in ("over-privileged", "thief")
      for action in ("kms:Decrypt", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")
      for key, stacks in (("bedrock-key", BOTH), ("datalake-flow-logs", BOTH),
                          ("models-invocation-logs", ("prod",)))],
    Row("platform-admin", "kms:PutKeyPolicy", "<key:bedrock-key>", INTERNET, TLS, None, ALLOW,
        "an administrator manages the function's key", stacks=("dev",)),
    Row("deployer", "kms:PutKeyPolicy", "<key:datalake-flow-logs>", INTERNET, TLS, None, ALLOW,
        "the deploying role updates the flow logs' key policy"),
    Row("sso-data-admin", "kms:Decrypt", "<key:models-invocation-logs>", INTERNET, TLS, None,
        ALLOW, "the DataAdmin permission set reads the invocation logs", stacks=("prod",),
        context={"kms:ViaService": "s3.us-east-1.amazonaws.com",
                 "kms:EncryptionContext:aws:s3:arn": INVOCATION_LOGS}),
    # --- The invocation-log key: Bedrock, for this account, through S3, for the bucket ---
    Row(BEDROCK_SERVICE, "kms:GenerateDataKey", "<key:models-invocation-logs>", INTERNET, TLS,
        None, ALLOW, "Bedrock writes this account's invocation logs to the bucket",
        stacks=("prod",), context={**bedrock_source(DATA), **INVOCATION_LOG_WRITE}),
    *[Row(BEDROCK_SERVICE, "kms:GenerateDataKey", "<key:models-invocation-logs>", INTERNET, TLS,
          None, DENY, f"Bedrock with the invocation-log key: {why}", stacks=("prod",),
          context=context)
      for why, context in (
          ("acting for another account",
           {**bedrock_source(DATA), "aws:SourceAccount": FOREIGN, **INVOCATION_LOG_WRITE}),
          ("for another account's Bedrock", {**bedrock_source(FOREIGN), **INVOCATION_LOG_WRITE}),
          ("for another bucket",
           {**bedrock_source(DATA), **INVOCATION_LOG_WRITE,
            "kms:EncryptionContext:aws:s3:arn": LOGS["prod"]}),
          ("not through S3", {**bedrock_source(DATA),
                              "kms:EncryptionContext:aws:s3:arn": INVOCATION_LOGS}),
      )],
    Row(BEDROCK_SERVICE, "kms:Decrypt", "<key:models-invocation-logs>", INTERNET, TLS, None, DENY,
        "Bedrock never reads the invocation logs back", stacks=("prod",),
        context={**bedrock_source(DATA), **INVOCATION_LOG_WRITE}),
    # --- The function's key: its role decrypts its environment through Lambda, nothing else ---
    Row(FUNCTION, "kms:Decrypt", "<key:bedrock-key>", INTERNET, TLS, None, ALLOW,
        "Lambda decrypts the environment with the function's role", context=VIA_LAMBDA),
    Row(FUNCTION, "kms:Decrypt", "<key:bedrock-key>", VPC, TLS, None, DENY,
        "the function's role decrypts nothing with its key directly"),
    Row(FUNCTION, "kms:Decrypt", "<key:bedrock-key>", VPC, TLS, None, DENY,
        "the function's role, through another service",
        context={"kms:ViaService": "s3.us-east-1.amazonaws.com"}),
    Row("analytics", "kms:Decrypt", "<key:bedrock-key>", INTERNET, TLS, None, DENY,
        "another role through Lambda", context=VIA_LAMBDA),
    # --- The function's network interfaces: Lambda, in the stack's subnets, not the code ---
    *[Row(FUNCTION, "ec2:CreateNetworkInterface", resource, INTERNET, TLS, None, ALLOW,
          f"Lambda creates the function's interfaces ({resource})")
      for resource in ("<subnet:0>", "<subnet:1>", "<security-group>")],
    *[Row(FUNCTION, "ec2:CreateNetworkInterface", resource, INTERNET, TLS, None, DENY,
          f"no interface elsewhere ({resource})")
      for resource in (f"{EC2}:subnet/subnet-0a1b2c3d4e5f67890",
                       f"{EC2}:security-group/sg-0a1b2c3d4e5f67890")],
    *[Row(FUNCTION, action, f"{EC2}:network-interface/eni-0a1b2c3d4e5f67890", INTERNET, TLS, None,
          ALLOW, f"Lambda runs {action} on the function's interfaces",
          context={"ec2:Subnet": "<subnet:0>"})
      for action in ("ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                     "ec2:UnassignPrivateIpAddresses")],
    Row(FUNCTION, "ec2:DeleteNetworkInterface", f"{EC2}:network-interface/eni-0a1b2c3d4e5f67890",
        INTERNET, TLS, None, DENY, "no interface of another subnet is deleted",
        context={"ec2:Subnet": f"{EC2}:subnet/subnet-0a1b2c3d4e5f67890"}),
    Row(FUNCTION, "ec2:DescribeNetworkInterfaces", "*", INTERNET, TLS, None, ALLOW,
        "Lambda describes interfaces (no resource-level permissions)"),
    *[Row(FUNCTION, action, resource, VPC, TLS, None, EXPLICIT,
          f"the function's own code cannot {action}", context={SOURCE_FUNCTION: "<function>"})
      for action, resource in (
          ("ec2:CreateNetworkInterface", "<subnet:0>"),
          ("ec2:DeleteNetworkInterface", f"{EC2}:network-interface/eni-0a1b2c3d4e5f67890"),
          ("ec2:DescribeNetworkInterfaces", "*"),
          ("ec2:DescribeSubnets", "*"),
      )],
    # --- The xray endpoint (prod traces): sending traces, for the perimeter's principals ---
    *[Row(FUNCTION, action, "*", VPC, TLS, None, ALLOW,
          f"the function runs {action} through the xray endpoint", stacks=("prod",))
      for action in ("xray:PutTraceSegments", "xray:GetSamplingRules")],
    Row("over-privileged", "xray:PutTraceSegments", "*", VPC, TLS, None, ALLOW,
        "a role of the data account sends traces (on no resource: to its own account)",
        stacks=("prod",)),
    Row("thief", "xray:PutTraceSegments", "*", VPC, TLS, None, DENY,
        "another account's credentials send no traces through the xray endpoint",
        stacks=("prod",)),
    *[Row("over-privileged", action, "*", VPC, TLS, None, DENY,
          f"the xray endpoint carries no {action}", stacks=("prod",))
      for action in ("xray:BatchGetTraces", "xray:UpdateTraceSegmentDestination")],
    # --- The function's keys, interfaces and traces under the organization policies ---
    Row(FUNCTION, "kms:Decrypt", "<key:bedrock-key>", INTERNET, TLS, None, ALLOW,
        "Lambda decrypts the environment under them", context=VIA_LAMBDA,
        organization_policies=True),
    Row(FUNCTION, "ec2:CreateNetworkInterface", "<subnet:0>", INTERNET, TLS, None, ALLOW,
        "Lambda creates the function's interfaces under them", organization_policies=True),
    Row(FUNCTION, "xray:PutTraceSegments", "*", VPC, TLS, None, ALLOW,
        "the function sends traces under them", stacks=("prod",), organization_policies=True),
]  # fmt: skip


# --- Running the matrix --------------------------------------------------------------------


def identity(name: str, stack: StackPolicies) -> Identity:
    if name == BEDROCK_SERVICE:
        return Identity("bedrock.amazonaws.com")
    if name in (KB_ROLE, KB_RUNNER):
        return Identity(stack.role_arns[name], ((name, stack.role_policies[name]),), ORG)
    if name == LOG_WRITER:
        return Identity(stack.role_arns["models-invocation-logging"], (EVERYTHING,), ORG)
    if name == FUNCTION:
        return replace(stack.function, organization_id=ORG)
    return IDENTITIES[name]


def context_value(value: str | list[str], stack: StackPolicies) -> str | list[str]:
    """A row's context value with the stack's own names filled in (DATA_KEY, placeholders)."""
    if value == DATA_KEY:
        return stack.data_key_arn
    return stack.resolve(value) if isinstance(value, str) else value


def request(row: Row, stack: StackPolicies) -> Request:
    return Request(
        identity=identity(row.principal, stack),
        action=row.action,
        resource=stack.resolve(row.resource),
        origin=row.origin,
        tls=row.tls,
        access_point=row.access_point,
        context={key: context_value(value, stack) for key, value in row.context.items()},
        organization_policies=row.organization_policies,
        without_bucket_policy=row.without_bucket_policy,
        endpoint=row.endpoint,
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
    for name in BOTH:
        stack = stacks[name]
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
             json.dumps(r.context, sort_keys=True), r.organization_policies,
             r.without_bucket_policy, r.endpoint)
            for s, r in cases()]  # fmt: skip
    assert len(keys) == len(set(keys))


def test_every_context_key_reaches_the_evaluator(outcomes: dict[int, Outcome]) -> None:
    """iam-simulate drops context keys that do not apply to an action and resource type: a
    misspelt key would silently vanish. Only the access point keys on the bucket evaluation
    may be dropped by its validation, and the model passes those on (simulate.mjs)."""
    for outcome in outcomes.values():
        for result in outcome.results:
            ignored = set(result.ignored_context_keys)
            if result.evaluation.unfiltered_context:
                assert ignored <= UNFILTERED_KEYS, ignored
            else:
                assert not ignored, (result.evaluation.label, ignored)


def test_the_fast_driver_decides_as_run_simulation(
    simulator: Simulator, outcomes: dict[int, Outcome]
) -> None:
    """simulate.mjs validates and loads each policy and each (action, resource) once and calls
    the engine itself: on a sample of the matrix's evaluations, iam-simulate's public
    runSimulation() decides the same, drops the same context keys, and agrees with the decision
    made on the filtered context of the access point requests' bucket halves."""
    results = [r for o in outcomes.values() for r in o.results][::4]
    reference = simulator.run([r.evaluation for r in results], reference=True)
    for fast, slow in zip(results, reference, strict=True):
        label = f"{fast.evaluation.label} {fast.evaluation.action} {fast.evaluation.resource}"
        assert fast.validated_decision == slow.decision, label
        assert fast.ignored_context_keys == slow.ignored_context_keys, label
        if not fast.evaluation.unfiltered_context:
            assert fast.decision == slow.decision, label


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


def test_a_new_deploying_role_takes_over_without_being_locked_out(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """The bucket policy names the role that deployed it. A new CI role is first added to
    bucket.adminRoleArns and deployed by the old one; then it deploys alone (README)."""
    old, new = default_deployer_arn(DATA), role(DATA, "ci-deployer-v2")
    as_new = Identity(new, (EVERYTHING,), ORG)
    as_old = Identity(old, (EVERYTHING,), ORG)
    values = copy.deepcopy(load_stack_values("dev"))

    def may_update(policies_of: StackPolicies, identity: Identity) -> str:
        update = Request(identity, "s3:PutBucketPolicy", "", origin=INTERNET)
        [outcome] = simulator.decide([(policies_of, update)])
        return outcome.decision

    # Straight away, the new role is refused by the policy the old one deployed.
    assert may_update(stacks["dev"], as_new) == "ExplicitlyDenied"
    # Step 1: the old role deploys the new one as an administrator.
    values["private-datalake:bucket"]["adminRoleArns"].append(new)
    handover = StackPolicies.from_run(run_stack("dev", values=values, deployer_arn=old))
    assert may_update(handover, as_new) == "Allowed"
    # Step 2: the new role deploys; the old one, no longer listed anywhere, is out.
    values["private-datalake:bucket"]["adminRoleArns"].remove(new)
    taken_over = StackPolicies.from_run(run_stack("dev", values=values, deployer_arn=new))
    assert may_update(taken_over, as_new) == "Allowed"
    assert may_update(taken_over, as_old) == "ExplicitlyDenied"


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


def each_statement(edit: Callable[[dict[str, Any]], None]) -> Transform:
    """A transform that applies ``edit`` to every statement of a copy of the document."""

    def transform(document: PolicyDocument) -> PolicyDocument:
        mutated = copy.deepcopy(document)
        for statement in mutated["Statement"]:
            edit(statement)
        return mutated

    return transform


def flip_operator(key: str, old: str, new: str) -> Transform:
    def edit(statement: dict[str, Any]) -> None:
        conditions = statement.get("Condition", {})
        if key in conditions.get(old, {}):
            conditions.setdefault(new, {})[key] = conditions[old].pop(key)
            if not conditions[old]:
                del conditions[old]

    return each_statement(edit)


def rename_key(old: str, new: str) -> Transform:
    def transform(document: PolicyDocument) -> PolicyDocument:
        text = json.dumps(document)
        mutated: PolicyDocument = json.loads(text.replace(f'"{old}"', f'"{new}"'))
        return mutated

    return transform


def drop_key(key: str) -> Transform:
    def edit(statement: dict[str, Any]) -> None:
        for operator, values in list(statement.get("Condition", {}).items()):
            values.pop(key, None)
            if not values:
                del statement["Condition"][operator]
        if statement.get("Condition") == {}:
            del statement["Condition"]

    return each_statement(edit)


def widen_actions(service: str) -> Transform:
    """Every statement that names actions of ``service`` allows all of them instead."""

    def edit(statement: dict[str, Any]) -> None:
        actions = statement.get("Action", [])
        named = [actions] if isinstance(actions, str) else actions
        if any(action.startswith(f"{service}:") for action in named):
            statement["Action"] = f"{service}:*"

    return each_statement(edit)


def loosen(key: str, pattern: str) -> Transform:
    """Every condition on ``key`` accepts anything ``pattern`` matches instead."""

    def edit(statement: dict[str, Any]) -> None:
        conditions = statement.get("Condition", {})
        for operator in list(conditions):
            if key in conditions[operator]:
                del conditions[operator][key]
                if not conditions[operator]:
                    del conditions[operator]
                conditions.setdefault("StringLike", {})[key] = pattern

    return each_statement(edit)


def _without_root_exemption(statement: dict[str, Any]) -> None:
    exempt = statement.get("Condition", {}).get("ArnNotLike", {})
    principals = exempt.get("aws:PrincipalArn")
    if isinstance(principals, list):
        exempt["aws:PrincipalArn"] = [p for p in principals if not p.endswith(":root")]


drop_root_exemption = each_statement(_without_root_exemption)
"""The account root is exempt from no statement."""


def widen_resources(sid: str) -> Transform:
    """The statement ``sid`` applies to every resource."""

    def edit(statement: dict[str, Any]) -> None:
        if statement.get("Sid") == sid:
            statement.pop("NotResource", None)
            statement["Resource"] = "*"

    return each_statement(edit)


def drop_condition(sid: str, operator: str) -> Transform:
    """The statement ``sid`` loses its ``operator`` conditions."""

    def edit(statement: dict[str, Any]) -> None:
        if statement.get("Sid") == sid:
            statement.get("Condition", {}).pop(operator, None)

    return each_statement(edit)


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
    also: tuple[str, ...] = ()
    """Further builders given the same transform (fences that only hold together)."""

    @property
    def builders(self) -> tuple[str, ...]:
        return (self.builder, *self.also)


MUTATIONS = [
    Mutation("dev", "bucket_policy",
             flip_operator("s3:DataAccessPointAccount", "StringEquals", "StringNotEquals"),
             "delegation to any other account's access points instead of ours"),
    Mutation("dev", "bucket_policy", drop_statement("DenyInsecureTransport"), "TLS not required"),
    Mutation("dev", "bucket_policy", rename_key("aws:SourceVpce", "aws:SourceVpcId"),
             "misspelt endpoint key: the endpoint rule denies everyone"),
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
             flip_operator("aws:PrincipalOrgID", "StringEquals", "StringNotEquals"),
             "the Bedrock endpoint for principals outside the organization only"),
    # The data perimeter (issue 12): each deny statement and condition it added.
    Mutation("dev", "bucket_policy", drop_statement("DenyActionsNoAccessModeGrants"),
             "listing versions and uploads, or any ungranted action, through an access point"),
    Mutation("prod", "bucket_policy", drop_statement("DenyRequestsNotThroughAccessPoints"),
             "the data reached directly, replicated into or its settings rewritten"),
    Mutation("prod", "bucket_policy",
             drop_statement("DenyCrossAccountAccessPoint0PrincipalsNotListed"),
             "anyone the partner lets through its access point"),
    Mutation("prod", "bucket_policy", drop_key("aws:PrincipalArn"),
             "the partner's grants and the admin exemptions for anyone"),
    Mutation("dev", "bucket_policy", drop_statement("DenyAccessPointsOutsideTheStack"),
             "an access point created outside the stack reaches the data"),
    Mutation("prod-wide", "bucket_policy", drop_statement("DenyInternetAccessPointsNotConfigured"),
             "an unconfigured Internet access point used from the VPC"),
    Mutation("prod-wide", "bucket_policy", drop_statement("DenyPrincipalsOutsidePerimeter"),
             "a principal outside the organization through an open access point"),
    Mutation("dev", "bucket_policy", drop_statement("DenyObjectsNotEncryptedWithTheDataKey"),
             "objects under another account's key"),
    Mutation("dev", "bucket_policy", drop_statement("DenyEncryptionWithoutTheDataKey"),
             "objects under SSE-S3 or AWS's managed aws/s3 key"),
    Mutation("dev", "bucket_policy", drop_statement("DenyCustomerProvidedKeys"),
             "objects under a customer-provided key"),
    Mutation("prod", "access_point_policy", drop_statement("DenyUnlessCalledViaServices"),
             "the Athena access point used without Athena"),
    Mutation("dev", "log_bucket_policy", drop_statement("DenyEverythingExceptAdministrators"),
             "anyone with IAM rights reads the access logs or rewrites their bucket's policy"),
    Mutation("prod", "s3_gateway_endpoint_policy", drop_key("aws:PrincipalOrgID"),
             "the S3 endpoint serves credentials from outside the organization"),
    Mutation("prod", "interface_endpoint_policy", drop_key("aws:ResourceOrgID"),
             "the sts endpoint assumes roles anywhere"),
    Mutation("prod", "interface_endpoint_policy", widen_actions("logs"),
             "the logs endpoint carries subscription filters and exports"),
    Mutation("dev", "organization_service_control_policy",
             drop_statement("OnlyAdministratorsManageAccessPointsAndTheDataBucket"),
             "anyone manages access points", also=("organization_resource_control_policy",)),
    Mutation("dev", "data_key_usage_statements", drop_key("kms:ViaService"),
             "the data key used outside S3"),
    Mutation("dev", "data_key_usage_statements", drop_key("kms:EncryptionContext:aws:s3:arn"),
             "the data key used for any bucket"),
    Mutation("dev", "data_key_usage_statements", drop_key("kms:CallerAccount"),
             "the data key used by any account"),
    # --- Bedrock governance (issue 14) ---
    Mutation("dev", "function_role_policy", drop_key("bedrock:GuardrailIdentifier"),
             "the function's role invokes models without the guardrail"),
    Mutation("dev", "function_role_policy",
             flip_operator("bedrock:GuardrailIdentifier", "StringEquals", "StringNotEquals"),
             "the function's role invokes models with any guardrail but its own"),
    Mutation("dev", "bedrock_endpoint_policy", drop_key("bedrock:GuardrailIdentifier"),
             "the endpoint lets calls without a guardrail through"),
    Mutation("prod", "function_role_policy", drop_key("bedrock:InferenceProfileArn"),
             "the model behind the application profile callable around it"),
    Mutation("prod", "function_role_policy", drop_statement("InvokeFoundationModelsBehindProfiles"),
             "the application profile cannot reach the models it routes to"),
    Mutation("prod", "invocation_logging_assume_role_policy", drop_key("aws:SourceAccount"),
             "the delivery role usable by Bedrock acting for another account"),
    Mutation("prod", "invocation_logging_assume_role_policy", drop_key("aws:SourceArn"),
             "the delivery role usable for Bedrock resources of another Region"),
    Mutation("prod", "invocation_log_bucket_policy",
             drop_statement("DenyEverythingExceptAdministrators"),
             "anyone with IAM rights reads the prompts and answers in the invocation logs"),
    # --- The perimeter by construction (issue 18): each new statement and condition ---
    Mutation("prod", "bucket_policy", drop_statement("DenyConfigurationReadsExceptReaders"),
             "anyone reads the bucket's settings"),
    Mutation("prod", "bucket_policy", drop_statement("DenyReplicationExceptConfiguredSources"),
             "any role with IAM rights replicates into the bucket"),
    Mutation("prod", "bucket_policy", drop_statement("DenyReplicationSource0OutsideItsPrefix"),
             "the replication source writes outside its prefix"),
    Mutation("prod", "bucket_policy",
             drop_statement("DenyDataAccountAccessPointsOutsideStackEndpoints"),
             "access points used through another endpoint of the stack's VPC"),
    Mutation("prod", "bucket_policy", drop_statement("DenyCrossAccountAccessPoint0OutsideItsVpc"),
             "the partner's access point used from anywhere"),
    Mutation("dev", "access_point_policy", drop_statement("DenyBucketActionsBeyondMode"),
             "bucket-level actions no mode grants, through an access point"),
    Mutation("dev", "dynamodb_gateway_endpoint_policy", widen_actions("dynamodb"),
             "the DynamoDB endpoint exports tables and rewrites their policies"),
    Mutation("dev-every-endpoint", "interface_endpoint_policy", widen_actions("sns"),
             "the sns endpoint subscribes outside addresses"),
    Mutation("prod", "bedrock_endpoint_policy",
             loosen("bedrock:GuardrailIdentifier", "arn:aws:bedrock:*:*:guardrail/*"),
             "the endpoint admits any guardrail, its DRAFT included"),
    Mutation("prod", "bedrock_endpoint_policy",
             loosen("bedrock:InferenceProfileArn",
                    "arn:aws:bedrock:*:*:application-inference-profile/*"),
             "the endpoint admits models routed by any application profile"),
    Mutation("dev", "organization_service_control_policy", drop_root_exemption,
             "the root user loses its break-glass", also=("organization_resource_control_policy",)),
    Mutation("dev", "organization_service_control_policy",
             flip_operator("aws:PrincipalArn", "ArnNotLike", "ArnLike"),
             "the organization policies bind the administrators and free everyone else",
             also=("organization_resource_control_policy",)),
    Mutation("dev", "bedrock_service_control_policy",
             drop_statement("OnlyAdministratorsChangeGuardrails"),
             "anyone updates or deletes the guardrail"),
    Mutation("dev", "bedrock_service_control_policy",
             drop_statement("OnlyAdministratorsGovernModelCalls"),
             "anyone turns invocation logging off or creates a guardrail of their own"),
    Mutation("prod", "bedrock_service_control_policy",
             drop_statement("ModelCallsEnterWithAGuardrail"),
             "an application profile entered without a guardrail"),
    Mutation("prod", "bedrock_service_control_policy",
             drop_statement("SystemProfileCallsEnterWithAGuardrail"),
             "a system inference profile entered without a guardrail"),
    Mutation("dev", "bedrock_service_control_policy",
             drop_statement("FoundationModelCallsEnterWithAGuardrail"),
             "a foundation model called without a guardrail"),
    Mutation("dev", "bedrock_service_control_policy",
             drop_statement("ModelCallsNeverUseADraftGuardrail"),
             "a model called with the guardrail's DRAFT"),
    Mutation("prod", "bedrock_service_control_policy",
             drop_statement("OnlyAdministratorsReadTheInvocationLogs"),
             "anyone reads the invocation logs in CloudWatch",
             also=("organization_resource_control_policy",)),
    Mutation("prod", "organization_service_control_policy",
             drop_statement("AthenaPrincipalsQueryOnlyThroughTheStacksWorkgroups"),
             "the Athena principal queries in a workgroup that sends results anywhere"),
    Mutation("prod", "organization_service_control_policy",
             drop_statement("AthenaPrincipalsQueryOnlyThroughTheStacksEndpoint"),
             "the Athena principal queries from anywhere"),
    Mutation("prod", "region_service_control_policy",
             drop_statement("DenyOutsideTheStacksRegion"), "the account used in any Region"),
    Mutation("prod", "region_service_control_policy",
             drop_statement("ModelCallsLeaveTheRegionOnlyThroughTheStacksProfiles"),
             "models called directly in another Region"),
    Mutation("prod", "region_service_control_policy",
             drop_statement("ModelCallsStayInTheProfilesRegions"),
             "models routed to a Region outside the profiles' geography"),
    # --- Private RAG over the lake (issue 21): every statement of the knowledge base's ---
    Mutation("prod", "knowledge_base_reader_statements",
             drop_statement("DenyDirectReadsExceptTheKnowledgeBase"),
             "any data-account role reads the bucket directly as the knowledge base does"),
    Mutation("prod", "knowledge_base_reader_statements",
             drop_statement("DenyKnowledgeBaseReadsOutsideItsPrefixes"),
             "the knowledge base role reads outside its prefixes"),
    Mutation("prod", "knowledge_base_reader_statements",
             drop_statement("DenyKnowledgeBaseListingsOutsideItsPrefixes"),
             "the knowledge base role lists the whole bucket"),
    Mutation("prod", "knowledge_base_assume_role_policy", drop_key("aws:SourceArn"),
             "Bedrock assumes the knowledge base role for anything of this account"),
    Mutation("prod", "knowledge_base_role_policy", widen_resources("EmbedWithItsModel"),
             "the knowledge base role invokes any model"),
    Mutation("prod", "knowledge_base_role_policy", widen_resources("ReadItsPrefixes"),
             "the knowledge base role's IAM reads the whole bucket"),
    Mutation("prod", "vector_bucket_policy",
             drop_statement("DenyEveryoneButTheKnowledgeBaseAndAdministrators"),
             "another role reads the vectors and the passages beside them"),
    Mutation("prod", "vector_bucket_policy",
             drop_statement("DenyTheKnowledgeBaseAnythingButIndexData"),
             "the knowledge base role manages the vector bucket"),
    Mutation("prod", "knowledge_base_endpoint_policy",
             widen_resources("RetrieveFromTheStacksKnowledgeBase"),
             "the bedrock-agent-runtime endpoint serves any knowledge base"),
    Mutation("prod", "retrieve_statement", widen_resources("RetrieveFromItsKnowledgeBase"),
             "the function's role retrieves from any knowledge base"),
    Mutation("prod", "knowledge_base_service_control_policy",
             drop_statement("OnlyAdministratorsChangeKnowledgeBases"),
             "anyone changes the knowledge base and its data sources"),
    Mutation("prod", "knowledge_base_service_control_policy",
             drop_statement("OnlyAdministratorsCreateKnowledgeBases"),
             "anyone creates knowledge bases"),
    Mutation("prod", "knowledge_base_service_control_policy",
             drop_statement("OnlyTheFunctionRetrieves"), "any role reads passages"),
    Mutation("prod", "knowledge_base_service_control_policy",
             drop_statement("RetrievalOnlyThroughTheStacksEndpoint"),
             "retrieval from outside the stack's endpoint"),
    Mutation("prod", "knowledge_base_service_control_policy",
             drop_statement("OnlyTheRunnerIngests"), "anyone starts an ingestion"),
    Mutation("prod", "knowledge_base_service_control_policy",
             drop_statement("TheKnowledgeBaseRoleEmbedsOnlyWithItsModel"),
             "the knowledge base role calls any model without a guardrail"),
    Mutation("prod", "organization_service_control_policy",
             drop_statement("TheKnowledgeBaseRoleOnlyReads"),
             "with the bucket policy gone, the knowledge base role writes"),
    Mutation("prod", "organization_service_control_policy",
             drop_statement("TheKnowledgeBaseRoleReadsOnlyItsPrefixes"),
             "with the bucket policy gone, the knowledge base role reads any prefix"),
    Mutation("prod", "organization_service_control_policy",
             drop_statement("TheKnowledgeBaseRoleListsOnlyItsPrefixes"),
             "with the bucket policy gone, the knowledge base role lists the bucket"),
    Mutation("prod", "bedrock_service_control_policy",
             drop_condition("FoundationModelCallsEnterWithAGuardrail", "ArnNotEquals"),
             "embeddings need a guardrail (ingestion would fail)"),
    Mutation("prod", "athena_results_bucket_policy", drop_statement("DenyEverythingButAthena"),
             "query results read around Athena"),
    Mutation("prod", "athena_results_bucket_policy",
             drop_statement("DenyAthenaForOtherPrincipals"),
             "another role reads query results through Athena"),
    # === Scanner-clean (issue 23) ===
    Mutation("dev", "function_key_policy", drop_key("kms:EncryptionContext:aws:logs:arn"),
             "CloudWatch Logs uses the function's key for any log group"),
    Mutation("dev", "log_group_key_policy", drop_key("kms:EncryptionContext:aws:logs:arn"),
             "CloudWatch Logs uses the flow logs' key for any log group"),
    Mutation("prod", "invocation_log_key_policy", drop_key("kms:EncryptionContext:aws:logs:arn"),
             "CloudWatch Logs uses the invocation logs' key for any log group"),
    Mutation("dev", "function_key_policy", drop_key("aws:PrincipalArn"),
             "anyone in the account whose IAM allows it uses and manages the function's key"),
    Mutation("dev", "log_group_key_policy",
             flip_operator("aws:PrincipalArn", "ArnLike", "ArnNotLike"),
             "the flow logs' key managed by everyone but the administrators"),
    Mutation("prod", "invocation_log_key_policy", drop_key("kms:EncryptionContext:aws:s3:arn"),
             "Bedrock uses the invocation-log key for any bucket"),
    Mutation("prod", "invocation_log_key_policy", drop_key("aws:SourceAccount"),
             "Bedrock acting for another account uses the invocation-log key"),
    Mutation("prod", "invocation_log_key_policy", drop_key("kms:ViaService"),
             "Bedrock uses the invocation-log key outside S3"),
    Mutation("dev", "function_key_policy", drop_key("kms:ViaService"),
             "the function's role decrypts with its key outside Lambda",
             also=("function_role_policy",)),
    Mutation("dev", "network_interface_statements",
             drop_statement("DenyNetworkInterfacesToTheFunctionsCode"),
             "the function's own code manages network interfaces"),
    Mutation("dev", "network_interface_statements", drop_key("ec2:Subnet"),
             "Lambda manages network interfaces in any subnet"),
    Mutation("dev", "network_interface_statements",
             drop_statement("CreateNetworkInterfacesInTheStacksSubnets"),
             "Lambda cannot create the function's network interfaces"),
    Mutation("prod", "interface_endpoint_policy", widen_actions("xray"),
             "the xray endpoint reads traces and redirects them"),
    Mutation("prod", "interface_endpoint_policy",
             drop_statement("PerimeterPrincipalsActionsOnNoResource"),
             "the xray endpoint refuses the function's traces"),
    Mutation("prod", "interface_endpoint_policy", drop_key("aws:PrincipalOrgID"),
             "any account's credentials send traces through the xray endpoint"),
]  # fmt: skip


PACKAGE = f"{policies.__name__}."


def patch_builder(monkeypatch: pytest.MonkeyPatch, name: str, transform: Transform) -> None:
    original = getattr(policies, name)

    def mutated(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if isinstance(result, list):  # a list of statements
            return transform(policies.document(*result))["Statement"]
        if "Statement" not in result:  # one statement
            [statement] = transform(policies.document(result))["Statement"]
            return statement
        return transform(result)

    # The package re-exports each builder, and builders of one family call each other inside
    # their module (bedrock_endpoint_policy calls bedrock_invoke_statements): patch every module
    # that holds this builder, so that no caller keeps the original.
    for module in [policies, *(m for n, m in sys.modules.items() if n.startswith(PACKAGE))]:
        if getattr(module, name, None) is original:
            monkeypatch.setattr(module, name, mutated)


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
    for builder in mutation.builders:
        patch_builder(monkeypatch, builder, mutation.transform)
    mutated = {mutation.stack: StackPolicies.from_run(run_example(mutation.stack))}
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
