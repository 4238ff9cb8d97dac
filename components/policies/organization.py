"""Organization policies (SCPs and an RCP) for the data account: what no bucket or endpoint policy
can express, because it binds principals (the SCPs: the data account's own, its root user
included) or resources against every principal (the RCP).

- Who manages the data: only the administrators create, change or delete access points (of any
  kind: regional, multi-Region, Object Lambda) and change the data bucket; the account's root
  user keeps one recovery action, deleting the bucket policy (AWS's break-glass for a bucket
  policy that locks everyone out, also what ``sts:AssumeRoot``'s S3UnlockBucketPolicy task does).
- Who governs the models: only the administrators change, delete or publish guardrails, create
  new ones, or change the account's model invocation logging; with a guardrail configured,
  nobody else calls a model without a published guardrail of the account.
- Who reads the invocation logs in CloudWatch: the administrators; the delivery role writes.
  CloudWatch Logs decides readers by IAM alone (its resource policies bind AWS services only,
  and a KMS key on a log group is used by the service, not by the reader), so only an
  organization policy can hold the log group against a role with ``logs:*``.
- Athena access points: their principals query only through the stack's workgroups (which
  enforce where results go), and, when the stack has an ``athena`` interface endpoint, only
  through it.
- Where: the data account works in the stack's Region; models also in the Regions its
  cross-Region inference profiles route to, and only when routed by one of them.
- The knowledge base: only the administrators create or change knowledge bases and their data
  sources; only the function retrieves from the stack's, through the stack's endpoint; only the
  ingestion runner starts its ingestion; its role reads its prefixes and embeds with its model,
  nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.policies.documents import (
    PARTITION,
    PolicyDocument,
    Statement,
    document,
    merge,
    one_or_many,
    statement,
)
from components.policies.knowledge_base import (
    INGESTION_ACTIONS,
    KNOWLEDGE_BASE_READS,
    RETRIEVE,
    knowledge_bases_of,
)
from components.policies.principals import account_root_arn, not_administrator
from components.policies.s3 import (
    ACCESS_POINT_READS,
    CONFIGURATION_READS,
    bucket_arn,
    prefix_pattern,
)

BEDROCK_INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# Guardrails: reading and applying one is everyone's; every other action on a guardrail
# (update, delete, publish a version, its resource policy, its tags, what AWS adds) is the
# administrators'.
GUARDRAIL_USE = ("bedrock:ApplyGuardrail", "bedrock:GetGuardrail", "bedrock:ListGuardrails")
# Actions on no guardrail resource that change what governs model calls.
BEDROCK_GOVERNANCE_ACTIONS = (
    "bedrock:CreateGuardrail",
    "bedrock:PutModelInvocationLoggingConfiguration",
    "bedrock:DeleteModelInvocationLoggingConfiguration",
)
# Services with one global endpoint (in us-east-1) or no Region of their own, exempt from the
# Region rule as in AWS Organizations' "Deny access to AWS based on the requested AWS Region"
# example; requests to every other service outside the allowed Regions are denied.
GLOBAL_SERVICE_ACTIONS = (
    "account:*",
    "aws-portal:*",
    "budgets:*",
    "ce:*",
    "cloudfront:*",
    "health:*",
    "iam:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "s3:GetAccountPublicAccessBlock",
    "s3:ListAllMyBuckets",
    "shield:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
)


@dataclass(frozen=True)
class KnowledgeBaseScope:
    """The stack's knowledge base, for the organization policies."""

    arn: str
    role_arn: str
    """The role Bedrock ingests and embeds with."""
    prefixes: tuple[str, ...]
    """What that role reads of the data bucket."""
    embedding_model_arn: str
    retriever_arns: tuple[str, ...]
    """Who retrieves from it: the function's role."""
    ingestion_runner_arn: str
    """The role of the state machine that starts ingestion jobs."""
    endpoint_id: str
    """The bedrock-agent-runtime endpoint retrieval goes through."""

    def __post_init__(self) -> None:
        # Every field names something a statement is built on: a value that did not resolve
        # must fail, not turn a deny into one that matches nothing.
        if not all([self.arn, self.role_arn, self.prefixes, self.embedding_model_arn]):
            raise ValueError("the knowledge base's ARN, role, prefixes and model must be known")
        if not all([*self.retriever_arns, self.ingestion_runner_arn, self.endpoint_id]):
            raise ValueError("the knowledge base's retrievers, runner and endpoint must be known")
        if not self.retriever_arns:
            raise ValueError("the knowledge base needs its retriever (the function's role)")


