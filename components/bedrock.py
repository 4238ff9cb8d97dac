"""The private Bedrock path: a function in the private subnets that reads documents through
its access point and calls Bedrock through the bedrock-runtime interface endpoint."""

import json
import re
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import policies, storage
from components.account import DataAccount
from components.encryption import autonamed_log_group_arn, customer_key
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
DEFAULT_ARTIFACT_VERSION_EXPIRATION_DAYS = 30
LAMBDA_SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
"""AWS Signer's platform for Lambda code (the only one Lambda's code signing accepts)."""
UNSIGNED_CODE_KEY = "unsigned/function.zip"
SIGNED_CODE_PREFIX = "signed/"
SIGNING_PROFILE_PREFIX_MAX = 38
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
    tracing: NotRequired[bool]
    """Active X-Ray tracing (default false); in the stack, it adds the xray interface
    endpoint."""
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
    """The function's code (handler.lambda_handler); default: the package's lambda_src. It is
    uploaded to the artifact bucket and signed; the function accepts only the signed copy."""
    administrators: NotRequired[pulumi.Input[list[str]]]
    """Who manages the function's key and artifact bucket, besides the deploying role (role or
    user ARNs, or exact patterns)."""
    artifact_bucket_name: NotRequired[str]
    """The bucket the code is signed in (default PROJECT-STACK-ACCOUNT-artifacts)."""
    access_log_bucket_name: NotRequired[pulumi.Input[str]]
    """A bucket that takes the artifact bucket's server access logs (its policy must accept
    them)."""
    deletion_protection: NotRequired[bool]
    """protect and retainOnDelete on the artifact bucket (default true); false empties it on
    destroy."""


def artifact_bucket_name(args: BedrockFunctionArgs) -> str:
    """Unique per project, stack and account, like the data bucket's default name."""
    return args.get("artifact_bucket_name") or default_artifact_bucket_name(
        storage.default_bucket_name(pulumi.get_project(), pulumi.get_stack(), args["account_id"])
    )


def default_artifact_bucket_name(data_bucket_name: str) -> str:
    return f"{data_bucket_name[: 63 - len('-artifacts')]}-artifacts"


