"""The stack as Terraform's plan JSON, for the scanners security teams run (Checkov, Trivy, KICS).

pulumi-aws is bridged from the Terraform AWS provider, so every resource the program registers
has a Terraform type and every input a Terraform attribute. The mapping follows pulumi-aws's own
metadata:

* Terraform resource types (:data:`TERRAFORM_TYPES`): the bridge's ``renames.resources`` map in
  ``provider/cmd/pulumi-resource-aws/bridge-metadata.json``. The resources the provider serves
  through the Terraform plugin framework (Bedrock's) are not in that map; they keep the upstream
  provider's resource names.
* attribute names: the bridge names an input after its Terraform attribute in camelCase, and a
  list of blocks after the plural of its singular block name; its ``renamedProperties`` map
  records every such name (``"rules": "rule"``). :data:`PLURALIZED` holds the ones the stack
  uses whose Terraform name is not the plain snake_case; the rest convert mechanically.
* nested blocks: the installed pulumi_aws package's own generated types. An input that holds an
  object type is a Terraform block, which a plan lists (``vpc_config = [{...}]``); a map (tags,
  environment variables) stays an object.

A type the table does not name stops the conversion (:class:`UnmappedType`): a new resource
type gets its Terraform name here, from the metadata, before any plan is written.

References: a value that is another resource's id, ARN or other computed output is unknown
until apply in a real plan of a new stack. It is left out of ``planned_values`` (and marked in
``after_unknown``) and named in ``configuration`` as a reference, as Terraform does; scanners
link resources through these references (a bucket to its encryption, versioning, public access
block and logging resources).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pulumi

from offline.runner import PROVIDER_TYPE, CapturedResource, StackRun

FORMAT_VERSION = "1.2"
TERRAFORM_VERSION = "1.9.8"
"""The plan format the file follows (Terraform's JSON output format 1.2, as 1.9 writes it)."""
PROVIDER_NAME = "registry.terraform.io/hashicorp/aws"

# Pulumi type token -> Terraform resource type (bridge-metadata.json, renames.resources; the
# framework-served Bedrock resources use the upstream names).
TERRAFORM_TYPES: Mapping[str, str] = {
    "aws:athena/workgroup:Workgroup": "aws_athena_workgroup",
    "aws:bedrock/agentDataSource:AgentDataSource": "aws_bedrockagent_data_source",
    "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase": "aws_bedrockagent_knowledge_base",
    "aws:bedrock/guardrail:Guardrail": "aws_bedrock_guardrail",
    "aws:bedrock/guardrailVersion:GuardrailVersion": "aws_bedrock_guardrail_version",
    "aws:bedrock/inferenceProfile:InferenceProfile": "aws_bedrock_inference_profile",
    "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration": (
        "aws_bedrock_model_invocation_logging_configuration"
    ),
    "aws:cloudwatch/eventRule:EventRule": "aws_cloudwatch_event_rule",
    "aws:cloudwatch/eventTarget:EventTarget": "aws_cloudwatch_event_target",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "aws_vpc_endpoint",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:lambda/codeSigningConfig:CodeSigningConfig": "aws_lambda_code_signing_config",
    "aws:lambda/function:Function": "aws_lambda_function",
    "aws:s3/accessPoint:AccessPoint": "aws_s3_access_point",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "aws_s3_bucket_lifecycle_configuration"
    ),
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:s3/bucketObjectv2:BucketObjectv2": "aws_s3_object",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("aws_s3_bucket_public_access_block"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws_s3_bucket_server_side_encryption_configuration"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:s3/vectorsIndex:VectorsIndex": "aws_s3vectors_index",
    "aws:s3/vectorsVectorBucket:VectorsVectorBucket": "aws_s3vectors_vector_bucket",
    "aws:s3/vectorsVectorBucketPolicy:VectorsVectorBucketPolicy": (
        "aws_s3vectors_vector_bucket_policy"
    ),
    "aws:scheduler/schedule:Schedule": "aws_scheduler_schedule",
    "aws:sfn/stateMachine:StateMachine": "aws_sfn_state_machine",
    "aws:signer/signingJob:SigningJob": "aws_signer_signing_job",
    "aws:signer/signingProfile:SigningProfile": "aws_signer_signing_profile",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:sns/topicSubscription:TopicSubscription": "aws_sns_topic_subscription",
}

