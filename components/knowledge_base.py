"""Private RAG over the lake: a Bedrock knowledge base over curated prefixes of the data bucket,
its S3 Vectors index, and the ingestion that keeps the index in step with the prefixes."""

import json
import re
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import policies, settings
from components.account import DataAccount
from components.errors import refuse
from components.settings import (
    ChunkingConfig,
    ChunkingStrategy,
    KnowledgeBaseArgsConfig,
    VectorStore,
)

SUBJECT = "KnowledgeBase arguments"
INDEX_NAME = "chunks"
# Bedrock stores each chunk's text and its source in these metadata keys; S3 Vectors allows 2 KB
# of filterable metadata per vector, so they are kept non-filterable (as Bedrock requires).
BEDROCK_METADATA_KEYS = ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]
# How often the state machine asks whether an ingestion job is done, and how long it waits at
# most for all of them (a failed or timed-out execution raises the ingestion alarm).
POLL_SECONDS = 30
INGESTION_TIMEOUT_SECONDS = 24 * 3600
MAX_RESOURCE_NAME = 64
# Bedrock API names of the chunking strategies.
CHUNKING_STRATEGIES = {
    ChunkingStrategy.FIXED_SIZE: "FIXED_SIZE",
    ChunkingStrategy.SEMANTIC: "SEMANTIC",
    ChunkingStrategy.HIERARCHICAL: "HIERARCHICAL",
    ChunkingStrategy.NONE: "NONE",
}


class Chunking(TypedDict):
    """How documents are split into passages before they are embedded (Bedrock's defaults)."""

    strategy: NotRequired[ChunkingStrategy]
    """fixedSize (default), semantic, hierarchical or none (one chunk per document)."""
    max_tokens: NotRequired[int]
    """fixedSize and semantic: the most tokens in a chunk (default 300)."""
    overlap_percentage: NotRequired[int]
    """fixedSize: how much adjacent chunks overlap, 1-99 (default 20)."""
    buffer_size: NotRequired[int]
    """semantic: sentences around each one compared, 0 or 1 (default 0)."""
    breakpoint_percentile_threshold: NotRequired[int]
    """semantic: how dissimilar sentences must be to split, 50-99 (default 95)."""
    parent_max_tokens: NotRequired[int]
    """hierarchical: the most tokens in a parent chunk (default 1500)."""
    child_max_tokens: NotRequired[int]
    """hierarchical: the most tokens in a child chunk (default 300)."""
    overlap_tokens: NotRequired[int]
    """hierarchical: tokens repeated between chunks (default 60)."""


class KnowledgeBaseSettings(TypedDict):
    """A Bedrock knowledge base over prefixes of the data bucket (stack config
    ``bedrock.knowledgeBase``)."""

    prefixes: list[str]
    """Prefixes of the data bucket to index (1-5, one data source each), within the function's
    access point prefix."""
    embedding_model_id: NotRequired[str]
    """The embedding model (default amazon.titan-embed-text-v2:0)."""
    dimensions: NotRequired[int]
    """The vectors' dimensions (default: the model's; Titan Text v2 takes 256, 512 or 1024)."""
    chunking: NotRequired[Chunking]
    """How documents are split into passages."""
    results: NotRequired[int]
    """Passages retrieved per question (default 5, at most 100)."""
    ingestion_schedule: NotRequired[str]
    """Also ingest on this EventBridge Scheduler expression (rate(1 day), cron(...)); besides
    the ingestion after every change of a data source."""
    vector_store: NotRequired[VectorStore]
    """s3Vectors (the only one: README, "Knowledge base")."""


class KnowledgeBaseArgs(DataAccount, KnowledgeBaseSettings):
    """Inputs of :class:`KnowledgeBase`."""

    name_prefix: str
    """Starts the names of its resources (project-stack)."""
    bucket_name: str
    """The data bucket its data sources read."""
    data_key_arn: NotRequired[pulumi.Input[str]]
    """The data bucket's key, when its objects are SSE-KMS encrypted."""
    administrators: pulumi.Input[list[str]]
    """Who besides the knowledge base reaches the vector bucket (exact ARNs or patterns)."""