def signing_profile_prefix(name: str) -> str:
    """Signer profile names take letters, digits and underscores; AWS adds a unique suffix."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{name}_")[:SIGNING_PROFILE_PREFIX_MAX]


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


class SignedCode(NamedTuple):
    """Where the signed code is, and the configuration that makes Lambda accept only it."""

    bucket: pulumi.Output[str]
    key: pulumi.Output[str]
    code_signing_config_arn: pulumi.Output[str]


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
    key_arn: pulumi.Output[str]
    """The key of its logs, environment variables and code."""
    code_signing_config_arn: pulumi.Output[str]
    """The code-signing configuration it enforces."""

    def __init__(
        self, name: str, args: BedrockFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        refuse(_problems(args), "BedrockFunction arguments")
        super().__init__("datalake:index:BedrockFunction", name, {}, opts)
        region, account_id = args["region"], args["account_id"]
        child = pulumi.ResourceOptions(parent=self)

        administrators = storage.with_deployer(
            self, args.get("administrators", []), "administrators"
        )
        role = aws.iam.Role(
            f"{name}-role",
            description="Reads documents through one access point and invokes Bedrock models",
            assume_role_policy=policies.to_json(
                policies.service_assume_role_policy("lambda.amazonaws.com", account_id)
            ),
            opts=child,
        )
        # The key names the log group before it exists: by the names its autonaming can give.
        log_group_pattern = autonamed_log_group_arn(region, account_id, f"{name}-logs")
        key = customer_key(
            self,
            f"{name}-key",
            description="Encrypts the Bedrock function's logs, environment variables and code",
            policy=pulumi.Output.all(administrators, role.arn).apply(
                lambda values: policies.to_json(
                    policies.function_key_policy(
                        region=region,
                        account_id=account_id,
                        administrators=values[0],
                        log_group_arns=[log_group_pattern],
                        role_arn=values[1],
                    )
                )
            ),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=args.get("log_retention_days", DEFAULT_LOG_RETENTION_DAYS),
            kms_key_id=key.arn,
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
                subnet_ids=args["subnet_ids"],
                security_group_id=security_group.id,
                function_key_arn=key.arn,
                knowledge_base_arn=args.get("knowledge_base_arn"),
            ).apply(lambda values: policies.to_json(_role_policy(args, values))),
            opts=child,
        )
        signed = self._signed_code(name, args, key, administrators)
        tracing = args.get("tracing", False)
        function = aws.lambda_.Function(
            f"{name}-function",
            description="Answers questions about data-lake documents with Amazon Bedrock",
            runtime=aws.lambda_.Runtime.PYTHON3D14,
            architectures=[Architecture(args.get("architecture", Architecture.ARM64)).value],
            handler="handler.lambda_handler",
            s3_bucket=signed.bucket,
            s3_key=signed.key,
            code_signing_config_arn=signed.code_signing_config_arn,
            role=role.arn,
            memory_size=args.get("memory_mb", DEFAULT_MEMORY_MB),
            timeout=args.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
            reserved_concurrent_executions=args.get("reserved_concurrency", -1),
            kms_key_arn=key.arn,
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
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active")
            if tracing
            else None,
            # The permissions must be in place before the first invocation, not just the role.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )

        self.function_name = function.name
        self.function_arn = function.arn
        self.role_arn = role.arn
        self.security_group_id = security_group.id
        self.key_arn = key.arn
        self.code_signing_config_arn = signed.code_signing_config_arn
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
                "keyArn": self.key_arn,
                "codeSigningConfigArn": self.code_signing_config_arn,
            }
        )

    def _signed_code(
        self,
        name: str,
        args: BedrockFunctionArgs,
        key: aws.kms.Key,
        administrators: pulumi.Output[list[str]],
    ) -> SignedCode:
        """The code, uploaded to a hardened artifact bucket and signed there by AWS Signer with a
        profile of the stack's own, and a code-signing configuration that makes Lambda refuse
        anything that profile did not sign."""
        child = pulumi.ResourceOptions(parent=self)
        bucket_name = artifact_bucket_name(args)
        artifacts = storage.hardened_bucket(
            self,
            f"{name}-artifacts",
            bucket_name,
            storage.DefaultEncryption(sse_algorithm="aws:kms", kms_master_key_id=key.arn),
            policy=administrators.apply(
                lambda admins: policies.to_json(
                    policies.artifact_bucket_policy(bucket_name=bucket_name, administrators=admins)
                )
            ),
            expire_current_after_days=None,
            noncurrent_expiration_days=DEFAULT_ARTIFACT_VERSION_EXPIRATION_DAYS,
            deletion_protection=args.get("deletion_protection", True),
        )
        access_log_bucket = args.get("access_log_bucket_name")
        if access_log_bucket is not None:
            storage.server_access_logging(
                self, f"{name}-artifacts", artifacts, target_bucket=access_log_bucket
            )
        unsigned = aws.s3.BucketObjectv2(
            f"{name}-code",
            bucket=artifacts.bucket.id,
            key=UNSIGNED_CODE_KEY,
            source=args.get("code") or packaged_code(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[artifacts.policy]),
        )
        profile = aws.signer.SigningProfile(
            f"{name}-signing",
            name_prefix=signing_profile_prefix(name),
            platform_id=LAMBDA_SIGNING_PLATFORM,
            opts=child,
        )
        job = aws.signer.SigningJob(
            f"{name}-code",
            profile_name=profile.name,
            source=aws.signer.SigningJobSourceArgs(
                s3=aws.signer.SigningJobSourceS3Args(
                    bucket=artifacts.bucket.id, key=unsigned.key, version=unsigned.version_id
                )
            ),
            destination=aws.signer.SigningJobDestinationArgs(
                s3=aws.signer.SigningJobDestinationS3Args(
                    bucket=artifacts.bucket.id, prefix=SIGNED_CODE_PREFIX
                )
            ),
            ignore_signing_job_failure=False,
            opts=child,
        )
        signing_config = aws.lambda_.CodeSigningConfig(
            f"{name}-code-signing",
            description="Only code signed by this stack's signing profile is deployed",
            allowed_publishers=aws.lambda_.CodeSigningConfigAllowedPublishersArgs(
                signing_profile_version_arns=[profile.version_arn]
            ),
            policies=aws.lambda_.CodeSigningConfigPoliciesArgs(
                untrusted_artifact_on_deployment="Enforce"
            ),
            opts=child,
        )
        signed_object = job.signed_objects.apply(_signed_s3_object)
        return SignedCode(
            bucket=signed_object.apply(lambda s3: s3["bucket"]),
            key=signed_object.apply(lambda s3: s3["key"]),
            code_signing_config_arn=signing_config.arn,
        )


def _signed_s3_object(
    objects: Sequence[aws.signer.outputs.SigningJobSignedObject],
) -> dict[str, str]:
    """Bucket and key of the signed archive AWS Signer wrote. The job fails the deployment when
    it cannot sign (ignore_signing_job_failure is off): a finished job always names one, and
    anything else stops here rather than deploy unsigned code."""
    [signed] = objects[0].s3s or []
    if signed.bucket is None or signed.key is None:
        raise pulumi.RunError("the signing job reported no signed object")
    return {"bucket": signed.bucket, "key": signed.key}


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
        subnet_ids=values["subnet_ids"],
        security_group_ids=[values["security_group_id"]],
        function_key_arn=values["function_key_arn"],
        tracing=args.get("tracing", False),
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
