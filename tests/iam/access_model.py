"""How a request becomes IAM evaluations, and how their decisions combine: the one place.

The policies come from a mocked run of the real program (:class:`StackPolicies.from_run`);
the decisions come from ``@cloud-copilot/iam-simulate`` (``tests/iam/simulate.mjs``, one Node
process per test session). docs/access-proof.md explains the model; in short:

* A request **through an access point** is two evaluations, as in AWS:

  1. the access point's policy, against the access point ARN
     (``arn:aws:s3:REGION:OWNER:accesspoint/NAME[/object/KEY]``), owned by the access point's
     account;
  2. the bucket policy, against the bucket ARN (``arn:aws:s3:::BUCKET[/KEY]``), owned by the
     data account, with ``s3:DataAccessPointArn``/``Account`` and
     ``s3:AccessPointNetworkOrigin`` in the context (see ``unfilteredContext`` in simulate.mjs).

  The caller's identity policies take part in both, and so does the S3 gateway endpoint policy
  when the request comes from the stack's VPC.
* A request **to a bucket directly** is the second evaluation alone, without access point keys.
* A **Bedrock** call is one evaluation of the caller's identity policies (models have no
  resource policy, so the resource is treated as the caller's account), with the
  bedrock-runtime endpoint policy when it comes from the stack's VPC.
* Decisions combine like AWS's: an explicit deny anywhere wins; otherwise every evaluation
  must allow. Within one evaluation iam-simulate applies same-account rules (identity **or**
  resource policy) or cross-account rules (identity **and** resource policy) from the
  principal's and the resource's accounts, and an endpoint policy must allow on top.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

from components import policies
from offline.runner import StackRun
from tests.iam import catalog

IAM_DIR = Path(__file__).resolve().parent
SCRIPT = IAM_DIR / "simulate.mjs"
PACKAGE = "@cloud-copilot/iam-simulate"

PolicyDocument = dict[str, Any]
Decision = Literal["Allowed", "ImplicitlyDenied", "ExplicitlyDenied"]
DENIED: tuple[Decision, ...] = ("ImplicitlyDenied", "ExplicitlyDenied")

# A foreign account's access point and bucket, reachable from anywhere as far as their own
# policies go: whether they can be reached from the VPC is up to our endpoint policy alone.
FOREIGN_ACCOUNT = "999999999999"
FOREIGN_ACCESS_POINT = "foreign"
OPEN_S3_POLICY: PolicyDocument = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}],
}

# Access points of the data account that the stack did not create (anyone allowed to create
# one could): no policy of their own, bound to the stack's VPC or open to the internet.
ROGUE_ACCESS_POINT = "rogue"
ROGUE_INTERNET_ACCESS_POINT = "rogue-internet"
ROGUE_OPEN_ACCESS_POINT = "rogue-open"  # VPC-bound, with a policy that lets anyone in
# "widened:NAME" is access point NAME after its owner opened its policy to anyone: the owner
# of a cross-account access point controls its policy, not us.
WIDENED = "widened:"

FULL_AWS_ACCESS: PolicyDocument = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
ORGANIZATION_ROOT = "r-root"

# Request origins. "vpc" is the stack's own VPC, through the stack's endpoints; "vpc-other-
# endpoint" is the same VPC through another S3 endpoint (a landing zone's, with AWS's default
# full-access policy); "internet" carries no aws:SourceVpc; "vpce-..." is that endpoint of
# another VPC of the data account (ENDPOINT_VPCS names the VPC); anything else is the id of
# another VPC, reached through an endpoint of its own (the VPC owned by VPC_OWNERS[id], else
# by the caller's account).
VPC = "vpc"
OTHER_ENDPOINT_IN_VPC = "vpc-other-endpoint"
INTERNET = "internet"
OTHER_VPC_ENDPOINT = "vpce-0e1sewhere0000000"
VPC_OWNERS: dict[str, str] = {}
ENDPOINT_VPCS: dict[str, str] = {}

# What the bucket owner's root user may always do whatever the bucket policy says.
ROOT_KEEPS_BUCKET_POLICY_ACTIONS = frozenset(
    {"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}
)
# Listings that carry s3:prefix (the Service Authorization Reference lists it for these two).
_PREFIX_LISTING_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions")
# The keys iam-data associates with access point resource types only (see simulate.mjs).
ACCESS_POINT_KEYS = frozenset(
    {"s3:DataAccessPointArn", "s3:DataAccessPointAccount", "s3:AccessPointNetworkOrigin"}
)
# The encryption context S3 sends KMS: iam-data's kms:EncryptionContext:${Key} template does not
# match a context key that itself holds ':' (aws:s3:arn), so it is passed on unfiltered too.
S3_ENCRYPTION_CONTEXT_KEY = "kms:EncryptionContext:aws:s3:arn"
# === Scanner-clean (issue 23) ===
# CloudWatch Logs' encryption context key holds ':' too. Lambda puts lambda:SourceFunctionArn in
# every request made from a function's execution environment, whatever the service (AWS Lambda
# Developer Guide, "Using source function ARN..."); iam-data lists it under Lambda only, so the
# EC2 requests of the function's role are evaluated unfiltered.
LOGS_ENCRYPTION_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"
SOURCE_FUNCTION_KEY = "lambda:SourceFunctionArn"
UNFILTERED_KEYS = ACCESS_POINT_KEYS | {
    S3_ENCRYPTION_CONTEXT_KEY,
    LOGS_ENCRYPTION_CONTEXT_KEY,
    SOURCE_FUNCTION_KEY,
}


@dataclass(frozen=True)
class Identity:
    """A principal and the identity policies attached to it."""

    arn: str
    policies: tuple[tuple[str, PolicyDocument], ...] = ()
    organization_id: str | None = None
    """The organization of the principal's account (aws:PrincipalOrgID), if any."""

    @property
    def account(self) -> str:
        """The principal's account; none for an AWS service principal."""
        return "" if self.is_service else self.arn.split(":")[4]

    @property
    def is_service(self) -> bool:
        """An AWS service principal (``bedrock.amazonaws.com``) rather than an ARN."""
        return not self.arn.startswith("arn:")


