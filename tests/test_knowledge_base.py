"""Private RAG over the lake (issue 21): the KnowledgeBase building block from its own args, the
stack config that turns it on, and how PrivateDataLake wires it to the bucket, the network, the
function and the alarms. What its policies allow and deny is proven by evaluation in
tests/test_access_matrix.py (rows and mutations) and tests/test_perimeter_invariants.py (every
action of the catalog)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest

from components import policies
from components.bedrock import knowledge_base_ref
from components.knowledge_base import (
    INDEX_NAME,
    KnowledgeBase,
    KnowledgeBaseArgs,
    change_pattern,
    chunking_configuration,
    ingestion_definition,
)
from components.network import knowledge_base_endpoint_policy
from components.settings import ChunkingConfig, ChunkingStrategy
from offline.runner import PROJECT_NAME, StackRun, load_stack_values, run_program
from tests.conftest import Build, Refused, policy
from tests.test_config import MINIMAL, parse, problems_of

REGION, ACCOUNT = "us-east-1", "111111111111"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
DATA_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ARGS: KnowledgeBaseArgs = {
    "region": REGION,
    "account_id": ACCOUNT,
    "name_prefix": "lake-test",
    "bucket_name": "lake-test-data",
    "prefixes": ["curated/"],
    "data_key_arn": DATA_KEY,
    "administrators": [ADMIN],
}
KB_TYPE = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
SOURCE_TYPE = "aws:bedrock/agentDataSource:AgentDataSource"


def by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


@pytest.fixture(scope="module")
def alone() -> StackRun:
    """The building block from ARGS alone, once for the module (runs are read-only)."""

    def program() -> None:
        knowledge_base = KnowledgeBase("kb", ARGS)
        pulumi.export("knowledgeBaseId", knowledge_base.knowledge_base_id)
        pulumi.export("ingestCommand", knowledge_base.ingest_command)
        pulumi.export("dataSourceIds", knowledge_base.data_source_ids)

    return run_program(program, config={"aws:region": REGION, f"{PROJECT_NAME}:accountId": ACCOUNT})


# --- The building block alone ----------------------------------------------------------------


def test_the_knowledge_base_embeds_into_its_encrypted_s3_vectors_index(alone: StackRun) -> None:
    [knowledge_base] = alone.of_type(KB_TYPE)
    [bucket] = alone.of_type("aws:s3/vectorsVectorBucket:VectorsVectorBucket")
    [index] = alone.of_type("aws:s3/vectorsIndex:VectorsIndex")
    key = alone.named("aws:kms/key:Key", "kb-vectors-key")
    vector = knowledge_base.inputs["knowledgeBaseConfiguration"]["vectorKnowledgeBaseConfiguration"]
    assert vector["embeddingModelArn"] == policies.foundation_model_arn(
        REGION, "amazon.titan-embed-text-v2:0"
    )
    embedding = vector["embeddingModelConfiguration"]["bedrockEmbeddingModelConfiguration"]
    assert embedding["dimensions"] == index.inputs["dimension"] == 1024
    storage = knowledge_base.inputs["storageConfiguration"]
    assert storage["type"] == "S3_VECTORS"
    assert storage["s3VectorsConfiguration"]["indexArn"] == index.outputs["indexArn"]
    assert index.inputs["vectorBucketName"] == bucket.inputs["vectorBucketName"]
    assert index.inputs["indexName"] == INDEX_NAME
    assert index.inputs["distanceMetric"] == "cosine"
    # Bedrock keeps each passage's text in these keys: non-filterable, as S3 Vectors requires.
    assert set(index.inputs["metadataConfiguration"]["nonFilterableMetadataKeys"]) == {
        "AMAZON_BEDROCK_TEXT",
        "AMAZON_BEDROCK_METADATA",
    }
    assert bucket.inputs["encryptionConfigurations"] == [
        {"sseType": "aws:kms", "kmsKeyArn": key.outputs["arn"]}
    ]
    assert key.inputs["enableKeyRotation"] is True


def test_one_data_source_per_prefix_reads_the_bucket_and_drops_its_vectors_with_it(
    build: Build,
) -> None:
    run = build(lambda: KnowledgeBase("kb", {**ARGS, "prefixes": ["curated/", "reports/"]}))
    [knowledge_base] = run.of_type(KB_TYPE)
    sources = run.of_type(SOURCE_TYPE)
    prefixes = []
    for source in sources:
        s3 = source.inputs["dataSourceConfiguration"]["s3Configuration"]
        assert s3["bucketArn"] == "arn:aws:s3:::lake-test-data"
        assert s3["bucketOwnerAccountId"] == ACCOUNT
        prefixes += s3["inclusionPrefixes"]
        assert knowledge_base.outputs["arn"].endswith("/" + source.inputs["knowledgeBaseId"])
        assert source.inputs["dataDeletionPolicy"] == "DELETE"
        key = run.named("aws:kms/key:Key", "kb-vectors-key")
        assert source.inputs["serverSideEncryptionConfiguration"]["kmsKeyArn"] == key.outputs["arn"]
    assert sorted(prefixes) == ["curated/", "reports/"]


def test_the_role_reads_its_prefixes_embeds_with_its_model_and_uses_its_index(
    alone: StackRun,
) -> None:
    role = alone.named("aws:iam/role:Role", "kb-role")
    assert role.outputs["name"] == "lake-test-knowledge-base"  # named up front for the policies
    [trust] = policy(role.inputs, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:knowledge-base/*"},
    }
    statements = by_sid(policy(alone.named("aws:iam/rolePolicy:RolePolicy", "kb-role").inputs))
    assert statements["ReadItsPrefixes"]["Resource"] == "arn:aws:s3:::lake-test-data/curated/*"
    assert statements["ListItsPrefixes"]["Condition"]["StringLike"] == {"s3:prefix": "curated/*"}
    assert statements["EmbedWithItsModel"]["Resource"] == policies.foundation_model_arn(
        REGION, "amazon.titan-embed-text-v2:0"
    )
    [index] = alone.of_type("aws:s3/vectorsIndex:VectorsIndex")
    assert statements["UseItsIndex"]["Resource"] == index.outputs["indexArn"]
    assert statements["DecryptDataThroughS3"]["Resource"] == DATA_KEY


def test_the_knowledge_base_waits_for_its_role_policy_and_vector_bucket_policy(
    alone: StackRun,
) -> None:
    """Bedrock checks at creation that the role reaches the index and the model."""
    [knowledge_base] = alone.of_type(KB_TYPE)
    depends = set(knowledge_base.dependencies)
    assert alone.named("aws:iam/rolePolicy:RolePolicy", "kb-role").urn in depends
    assert (
        alone.named("aws:s3/vectorsVectorBucketPolicy:VectorsVectorBucketPolicy", "kb-vectors").urn
        in depends
    )


def test_the_vector_bucket_and_its_key_name_the_role_and_the_administrators(
    alone: StackRun,
) -> None:
    statements = by_sid(
        policy(
            alone.named(
                "aws:s3/vectorsVectorBucketPolicy:VectorsVectorBucketPolicy", "kb-vectors"
            ).inputs
        )
    )
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/lake-test-knowledge-base"
    everyone_but = statements["DenyEveryoneButTheKnowledgeBaseAndAdministrators"]
    assert sorted(everyone_but["Condition"]["ArnNotLike"]["aws:PrincipalArn"]) == sorted(
        [ADMIN, role_arn]
    )
    key = by_sid(policy(alone.named("aws:kms/key:Key", "kb-vectors-key").inputs))
    [bucket] = alone.of_type("aws:s3/vectorsVectorBucket:VectorsVectorBucket")
    indexing = key["S3VectorsIndexesThisBucket"]
    assert indexing["Principal"] == {"Service": "indexing.s3vectors.amazonaws.com"}
    assert indexing["Condition"]["ArnLike"]["aws:SourceArn"][0] == bucket.outputs["vectorBucketArn"]


def test_ingestion_runs_on_data_source_changes_and_on_schedule(build: Build) -> None:
    run = build(lambda: KnowledgeBase("kb", {**ARGS, "ingestion_schedule": "rate(1 day)"}))
    [knowledge_base] = run.of_type(KB_TYPE)
    kb_id = knowledge_base.outputs["arn"].rsplit("/", 1)[1]
    [machine] = run.of_type("aws:sfn/stateMachine:StateMachine")
    assert json.loads(machine.inputs["definition"]) == ingestion_definition(kb_id)
    rule = run.named("aws:cloudwatch/eventRule:EventRule", "kb-changed")
    assert json.loads(rule.inputs["eventPattern"]) == change_pattern(kb_id)
    target = run.named("aws:cloudwatch/eventTarget:EventTarget", "kb-changed")
    trigger = run.named("aws:iam/role:Role", "kb-ingestion-trigger")
    assert target.inputs["arn"] == machine.outputs["arn"]
    assert target.inputs["roleArn"] == trigger.outputs["arn"]
    [schedule] = run.of_type("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(1 day)"
    assert schedule.inputs["target"]["arn"] == machine.outputs["arn"]
    # The trigger role: for this rule and this schedule only; it starts this state machine.
    sources = {
        s["Principal"]["Service"]: s["Condition"]["ArnEquals"]["aws:SourceArn"]
        for s in policy(trigger.inputs, "assumeRolePolicy")["Statement"]
    }
    assert sources == {
        "events.amazonaws.com": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule.inputs['name']}",
        "scheduler.amazonaws.com": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/"
        + schedule.inputs["name"],
    }
    [start] = policy(run.named("aws:iam/rolePolicy:RolePolicy", "kb-ingestion-trigger").inputs)[
        "Statement"
    ]
    assert start["Action"] == "states:StartExecution"
    assert start["Resource"] == machine.outputs["arn"]
    # The state machine's role: this state machine of this account.
    runner = run.named("aws:iam/role:Role", "kb-ingestion")
    [trust] = policy(runner.inputs, "assumeRolePolicy")["Statement"]
    assert trust["Condition"]["ArnEquals"] == {"aws:SourceArn": machine.outputs["arn"]}
    # A data source's creation or change is the rule's event: the rule is in place first.
    for source in run.of_type(SOURCE_TYPE):
        assert target.urn in source.dependencies


def test_without_a_schedule_only_the_rule_starts_the_ingestion(alone: StackRun) -> None:
    assert alone.of_type("aws:scheduler/schedule:Schedule") == []
    trigger = alone.named("aws:iam/role:Role", "kb-ingestion-trigger")
    [only] = policy(trigger.inputs, "assumeRolePolicy")["Statement"]
    assert only["Principal"] == {"Service": "events.amazonaws.com"}


def test_the_state_machine_fails_on_a_failed_job_or_a_missing_document() -> None:
    states = ingestion_definition("KB12345678")["States"]
    assert states["ListDataSources"]["Parameters"] == {"KnowledgeBaseId": "KB12345678"}
    each = states["EachDataSource"]
    assert each["MaxConcurrency"] == 1  # one job per knowledge base at a time
    inner = each["ItemProcessor"]["States"]
    assert inner["StartJob"]["Retry"][0]["ErrorEquals"][0] == "BedrockAgent.ConflictException"
    finished = {c["Next"]: c for c in inner["Finished"]["Choices"]}
    assert {"EveryDocument", "JobFailed"} == set(finished)
    assert inner["Finished"]["Default"] == "Wait"
    assert inner["EveryDocument"]["Choices"][0]["Next"] == "DocumentsFailed"
    assert inner["JobFailed"]["Type"] == inner["DocumentsFailed"]["Type"] == "Fail"


def test_the_outputs_name_the_knowledge_base_and_how_to_ingest(alone: StackRun) -> None:
    [knowledge_base] = alone.of_type(KB_TYPE)
    [machine] = alone.of_type("aws:sfn/stateMachine:StateMachine")
    [source] = alone.of_type(SOURCE_TYPE)
    assert alone.outputs == {
        "knowledgeBaseId": knowledge_base.outputs["arn"].rsplit("/", 1)[1],
        "ingestCommand": f"aws stepfunctions start-execution --region {REGION} "
        f"--state-machine-arn {machine.outputs['arn']}",
        "dataSourceIds": {"curated/": source.outputs["dataSourceId"]},
    }


@pytest.mark.parametrize(
    ("chunking", "expected"),
    [
        ({}, {"chunkingStrategy": "FIXED_SIZE", "fixed": (300, 20)}),
        ({"strategy": "fixedSize", "maxTokens": 512, "overlapPercentage": 10},
         {"chunkingStrategy": "FIXED_SIZE", "fixed": (512, 10)}),
        ({"strategy": "none"}, {"chunkingStrategy": "NONE"}),
    ],
)  # fmt: skip
def test_chunking_comes_from_the_args_with_bedrocks_defaults(
    chunking: dict[str, Any], expected: dict[str, Any]
) -> None:
    configuration = chunking_configuration(ChunkingConfig.model_validate(chunking))
    assert configuration["chunking_strategy"] == expected["chunkingStrategy"]
    if "fixed" in expected:
        fixed = configuration["fixed_size_chunking_configuration"]
        assert (fixed["max_tokens"], fixed["overlap_percentage"]) == expected["fixed"]
    else:
        assert set(configuration) == {"chunking_strategy"}


def test_semantic_and_hierarchical_chunking_take_their_own_settings() -> None:
    semantic = chunking_configuration(
        ChunkingConfig(strategy=ChunkingStrategy.SEMANTIC, breakpoint_percentile_threshold=90)
    )
    assert semantic["semantic_chunking_configuration"] == {
        "max_token": 300,
        "buffer_size": 0,
        "breakpoint_percentile_threshold": 90,
    }
    hierarchical = chunking_configuration(ChunkingConfig(strategy=ChunkingStrategy.HIERARCHICAL))
    assert hierarchical["hierarchical_chunking_configuration"] == {
        "level_configurations": [{"max_tokens": 1500}, {"max_tokens": 300}],
        "overlap_tokens": 60,
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"prefixes": []}, "prefixes: "),
        ({"prefixes": [""]}, "prefixes[0]: "),
        ({"prefixes": ["curated/", "curated/2024/"]}, "prefixes[1]: 'curated/2024/' is within"),
        ({"prefixes": [f"p{i}/" for i in range(6)]}, "prefixes: "),
        ({"embedding_model_id": "amazon.nova-micro-v1:0"}, "embeddingModelId: "),
        ({"dimensions": 384}, "dimensions: amazon.titan-embed-text-v2:0 produces 256 or 512"),
        ({"chunking": {"strategy": "none", "maxTokens": 300}},
         "chunking.maxTokens: does not apply to strategy none"),
        ({"chunking": {"overlapPercentage": 100}}, "chunking.overlapPercentage: "),
        ({"ingestion_schedule": "every day"}, "ingestionSchedule: "),
        ({"vector_store": "opensearchServerless"}, "vectorStore: "),
    ],
)  # fmt: skip
def test_bad_args_are_refused_before_anything_is_registered(
    refused: Refused, change: dict[str, Any], problem: str
) -> None:
    problems = refused(lambda: KnowledgeBase("kb", {**ARGS, **change}))  # type: ignore[typeddict-item]
    assert any(p.startswith(problem) for p in problems), problems


def test_an_output_for_a_plain_argument_is_refused(refused: Refused) -> None:
    problems = refused(
        lambda: KnowledgeBase(
            "kb",
            {**ARGS, "bucket_name": pulumi.Output.from_input("lake-test-data")},  # type: ignore[typeddict-item]
        )
    )
    assert problems
    assert problems[0].startswith("bucketName: ")


# --- The stack config ---------------------------------------------------------------------------


def minimal(knowledge_base: dict[str, Any] | None = None) -> dict[str, Any]:
    """test_config's smallest config, its access point on curated/, with a knowledge base."""
    values: dict[str, Any] = copy.deepcopy(MINIMAL)
    values["accessPoints"][0]["prefix"] = "curated/"
    if knowledge_base is not None:
        values["bedrock"]["knowledgeBase"] = knowledge_base
    return values