# Pulumi type token (resource or nested type) -> {Pulumi name: Terraform name} where the
# Terraform name is not the snake_case of the Pulumi name: a list named after the plural of
# its singular Terraform block (bridge-metadata.json, renamedProperties, as the bridge
# pluralizes). tests/test_scanner_clean.py checks each Pulumi name against pulumi_aws.
PLURALIZED: Mapping[str, Mapping[str, str]] = {
    "aws:bedrock/GuardrailContentPolicyConfig:GuardrailContentPolicyConfig": {
        "filtersConfigs": "filters_config",
        "tierConfigs": "tier_config",
    },
    "aws:bedrock/GuardrailSensitiveInformationPolicyConfig:GuardrailSensitiveInformationPolicyConfig": {  # noqa: E501
        "piiEntitiesConfigs": "pii_entities_config",
        "regexesConfigs": "regexes_config",
    },
    "aws:bedrock/GuardrailTopicPolicyConfig:GuardrailTopicPolicyConfig": {
        "topicsConfigs": "topics_config",
        "tierConfigs": "tier_config",
    },
    "aws:bedrock/GuardrailWordPolicyConfig:GuardrailWordPolicyConfig": {
        "managedWordListsConfigs": "managed_word_lists_config",
        "wordsConfigs": "words_config",
    },
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": {"rules": "rule"},
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": {
        "rules": "rule"
    },
}


# Computed outputs that other resources refer to, besides ``id`` and ``arn``: Terraform's
# attribute for each (the reference a plan's configuration would show).
REFERENCED_OUTPUTS: Mapping[str, Mapping[str, str]] = {
    "aws:kms/key:Key": {"keyId": "key_id"},
    "aws:cloudwatch/logGroup:LogGroup": {"name": "name"},
    "aws:cloudwatch/eventRule:EventRule": {"name": "name"},
    "aws:iam/role:Role": {"name": "name"},
    "aws:s3/bucketObjectv2:BucketObjectv2": {"versionId": "version_id"},
    "aws:signer/signingProfile:SigningProfile": {"name": "name", "versionArn": "version_arn"},
    "aws:lambda/function:Function": {"name": "function_name"},
    "aws:bedrock/guardrail:Guardrail": {"guardrailArn": "guardrail_arn"},
    "aws:sns/topic:Topic": {"name": "name"},
}
SIGNED_OBJECT = "signed_object"


class UnmappedType(Exception):
    """The stack registers a type the converter has no Terraform name for."""


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def terraform_name(token: str, pulumi_name: str) -> str:
    return PLURALIZED.get(token, {}).get(pulumi_name) or snake_case(pulumi_name)


@functools.cache
def nested_types(token: str) -> dict[str, str]:
    """Pulumi name -> type token of each input of ``token`` that holds an object type (or a
    list of them), read from the installed pulumi_aws package's generated classes."""
    module_name = token.split(":")[1].split("/", maxsplit=1)[0]
    class_name = token.split(":")[2]
    package = importlib.import_module(
        f"pulumi_aws.{'lambda_' if module_name == 'lambda' else module_name}"
    )
    try:
        outputs = importlib.import_module(f"{package.__name__}.outputs")
    except ModuleNotFoundError:
        return {}
    # Resources are the package's classes; nested types are its outputs module's.
    is_resource = token.split("/", maxsplit=1)[1][0].islower()
    cls = getattr(package if is_resource else outputs, class_name, None)
    if cls is None:
        return {}
    found = {}
    for attribute, member in inspect.getmembers(cls, lambda m: isinstance(m, property)):
        getter = member.fget
        name = getattr(getter, "_pulumi_name", None) or attribute
        try:
            hints = typing.get_type_hints(
                getter, globalns=vars(outputs), localns={**vars(outputs), "outputs": outputs}
            )
        except NameError:
            continue
        classes = re.findall(r"\.outputs\.(\w+)", str(hints.get("return")))
        if classes:
            found[name] = f"aws:{module_name}/{classes[0]}:{classes[0]}"
    return found


def _values(token: str, inputs: Mapping[str, Any], unknown: set[str], top: bool) -> dict[str, Any]:
    """Terraform attributes of one object: blocks as lists, references left out."""
    nested = nested_types(token)
    values: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, pulumi.Asset | pulumi.Archive):
            # Code the engine uploads: a plan shows a local file path and hash instead.
            continue
        name = terraform_name(token, key)
        if top and key in unknown:
            continue
        block = nested.get(key)
        if block is not None and isinstance(value, dict):
            values[name] = [_values(block, value, unknown, top=False)]
        elif block is not None and isinstance(value, list):
            values[name] = [_values(block, item, unknown, top=False) for item in value]
        else:
            values[name] = _number(value)
    return values