@dataclass(frozen=True)
class AccessPoint:
    name: str
    arn: str
    account_id: str
    policy: PolicyDocument | None
    network_origin: Literal["VPC", "Internet"]


@dataclass(frozen=True)
class StackPolicies:
    """Every policy and id the model needs, as one mocked run of the program produced them."""

    stack: str
    region: str
    account_id: str
    vpc_id: str
    s3_endpoint_id: str
    s3_endpoint_policy: PolicyDocument
    bedrock_endpoint_id: str | None
    bedrock_endpoint_policy: PolicyDocument | None
    interface_endpoint_policies: Mapping[str, PolicyDocument]
    """Every interface endpoint's policy by IAM service prefix (sts, logs, bedrock...)."""
    bucket_name: str
    bucket_policy: PolicyDocument
    access_points: Mapping[str, AccessPoint]
    function_role_arn: str
    function_role_policy: PolicyDocument
    log_bucket_name: str | None
    log_bucket_policy: PolicyDocument | None
    data_key_arn: str
    data_key_policy: PolicyDocument | None
    """None when the stack uses an existing key (bucket.kmsKeyArn)."""
    service_control_policy: PolicyDocument
    bedrock_service_control_policy: PolicyDocument
    region_service_control_policy: PolicyDocument
    resource_control_policy: PolicyDocument
    dynamodb_endpoint_policy: PolicyDocument
    interface_endpoint_ids: Mapping[str, str]
    """Every interface endpoint's id by IAM service prefix."""
    function_environment: Mapping[str, str] = field(default_factory=dict)
    trust_policies: Mapping[str, PolicyDocument] = field(default_factory=dict)
    """Role ARN -> trust policy, for the roles services assume (sts:AssumeRole requests)."""
    role_arns: Mapping[str, str] = field(default_factory=dict)
    """Role resource name -> its ARN."""
    role_policies: Mapping[str, PolicyDocument] = field(default_factory=dict)
    """Role resource name -> its inline policy."""
    other_bucket_policies: Mapping[str, PolicyDocument] = field(default_factory=dict)
    """Bucket name -> policy of the stack's other buckets (the invocation-log bucket)."""
    # === Scanner-clean (issue 23) ===
    key_arns: Mapping[str, str] = field(default_factory=dict)
    """Key resource name -> its ARN (the data key, the log keys, the function's key...)."""
    key_policies: Mapping[str, PolicyDocument] = field(default_factory=dict)
    """Key ARN -> its policy, for every key the stack creates."""
    log_group_arns: Mapping[str, str] = field(default_factory=dict)
    """Log group resource name -> its ARN."""
    function_arn: str = ""
    function_subnet_ids: tuple[str, ...] = ()
    function_security_group_ids: tuple[str, ...] = ()
    knowledge_base_arn: str | None = None
    knowledge_base_endpoint_id: str | None = None
    knowledge_base_endpoint_policy: PolicyDocument | None = None
    """The bedrock-agent-runtime endpoint's."""
    vector_bucket_arn: str | None = None
    vector_bucket_policy: PolicyDocument | None = None
    knowledge_base_service_control_policy: PolicyDocument | None = None

    @classmethod
    def from_run(cls, run: StackRun) -> StackPolicies:
        outputs = run.outputs
        bucket_name = outputs["bucketName"]
        provider = run.named("pulumi:providers:aws", "data-account")
        account_id = str(json.loads(provider.inputs["allowedAccountIds"])[0])

        # By IAM prefix; bedrock-agent-runtime (also "bedrock") has fields of its own.
        interface_endpoint_policies = {
            policies.endpoint_service_prefix(service): json.loads(r.inputs["policy"])
            for r in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
            if r.inputs["vpcEndpointType"] == "Interface"
            and (service := r.inputs["serviceName"].split(".", 3)[3]) != BEDROCK_AGENT_RUNTIME
        }

        def endpoint(service: str) -> Any:
            name = f"com.amazonaws.{run.region}.{service}"
            found = [
                r
                for r in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
                if r.inputs["serviceName"] == name
            ]
            return found[0] if found else None

        s3 = endpoint("s3")
        bedrock = endpoint("bedrock-runtime")
        agent_runtime = endpoint(BEDROCK_AGENT_RUNTIME)
        knowledge_bases = run.of_type("aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase")
        vector_policies = run.of_type("aws:s3/vectorsVectorBucketPolicy:VectorsVectorBucketPolicy")
        bucket_policies = {
            r.inputs["bucket"]: json.loads(r.inputs["policy"])
            for r in run.of_type("aws:s3/bucketPolicy:BucketPolicy")
        }
        # By resource name: the stack has other buckets and keys (invocation logs, alarm topic).
        log_bucket = next(
            (
                r.inputs["bucket"]
                for r in run.of_type("aws:s3/bucketPolicy:BucketPolicy")
                if r.name == "data-access-logs"
            ),
            None,
        )
        keys = [k for k in run.of_type("aws:kms/key:Key") if k.name == "data-key"]
        organization = outputs["organizationPolicies"]
        access_points = {
            r.inputs["name"]: AccessPoint(
                name=r.inputs["name"],
                arn=r.outputs["arn"],
                account_id=r.inputs["accountId"],
                policy=json.loads(r.inputs["policy"]),
                network_origin="VPC" if r.inputs.get("vpcConfiguration") else "Internet",
            )
            for r in run.of_type("aws:s3/accessPoint:AccessPoint")
        }
        role = run.named("aws:iam/role:Role", "bedrock-role")
        role_policy = run.named("aws:iam/rolePolicy:RolePolicy", "bedrock-role")
        [function] = run.of_type("aws:lambda/function:Function")
        return cls(
            stack=run.stack,
            region=run.region,
            account_id=account_id,
            vpc_id=outputs["vpcId"],
            s3_endpoint_id=outputs["s3GatewayEndpointId"],
            s3_endpoint_policy=json.loads(s3.inputs["policy"]),
            bedrock_endpoint_id=outputs["interfaceEndpointIds"].get("bedrock-runtime"),
            bedrock_endpoint_policy=json.loads(bedrock.inputs["policy"]) if bedrock else None,
            interface_endpoint_policies=interface_endpoint_policies,
            bucket_name=bucket_name,
            bucket_policy=bucket_policies[bucket_name],
            access_points=access_points,
            function_role_arn=role.outputs["arn"],
            function_role_policy=json.loads(role_policy.inputs["policy"]),
            log_bucket_name=log_bucket,
            log_bucket_policy=bucket_policies[log_bucket] if log_bucket else None,
            data_key_arn=outputs["kmsKeyArn"],
            data_key_policy=json.loads(keys[0].inputs["policy"]) if keys else None,
            service_control_policy=json.loads(organization["serviceControlPolicy"]),
            bedrock_service_control_policy=json.loads(organization["bedrockServiceControlPolicy"]),
            region_service_control_policy=json.loads(organization["regionServiceControlPolicy"]),
            resource_control_policy=json.loads(organization["resourceControlPolicy"]),
            dynamodb_endpoint_policy=json.loads(endpoint("dynamodb").inputs["policy"]),
            interface_endpoint_ids={
                policies.endpoint_service_prefix(service): endpoint_id
                for service, endpoint_id in outputs["interfaceEndpointIds"].items()
                if service != BEDROCK_AGENT_RUNTIME
            },
            function_environment=function.inputs["environment"]["variables"],
            trust_policies={
                r.outputs["arn"]: json.loads(r.inputs["assumeRolePolicy"])
                for r in run.of_type("aws:iam/role:Role")
            },
            role_arns={r.name: r.outputs["arn"] for r in run.of_type("aws:iam/role:Role")},
            role_policies={
                r.name: json.loads(r.inputs["policy"])
                for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
            },
            other_bucket_policies={
                name: document
                for name, document in bucket_policies.items()
                if name not in (bucket_name, log_bucket)
            },
            key_arns={k.name: k.outputs["arn"] for k in run.of_type("aws:kms/key:Key")},
            key_policies={
                k.outputs["arn"]: json.loads(k.inputs["policy"])
                for k in run.of_type("aws:kms/key:Key")
            },
            log_group_arns={
                g.name: g.outputs["arn"] for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")
            },
            function_arn=function.outputs["arn"],
            function_subnet_ids=tuple(function.inputs["vpcConfig"]["subnetIds"]),
            function_security_group_ids=tuple(function.inputs["vpcConfig"]["securityGroupIds"]),
            knowledge_base_arn=knowledge_bases[0].outputs["arn"] if knowledge_bases else None,
            knowledge_base_endpoint_id=outputs["interfaceEndpointIds"].get(BEDROCK_AGENT_RUNTIME),
            knowledge_base_endpoint_policy=json.loads(agent_runtime.inputs["policy"])
            if agent_runtime
            else None,
            vector_bucket_arn=vector_policies[0].inputs["vectorBucketArn"]
            if vector_policies
            else None,
            vector_bucket_policy=json.loads(vector_policies[0].inputs["policy"])
            if vector_policies
            else None,
            knowledge_base_service_control_policy=json.loads(text)
            if (text := organization.get("knowledgeBaseServiceControlPolicy"))
            else None,
        )

    @property
    def function(self) -> Identity:
        return Identity(self.function_role_arn, (("function-role", self.function_role_policy),))

    def resolve(self, text: str) -> str:
        """Fill in what only the run knows: ``<guardrail>`` (its ARN), ``<guardrail-version>``
        (the function's guardrail identifier, ARN:version), ``<app-profile:MODEL>`` (the
        application profile the function invokes for MODEL), ``<role:NAME>`` (the ARN of a
        role by its resource name), ``<knowledge-base>`` and ``<vector-bucket>`` (ARNs)."""
        environment = self.function_environment
        routes = json.loads(environment.get("MODEL_ROUTES", "{}"))
        knowledge_base_arns = {
            "knowledge-base": self.knowledge_base_arn,
            "vector-bucket": self.vector_bucket_arn,
        }

        def value(match: re.Match[str]) -> str:
            kind, _, argument = match[1].partition(":")
            if kind == "guardrail":
                return environment["GUARDRAIL_ID"]
            if kind == "guardrail-version":
                return f"{environment['GUARDRAIL_ID']}:{environment['GUARDRAIL_VERSION']}"
            if kind == "app-profile":
                return str(routes[argument])
            if kind == "role":
                return self.role_arns[argument]
            if (arn := knowledge_base_arns.get(kind)) is not None:
                return arn
            return self._scanner_clean_value(kind, argument, match[1])

        return re.sub(r"<([a-z-]+(?::[^>]+)?)>", value, text)

    # === Scanner-clean (issue 23) ===
    def _scanner_clean_value(self, kind: str, argument: str, placeholder: str) -> str:
        """``<key:NAME>`` and ``<log-group:NAME>`` (ARN by resource name), ``<function>`` (the
        function's ARN), ``<subnet:N>`` and ``<security-group>`` (ARNs of the function's N-th
        subnet and of its security group)."""
        ec2 = f"arn:aws:ec2:{self.region}:{self.account_id}"
        if kind == "key":
            return self.key_arns[argument]
        if kind == "log-group":
            return self.log_group_arns[argument]
        if kind == "function":
            return self.function_arn
        if kind == "subnet":
            return f"{ec2}:subnet/{self.function_subnet_ids[int(argument)]}"
        if kind == "security-group":
            return f"{ec2}:security-group/{self.function_security_group_ids[0]}"
        raise ValueError(f"unknown placeholder <{placeholder}>")

    def foreign_access_point(self) -> AccessPoint:
        arn = f"arn:aws:s3:{self.region}:{FOREIGN_ACCOUNT}:accesspoint/{FOREIGN_ACCESS_POINT}"
        return AccessPoint(FOREIGN_ACCESS_POINT, arn, FOREIGN_ACCOUNT, OPEN_S3_POLICY, "VPC")

    def access_point(self, name: str) -> AccessPoint:
        """One of the stack's access points, or one of the model's others (module constants)."""
        if name.startswith(WIDENED):
            return replace(self.access_points[name.removeprefix(WIDENED)], policy=OPEN_S3_POLICY)
        if name in (ROGUE_ACCESS_POINT, ROGUE_INTERNET_ACCESS_POINT, ROGUE_OPEN_ACCESS_POINT):
            arn = f"arn:aws:s3:{self.region}:{self.account_id}:accesspoint/{name}"
            origin: Literal["VPC", "Internet"] = (
                "Internet" if name == ROGUE_INTERNET_ACCESS_POINT else "VPC"
            )
            policy = OPEN_S3_POLICY if name == ROGUE_OPEN_ACCESS_POINT else None
            return AccessPoint(name, arn, self.account_id, policy, origin)
        if name == FOREIGN_ACCESS_POINT:
            return self.foreign_access_point()
        return self.access_points[name]

    def organization_policies(
        self, principal_account: str, resource_account: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The SCPs and RCPs in force, with the stack's organization policies attached to the
        data account: SCPs bind its principals, RCPs its resources."""
        scps = [
            {
                "orgIdentifier": ORGANIZATION_ROOT,
                "policies": [_named("FullAWSAccess", FULL_AWS_ACCESS)],
            }
        ]
        if principal_account == self.account_id:
            scps.append(
                {
                    "orgIdentifier": self.account_id,
                    "policies": [
                        _named("FullAWSAccess", FULL_AWS_ACCESS),
                        _named("data-lake-scp", self.service_control_policy),
                        _named("bedrock-scp", self.bedrock_service_control_policy),
                        _named("region-scp", self.region_service_control_policy),
                        *(
                            [_named("knowledge-base-scp", knowledge_base_scp)]
                            if (knowledge_base_scp := self.knowledge_base_service_control_policy)
                            else []
                        ),
                    ],
                }
            )
        rcps = []
        if resource_account == self.account_id:
            rcps.append(
                {
                    "orgIdentifier": self.account_id,
                    "policies": [_named("data-lake-rcp", self.resource_control_policy)],
                }
            )
        return scps, rcps


def _named(name: str, policy: PolicyDocument) -> dict[str, Any]:
    return {"name": name, "policy": policy}


@dataclass(frozen=True)
class Request:
    """One request, in the terms of the matrix.

    ``resource`` is the object key for object actions, the listed prefix (``s3:prefix``, ``""``
    for none) for listings, ignored for other bucket actions, a full ``arn:aws:s3:::BUCKET/KEY``
    to address a bucket other than the data bucket directly, and the model ARN for Bedrock.
    ``access_point`` is the name of one of the stack's access points, ``FOREIGN_ACCESS_POINT``,
    or None to go to the bucket directly.
    """

    identity: Identity
    action: str
    resource: str
    origin: str = VPC
    tls: bool = True
    access_point: str | None = None
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    organization_policies: bool = False
    """Evaluate with the stack's SCP and RCP attached to the data account."""
    without_bucket_policy: bool = False
    """The data bucket's policy deleted (the root user's break-glass, until the next deploy)."""
    endpoint: str = "bedrock-runtime"
    """Which of the VPC's Bedrock endpoints a Bedrock request from the VPC goes to: the caller
    chooses (bedrock-runtime, or bedrock-agent-runtime with a knowledge base)."""


@dataclass(frozen=True)
class Evaluation:
    """One call of iam-simulate."""

    label: str
    identity: Identity
    action: str
    resource: str
    resource_account: str
    context: Mapping[str, str | list[str]]
    resource_policy: PolicyDocument | None
    endpoint_policies: Sequence[tuple[str, PolicyDocument]] | None
    unfiltered_context: bool = False
    service_control_policies: Sequence[Mapping[str, Any]] = ()
    resource_control_policies: Sequence[Mapping[str, Any]] = ()

    def as_json(
        self, evaluation_id: str, policy_id: Callable[[PolicyDocument], str]
    ) -> dict[str, Any]:
        """The evaluation as simulate.mjs reads it, each policy named by ``policy_id``."""

        def named(name: str, policy: PolicyDocument) -> dict[str, str]:
            return {"name": name, "policy": policy_id(policy)}

        def levels(org: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
            return [
                {
                    "orgIdentifier": level["orgIdentifier"],
                    "policies": [named(p["name"], p["policy"]) for p in level["policies"]],
                }
                for level in org
            ]

        document: dict[str, Any] = {
            "id": evaluation_id,
            "principal": self.identity.arn,
            "action": self.action,
            "resource": self.resource,
            "resourceAccount": self.resource_account,
            "context": dict(self.context),
            "identityPolicies": [named(n, p) for n, p in self.identity.policies],
            "unfilteredContext": self.unfiltered_context,
        }
        if self.resource_policy is not None:
            document["resourcePolicy"] = policy_id(self.resource_policy)
        if self.endpoint_policies is not None:
            document["endpointPolicies"] = [named(n, p) for n, p in self.endpoint_policies]
        if self.service_control_policies:
            document["serviceControlPolicies"] = levels(self.service_control_policies)
        if self.resource_control_policies:
            document["resourceControlPolicies"] = levels(self.resource_control_policies)
        return document


@dataclass(frozen=True)
class EvaluationResult:
    evaluation: Evaluation
    decision: Decision
    parts: Mapping[str, str | None]
    """What the identity, resource and endpoint policies each said."""
    validated_decision: Decision
    ignored_context_keys: tuple[str, ...]

    def explain(self) -> str:
        said = ", ".join(f"{kind} {result}" for kind, result in self.parts.items() if result)
        return f"{self.evaluation.label}: {self.decision} ({said})"


@dataclass(frozen=True)
class Outcome:
    """The combined decision of a request, with the evaluations it took."""

    decision: Decision
    results: tuple[EvaluationResult, ...]

    def explain(self) -> str:
        return "; ".join(r.explain() for r in self.results)


@cache
def _resource_types(action: str) -> frozenset[str]:
    service, _, name = action.partition(":")
    found = [a for a in catalog.actions(service) if a.name.lower() == name.lower()]
    return frozenset(found[0].resource_types) if found else frozenset()


def is_object_action(action: str) -> bool:
    """An S3 action on objects (KEY), by the catalog's resource types; every other acts on the
    bucket or the access point."""
    types = _resource_types(action)
    return bool(types & {"object", "accesspointobject"}) and "bucket" not in types


def is_access_point_control_action(action: str) -> bool:
    """An S3 Control action on an access point itself (create, delete, its policy)."""
    return action.startswith("s3:") and _resource_types(action) == {"accesspoint"}


def has_access_point_half(action: str) -> bool:
    """Whether iam-data knows the action on access points: for those it does not
    (ListBucketMultipartUploads, which S3 serves through access points all the same), the
    model evaluates the bucket half alone (docs/access-proof.md)."""
    return bool(_resource_types(action) & {"accesspoint", "accesspointobject"})


def combine(decisions: Sequence[Decision]) -> Decision:
    """An explicit deny anywhere wins; otherwise every evaluation must allow."""
    if "ExplicitlyDenied" in decisions:
        return "ExplicitlyDenied"
    if decisions and all(d == "Allowed" for d in decisions):
        return "Allowed"
    return "ImplicitlyDenied"


def _network_context(
    stack: StackPolicies, request: Request, endpoint_id: str | None
) -> dict[str, str | list[str]]:
    context: dict[str, str | list[str]] = {
        "aws:SecureTransport": "true" if request.tls else "false",
        "aws:RequestedRegion": _arn_part(request.resource, 3) or stack.region,
    }
    if request.identity.is_service:
        # An AWS service acting as itself (log delivery): no account, no ARN of a principal.
        context |= {
            "aws:PrincipalIsAWSService": "true",
            "aws:PrincipalServiceName": request.identity.arn,
        }
        return context
    context |= {
        "aws:PrincipalArn": request.identity.arn,
        "aws:PrincipalAccount": request.identity.account,
        "aws:PrincipalIsAWSService": "false",
    }
    if request.identity.organization_id is not None:
        context["aws:PrincipalOrgID"] = request.identity.organization_id

    def from_vpc(vpc_id: str, owner: str, endpoint: str | None) -> None:
        context["aws:SourceVpc"] = vpc_id
        context["aws:SourceVpcArn"] = f"arn:aws:ec2:{stack.region}:{owner}:vpc/{vpc_id}"
        if endpoint is not None:
            context["aws:SourceVpce"] = endpoint

    if request.origin == VPC:
        from_vpc(stack.vpc_id, stack.account_id, endpoint_id)
    elif request.origin == OTHER_ENDPOINT_IN_VPC:
        from_vpc(stack.vpc_id, stack.account_id, OTHER_VPC_ENDPOINT)
    elif request.origin.startswith("vpce-"):
        from_vpc(ENDPOINT_VPCS[request.origin], stack.account_id, request.origin)
    elif request.origin != INTERNET:
        owner = VPC_OWNERS.get(request.origin, request.identity.account)
        from_vpc(request.origin, owner, OTHER_VPC_ENDPOINT)
    return context


def evaluations(stack: StackPolicies, request: Request) -> list[Evaluation]:
    """The evaluations AWS makes for one request (see the module docstring)."""
    if request.identity.is_service and request.action == "sts:AssumeRole":
        planned = [_trust_evaluation(stack, request)]
    elif request.action.startswith("bedrock:"):
        planned = [_bedrock_evaluation(stack, request)]
    elif request.action.startswith("s3vectors:"):
        planned = [_vectors_evaluation(stack, request)]
    elif request.action.startswith("kms:") and (
        request.resource in ("data-key", stack.data_key_arn)
        or request.resource in stack.key_policies
    ):
        planned = [_key_evaluation(stack, request)]
    # === Scanner-clean (issue 23) ===
    elif request.action.startswith("ec2:"):
        planned = [_identity_evaluation(stack, request)]
    elif is_access_point_control_action(request.action):
        planned = [_access_point_control_evaluation(stack, request)]
    elif request.action.startswith("s3:"):
        planned = _s3_evaluations(stack, request)
    else:
        planned = [_service_evaluation(stack, request)]
    if not request.organization_policies:
        return planned
    return [
        replace(
            evaluation,
            service_control_policies=scps,
            resource_control_policies=rcps,
        )
        for evaluation in planned
        for scps, rcps in [
            stack.organization_policies(request.identity.account, evaluation.resource_account)
        ]
    ]


def _arn_part(arn: str, index: int) -> str:
    """One colon-separated field of an ARN ('' when the resource is no ARN or has none)."""
    parts = arn.split(":")
    return parts[index] if arn.startswith("arn:") and len(parts) > index else ""


BEDROCK_AGENT_RUNTIME = "bedrock-agent-runtime"
# What the bedrock-runtime endpoint carries.
BEDROCK_RUNTIME_ACTIONS = frozenset(
    {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:ApplyGuardrail"}
)


def _bedrock_evaluation(stack: StackPolicies, request: Request) -> Evaluation:
    """A Bedrock call, from the stack's VPC through one of its Bedrock endpoints (the
    request's ``endpoint``: bedrock-runtime, or bedrock-agent-runtime with a knowledge base).
    The control plane (guardrails, logging, knowledge bases) has an endpoint of its own, which
    the stack does not create; the model still puts every Bedrock action from the VPC through
    the chosen endpoint's policy, which must refuse what it does not serve."""
    if request.origin != VPC and request.action not in BEDROCK_RUNTIME_ACTIONS:
        return _service_evaluation(stack, request)
    through_endpoint = request.origin == VPC
    policy, endpoint_id = {
        "bedrock-runtime": (stack.bedrock_endpoint_policy, stack.bedrock_endpoint_id),
        BEDROCK_AGENT_RUNTIME: (
            stack.knowledge_base_endpoint_policy,
            stack.knowledge_base_endpoint_id,
        ),
    }[request.endpoint]
    if through_endpoint and policy is None:
        raise ValueError(f"stack {stack.stack} has no {request.endpoint} endpoint")
    endpoint = (
        [(f"{request.endpoint}-endpoint", policy)]
        if through_endpoint and policy is not None
        else None
    )
    return Evaluation(
        label="model" if request.endpoint == "bedrock-runtime" else "knowledge base",
        identity=request.identity,
        action=request.action,
        resource=request.resource,
        # Models and vector knowledge bases have no resource policy: the call is authorized in
        # the caller's account.
        resource_account=_arn_part(request.resource, 4) or request.identity.account,
        context=_network_context(stack, request, endpoint_id) | dict(request.context),
        resource_policy=None,
        endpoint_policies=endpoint,
    )


def _vectors_evaluation(stack: StackPolicies, request: Request) -> Evaluation:
    """An S3 Vectors request on the stack's vector bucket or its index: the vector bucket's
    policy and the caller's IAM decide. The stack's VPC has no S3 Vectors endpoint (and no
    other way out), so the model takes such requests from outside only."""
    if request.origin == VPC:
        raise ValueError("the stack's VPC has no endpoint that carries S3 Vectors")
    ours = stack.vector_bucket_arn is not None and (
        request.resource == stack.vector_bucket_arn
        or request.resource.startswith(f"{stack.vector_bucket_arn}/")
    )
    return Evaluation(
        label="vector bucket",
        identity=request.identity,
        action=request.action,
        resource=request.resource,
        resource_account=_arn_part(request.resource, 4) or request.identity.account,
        context=_network_context(stack, request, None) | dict(request.context),
        resource_policy=stack.vector_bucket_policy if ours else None,
        endpoint_policies=None,
    )


def _key_evaluation(stack: StackPolicies, request: Request) -> Evaluation:
    """A service calling KMS for the caller, or for itself: the key policy decides (the caller's
    context: kms:ViaService, kms:CallerAccount and the encryption context, come from the row).
    The resource names one of the stack's keys (``<key:NAME>``), or else means the data key."""
    if request.resource in stack.key_policies:
        key_arn, policy = request.resource, stack.key_policies[request.resource]
    elif stack.data_key_policy is None:
        raise ValueError(f"stack {stack.stack} uses an existing key: its policy is not ours")
    else:
        key_arn, policy = stack.data_key_arn, stack.data_key_policy
    return Evaluation(
        label="key",
        identity=request.identity,
        action=request.action,
        resource=key_arn,
        resource_account=stack.account_id,
        context=_network_context(stack, request, None) | dict(request.context),
        resource_policy=policy,
        endpoint_policies=None,
        unfiltered_context=True,
    )


# === Scanner-clean (issue 23) ===
def _identity_evaluation(stack: StackPolicies, request: Request) -> Evaluation:
    """What a principal's own IAM policies allow on its account's resources, with no resource or
    endpoint policy (the EC2 calls Lambda makes with the function's role)."""
    return Evaluation(
        label="identity",
        identity=request.identity,
        action=request.action,
        resource=request.resource,
        resource_account=request.identity.account,
        context=_network_context(stack, request, None) | dict(request.context),
        resource_policy=None,
        endpoint_policies=None,
        unfiltered_context=True,
    )


# The target's own resource policy (a role's trust policy, ...) is taken to let anyone in, so
# that what the stack's endpoint policy lets through is all that decides.
OPEN_TRUST_POLICY: PolicyDocument = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*", "Resource": "*"}],
}


def _service_evaluation(stack: StackPolicies, request: Request) -> Evaluation:
    """Any other service: the caller's IAM, and from the stack's VPC the policy of that
    service's endpoint (the DynamoDB gateway endpoint, or its interface endpoint: a service the
    stack has no endpoint for cannot be reached from its subnets). An ``sts`` target trusts
    everyone, so that the endpoint's policy alone decides."""
    service = request.action.split(":", 1)[0]
    endpoint = endpoint_id = None
    if request.origin == VPC:
        if service == "dynamodb":
            endpoint = [("dynamodb-gateway-endpoint", stack.dynamodb_endpoint_policy)]
        elif service in stack.interface_endpoint_policies and service != "bedrock":
            endpoint = [(f"{service}-endpoint", stack.interface_endpoint_policies[service])]
            endpoint_id = stack.interface_endpoint_ids.get(service)
        else:
            raise ValueError(f"the stack's VPC has no endpoint that carries {request.action}")
    elif request.origin != INTERNET:
        raise ValueError(f"the model covers {service} requests from the stack's VPC or outside")
    return Evaluation(
        label=f"{service} {'endpoint' if endpoint else 'request'}",
        identity=request.identity,
        action=request.action,
        resource=request.resource,
        resource_account=_arn_part(request.resource, 4) or request.identity.account,
        context=_network_context(stack, request, endpoint_id) | dict(request.context),
        resource_policy=OPEN_TRUST_POLICY if service == "sts" else None,
        endpoint_policies=endpoint,
    )


def _access_point_control_evaluation(stack: StackPolicies, request: Request) -> Evaluation:
    """An S3 Control action on an access point: evaluated against the access point ARN. AWS
    documents no bucket or endpoint policy for these, and an access point's policy applies
    only to requests made through it: IAM, SCPs and RCPs decide."""
    if request.access_point is None:
        raise ValueError(f"{request.action} names an access point")
    access_point = stack.access_point(request.access_point)
    return Evaluation(
        label=f"access point {access_point.name} (S3 Control)",
        identity=request.identity,
        action=request.action,
        resource=access_point.arn,
        resource_account=access_point.account_id,
        context=_network_context(stack, request, None) | dict(request.context),
        resource_policy=None,
        endpoint_policies=None,
    )


def _trust_evaluation(stack: StackPolicies, request: Request) -> Evaluation:
    """A service assuming one of the stack's roles: the role's trust policy decides, with the
    service's aws:SourceAccount and aws:SourceArn in the context (no network keys)."""
    return Evaluation(
        label="trust",
        identity=request.identity,
        action=request.action,
        resource=request.resource,
        resource_account=stack.account_id,
        context=dict(request.context),
        resource_policy=stack.trust_policies[request.resource],
        endpoint_policies=None,
    )


def _s3_evaluations(stack: StackPolicies, request: Request) -> list[Evaluation]:
    context = _network_context(stack, request, stack.s3_endpoint_id) | dict(request.context)
    endpoint = None
    if request.origin == VPC:
        endpoint = [("s3-gateway-endpoint", stack.s3_endpoint_policy)]
    key = request.resource
    bucket_name, bucket_owner = stack.bucket_name, stack.account_id
    bucket_policy: PolicyDocument | None = (
        None if request.without_bucket_policy else stack.bucket_policy
    )
    if key.startswith("arn:aws:s3:::"):
        bucket_name, _, key = key.removeprefix("arn:aws:s3:::").partition("/")
        if bucket_name == stack.log_bucket_name:
            bucket_policy = stack.log_bucket_policy
        elif bucket_name in stack.other_bucket_policies:
            bucket_policy = stack.other_bucket_policies[bucket_name]
        elif bucket_name != stack.bucket_name:
            bucket_owner, bucket_policy = FOREIGN_ACCOUNT, OPEN_S3_POLICY
    if (
        request.action in ROOT_KEEPS_BUCKET_POLICY_ACTIONS
        and request.identity.arn == f"arn:aws:iam::{bucket_owner}:root"
    ):
        # S3: "the root user of the account that owns a bucket can always use these actions,
        # even if the bucket policy explicitly denies the root user" (AWS's answer to a policy
        # that locks everyone out). The engine does not know this rule; the model applies it.
        bucket_policy = None
    if not is_object_action(request.action):
        if request.action in _PREFIX_LISTING_ACTIONS and key:
            context["s3:prefix"] = key
        key = ""
    bucket_resource = f"arn:aws:s3:::{bucket_name}" + (f"/{key}" if key else "")

    def on_bucket(context: dict[str, str | list[str]], *, unfiltered_context: bool) -> Evaluation:
        return Evaluation(
            label="bucket",
            identity=request.identity,
            action=request.action,
            resource=bucket_resource,
            resource_account=bucket_owner,
            # AWS names the resource's owner in every request (aws:ResourceAccount).
            context={"aws:ResourceAccount": bucket_owner, **context},
            resource_policy=bucket_policy,
            endpoint_policies=endpoint,
            unfiltered_context=unfiltered_context,
        )

    if request.access_point is None:
        return [on_bucket(context, unfiltered_context=False)]

    access_point = stack.access_point(request.access_point)
    if request.access_point == FOREIGN_ACCESS_POINT:
        bucket_resource = "arn:aws:s3:::foreign-bucket" + (f"/{key}" if key else "")
        bucket_owner, bucket_policy = FOREIGN_ACCOUNT, OPEN_S3_POLICY
    context |= {
        "s3:DataAccessPointArn": access_point.arn,
        "s3:DataAccessPointAccount": access_point.account_id,
        "s3:AccessPointNetworkOrigin": access_point.network_origin,
    }
    access_point_resource = access_point.arn + (f"/object/{key}" if key else "")
    through_access_point = Evaluation(
        label=f"access point {access_point.name}",
        identity=request.identity,
        action=request.action,
        resource=access_point_resource,
        resource_account=access_point.account_id,
        context={"aws:ResourceAccount": access_point.account_id, **context},
        resource_policy=access_point.policy,
        endpoint_policies=endpoint,
    )
    # The bucket half sees the access point keys (iam-simulate would drop them; simulate.mjs).
    on_the_bucket = on_bucket(context, unfiltered_context=True)
    if not has_access_point_half(request.action):
        return [on_the_bucket]
    return [through_access_point, on_the_bucket]


class SimulatorUnavailable(Exception):
    """Node, npm or the pinned package is missing; the message says how to install them."""


class SimulatorError(Exception):
    """iam-simulate refused an evaluation (invalid policy, action, resource or context)."""


def _policy_id(policy: PolicyDocument) -> str:
    return hashlib.sha256(json.dumps(policy, sort_keys=True).encode()).hexdigest()[:24]


class _PolicyIds:
    """Policy ids by document object: the same documents come back in every evaluation of a
    batch, and hashing each again would cost as much as evaluating it. The documents are kept
    (an id() is unique only while its object lives)."""

    def __init__(self) -> None:
        self._ids: dict[int, tuple[PolicyDocument, str]] = {}

    def __call__(self, policy: PolicyDocument) -> str:
        known = self._ids.get(id(policy))
        if known is None:
            known = self._ids[id(policy)] = (policy, _policy_id(policy))
        return known[1]


@dataclass
class Simulator:
    """One long-lived Node process (simulate.mjs) that evaluates batch after batch: each policy
    is sent, validated and loaded once, each (action, resource) validated once."""

    node: str
    version: str = ""
    _process: subprocess.Popen[str] | None = field(default=None, repr=False)
    _sent: set[str] = field(default_factory=set, repr=False)
    _answers: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    """Each evaluation's answer, by what was sent for it: the evaluator is a function of what
    it is sent, so an evaluation seen before (a mutation check's rows that the mutated policy
    does not touch) is answered without it."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def locate(cls) -> Simulator:
        node = shutil.which("node")
        if node is None:
            raise SimulatorUnavailable("node is not on PATH (Node.js 20+ is needed)")
        if not (IAM_DIR / "node_modules" / PACKAGE / "package.json").is_file():
            raise SimulatorUnavailable(
                f"{PACKAGE} is not installed: run `npm ci --no-audit --no-fund` in {IAM_DIR} "
                "(or `make install`)"
            )
        return cls(node)

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [self.node, str(SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=IAM_DIR,
                env={**os.environ, "NODE_NO_WARNINGS": "1"},
            )
            self._sent = set()
            atexit.register(self.close)
        return self._process

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(timeout=30)
        self._process = None

    def _policy(
        self, policy: PolicyDocument, new: dict[str, PolicyDocument], ids: _PolicyIds
    ) -> str:
        policy_id = ids(policy)
        if policy_id not in self._sent:
            new[policy_id] = policy
        return policy_id

    def run(
        self, batch: Sequence[Evaluation], *, reference: bool = False
    ) -> list[EvaluationResult]:
        """Evaluate ``batch``; ``reference`` asks for the public runSimulation() path instead of
        the driver's own (to compare the two)."""
        with self._lock:
            new: dict[str, PolicyDocument] = {}
            ids = _PolicyIds()
            documents = [e.as_json("", lambda p: self._policy(p, new, ids)) for e in batch]
            keys = [json.dumps([reference, d], sort_keys=True) for d in documents]
            missing = {
                key: document
                for key, document in zip(keys, documents, strict=True)
                if key not in self._answers
            }
            if missing:
                answers = self._send(list(missing.values()), new, reference)
                self._answers.update(zip(missing, answers, strict=True))
        results = []
        for evaluation, key in zip(batch, keys, strict=True):
            result = self._answers[key]
            if result["decision"] == "Error":
                raise SimulatorError(
                    f"{evaluation.label} {evaluation.action} {evaluation.resource}: "
                    + json.dumps(result["errors"], indent=1)
                )
            results.append(
                EvaluationResult(
                    evaluation,
                    result["decision"],
                    result["parts"],
                    result["validatedDecision"],
                    tuple(result["ignoredContextKeys"]),
                )
            )
        return results

    def _send(
        self, evaluations: list[dict[str, Any]], new: dict[str, PolicyDocument], reference: bool
    ) -> list[dict[str, Any]]:
        """Evaluate ``evaluations`` (as_json's documents) in the Node process, in one message."""
        process = self._started()
        for i, document in enumerate(evaluations):
            document["id"] = str(i)
        message = {"evaluations": evaluations, "policies": new, "reference": reference}
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            raise SimulatorError(f"simulate.mjs stopped (exit code {process.wait()})")
        self._sent |= new.keys()
        answer = json.loads(line)
        self.version = answer["version"]
        answers: list[dict[str, Any]] = answer["results"]
        return answers

    def refusals(self, pairs: Sequence[tuple[str, str]]) -> list[str | None]:
        """Why the evaluator would refuse each (action, resource) pair (no such action, a
        resource of none or several of its types...), or None where it takes it."""
        with self._lock:
            process = self._started()
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.write(json.dumps({"shapes": [list(pair) for pair in pairs]}) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        if not line:
            raise SimulatorError("simulate.mjs stopped")
        errors: list[str | None] = json.loads(line)["errors"]
        return errors

    def decide(
        self, requests: Sequence[tuple[StackPolicies, Request]], *, allowed_only: bool = False
    ) -> list[Outcome]:
        """Every request's combined decision, in one batch.

        With ``allowed_only`` the answer says whether each request is allowed and nothing
        more: a request's next evaluation (the bucket half after the access point half) is
        made only while the earlier ones allowed it, and a denied request's decision is the
        first denial found (it may be implicit where a later evaluation would deny
        explicitly)."""
        plans = [evaluations(stack, request) for stack, request in requests]
        if not allowed_only:
            flat = self.run([e for plan in plans for e in plan])
            outcomes, start = [], 0
            for plan in plans:
                results = tuple(flat[start : start + len(plan)])
                start += len(plan)
                outcomes.append(Outcome(combine([r.decision for r in results]), results))
            return outcomes
        done: list[list[EvaluationResult]] = [[] for _ in plans]
        open_plans = list(range(len(plans)))
        for stage in range(max((len(p) for p in plans), default=0)):
            open_plans = [
                i
                for i in open_plans
                if len(plans[i]) > stage and all(r.decision == "Allowed" for r in done[i])
            ]
            for i, result in zip(
                open_plans, self.run([plans[i][stage] for i in open_plans]), strict=True
            ):
                done[i].append(result)
        return [Outcome(combine([r.decision for r in results]), tuple(results)) for results in done]