def test_the_knowledge_base_is_off_unless_configured() -> None:
    assert parse(minimal()).bedrock.knowledge_base is None
    config = parse(minimal({"prefixes": ["curated/"]}))
    assert config.bedrock.knowledge_base is not None
    assert config.interface_endpoints[-1] == "bedrock-agent-runtime"


@pytest.mark.parametrize(
    ("knowledge_base", "problem"),
    [
        ({"prefixes": ["raw/"]},
         "bedrock.knowledgeBase.prefixes[0]: 'raw/' is outside 'curated/', the prefix of "
         "bedrock.accessPoint"),
        ({"prefixes": ["curated/"], "embeddingModelId": "cohere.embed-english-v3"},
         "bedrock.knowledgeBase.embeddingModelId: 'cohere.embed-english-v3' is a third-party"),
        ({"prefixes": ["curated/"], "results": 101}, "bedrock.knowledgeBase.results: "),
        ({"prefixes": ["curated/"], "chunking": {"strategy": "semantic", "overlapTokens": 3}},
         "bedrock.knowledgeBase.chunking.overlapTokens: does not apply to strategy semantic"),
    ],
)  # fmt: skip
def test_the_config_names_the_key_and_the_rule(
    knowledge_base: dict[str, Any], problem: str
) -> None:
    values = minimal(knowledge_base)
    problems = problems_of(values)
    assert any(p.startswith(problem) for p in problems), problems


