"""The private Bedrock path: a function in the private subnets that reads documents through
its access point and calls Bedrock through the bedrock-runtime interface endpoint."""

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import policies
from components.account import DataAccount
from components.errors import refuse
from components.network import HTTPS

EXAMPLE_EVENT: dict[str, Any] = {"prompt": "Summarise this document in three bullet points."}
KNOWLEDGE_BASE_EVENT: dict[str, Any] = {
    "prompt": "What do the curated documents say about data retention?",
    "knowledgeBase": True,
}
DEFAULT_MAX_TOKENS = 1024
DEFAULT_SYSTEM_PROMPT = (
    "Answer the question using only the supplied document. If the document does not "
    "contain the answer, say so."
)
DEFAULT_MEMORY_MB = 256
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_LOG_RETENTION_DAYS = 90
DEFAULT_MAX_DOCUMENT_BYTES = 1_000_000
# The function's own default (lambda_src/handler.py), passed explicitly so the stack states it.
DEFAULT_MAX_DOCUMENT_CHARS = 100_000
DEFAULT_KNOWLEDGE_BASE_RESULTS = 5
# Bedrock's own refusal of a larger numberOfResults (Retrieve, vectorSearchConfiguration).
MAX_KNOWLEDGE_BASE_RESULTS = 100


def function_source() -> Path:
    """The function's code, lambda_src/handler.py, wherever the package runs from: inside the
    installed package (pyproject maps the repository's lambda_src/ there), or next to it in a
    clone of the repository (a checkout, or `pulumi package add` of the components folder)."""
    package = Path(__file__).resolve().parent
    for directory in (package / "lambda_src", package.parent / "lambda_src"):
        if (directory / "handler.py").is_file():
            return directory / "handler.py"
    raise FileNotFoundError(f"lambda_src/handler.py is neither in {package} nor next to it")


def packaged_code() -> pulumi.AssetArchive:
    # Only the handler: no __pycache__ or editor files, so the archive hash changes only when
    # the code does.
    return pulumi.AssetArchive({"handler.py": pulumi.FileAsset(str(function_source()))})


class Architecture(StrEnum):
    """The function's instruction set."""

    ARM64 = "arm64"
    """Graviton (cheaper per GB-second)."""
    X86_64 = "x86_64"
    """x86-64."""


class ModelSettings(TypedDict):
    """Which models the function may call and how."""

    model_ids: list[str]
    """Foundation-model ids (amazon.nova-micro-v1:0) or inference-profile ids
    (us.anthropic...)."""
    default_model_id: NotRequired[str]
    """The model used when an event names none (default: the first of modelIds)."""
    streaming: NotRequired[bool]
    """Also allow InvokeModelWithResponseStream (default false)."""
    max_tokens: NotRequired[int]
    """Passed to Converse (default 1024)."""
    system_prompt: NotRequired[str]
    """Passed to Converse (default: answer from the document only)."""


class FunctionSettings(TypedDict):
    """The Lambda function's settings (stack config ``function``)."""

    memory_mb: NotRequired[int]
    """Memory (default 256)."""
    timeout_seconds: NotRequired[int]
    """Timeout (default 60)."""
    architecture: NotRequired[Architecture]
    """arm64 (default) or x86_64."""
    reserved_concurrency: NotRequired[int]
    """Caps concurrent invocations (and Bedrock spend); unreserved when omitted."""
    log_retention_days: NotRequired[int]
    """Retention of the function's log group (default 90)."""
    max_document_bytes: NotRequired[int]
    """Larger documents are refused (default 1000000)."""
    max_document_chars: NotRequired[int]
    """The most characters of text a document may give the model (default 100000); a request's
    documents together also stay within the model's context and the function's memory."""