def vector_bucket_name(data_bucket_name: str) -> str:
    """S3 Vectors bucket names take lowercase letters, digits and hyphens only."""
    return re.sub(r"[^a-z0-9-]", "-", f"{data_bucket_name[:55]}-vectors")


def resource_name(name_prefix: str, suffix: str) -> str:
    """Letters, digits, '-' and '_' only (knowledge bases, data sources, state machines)."""
    return re.sub(r"[^0-9A-Za-z_-]", "-", f"{name_prefix}-{suffix}")[:MAX_RESOURCE_NAME]


def change_rule_name(name_prefix: str) -> str:
    return resource_name(name_prefix, "knowledge-base-changed")


def schedule_name(name_prefix: str) -> str:
    return resource_name(name_prefix, "knowledge-base-ingestion")


def data_source_name(prefix: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "-", prefix).strip("-")[:100] or "root"


def change_pattern(knowledge_base_id: str) -> dict[str, Any]:
    """CloudTrail's record of a data source of this knowledge base created or changed: the
    deployment that changes a data source is followed by an ingestion."""
    return {
        "source": ["aws.bedrock"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["bedrock.amazonaws.com"],
            "eventName": ["CreateDataSource", "UpdateDataSource"],
            "requestParameters": {"knowledgeBaseId": [knowledge_base_id]},
        },
    }


def ingestion_definition(knowledge_base_id: str) -> dict[str, Any]:
    """The state machine that ingests every data source of the knowledge base (as Bedrock lists
    them when it runs), one at a time (one job per knowledge base runs at a time: a busy one is
    retried), waits for each job, and fails when a job fails, stops or leaves documents out."""
    sdk = "arn:aws:states:::aws-sdk:bedrockagent"
    knowledge_base = {"KnowledgeBaseId": knowledge_base_id}
    job = {
        "jobId.$": "$.IngestionJob.IngestionJobId",
        "dataSourceId.$": "$.IngestionJob.DataSourceId",
    }
    throttled = {
        "ErrorEquals": ["BedrockAgent.ThrottlingException"],
        "IntervalSeconds": 10,
        "BackoffRate": 2,
        "MaxAttempts": 5,
    }
    return {
        "Comment": "Ingests every data source of the knowledge base and waits for the jobs",
        "TimeoutSeconds": INGESTION_TIMEOUT_SECONDS,
        "StartAt": "ListDataSources",
        "States": {
            "ListDataSources": {
                "Type": "Task",
                "Resource": f"{sdk}:listDataSources",
                "Parameters": knowledge_base,
                "ResultSelector": {"ids.$": "$.DataSourceSummaries[*].DataSourceId"},
                "Retry": [throttled],
                "Next": "EachDataSource",
            },
            "EachDataSource": {
                "Type": "Map",
                "ItemsPath": "$.ids",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "StartJob",
                    "States": {
                        "StartJob": {
                            "Type": "Task",
                            "Resource": f"{sdk}:startIngestionJob",
                            "Parameters": {**knowledge_base, "DataSourceId.$": "$"},
                            "ResultSelector": job,
                            "Retry": [
                                {
                                    "ErrorEquals": [
                                        "BedrockAgent.ConflictException",
                                        "BedrockAgent.ThrottlingException",
                                    ],
                                    "IntervalSeconds": 60,
                                    "BackoffRate": 1.5,
                                    "MaxAttempts": 20,
                                }
                            ],
                            "Next": "Wait",
                        },
                        "Wait": {"Type": "Wait", "Seconds": POLL_SECONDS, "Next": "GetJob"},
                        "GetJob": {
                            "Type": "Task",
                            "Resource": f"{sdk}:getIngestionJob",
                            "Parameters": {
                                **knowledge_base,
                                "DataSourceId.$": "$.dataSourceId",
                                "IngestionJobId.$": "$.jobId",
                            },
                            "ResultSelector": {
                                **job,
                                "status.$": "$.IngestionJob.Status",
                                "documentsFailed.$": (
                                    "$.IngestionJob.Statistics.NumberOfDocumentsFailed"
                                ),
                            },
                            "Retry": [throttled],
                            "Next": "Finished",
                        },
                        "Finished": {
                            "Type": "Choice",
                            "Choices": [
                                {
                                    "Variable": "$.status",
                                    "StringEquals": "COMPLETE",
                                    "Next": "EveryDocument",
                                },
                                {
                                    "Or": [
                                        {"Variable": "$.status", "StringEquals": "FAILED"},
                                        {"Variable": "$.status", "StringEquals": "STOPPED"},
                                    ],
                                    "Next": "JobFailed",
                                },
                            ],
                            "Default": "Wait",
                        },
                        "EveryDocument": {
                            "Type": "Choice",
                            "Choices": [
                                {
                                    "Variable": "$.documentsFailed",
                                    "NumericGreaterThan": 0,
                                    "Next": "DocumentsFailed",
                                }
                            ],
                            "Default": "Ingested",
                        },
                        "JobFailed": {
                            "Type": "Fail",
                            "Error": "IngestionJobFailed",
                            "Cause": "An ingestion job failed or was stopped",
                        },
                        "DocumentsFailed": {
                            "Type": "Fail",
                            "Error": "DocumentsFailed",
                            "Cause": "An ingestion job left documents out of the index",
                        },
                        "Ingested": {"Type": "Succeed"},
                    },
                },
                "End": True,
            },
        },
    }


