"""The private Bedrock path: a function in the private subnets that reads documents through
its access point and calls Bedrock through the bedrock-runtime interface endpoint."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components import policies
from components.network import HTTPS

FUNCTION_SOURCE = Path(__file__).resolve().parent.parent / "lambda_src"
EXAMPLE_EVENT = {"prompt": "Summarise this document in three bullet points."}


@dataclass(frozen=True)
class BedrockFunctionArgs:
    """Inputs of :class:`BedrockFunction`."""

    region: str
    account_id: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets the function runs in (one ENI per subnet)."""
    endpoint_security_group_ids: Sequence[pulumi.Input[str]]
    """Security groups of the interface endpoints the function may open HTTPS to."""
    s3_prefix_list_id: pulumi.Input[str]
    """The S3 gateway endpoint's prefix list: the only other HTTPS destination."""
    detached_security_group_id: pulumi.Input[str]
    """A rule-less security group that outlives the function (the VPC's default one): its
    network interfaces move there on destroy, so the function's own group is deleted at once
    instead of waiting for AWS to release them."""
    access_point_arn: str
    """The access point documents are read through."""
    document_prefix: str
    """The key prefix the function may read ('' for the whole bucket)."""
    kms_key_arn: pulumi.Input[str] | None
    """The data key, when reads need kms:Decrypt."""
    model_ids: Sequence[str]
    """Every model the function may call (foundation models or inference profiles)."""
    default_model_id: str
    streaming: bool = False
    """Also allow bedrock:InvokeModelWithResponseStream."""
    max_tokens: int = 1024
    system_prompt: str = ""
    max_document_bytes: int = 1_000_000
    memory_mb: int = 256
    timeout_seconds: int = 60
    architecture: Literal["arm64", "x86_64"] = "arm64"
    reserved_concurrency: int | None = None
    """None leaves the function on the account's unreserved pool."""
    log_retention_days: int = 90
    guardrail_arn: pulumi.Input[str] | None = None
    """The guardrail every model call must carry (its policies enforce it); None for none."""
    guardrail_version: pulumi.Input[str] | None = None
    guardrail_key_arn: pulumi.Input[str] | None = None
    """The key the guardrail is encrypted with, when the stack created it."""
    routes: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    """Configured model id -> application inference profile ARN the function invokes instead."""


class BedrockFunction(pulumi.ComponentResource):
    """A VPC-attached function with least privilege: its models, its prefix, its logs."""

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    invoke_command: pulumi.Output[str]

    def __init__(
        self, name: str, args: BedrockFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:BedrockFunction", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=args.log_retention_days, opts=child
        )
        role = aws.iam.Role(
            f"{name}-role",
            description="Reads documents through one access point and invokes Bedrock models",
            assume_role_policy=policies.to_json(
                policies.service_assume_role_policy("lambda.amazonaws.com", args.account_id)
            ),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role",
            role=role.id,
            policy=pulumi.Output.all(
                log_group=log_group.arn,
                kms_key_arn=args.kms_key_arn,
                guardrail_arn=args.guardrail_arn,
                guardrail_version=args.guardrail_version,
                guardrail_key_arn=args.guardrail_key_arn,
                routes=args.routes,
            ).apply(lambda values: policies.to_json(_role_policy(args, values))),
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-function",
            vpc_id=args.vpc_id,
            description="The Bedrock function: HTTPS to the VPC endpoints only",
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to the interface endpoints (bedrock-runtime, ...)",
                    protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    security_groups=list(args.endpoint_security_group_ids),
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to S3 through the gateway endpoint",
                    protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    prefix_list_ids=[args.s3_prefix_list_id],
                ),
            ],
            tags={"Name": f"{name}-function"},
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            description="Answers questions about data-lake documents with Amazon Bedrock",
            runtime=aws.lambda_.Runtime.PYTHON3D14,
            architectures=[args.architecture],
            handler="handler.lambda_handler",
            # Only the handler: no __pycache__ or editor files, so the archive hash changes only
            # when the code does.
            code=pulumi.AssetArchive(
                {"handler.py": pulumi.FileAsset(str(FUNCTION_SOURCE / "handler.py"))}
            ),
            role=role.arn,
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency
            if args.reserved_concurrency is not None
            else -1,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=pulumi.Output.all(
                    guardrail_arn=args.guardrail_arn,
                    guardrail_version=args.guardrail_version,
                    routes=args.routes,
                ).apply(lambda values: environment(args, values))
            ),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.subnet_ids, security_group_ids=[security_group.id]
            ),
            replace_security_groups_on_destroy=True,
            replacement_security_group_ids=[args.detached_security_group_id],
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=log_group.name
            ),
            # The permissions must be in place before the first invocation, not just the role.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )

        self.function_name = function.name
        self.function_arn = function.arn
        self.role_arn = role.arn
        self.security_group_id = security_group.id
        self.invoke_command = function.name.apply(
            lambda function_name: invoke_command(function_name, args.region)
        )
        self.register_outputs(
            {
                "functionName": self.function_name,
                "functionArn": self.function_arn,
                "roleArn": self.role_arn,
                "securityGroupId": self.security_group_id,
                "invokeCommand": self.invoke_command,
            }
        )


def _role_policy(args: BedrockFunctionArgs, values: dict[str, Any]) -> policies.PolicyDocument:
    guardrail = (
        policies.GuardrailRef(values["guardrail_arn"], values["guardrail_version"])
        if values["guardrail_arn"] is not None
        else None
    )
    return policies.function_role_policy(
        region=args.region,
        account_id=args.account_id,
        ap_arn=args.access_point_arn,
        prefix=args.document_prefix,
        model_ids=args.model_ids,
        streaming=args.streaming,
        log_group_arn=values["log_group"],
        kms_key_arn=values["kms_key_arn"],
        guardrail=guardrail,
        guardrail_key_arn=values["guardrail_key_arn"],
        routes=values["routes"],
    )


def environment(args: BedrockFunctionArgs, values: dict[str, Any]) -> dict[str, str]:
    """The function's configuration, as agreed with lambda_src/handler.py."""
    variables = {
        "ACCESS_POINT_ARN": args.access_point_arn,
        "DOCUMENT_PREFIX": args.document_prefix,
        "MODEL_ID": args.default_model_id,
        "ALLOWED_MODEL_IDS": ",".join(args.model_ids),
        "MAX_TOKENS": str(args.max_tokens),
        "SYSTEM_PROMPT": args.system_prompt,
        "MAX_DOCUMENT_BYTES": str(args.max_document_bytes),
    }
    if values["guardrail_arn"] is not None:
        variables["GUARDRAIL_ID"] = values["guardrail_arn"]
        variables["GUARDRAIL_VERSION"] = values["guardrail_version"]
    if values["routes"]:
        variables["MODEL_ROUTES"] = json.dumps(dict(sorted(values["routes"].items())))
    return variables


def invoke_command(function_name: str, region: str) -> str:
    payload = json.dumps(EXAMPLE_EVENT)
    return (
        f"aws lambda invoke --region {region} --function-name {function_name} "
        f"--cli-binary-format raw-in-base64-out --payload '{payload}' response.json "
        "&& cat response.json"
    )