class BedrockFunctionArgs(DataAccount, ModelSettings, FunctionSettings):
    """Inputs of :class:`BedrockFunction`."""

    vpc_id: pulumi.Input[str]
    """The data-lake VPC."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets the function runs in (one ENI per subnet)."""
    endpoint_security_group_ids: pulumi.Input[list[str]]
    """Security groups of the interface endpoints the function may open HTTPS to."""
    s3_prefix_list_id: pulumi.Input[str]
    """The S3 gateway endpoint's prefix list: the only other HTTPS destination."""
    detached_security_group_id: pulumi.Input[str]
    """A rule-less security group that outlives the function (such as the VPC's default one): its
    network interfaces move there on destroy, so the function's own group is deleted at once
    instead of waiting for AWS to release them."""
    access_point_arn: str
    """The access point documents are read through."""
    prefix: NotRequired[str]
    """The key prefix the function may read ('' or omitted for the whole bucket)."""
    kms_key_arn: NotRequired[pulumi.Input[str]]
    """The data key, when reads need kms:Decrypt."""
    guardrail_arn: NotRequired[pulumi.Input[str]]
    """The guardrail every model call must carry (the role and the function enforce it)."""
    guardrail_version: NotRequired[pulumi.Input[str]]
    """Its version."""
    guardrail_key_arn: NotRequired[pulumi.Input[str]]
    """The key the guardrail is encrypted with, when the stack created it."""
    routes: NotRequired[pulumi.Input[dict[str, str]]]
    """Configured model id -> application inference profile ARN the function invokes
    instead."""
    knowledge_base_arn: NotRequired[pulumi.Input[str]]
    """A knowledge base the function retrieves from for ``{"knowledgeBase": true}`` requests
    (its role may retrieve from that one only)."""
    knowledge_base_results: NotRequired[int]
    """Passages retrieved per question (default 5)."""
    code: NotRequired[pulumi.Archive]
    """The function's code (handler.lambda_handler); default: the package's lambda_src."""


def default_model_id(settings: ModelSettings) -> str:
    return settings.get("default_model_id") or settings["model_ids"][0]


def _problems(args: BedrockFunctionArgs) -> list[str]:
    model_ids = args["model_ids"]
    if not model_ids:
        return ["modelIds: must list at least one model"]
    default = args.get("default_model_id")
    if default is not None and default not in model_ids:
        return [f"defaultModelId: '{default}' is not one of modelIds"]
    results = args.get("knowledge_base_results", DEFAULT_KNOWLEDGE_BASE_RESULTS)
    if not 1 <= results <= MAX_KNOWLEDGE_BASE_RESULTS:
        return [f"knowledgeBaseResults: must be from 1 to {MAX_KNOWLEDGE_BASE_RESULTS}"]
    return []


class BedrockFunction(pulumi.ComponentResource):
    """A VPC-attached function with least privilege: its models, its prefix, its logs."""

    function_name: pulumi.Output[str]
    """The function's name."""
    function_arn: pulumi.Output[str]
    """The function's ARN."""
    role_arn: pulumi.Output[str]
    """Its role: grant it read on the access point it reads through."""
    security_group_id: pulumi.Output[str]
    """Its security group (HTTPS to the endpoints only)."""
    invoke_command: pulumi.Output[str]
    """An aws lambda invoke command line with an example event."""

    def __init__(
        self, name: str, args: BedrockFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        refuse(_problems(args), "BedrockFunction arguments")
        super().__init__("datalake:index:BedrockFunction", name, {}, opts)
        region, account_id = args["region"], args["account_id"]
        child = pulumi.ResourceOptions(parent=self)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=args.get("log_retention_days", DEFAULT_LOG_RETENTION_DAYS),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            description="Reads documents through one access point and invokes Bedrock models",
            assume_role_policy=policies.to_json(
                policies.service_assume_role_policy("lambda.amazonaws.com", account_id)
            ),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role",
            role=role.id,
            policy=pulumi.Output.all(
                log_group=log_group.arn,
                kms_key_arn=args.get("kms_key_arn"),
                guardrail_arn=args.get("guardrail_arn"),
                guardrail_version=args.get("guardrail_version"),
                guardrail_key_arn=args.get("guardrail_key_arn"),
                routes=args.get("routes", {}),
                knowledge_base_arn=args.get("knowledge_base_arn"),
            ).apply(lambda values: policies.to_json(_role_policy(args, values))),
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-function",
            vpc_id=args["vpc_id"],
            description="The Bedrock function: HTTPS to the VPC endpoints only",
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to the interface endpoints (bedrock-runtime, ...)",
                    protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    security_groups=args["endpoint_security_group_ids"],
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to S3 through the gateway endpoint",
                    protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    prefix_list_ids=[args["s3_prefix_list_id"]],
                ),
            ],
            tags={"Name": f"{name}-function"},
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            description="Answers questions about data-lake documents with Amazon Bedrock",
            runtime=aws.lambda_.Runtime.PYTHON3D14,
            architectures=[Architecture(args.get("architecture", Architecture.ARM64)).value],
            handler="handler.lambda_handler",
            code=args.get("code") or packaged_code(),
            role=role.arn,
            memory_size=args.get("memory_mb", DEFAULT_MEMORY_MB),
            timeout=args.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
            reserved_concurrent_executions=args.get("reserved_concurrency", -1),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=pulumi.Output.all(
                    guardrail_arn=args.get("guardrail_arn"),
                    guardrail_version=args.get("guardrail_version"),
                    routes=args.get("routes", {}),
                    knowledge_base_arn=args.get("knowledge_base_arn"),
                ).apply(lambda values: environment(args, values))
            ),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args["subnet_ids"], security_group_ids=[security_group.id]
            ),
            replace_security_groups_on_destroy=True,
            replacement_security_group_ids=[args["detached_security_group_id"]],
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
            lambda function_name: invoke_command(function_name, region)
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