def chunking_configuration(chunking: ChunkingConfig) -> dict[str, Any]:
    """The data source's chunking, in the provider's terms, with Bedrock's defaults filled in."""
    strategy = chunking.strategy
    configuration: dict[str, Any] = {"chunking_strategy": CHUNKING_STRATEGIES[strategy]}
    if strategy == ChunkingStrategy.FIXED_SIZE:
        configuration["fixed_size_chunking_configuration"] = {
            "max_tokens": chunking.max_tokens or 300,
            "overlap_percentage": chunking.overlap_percentage or 20,
        }
    elif strategy == ChunkingStrategy.SEMANTIC:
        configuration["semantic_chunking_configuration"] = {
            "max_token": chunking.max_tokens or 300,
            "buffer_size": chunking.buffer_size if chunking.buffer_size is not None else 0,
            "breakpoint_percentile_threshold": chunking.breakpoint_percentile_threshold or 95,
        }
    elif strategy == ChunkingStrategy.HIERARCHICAL:
        configuration["hierarchical_chunking_configuration"] = {
            "level_configurations": [
                {"max_tokens": chunking.parent_max_tokens or 1500},
                {"max_tokens": chunking.child_max_tokens or 300},
            ],
            "overlap_tokens": chunking.overlap_tokens or 60,
        }
    return configuration


def ingest_command(region: str, state_machine_arn: str) -> str:
    return (
        f"aws stepfunctions start-execution --region {region} "
        f"--state-machine-arn {state_machine_arn}"
    )