@dataclass(frozen=True)
class OrganizationScope:
    """What the organization policies name, all from the stack's configuration, except the
    administrators (the deployer among them) and the delivery role, which AWS names at deploy."""

    data_account_id: str
    region: str
    bucket_name: str
    administrators: tuple[str, ...]
    guardrail: bool = False
    """A guardrail is configured: model calls without one are refused."""
    invocation_log_group_arn: str | None = None
    """The CloudWatch copy of the invocation logs, when this stack writes one."""
    invocation_log_writer_arn: str | None = None
    """The role Bedrock assumes to write it."""
    athena_principals: tuple[str, ...] = ()
    """Data-account principals of the Athena (viaServices) access points."""
    athena_workgroup_arns: tuple[str, ...] = ()
    athena_endpoint_id: str | None = None
    """The stack's athena interface endpoint, when it has one."""
    inference_profile_arns: tuple[str, ...] = ()
    """The configured cross-Region (system) inference profiles, in the stack's Region."""
    inference_regions: tuple[str, ...] | None = field(default=())
    """Where those profiles route; None when one of them is global (any commercial Region)."""
    knowledge_base: KnowledgeBaseScope | None = None

    def __post_init__(self) -> None:
        # The log group and the role that writes it come together; one without the other
        # would leave the log group's statement out, or lock its writer out.
        if (self.invocation_log_group_arn is None) != (self.invocation_log_writer_arn is None):
            raise ValueError("the invocation log group needs its writer role, and only it")

    @property
    def application_profiles(self) -> str:
        return (
            f"arn:{PARTITION}:bedrock:{self.region}:{self.data_account_id}"
            ":application-inference-profile/*"
        )


def _data_lake_resources(scope: OrganizationScope) -> list[str]:
    account = scope.data_account_id
    bucket = bucket_arn(scope.bucket_name)
    return [
        f"arn:{PARTITION}:s3:*:{account}:accesspoint/*",
        f"arn:{PARTITION}:s3::{account}:accesspoint/*",
        f"arn:{PARTITION}:s3-object-lambda:*:{account}:accesspoint/*",
        bucket,
        f"{bucket}/*",
    ]


def _data_lake_statements(scope: OrganizationScope) -> list[Statement]:
    """Requests through an access point carry ``s3:DataAccessPointArn`` and are left to the
    access point and bucket policies. Every other request on the data account's access points
    and the data bucket (managing an access point, any direct use of the bucket, whatever S3
    adds) is the administrators', but reading settings and the root user's recovery: deleting
    the bucket policy. The rule holds while the bucket policy is gone, after that recovery."""
    resources = _data_lake_resources(scope)
    not_through_an_access_point = {"Null": {"s3:DataAccessPointArn": "true"}}
    knowledge_base = scope.knowledge_base
    direct_readers = [knowledge_base.role_arn] if knowledge_base is not None else []
    statements = [
        statement(
            "OnlyAdministratorsManageAccessPointsAndTheDataBucket",
            [],
            resources,
            effect="Deny",
            not_actions=[*CONFIGURATION_READS, *ACCESS_POINT_READS, "s3:DeleteBucketPolicy"],
            conditions=merge(
                not_through_an_access_point,
                not_administrator([*scope.administrators, *direct_readers]),
            ),
        ),
        statement(
            "OnlyAdministratorsAndRootDeleteTheBucketPolicy",
            ["s3:DeleteBucketPolicy"],
            [bucket_arn(scope.bucket_name)],
            effect="Deny",
            conditions=not_administrator(
                [*scope.administrators, account_root_arn(scope.data_account_id)]
            ),
        ),
    ]
    if knowledge_base is not None:
        statements += _knowledge_base_reader_statements(scope, knowledge_base)
    return statements