def guardrail_ref(
    args: BedrockFunctionArgs | Any, arn: str | None, version: str | None
) -> policies.GuardrailRef | None:
    """The guardrail the arguments call for, once its outputs are known. Whether there is one
    follows from the arguments (``guardrailArn`` given); a value that resolved to nothing fails
    the deployment instead of dropping the guardrail from a policy."""
    if "guardrail_arn" not in args:
        return None
    if not arn or not version:
        raise pulumi.RunError(
            "guardrailArn/guardrailVersion resolved to nothing: refusing to build the "
            "function's role and configuration without the guardrail they must require"
        )
    return policies.GuardrailRef(arn, version)


def knowledge_base_ref(args: BedrockFunctionArgs | Any, arn: str | None) -> str | None:
    """The knowledge base the arguments call for, once its ARN is known; one that resolved to
    nothing fails the deployment rather than leave the function without it."""
    if "knowledge_base_arn" not in args:
        return None
    if not arn:
        raise pulumi.RunError(
            "knowledgeBaseArn resolved to nothing: refusing to build the function's role and "
            "configuration without the knowledge base it retrieves from"
        )
    return arn


def _role_policy(args: BedrockFunctionArgs, values: dict[str, Any]) -> policies.PolicyDocument:
    return policies.function_role_policy(
        region=args["region"],
        account_id=args["account_id"],
        ap_arn=args["access_point_arn"],
        prefix=args.get("prefix", ""),
        model_ids=args["model_ids"],
        streaming=args.get("streaming", False),
        log_group_arn=values["log_group"],
        kms_key_arn=values["kms_key_arn"],
        guardrail=guardrail_ref(args, values["guardrail_arn"], values["guardrail_version"]),
        guardrail_key_arn=values["guardrail_key_arn"],
        routes=values["routes"],
        knowledge_base_arn=knowledge_base_ref(args, values["knowledge_base_arn"]),
    )


def environment(args: BedrockFunctionArgs, values: dict[str, Any]) -> dict[str, str]:
    """The function's configuration, as agreed with lambda_src/handler.py."""
    variables = {
        "ACCESS_POINT_ARN": args["access_point_arn"],
        "DOCUMENT_PREFIX": args.get("prefix", ""),
        "MODEL_ID": default_model_id(args),
        "ALLOWED_MODEL_IDS": ",".join(args["model_ids"]),
        "MAX_TOKENS": str(args.get("max_tokens", DEFAULT_MAX_TOKENS)),
        "SYSTEM_PROMPT": args.get("system_prompt", DEFAULT_SYSTEM_PROMPT),
        "MAX_DOCUMENT_BYTES": str(args.get("max_document_bytes", DEFAULT_MAX_DOCUMENT_BYTES)),
        "MAX_DOCUMENT_CHARS": str(args.get("max_document_chars", DEFAULT_MAX_DOCUMENT_CHARS)),
    }
    guardrail = guardrail_ref(args, values["guardrail_arn"], values["guardrail_version"])
    if guardrail is not None:
        variables["GUARDRAIL_ID"] = guardrail.arn
        variables["GUARDRAIL_VERSION"] = guardrail.version
    if values["routes"]:
        variables["MODEL_ROUTES"] = json.dumps(dict(sorted(values["routes"].items())))
    knowledge_base = knowledge_base_ref(args, values["knowledge_base_arn"])
    if knowledge_base is not None:
        variables["KNOWLEDGE_BASE_ID"] = knowledge_base.rsplit("/", 1)[1]
        variables["KNOWLEDGE_BASE_RESULTS"] = str(
            args.get("knowledge_base_results", DEFAULT_KNOWLEDGE_BASE_RESULTS)
        )
    return variables


def invoke_command(function_name: str, region: str, event: dict[str, Any] = EXAMPLE_EVENT) -> str:
    payload = json.dumps(event)
    return (
        f"aws lambda invoke --region {region} --function-name {function_name} "
        f"--cli-binary-format raw-in-base64-out --payload '{payload}' response.json "
        "&& cat response.json"
    )