def role_with_policy(
    name: str,
    *,
    description: str,
    trust: policies.PolicyDocument,
    policy: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    role_name: str | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role a service assumes, and its one inline policy."""
    role = aws.iam.Role(
        name,
        name=role_name,
        description=description,
        assume_role_policy=policies.to_json(trust),
        opts=opts,
    )
    return role, aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=opts)


class KnowledgeBase(pulumi.ComponentResource):
    """A knowledge base over prefixes of the data bucket, inside the perimeter: its role reads
    only those prefixes and embeds with its model only; its vectors (and the chunks' text
    beside them) live in an S3 Vectors index under a key of its own, which only it and the
    administrators reach; an ingestion runs after every change of a data source and on a
    schedule, and fails loudly."""

    knowledge_base_id: pulumi.Output[str]
    """The knowledge base's id."""
    knowledge_base_arn: pulumi.Output[str]
    """Its ARN."""
    role_arn: pulumi.Output[str]
    """The role Bedrock ingests and embeds with."""
    data_source_ids: dict[str, pulumi.Output[str]]
    """Each data source's id, by prefix."""
    vector_bucket_arn: pulumi.Output[str]
    """The S3 Vectors bucket."""
    index_arn: pulumi.Output[str]
    """Its index."""
    ingestion_state_machine_arn: pulumi.Output[str]
    """The state machine that runs the ingestion."""
    ingestion_role_arn: pulumi.Output[str]
    """Its role: the one that starts ingestion jobs."""
    ingest_command: pulumi.Output[str]
    """An aws stepfunctions command line that ingests every data source now."""

    def __init__(
        self, name: str, args: KnowledgeBaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        plain = settings.parse_component_args(KnowledgeBaseArgsConfig, args, SUBJECT)
        refuse(settings.knowledge_base_problems(plain, ""), SUBJECT)
        super().__init__("datalake:index:KnowledgeBase", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, account_id = args["region"], args["account_id"]
        prefix = plain.name_prefix
        reader = policies.KnowledgeBaseReader(
            policies.knowledge_base_role_arn(account_id, prefix), plain.prefixes
        )
        vectors_name = vector_bucket_name(plain.bucket_name)
        vectors_arn = policies.vector_bucket_arn(region, account_id, vectors_name)
        index_arn = policies.vector_index_arn(region, account_id, vectors_name, INDEX_NAME)
        model_arn = policies.foundation_model_arn(region, plain.embedding_model_id)

        key = aws.kms.Key(
            f"{name}-vectors-key",
            description=f"Encrypts the knowledge base's vectors and chunks ({vectors_name})",
            enable_key_rotation=True,
            policy=policies.to_json(
                policies.vectors_key_policy(account_id=account_id, vector_bucket=vectors_arn)
            ),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-vectors-key",
            name=f"alias/{vectors_name}",
            target_key_id=key.key_id,
            opts=child,
        )
        vector_bucket = aws.s3.VectorsVectorBucket(
            f"{name}-vectors",
            vector_bucket_name=vectors_name,
            encryption_configurations=[
                aws.s3.VectorsVectorBucketEncryptionConfigurationArgs(
                    sse_type="aws:kms", kms_key_arn=key.arn
                )
            ],
            opts=child,
        )
        vector_bucket_policy = aws.s3.VectorsVectorBucketPolicy(
            f"{name}-vectors",
            vector_bucket_arn=vector_bucket.vector_bucket_arn,
            policy=pulumi.Output.from_input(args["administrators"]).apply(
                lambda administrators: policies.to_json(
                    policies.vector_bucket_policy(
                        vector_bucket=vectors_arn,
                        reader_role_arn=reader.role_arn,
                        administrators=administrators,
                    )
                )
            ),
            opts=child,
        )
        index = aws.s3.VectorsIndex(
            f"{name}-index",
            vector_bucket_name=vector_bucket.vector_bucket_name,
            index_name=INDEX_NAME,
            data_type="float32",
            dimension=plain.vector_dimensions,
            distance_metric="cosine",
            metadata_configuration=aws.s3.VectorsIndexMetadataConfigurationArgs(
                non_filterable_metadata_keys=BEDROCK_METADATA_KEYS
            ),
            opts=child,
        )
        role, role_policy = role_with_policy(
            f"{name}-role",
            role_name=policies.knowledge_base_role_name(prefix),
            description="Bedrock ingests the data lake's curated prefixes and embeds with it",
            trust=policies.knowledge_base_assume_role_policy(region, account_id),
            policy=pulumi.Output.all(data_key=args.get("data_key_arn"), vectors_key=key.arn).apply(
                lambda keys: policies.to_json(
                    policies.knowledge_base_role_policy(
                        region=region,
                        account_id=account_id,
                        reader=reader,
                        bucket_name=plain.bucket_name,
                        data_key_arn=keys["data_key"],
                        embedding_model_arn=model_arn,
                        index_arn=index_arn,
                        vectors_key_arn=keys["vectors_key"],
                    )
                )
            ),
            opts=child,
        )
        knowledge_base = aws.bedrock.AgentKnowledgeBase(
            name,
            name=resource_name(prefix, "knowledge-base"),
            description=f"Questions across s3://{plain.bucket_name}/{{{','.join(plain.prefixes)}}}",
            role_arn=role.arn,
            knowledge_base_configuration=aws.bedrock.AgentKnowledgeBaseKnowledgeBaseConfigurationArgs(
                type="VECTOR",
                vector_knowledge_base_configuration=aws.bedrock.AgentKnowledgeBaseKnowledgeBaseConfigurationVectorKnowledgeBaseConfigurationArgs(
                    embedding_model_arn=model_arn,
                    embedding_model_configuration=aws.bedrock.AgentKnowledgeBaseKnowledgeBaseConfigurationVectorKnowledgeBaseConfigurationEmbeddingModelConfigurationArgs(
                        bedrock_embedding_model_configuration=aws.bedrock.AgentKnowledgeBaseKnowledgeBaseConfigurationVectorKnowledgeBaseConfigurationEmbeddingModelConfigurationBedrockEmbeddingModelConfigurationArgs(
                            dimensions=plain.vector_dimensions,
                            embedding_data_type="FLOAT32",
                        )
                    ),
                ),
            ),
            storage_configuration=aws.bedrock.AgentKnowledgeBaseStorageConfigurationArgs(
                type="S3_VECTORS",
                s3_vectors_configuration=aws.bedrock.AgentKnowledgeBaseStorageConfigurationS3VectorsConfigurationArgs(
                    index_arn=index.index_arn
                ),
            ),
            # Bedrock checks at creation that the role reaches the index and the model.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[role_policy, vector_bucket_policy]
            ),
        )
        state_machine, runner, trigger = self._ingestion(name, plain, knowledge_base, child)
        chunking = aws.bedrock.AgentDataSourceVectorIngestionConfigurationChunkingConfigurationArgs(
            **chunking_configuration(plain.chunking)
        )
        data_sources = {
            data_prefix: aws.bedrock.AgentDataSource(
                f"{name}-{data_source_name(data_prefix)}",
                knowledge_base_id=knowledge_base.id,
                name=data_source_name(data_prefix),
                # A prefix dropped from the config takes its vectors with it.
                data_deletion_policy="DELETE",
                data_source_configuration=aws.bedrock.AgentDataSourceDataSourceConfigurationArgs(
                    type="S3",
                    s3_configuration=aws.bedrock.AgentDataSourceDataSourceConfigurationS3ConfigurationArgs(
                        bucket_arn=policies.bucket_arn(plain.bucket_name),
                        bucket_owner_account_id=account_id,
                        inclusion_prefixes=[data_prefix],
                    ),
                ),
                server_side_encryption_configuration=aws.bedrock.AgentDataSourceServerSideEncryptionConfigurationArgs(
                    kms_key_arn=key.arn
                ),
                vector_ingestion_configuration=aws.bedrock.AgentDataSourceVectorIngestionConfigurationArgs(
                    chunking_configuration=chunking
                ),
                # The rule that starts the ingestion must be in place when the data source is
                # created or changed: that call is its event.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[trigger]),
            )
            for data_prefix in plain.prefixes
        }

        self.knowledge_base_id = knowledge_base.id
        self.knowledge_base_arn = knowledge_base.arn
        self.role_arn = role.arn
        self.data_source_ids = {p: source.data_source_id for p, source in data_sources.items()}
        self.vector_bucket_arn = vector_bucket.vector_bucket_arn
        self.index_arn = index.index_arn
        self.ingestion_state_machine_arn = state_machine.arn
        self.ingestion_role_arn = runner.arn
        self.ingest_command = state_machine.arn.apply(lambda arn: ingest_command(region, arn))
        self.register_outputs(
            {
                "knowledgeBaseId": self.knowledge_base_id,
                "knowledgeBaseArn": self.knowledge_base_arn,
                "roleArn": self.role_arn,
                "dataSourceIds": self.data_source_ids,
                "vectorBucketArn": self.vector_bucket_arn,
                "indexArn": self.index_arn,
                "ingestionStateMachineArn": self.ingestion_state_machine_arn,
                "ingestionRoleArn": self.ingestion_role_arn,
                "ingestCommand": self.ingest_command,
            }
        )

    def _ingestion(
        self,
        name: str,
        plain: KnowledgeBaseArgsConfig,
        knowledge_base: aws.bedrock.AgentKnowledgeBase,
        child: pulumi.ResourceOptions,
    ) -> tuple[aws.sfn.StateMachine, aws.iam.Role, aws.cloudwatch.EventTarget]:
        """The state machine that ingests, the rule that starts it when a data source changes,
        and the schedule that starts it when configured; each role bound to this account and
        to the one resource that uses it."""
        region, account_id = plain.region, plain.account_id
        prefix = plain.name_prefix
        machine_name = resource_name(prefix, "knowledge-base-ingestion")
        machine_arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{machine_name}"
        runner, runner_policy = role_with_policy(
            f"{name}-ingestion",
            description="Starts and follows the knowledge base's ingestion jobs",
            trust=policies.service_assume_role_policy(
                "states.amazonaws.com", account_id, source_arn=machine_arn
            ),
            policy=knowledge_base.arn.apply(
                lambda arn: policies.to_json(policies.ingestion_runner_policy(arn))
            ),
            opts=child,
        )
        state_machine = aws.sfn.StateMachine(
            f"{name}-ingestion",
            name=machine_name,
            role_arn=runner.arn,
            definition=knowledge_base.id.apply(
                lambda knowledge_base_id: json.dumps(ingestion_definition(knowledge_base_id))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[runner_policy]),
        )
        rule_name = change_rule_name(prefix)
        schedule = plain.ingestion_schedule
        schedule_arn = (
            f"arn:aws:scheduler:{region}:{account_id}:schedule/default/{schedule_name(prefix)}"
            if schedule is not None
            else None
        )
        trigger, trigger_policy = role_with_policy(
            f"{name}-ingestion-trigger",
            description="Starts the knowledge base's ingestion (data source changes, schedule)",
            trust=policies.ingestion_trigger_assume_role_policy(
                account_id, policies.event_rule_arn(region, account_id, rule_name), schedule_arn
            ),
            policy=state_machine.arn.apply(
                lambda arn: policies.to_json(policies.ingestion_trigger_policy(arn))
            ),
            opts=child,
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-changed",
            name=rule_name,
            description="A data source of the knowledge base was created or changed: ingest",
            event_pattern=knowledge_base.id.apply(lambda kb: json.dumps(change_pattern(kb))),
            opts=child,
        )
        target = aws.cloudwatch.EventTarget(
            f"{name}-changed",
            rule=rule.name,
            arn=state_machine.arn,
            role_arn=trigger.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[trigger_policy]),
        )
        if schedule is not None:
            aws.scheduler.Schedule(
                f"{name}-ingestion",
                name=schedule_name(prefix),
                description="Ingests the knowledge base's data sources on schedule",
                schedule_expression=schedule,
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=state_machine.arn, role_arn=trigger.arn, input="{}"
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[trigger_policy]),
            )
        return state_machine, runner, target