def test_the_retrieval_endpoint_comes_with_a_knowledge_base_only() -> None:
    values = minimal()
    values["network"]["interfaceEndpoints"] = ["bedrock-runtime", "bedrock-agent-runtime"]
    [problem] = problems_of(values)
    assert problem.startswith("network.interfaceEndpoints: 'bedrock-agent-runtime' serves")


# --- Wired into the whole stack (prod) ----------------------------------------------------------


def test_prod_wires_the_knowledge_base_to_the_bucket_endpoint_function_and_alarms(
    prod_run: StackRun,
) -> None:
    [knowledge_base] = prod_run.of_type(KB_TYPE)
    kb_arn = knowledge_base.outputs["arn"]
    role_arn = prod_run.named("aws:iam/role:Role", "knowledge-base-role").outputs["arn"]
    # The bucket's exception names that role and its prefix.
    bucket_policy = by_sid(
        json.loads(
            next(
                r.inputs["policy"]
                for r in prod_run.of_type("aws:s3/bucketPolicy:BucketPolicy")
                if r.inputs["bucket"] == prod_run.outputs["bucketName"]
            )
        )
    )
    outside = bucket_policy["DenyKnowledgeBaseReadsOutsideItsPrefixes"]
    assert outside["Condition"] == {"ArnEquals": {"aws:PrincipalArn": role_arn}}
    assert outside["NotResource"] == f"arn:aws:s3:::{prod_run.outputs['bucketName']}/curated/*"
    # The endpoint admits retrieval from this knowledge base only.
    [endpoint] = [
        e
        for e in prod_run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["serviceName"].endswith(".bedrock-agent-runtime")
    ]
    [retrieve] = policy(endpoint.inputs)["Statement"]
    assert (retrieve["Action"], retrieve["Resource"]) == ("bedrock:Retrieve", kb_arn)
    assert endpoint.inputs["privateDnsEnabled"] is True
    # The function's role retrieves from it, and knows its id.
    function_role = by_sid(
        policy(prod_run.named("aws:iam/rolePolicy:RolePolicy", "bedrock-role").inputs)
    )
    assert function_role["RetrieveFromItsKnowledgeBase"]["Resource"] == kb_arn
    [function] = prod_run.of_type("aws:lambda/function:Function")
    assert (
        function.inputs["environment"]["variables"]["KNOWLEDGE_BASE_ID"] == kb_arn.rsplit("/", 1)[1]
    )
    # Failed, timed-out or stopped ingestions page the alarm topic.
    [machine] = prod_run.of_type("aws:sfn/stateMachine:StateMachine")
    ingestion_alarms = [
        a
        for a in prod_run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["namespace"] == "AWS/States"
    ]
    assert sorted(a.inputs["metricName"] for a in ingestion_alarms) == [
        "ExecutionsAborted",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
    ]
    assert all(
        a.inputs["dimensions"] == {"StateMachineArn": machine.outputs["arn"]}
        for a in ingestion_alarms
    )
    assert prod_run.outputs["knowledgeBaseId"] == kb_arn.rsplit("/", 1)[1]
    assert '"knowledgeBase": true' in prod_run.outputs["askCommand"]