def _knowledge_base_reader_statements(
    scope: OrganizationScope, knowledge_base: KnowledgeBaseScope
) -> list[Statement]:
    """The knowledge base role, exempt from the rule above, reads its prefixes and nothing
    else, here as in the bucket policy (which the root user may delete)."""
    bucket = bucket_arn(scope.bucket_name)
    prefixes = [prefix_pattern(p) for p in sorted(knowledge_base.prefixes)]
    the_role = {"ArnEquals": {"aws:PrincipalArn": knowledge_base.role_arn}}
    return [
        statement(
            "TheKnowledgeBaseRoleOnlyReads",
            [],
            _data_lake_resources(scope),
            effect="Deny",
            not_actions=KNOWLEDGE_BASE_READS,
            conditions=the_role,
        ),
        statement(
            "TheKnowledgeBaseRoleReadsOnlyItsPrefixes",
            ["s3:GetObject"],
            [],
            effect="Deny",
            not_resources=[f"{bucket}/{p}" for p in prefixes],
            conditions=the_role,
        ),
        statement(
            "TheKnowledgeBaseRoleListsOnlyItsPrefixes",
            ["s3:ListBucket"],
            [bucket],
            effect="Deny",
            conditions=merge(the_role, {"StringNotLike": {"s3:prefix": one_or_many(prefixes)}}),
        ),
    ]


def _invocation_log_statement(scope: OrganizationScope) -> Statement | None:
    if scope.invocation_log_group_arn is None or scope.invocation_log_writer_arn is None:
        return None
    group = scope.invocation_log_group_arn
    return statement(
        "OnlyAdministratorsReadTheInvocationLogs",
        ["logs:*"],
        [group, f"{group}:*"],
        effect="Deny",
        conditions=not_administrator([*scope.administrators, scope.invocation_log_writer_arn]),
    )


def _bedrock_statements(scope: OrganizationScope) -> list[Statement]:
    account = scope.data_account_id
    administrators = not_administrator(scope.administrators)
    statements = [
        statement(
            "OnlyAdministratorsChangeGuardrails",
            [],
            [f"arn:{PARTITION}:bedrock:*:{account}:guardrail/*"],
            effect="Deny",
            not_actions=GUARDRAIL_USE,
            conditions=administrators,
        ),
        statement(
            "OnlyAdministratorsGovernModelCalls",
            list(BEDROCK_GOVERNANCE_ACTIONS),
            ["*"],
            effect="Deny",
            conditions=administrators,
        ),
    ]
    if scope.guardrail:
        statements += _guardrail_required_statements(scope)
    return statements


def _guardrail_required_statements(scope: OrganizationScope) -> list[Statement]:
    """Every model call, an administrator's too, names a published version of one of the account's
    guardrails (which only the administrators make), at the point where it enters Bedrock.
    Bedrock authorizes the calls it routes on from an inference profile separately (to the
    system profile behind an application profile, to a foundation model in another Region), with
    the profile's ARN in ``bedrock:InferenceProfileArn``: those pass when the profile is the
    account's, which was entered with its guardrail. Whatever the call enters through (an
    application profile, a custom or provisioned model, a resource type AWS adds) is held to the
    rule by NotResource."""
    account = scope.data_account_id
    invoke = list(BEDROCK_INVOKE_ACTIONS)
    unguarded = {
        "StringNotLike": {
            "bedrock:GuardrailIdentifier": f"arn:{PARTITION}:bedrock:*:{account}:guardrail/*"
        }
    }
    foundation_models = f"arn:{PARTITION}:bedrock:*::foundation-model/*"
    system_profiles = f"arn:{PARTITION}:bedrock:*:{account}:inference-profile/*"

    def routed_by(profiles: str) -> dict[str, dict[str, object]]:
        return merge(unguarded, {"ArnNotLike": {"bedrock:InferenceProfileArn": profiles}})

    return [
        statement(
            "ModelCallsEnterWithAGuardrail",
            invoke,
            [],
            effect="Deny",
            not_resources=[foundation_models, system_profiles],
            conditions=unguarded,
        ),
        statement(
            "SystemProfileCallsEnterWithAGuardrail",
            invoke,
            [system_profiles],
            effect="Deny",
            conditions=routed_by(
                f"arn:{PARTITION}:bedrock:*:{account}:application-inference-profile/*"
            ),
        ),
        statement(
            "FoundationModelCallsEnterWithAGuardrail",
            invoke,
            [foundation_models],
            effect="Deny",
            # The knowledge base role embeds (no guardrail applies to embeddings): the knowledge
            # base policy holds it to its embedding model.
            conditions=merge(
                routed_by(f"arn:{PARTITION}:bedrock:*:{account}:*"),
                {"ArnNotEquals": {"aws:PrincipalArn": scope.knowledge_base.role_arn}}
                if scope.knowledge_base is not None
                else {},
            ),
        ),
        # The DRAFT changes under the calls whenever someone updates the guardrail.
        statement(
            "ModelCallsNeverUseADraftGuardrail",
            invoke,
            ["*"],
            effect="Deny",
            conditions={"StringLike": {"bedrock:GuardrailIdentifier": "*:DRAFT"}},
        ),
    ]