def _number(value: Any) -> Any:
    """Integers arrive as floats through the engine's JSON; Terraform writes them as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_number(item) for item in value]
    return value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _referable(resource: CapturedResource) -> Iterator[tuple[str, str]]:
    """(value, Terraform attribute) of what other resources may take from ``resource``."""
    if resource.id:
        yield resource.id, "id"
    if isinstance(resource.outputs.get("arn"), str):
        yield resource.outputs["arn"], "arn"
    for key, attribute in REFERENCED_OUTPUTS.get(resource.type, {}).items():
        if isinstance(resource.outputs.get(key), str):
            yield resource.outputs[key], attribute
    for signed in resource.outputs.get("signedObjects") or []:
        for s3 in signed.get("s3s") or []:
            yield s3["key"], SIGNED_OBJECT


def addresses(resources: Sequence[CapturedResource]) -> dict[str, str]:
    """URN -> Terraform address (type.name), unique: the Pulumi name with every character
    Terraform does not allow in a name replaced, numbered when two resources of one type
    share it."""
    taken: dict[str, int] = {}
    found = {}
    for resource in sorted(resources, key=lambda r: r.urn):
        base = f"{TERRAFORM_TYPES[resource.type]}.{re.sub(r'[^A-Za-z0-9_-]', '_', resource.name)}"
        count = taken.get(base, 0)
        taken[base] = count + 1
        found[resource.urn] = base if count == 0 else f"{base}_{count}"
    return found


def terraform_plan(run: StackRun) -> dict[str, Any]:
    """The stack as the plan of a new Terraform deployment (``terraform show -json``)."""
    managed = [r for r in run.resources if r.custom and r.type != PROVIDER_TYPE]
    missing = sorted({r.type for r in managed} - set(TERRAFORM_TYPES))
    if missing:
        raise UnmappedType(
            "no Terraform type for " + ", ".join(missing) + " (synth/terraform.py TERRAFORM_TYPES)"
        )
    address = addresses(managed)
    referable: dict[str, list[tuple[str, str]]] = {}
    for resource in managed:
        for value, attribute in _referable(resource):
            referable.setdefault(value, []).append((address[resource.urn], attribute))

    planned, changes, configured = [], [], []
    for resource in sorted(managed, key=lambda r: address[r.urn]):
        own = address[resource.urn]
        references: dict[str, list[str]] = {}
        for key, value in resource.inputs.items():
            targets = sorted(
                {
                    f"{target}.{attribute}"
                    for text in _strings(value)
                    for target, attribute in referable.get(text, [])
                    if target != own
                }
            )
            if targets:
                references[key] = targets
        # A whole attribute taken from another resource is unknown until apply.
        unknown = {
            key
            for key, value in resource.inputs.items()
            if key in references and isinstance(value, str)
        }
        values = _values(resource.type, resource.inputs, unknown, top=True)
        tf_type, name = own.split(".", 1)
        common = {
            "address": own,
            "mode": "managed",
            "type": tf_type,
            "name": name,
            "provider_name": PROVIDER_NAME,
        }
        planned.append({**common, "schema_version": 0, "values": values, "sensitive_values": {}})
        changes.append(
            {
                **common,
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": values,
                    "after_unknown": {
                        terraform_name(resource.type, key): True for key in sorted(unknown)
                    },
                    "before_sensitive": False,
                    "after_sensitive": {},
                },
            }
        )
        configured.append(
            {
                "address": own,
                "mode": "managed",
                "type": tf_type,
                "name": name,
                "provider_config_key": "aws",
                "expressions": {
                    terraform_name(resource.type, key): {
                        "references": [
                            *targets,
                            *sorted({t.rsplit(".", 1)[0] for t in targets}),
                        ]
                    }
                    for key, targets in sorted(references.items())
                },
                "schema_version": 0,
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {
                "aws": {
                    "name": "aws",
                    "full_name": PROVIDER_NAME,
                    "expressions": {"region": {"constant_value": run.region}},
                }
            },
            "root_module": {"resources": configured},
        },
    }