def test_the_knowledge_base_role_is_named_as_the_config_names_it(prod_run: StackRun) -> None:
    config = parse(
        {k.split(":", 1)[1]: v for k, v in load_stack_values("prod").items()
         if k.startswith("private-datalake:")},
        stack="prod",
    )  # fmt: skip
    role = prod_run.named("aws:iam/role:Role", "knowledge-base-role")
    assert role.outputs["arn"] == config.knowledge_base_role_arn


def test_dev_has_no_knowledge_base(dev_run: StackRun) -> None:
    assert dev_run.of_type(KB_TYPE) == []
    assert "knowledgeBaseServiceControlPolicy" not in dev_run.outputs["organizationPolicies"]
    [function] = dev_run.of_type("aws:lambda/function:Function")
    assert "KNOWLEDGE_BASE_ID" not in function.inputs["environment"]["variables"]


def test_the_function_fails_closed_when_the_knowledge_base_does_not_resolve() -> None:
    with pytest.raises(pulumi.RunError, match="knowledgeBaseArn resolved to nothing"):
        knowledge_base_ref({"knowledge_base_arn": "x"}, None)
    assert knowledge_base_ref({}, None) is None


def test_the_retrieval_endpoint_fails_closed_when_the_knowledge_base_does_not_resolve() -> None:
    with pytest.raises(pulumi.RunError, match="knowledgeBaseArn resolved to nothing"):
        knowledge_base_endpoint_policy({"region": REGION, "account_id": ACCOUNT}, "")  # type: ignore[typeddict-item]
