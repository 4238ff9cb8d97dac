"""The knowledge base: its role, its vector store and key, its ingestion, the bedrock-agent-runtime
endpoint, and the one exception the data bucket makes for it.

A knowledge base's S3 data source takes a bucket, not an access point, and Bedrock ingests from
AWS's network with the knowledge base's role. So that role is the only principal besides the
administrators that reads the bucket directly: the bucket, the organization policies and the
role's own policy each hold it to reading its prefixes. Everything the index holds is the data
of those prefixes (the chunks' text is stored beside each vector), so the vector bucket and its
key are held as tightly as the data bucket: the role and the administrators, nobody else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.policies.bedrock import BEDROCK_INVOKE
from components.policies.documents import (
    PARTITION,
    PolicyDocument,
    Statement,
    document,
    merge,
    one_or_many,
    statement,
)
from components.policies.keys import key_administered_through_iam
from components.policies.principals import (
    NOT_AN_AWS_SERVICE,
    Perimeter,
    bound_to_account,
    not_administrator,
)
from components.policies.s3 import bucket_arn, prefix_pattern

RETRIEVE = "bedrock:Retrieve"
# What the knowledge base role reads in the data bucket, with no access point in between
# (Amazon Bedrock's "Permissions to access your Amazon S3 data source").
KNOWLEDGE_BASE_READS = ("s3:GetObject", "s3:ListBucket")
# What the role does in its index: write and delete the vectors of ingested chunks, query them
# for a question ("Permissions to access your vector store in Amazon S3 Vectors").
VECTOR_INDEX_ACTIONS = (
    "s3vectors:PutVectors",
    "s3vectors:GetVectors",
    "s3vectors:DeleteVectors",
    "s3vectors:QueryVectors",
    "s3vectors:ListVectors",
    "s3vectors:GetIndex",
)
# What the ingestion runner does: list the data sources, start a job for each, follow it.
INGESTION_ACTIONS = (
    "bedrock:ListDataSources",
    "bedrock:StartIngestionJob",
    "bedrock:GetIngestionJob",
)
# S3 Vectors maintains an index in the background with this service principal, which must be
# able to decrypt with the vector bucket's key (S3 Vectors, "Data protection and encryption").
VECTORS_INDEXING_SERVICE = "indexing.s3vectors.amazonaws.com"


def knowledge_base_arn(region: str, account_id: str, knowledge_base_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:knowledge-base/{knowledge_base_id}"


def knowledge_bases_of(account_id: str, region: str = "*") -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:knowledge-base/*"


def vector_bucket_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{PARTITION}:s3vectors:{region}:{account_id}:bucket/{name}"


def vector_index_arn(region: str, account_id: str, bucket_name: str, index_name: str) -> str:
    return f"{vector_bucket_arn(region, account_id, bucket_name)}/index/{index_name}"


MAX_ROLE_NAME = 64


def knowledge_base_role_name(name_prefix: str) -> str:
    """The knowledge base role's name: fixed, so that the data bucket's policy and the
    organization policies can name the role before it exists."""
    return f"{name_prefix}-knowledge-base"[:MAX_ROLE_NAME]


def knowledge_base_role_arn(account_id: str, name_prefix: str) -> str:
    return f"arn:{PARTITION}:iam::{account_id}:role/{knowledge_base_role_name(name_prefix)}"


@dataclass(frozen=True)
class KnowledgeBaseReader:
    """The knowledge base role and the prefixes of the data bucket it ingests."""

    role_arn: str
    prefixes: tuple[str, ...]

    def __post_init__(self) -> None:
        # An empty prefix would be the whole bucket: the exception is for named prefixes only.
        if not self.prefixes or not all(self.prefixes):
            raise ValueError("a knowledge base reads named prefixes, never the whole bucket")


def knowledge_base_reader_statements(
    bucket_name: str, reader: KnowledgeBaseReader, administrators: Sequence[str]
) -> list[Statement]:
    """The data bucket's exception: reading without an access point is the knowledge base
    role's (and the administrators'), that role reads only its prefixes, and nothing else
    (``DenyRequestsNotThroughAccessPoints`` leaves these two actions to this rule)."""
    bucket = bucket_arn(bucket_name)
    prefixes = [prefix_pattern(p) for p in sorted(reader.prefixes)]
    the_role = {"ArnEquals": {"aws:PrincipalArn": reader.role_arn}}
    return [
        statement(
            "DenyDirectReadsExceptTheKnowledgeBase",
            list(KNOWLEDGE_BASE_READS),
            [bucket, f"{bucket}/*"],
            effect="Deny",
            principal="*",
            conditions=merge(
                {"Null": {"s3:DataAccessPointArn": "true"}},
                not_administrator([*administrators, reader.role_arn]),
            ),
        ),
        statement(
            "DenyKnowledgeBaseReadsOutsideItsPrefixes",
            ["s3:GetObject"],
            [],
            effect="Deny",
            principal="*",
            not_resources=[f"{bucket}/{p}" for p in prefixes],
            conditions=the_role,
        ),
        # A listing with no prefix (or another one) is the whole bucket's.
        statement(
            "DenyKnowledgeBaseListingsOutsideItsPrefixes",
            ["s3:ListBucket"],
            [bucket],
            effect="Deny",
            principal="*",
            conditions=merge(the_role, {"StringNotLike": {"s3:prefix": one_or_many(prefixes)}}),
        ),
    ]


def knowledge_base_assume_role_policy(region: str, account_id: str) -> PolicyDocument:
    """Bedrock assumes the role for this account's knowledge bases in this Region only. The
    knowledge base's id does not exist before the knowledge base, which needs the role: the
    organization policies leave creating knowledge bases and passing this role to the
    administrators (Amazon Bedrock suggests narrowing the pattern to the id afterwards; one
    deployment cannot)."""
    return document(
        {
            "Sid": "BedrockAssumesForThisAccountsKnowledgeBases",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": bound_to_account(account_id, knowledge_bases_of(account_id, region)),
        }
    )


def knowledge_base_role_policy(
    *,
    region: str,
    account_id: str,
    reader: KnowledgeBaseReader,
    bucket_name: str,
    data_key_arn: str | None,
    embedding_model_arn: str,
    index_arn: str,
    vectors_key_arn: str,
) -> PolicyDocument:
    """Least privilege for the knowledge base: read its prefixes of the data bucket, embed with
    its model, read and write its own index, and use the keys for those only."""
    bucket = bucket_arn(bucket_name)
    prefixes = [prefix_pattern(p) for p in sorted(reader.prefixes)]
    statements = [
        statement(
            "ReadItsPrefixes",
            ["s3:GetObject"],
            [f"{bucket}/{p}" for p in prefixes],
            conditions={"StringEquals": {"aws:ResourceAccount": account_id}},
        ),
        statement(
            "ListItsPrefixes",
            ["s3:ListBucket"],
            [bucket],
            conditions={
                "StringEquals": {"aws:ResourceAccount": account_id},
                "StringLike": {"s3:prefix": one_or_many(prefixes)},
            },
        ),
        statement("EmbedWithItsModel", [BEDROCK_INVOKE], [embedding_model_arn]),
        statement("UseItsIndex", list(VECTOR_INDEX_ACTIONS), [index_arn]),
        # The index's key, through S3 Vectors; and through Bedrock, which keeps the data of an
        # ingestion job encrypted with it while the job runs.
        statement(
            "UseTheVectorsKey",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [vectors_key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": [
                        f"s3vectors.{region}.amazonaws.com",
                        f"bedrock.{region}.amazonaws.com",
                    ]
                }
            },
        ),
    ]
    if data_key_arn is not None:
        statements.append(
            statement(
                "DecryptDataThroughS3",
                ["kms:Decrypt"],
                [data_key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            )
        )
    return document(*statements)


def vector_bucket_policy(
    *, vector_bucket: str, reader_role_arn: str, administrators: Sequence[str]
) -> PolicyDocument:
    """The vector bucket holds the ingested text beside its vectors: the knowledge base role
    (its index's data, nothing else) and the administrators, nobody else of any account."""
    everything = [vector_bucket, f"{vector_bucket}/*"]
    return document(
        statement(
            "DenyEveryoneButTheKnowledgeBaseAndAdministrators",
            ["s3vectors:*"],
            everything,
            effect="Deny",
            principal="*",
            conditions=merge(
                NOT_AN_AWS_SERVICE, not_administrator([*administrators, reader_role_arn])
            ),
        ),
        statement(
            "DenyTheKnowledgeBaseAnythingButIndexData",
            [],
            everything,
            effect="Deny",
            principal="*",
            not_actions=VECTOR_INDEX_ACTIONS,
            conditions={"ArnEquals": {"aws:PrincipalArn": reader_role_arn}},
        ),
    )


def vectors_key_policy(*, account_id: str, vector_bucket: str) -> PolicyDocument:
    """The vector bucket's key: administered (and used) through IAM, like the data key; S3
    Vectors' indexing service decrypts with it for this vector bucket only."""
    return document(
        key_administered_through_iam(account_id),
        statement(
            "S3VectorsIndexesThisBucket",
            ["kms:Decrypt"],
            ["*"],
            principal={"Service": VECTORS_INDEXING_SERVICE},
            conditions={
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": [vector_bucket, f"{vector_bucket}/*"]},
            },
        ),
    )


def knowledge_base_endpoint_policy(
    *, perimeter: Perimeter, knowledge_base_arn: str
) -> PolicyDocument:
    """The bedrock-agent-runtime endpoint serves one thing: retrieving from the stack's
    knowledge base, for the perimeter's principals. Not another knowledge base, not
    RetrieveAndGenerate (generation stays in the function, under its guardrail), not agents or
    flows."""
    return document(
        statement(
            "RetrieveFromTheStacksKnowledgeBase",
            [RETRIEVE],
            [knowledge_base_arn],
            principal="*",
            conditions=perimeter.principals_inside(),
        )
    )


def ingestion_runner_policy(knowledge_base_arn: str) -> PolicyDocument:
    """The state machine that runs ingestion: list the knowledge base's data sources, start a
    job for each, follow it."""
    return document(
        statement("IngestTheKnowledgeBase", list(INGESTION_ACTIONS), [knowledge_base_arn])
    )


def ingestion_trigger_assume_role_policy(
    account_id: str, rule_arn: str, schedule_arn: str | None
) -> PolicyDocument:
    """EventBridge (the rule on data source changes) and EventBridge Scheduler (the schedule,
    when there is one) start the ingestion for this account's rule and schedule only."""
    sources = [("events.amazonaws.com", rule_arn)]
    if schedule_arn is not None:
        sources.append(("scheduler.amazonaws.com", schedule_arn))
    return document(
        *(
            {
                "Sid": f"{service.split('.')[0].capitalize()}StartsTheIngestion",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": source},
                },
            }
            for service, source in sources
        )
    )


def ingestion_trigger_policy(state_machine_arn: str) -> PolicyDocument:
    return document(statement("StartTheIngestion", ["states:StartExecution"], [state_machine_arn]))


def retrieve_statement(knowledge_base_arn: str) -> Statement:
    """The function's right to retrieve from the stack's knowledge base, and no other."""
    return statement("RetrieveFromItsKnowledgeBase", [RETRIEVE], [knowledge_base_arn])