def _athena_statements(scope: OrganizationScope) -> list[Statement]:
    if not scope.athena_principals:
        return []
    principals = {"ArnLike": {"aws:PrincipalArn": one_or_many(sorted(scope.athena_principals))}}
    statements = [
        statement(
            "AthenaPrincipalsQueryOnlyThroughTheStacksWorkgroups",
            ["athena:Start*"],
            [],
            effect="Deny",
            not_resources=sorted(scope.athena_workgroup_arns),
            conditions=principals,
        )
    ]
    if scope.athena_endpoint_id is not None:
        statements.append(
            statement(
                "AthenaPrincipalsQueryOnlyThroughTheStacksEndpoint",
                ["athena:*"],
                sorted(scope.athena_workgroup_arns),
                effect="Deny",
                conditions=merge(
                    principals,
                    {"StringNotEquals": {"aws:SourceVpce": scope.athena_endpoint_id}},
                ),
            )
        )
    return statements


def knowledge_base_service_control_policy(
    scope: OrganizationScope, knowledge_base: KnowledgeBaseScope
) -> PolicyDocument:
    """For the data account, with a knowledge base: only the administrators create or change
    knowledge bases and their data sources (and so pass the knowledge base role); of the
    stack's, only the function retrieves, and only through the stack's endpoint (what the index
    holds is the data of its prefixes), and only the ingestion runner starts its ingestion (the
    administrators too run it through the state machine, whose failures alarm); its role embeds
    with its model alone."""
    administrators = scope.administrators
    arn = knowledge_base.arn
    return document(
        statement(
            "OnlyAdministratorsChangeKnowledgeBases",
            [],
            [knowledge_bases_of(scope.data_account_id)],
            effect="Deny",
            not_actions=[RETRIEVE, *INGESTION_ACTIONS],
            conditions=not_administrator(administrators),
        ),
        statement(
            "OnlyAdministratorsCreateKnowledgeBases",
            ["bedrock:CreateKnowledgeBase"],
            ["*"],
            effect="Deny",
            conditions=not_administrator(administrators),
        ),
        # The administrators too: they change the knowledge base, and ask it through the
        # function or ingest through the state machine like everyone else.
        statement(
            "OnlyTheFunctionRetrieves",
            [RETRIEVE],
            [arn],
            effect="Deny",
            conditions={
                "ArnNotEquals": {"aws:PrincipalArn": one_or_many(knowledge_base.retriever_arns)}
            },
        ),
        statement(
            "RetrievalOnlyThroughTheStacksEndpoint",
            [RETRIEVE],
            [arn],
            effect="Deny",
            conditions={"StringNotEquals": {"aws:SourceVpce": knowledge_base.endpoint_id}},
        ),
        statement(
            "OnlyTheRunnerIngests",
            ["bedrock:StartIngestionJob"],
            [arn],
            effect="Deny",
            conditions={"ArnNotEquals": {"aws:PrincipalArn": knowledge_base.ingestion_runner_arn}},
        ),
        statement(
            "TheKnowledgeBaseRoleEmbedsOnlyWithItsModel",
            BEDROCK_INVOKE_ACTIONS,
            [],
            effect="Deny",
            not_resources=[knowledge_base.embedding_model_arn],
            conditions={"ArnEquals": {"aws:PrincipalArn": knowledge_base.role_arn}},
        ),
    )


def organization_service_control_policy(scope: OrganizationScope) -> PolicyDocument:
    """For the organization to attach to the data account: it binds the account's principals,
    its root user included. No bucket or endpoint policy can stop an access point from being
    created; an SCP can."""
    return document(*_data_lake_statements(scope), *_athena_statements(scope))


def bedrock_service_control_policy(scope: OrganizationScope) -> PolicyDocument:
    """For the data account too: only the administrators change what governs model calls or
    read the CloudWatch invocation logs (a role with ``logs:*`` otherwise does: no log group
    policy binds IAM principals), and, with a guardrail configured, every call carries one.
    (Bedrock is not among the services an RCP applies to: these rules bind the account's own
    principals.)"""
    return document(*_bedrock_statements(scope), *filter(None, [_invocation_log_statement(scope)]))


# What changes the data bucket or an access point, by verb, for the RCP: RCPs take no
# NotAction, so the verbs are named by pattern (a new PutBucket... or Put...Configuration action
# is matched too); the SCP, which binds the data account's own principals, is the NotAction
# fence.
MANAGEMENT_VERBS = (
    "s3:*AccessPoint*",
    "s3:CreateBucket*",
    "s3:DeleteBucket*",
    "s3:PutBucket*",
    "s3:Put*Configuration",
    "s3:UpdateBucket*",
)


def organization_resource_control_policy(scope: OrganizationScope) -> PolicyDocument:
    """The access point, bucket and log rules as a resource control policy, which binds
    principals of every account on the data account's resources (the SCP binds only the
    account's own). Bedrock is not among the services an RCP applies to: its rules are the
    SCP's alone. The root user is exempt here: the SCP, which binds it, leaves it only the
    bucket-policy recovery."""
    statements = [
        statement(
            "OnlyAdministratorsManageAccessPointsAndTheDataBucket",
            list(MANAGEMENT_VERBS),
            _data_lake_resources(scope),
            effect="Deny",
            conditions=not_administrator(
                [*scope.administrators, account_root_arn(scope.data_account_id)]
            ),
        ),
        *filter(None, [_invocation_log_statement(scope)]),
    ]
    for rcp_statement in statements:
        rcp_statement["Principal"] = "*"
        rcp_statement["Condition"] = merge(
            rcp_statement["Condition"], {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
        )
    return document(*statements)


def region_service_control_policy(scope: OrganizationScope) -> PolicyDocument:
    """The data account works in the stack's Region. Models are also called in the Regions the
    configured cross-Region inference profiles route to, and there only when one of them (or an
    application profile of the account made from one) routes the call."""
    home = scope.region
    statements = [
        statement(
            "DenyOutsideTheStacksRegion",
            [],
            ["*"],
            effect="Deny",
            not_actions=[*GLOBAL_SERVICE_ACTIONS, *BEDROCK_INVOKE_ACTIONS],
            conditions={"StringNotEquals": {"aws:RequestedRegion": home}},
        )
    ]
    routed = merge(
        {"StringNotEquals": {"aws:RequestedRegion": home}},
        {
            "ArnNotLike": {
                "bedrock:InferenceProfileArn": one_or_many(
                    sorted({*scope.inference_profile_arns, scope.application_profiles})
                )
            }
        }
        if scope.inference_profile_arns
        else {},
    )
    statements.append(
        statement(
            "ModelCallsLeaveTheRegionOnlyThroughTheStacksProfiles",
            list(BEDROCK_INVOKE_ACTIONS),
            ["*"],
            effect="Deny",
            conditions=routed,
        )
    )
    if scope.inference_profile_arns and scope.inference_regions is not None:
        statements.append(
            statement(
                "ModelCallsStayInTheProfilesRegions",
                list(BEDROCK_INVOKE_ACTIONS),
                ["*"],
                effect="Deny",
                conditions={
                    "StringNotEquals": {
                        "aws:RequestedRegion": one_or_many(sorted({home, *scope.inference_regions}))
                    }
                },
            )
        )
    return document(*statements)
