"""The shared data bucket, its key and its access-log bucket."""

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any, NamedTuple, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import access_points as ap
from components import policies
from components.access_points import AccessPointSpec
from components.account import DataAccount, perimeter
from components.errors import refuse
from components.policies import AccessMode

ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 7
DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS = 90
DEFAULT_ACCESS_LOG_RETENTION_DAYS = 365

DefaultEncryption = (
    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
)


class ReplicationSourceSettings(TypedDict):
    """A bucket that replicates into the data bucket, by the role its replication uses."""

    role_arn: str
    """The replication role (in any account of the perimeter or a partner's)."""
    prefix: str
    """Where its replicas go (relative, ending in '/')."""


class KnowledgeBaseReaderSettings(TypedDict):
    """The role a Bedrock knowledge base ingests with, and the prefixes it reads."""

    role_arn: str
    """The knowledge base role (KnowledgeBase names it PREFIX-knowledge-base)."""
    prefixes: list[str]
    """The prefixes of its data sources."""


class BucketSettings(TypedDict):
    """The shared data bucket (stack config ``bucket``)."""

    name: NotRequired[str]
    """The data bucket's name (default PROJECT-STACK-ACCOUNT); access logs go to NAME-logs."""
    kms_key_arn: NotRequired[str]
    """An existing KMS key instead of a stack-created one (rotation on)."""
    allowed_vpc_endpoint_ids: NotRequired[list[str]]
    """S3 gateway endpoints besides the stack's own (vpce-...) through which the data account's
    access points may be used: an access point bound to another VPC is used through that VPC's
    endpoint. An endpoint, not a VPC: another endpoint in the same VPC gets nothing."""
    configuration_reader_arns: NotRequired[list[str]]
    """Exact role ARNs that may read the bucket's settings (its policy, encryption,
    versioning...) and nothing else, from anywhere: AWS Config's or Access Analyzer's
    service-linked role, a security team's scanner."""
    replication_sources: NotRequired[list[ReplicationSourceSettings]]
    """Replication roles that may write replicas into one prefix each; no other principal can
    replicate into the bucket."""
    admin_role_arns: NotRequired[list[str]]
    """Exact role/user ARNs that manage the buckets and reach the data directly; the deploying
    role is added at deploy time."""
    admin_permission_sets: NotRequired[list[str]]
    """IAM Identity Center permission set names (DataAdmin): exactly that permission set's role
    in the data account."""
    restrict_to_vpcs: NotRequired[bool]
    """Deny data requests from outside the allowed VPCs (default true)."""
    noncurrent_version_expiration_days: NotRequired[int]
    """How long overwritten or deleted object versions are kept (default 90)."""
    access_logs: NotRequired[bool]
    """Server access logs to the log bucket (default true)."""
    access_log_retention_days: NotRequired[int]
    """How long access logs are kept (default 365)."""
    deletion_protection: NotRequired[bool]
    """protect and retainOnDelete on buckets and key (default true); false only for throwaway
    stacks (then the buckets are emptied on destroy)."""


class DataBucketArgs(DataAccount, BucketSettings):
    """Inputs of :class:`DataBucket`."""

    access_points: NotRequired[list[AccessPointSpec]]
    """The access points the bucket delegates to (those of AccessPoints): the bucket bounds
    partner-owned ones to their prefix, mode and principals, and refuses others."""
    s3_endpoint_id: NotRequired[pulumi.Input[str]]
    """The stack's S3 gateway endpoint: access point requests come through it (or an endpoint of
    allowedVpcEndpointIds) or not at all. Required while restrictToVpcs is true."""
    other_access_log_sources: NotRequired[list[str]]
    """Buckets outside this component whose server access logs go to the log bucket too."""
    knowledge_base_reader: NotRequired[KnowledgeBaseReaderSettings]
    """A knowledge base's role: a knowledge base's data source takes a bucket, not an access
    point, so this role alone (besides the administrators) reads the bucket directly, and only
    its prefixes."""


def default_bucket_name(project: str, stack: str, account_id: str) -> str:
    """Unique per project, stack and account; stable so that policies can name it up front."""
    return f"{project}-{stack}-{account_id}".lower()


def bucket_name(args: DataBucketArgs) -> str:
    return args.get("name") or default_bucket_name(
        pulumi.get_project(), pulumi.get_stack(), args["account_id"]
    )


def log_bucket_name(data_bucket_name: str) -> str:
    return f"{data_bucket_name[: 63 - len('-logs')]}-logs"


ATHENA_RESULT_RETENTION_DAYS = 30


def athena_results_bucket_name(data_bucket_name: str) -> str:
    return f"{data_bucket_name[: 63 - len('-athena')]}-athena"


def athena_access_points(args: DataBucketArgs) -> list[AccessPointSpec]:
    """The access points Athena uses on their principals' behalf: each gets a workgroup."""
    return [spec for spec in args.get("access_points", []) if spec.get("via_services")]


def athena_workgroup_name(data_bucket_name: str, access_point_name: str) -> str:
    return f"{data_bucket_name}-{access_point_name}"[:128]


def athena_workgroup_arn(account: DataAccount, workgroup_name: str) -> str:
    return f"arn:aws:athena:{account['region']}:{account['account_id']}:workgroup/{workgroup_name}"


def encrypted_bucket_names(args: DataBucketArgs, data_bucket_name: str) -> list[str]:
    """The buckets under the data key: the data bucket, and Athena's results bucket."""
    athena = [athena_results_bucket_name(data_bucket_name)] if athena_access_points(args) else []
    return [data_bucket_name, *athena]


def administrator_patterns(args: DataBucketArgs) -> list[str]:
    """``adminRoleArns`` and the exact role patterns of ``adminPermissionSets``; the deployer
    is added at deploy time."""
    return [
        *args.get("admin_role_arns", []),
        *(
            pattern
            for name in args.get("admin_permission_sets", [])
            for pattern in policies.permission_set_role_patterns(args["account_id"], name)
        ),
    ]


def cross_account_access(args: DataBucketArgs) -> list[tuple[str, AccessMode]]:
    """(owner account, mode) of every cross-account access point, for the data key."""
    return [
        (ap.owner(spec, args["account_id"]), spec.get("access", AccessMode.READ))
        for spec in args.get("access_points", [])
        if ap.is_cross_account(spec)
    ]


def key_usage_statements(args: DataBucketArgs, name: str) -> list[policies.Statement]:
    """What a key's policy must allow so that the access points' principals and partners use
    it, through S3 and for this bucket only (add them to an existing ``kmsKeyArn``'s policy)."""
    return policies.data_key_usage_statements(
        region=args["region"],
        data_account_id=args["account_id"],
        bucket_names=encrypted_bucket_names(args, name),
        cross_account_access=cross_account_access(args),
    )


def bucket_policy(
    args: DataBucketArgs,
    *,
    name: str,
    s3_endpoint_id: str | None,
    administrators: Sequence[str],
    data_key_arn: str,
    cross_account_principals: Sequence[Sequence[str]],
) -> policies.PolicyDocument:
    """The data bucket's policy once the stack's S3 endpoint, the administrators (the deployer
    among them), the key and the cross-account access points' principals are known."""
    specs = args.get("access_points", [])
    partners = [spec for spec in specs if ap.is_cross_account(spec)]
    own = [spec for spec in specs if not ap.is_cross_account(spec)]
    internet = [spec for spec in specs if ap.origin(spec) == ap.NetworkOrigin.INTERNET]
    network = None
    if args.get("restrict_to_vpcs", True):
        network = policies.NetworkPerimeter(
            endpoint_ids=(s3_endpoint_id or "", *args.get("allowed_vpc_endpoint_ids", [])),
            via_service_access_point_arns=tuple(
                ap.arn(spec, args) for spec in internet if spec.get("via_services")
            ),
        )
    return policies.bucket_policy(
        bucket_name=name,
        perimeter=perimeter(args),
        cross_account_grants=[
            policies.CrossAccountGrant(
                ap.arn(spec, args),
                spec.get("prefix", ""),
                spec.get("access", AccessMode.READ),
                tuple(principals),
                vpc_arn=ap.vpc_arn(spec, args),
            )
            for spec, principals in zip(partners, cross_account_principals, strict=True)
        ],
        network=network,
        administrators=administrators,
        data_key_arn=data_key_arn,
        internet_access_point_arns=[ap.arn(spec, args) for spec in internet],
        stack_access_point_arns=[ap.arn(spec, args) for spec in own]
        if len(own) <= policies.ENUMERATED_ACCESS_POINTS_MAX
        else None,
        configuration_readers=args.get("configuration_reader_arns", []),
        replication_sources=[
            policies.ReplicationSource(source["role_arn"], source["prefix"])
            for source in args.get("replication_sources", [])
        ],
        knowledge_base_reader=policies.KnowledgeBaseReader(
            reader["role_arn"], tuple(reader["prefixes"])
        )
        if (reader := args.get("knowledge_base_reader")) is not None
        else None,
    )


def deploying_principal(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The role (or user) behind the credentials that run this deployment: the issuer of an
    assumed-role session, with its path. It stays able to update what it deploys whatever the
    configured administrators are, so a deployment never locks itself out."""
    through_parent = pulumi.InvokeOutputOptions(parent=parent)
    caller = aws.get_caller_identity_output(opts=through_parent)
    return aws.iam.get_session_context_output(arn=caller.arn, opts=through_parent).issuer_arn


def deployer_problem(deployer: str, administrators: Sequence[str], named_in: str) -> str | None:
    """Why the deploying principal may not become an administrator implicitly, if it may not.

    Only a dedicated role is made one without being named: an IAM Identity Center role is
    shared by every user of its permission set, an IAM user's keys live on people's machines,
    and the root user is the break-glass. Named on purpose (an exact ARN, or a permission set's
    pattern, in ``named_in``), any of them is an administrator like the others."""
    if any(fnmatchcase(deployer, pattern) for pattern in administrators):
        return None
    if deployer.endswith(":root"):
        kind = "the account's root user"
    elif ":user/" in deployer:
        kind = "an IAM user"
    elif ":role/aws-reserved/sso.amazonaws.com/" in deployer:
        kind = "an IAM Identity Center role, which every user of its permission set shares"
    else:
        return None
    return (
        f"the deploying principal {deployer} is {kind}; the deployer becomes an administrator "
        "of the data (direct access from anywhere, and the right to rewrite the bucket policy), "
        "so only a dedicated role is made one implicitly. Deploy with a dedicated role, or name "
        f"this principal on purpose in {named_in}"
    )


def with_deployer(
    parent: pulumi.Resource, administrators: pulumi.Input[Sequence[str]], named_in: str
) -> pulumi.Output[list[str]]:
    """The administrators and, once, the deploying principal (see deploying_principal); the
    deployment stops, naming ``named_in``, when that principal may not be one implicitly
    (see deployer_problem)."""

    def combined(found: list[Any]) -> list[str]:
        deployer, listed = found[0], list(found[1])
        problem = deployer_problem(deployer, listed, named_in)
        if problem is not None:
            raise pulumi.RunError(problem)
        return [*listed, *([deployer] if deployer not in listed else [])]

    return pulumi.Output.all(deploying_principal(parent), administrators).apply(combined)


def _problems(args: DataBucketArgs) -> list[str]:
    problems = []
    if args.get("restrict_to_vpcs", True) and args.get("s3_endpoint_id") is None:
        problems.append(
            "s3EndpointId: is required while restrictToVpcs is true: the bucket admits access "
            "point requests through that S3 endpoint (and allowedVpcEndpointIds) only"
        )
    reader = args.get("knowledge_base_reader")
    if reader is not None and (not reader["prefixes"] or not all(reader["prefixes"])):
        problems.append(
            "knowledgeBaseReader.prefixes: must name at least one prefix, and no empty one: the "
            "knowledge base reads named prefixes, never the whole bucket"
        )
    return problems


class DataBucket(pulumi.ComponentResource):
    """An SSE-KMS encrypted, versioned, private, TLS-only bucket that hands access control to
    its access points, whose access logs go to a separate bucket hardened the same way."""

    bucket_name: pulumi.Output[str]
    """The data bucket."""
    bucket_arn: pulumi.Output[str]
    """Its ARN."""
    kms_key_arn: pulumi.Output[str]
    """The data key (created, or the kmsKeyArn given)."""
    log_bucket_name: pulumi.Output[str] | None
    """The access-log bucket, when access logs are on."""
    administrators: pulumi.Output[list[str]]
    """Who manages the buckets: the admin roles, the permission sets' roles and the deployer."""
    athena_workgroups: dict[str, pulumi.Output[str]]
    """The Athena workgroup of each Athena (viaServices) access point, by access point."""

    def __init__(
        self, name: str, args: DataBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        refuse(_problems(args), "DataBucket arguments")
        super().__init__("datalake:index:DataBucket", name, {}, opts)
        data_bucket = bucket_name(args)
        deletion_protection = args.get("deletion_protection", True)
        noncurrent_days = args.get(
            "noncurrent_version_expiration_days", DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS
        )
        keep = pulumi.ResourceOptions(
            parent=self, protect=deletion_protection, retain_on_delete=deletion_protection
        )
        administrators = with_deployer(
            self,
            administrator_patterns(args),
            "adminRoleArns or adminPermissionSets (bucket.adminRoleArns, "
            "bucket.adminPermissionSets in the stack config)",
        )

        existing_key = args.get("kms_key_arn")
        if existing_key is None:
            key = aws.kms.Key(
                f"{name}-key",
                description=f"Encrypts the objects of s3://{data_bucket}",
                enable_key_rotation=True,
                deletion_window_in_days=30 if deletion_protection else 7,
                policy=policies.to_json(
                    policies.data_key_policy(
                        region=args["region"],
                        data_account_id=args["account_id"],
                        bucket_names=encrypted_bucket_names(args, data_bucket),
                        cross_account_access=cross_account_access(args),
                    )
                ),
                opts=keep,
            )
            aws.kms.Alias(
                f"{name}-key",
                name=f"alias/{data_bucket}",
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            kms_key_arn: pulumi.Output[str] = key.arn
        else:
            kms_key_arn = pulumi.Output.from_input(existing_key)

        log_bucket = None
        if args.get("access_logs", True):
            logs = log_bucket_name(data_bucket)
            log_bucket = hardened_bucket(
                self,
                f"{name}-access-logs",
                logs,
                # S3 server access logging can only deliver to SSE-S3 encrypted buckets.
                DefaultEncryption(sse_algorithm="AES256"),
                policy=administrators.apply(
                    lambda admins: policies.to_json(
                        policies.log_bucket_policy(
                            log_bucket_name=logs,
                            source_bucket_names=[
                                *encrypted_bucket_names(args, data_bucket),
                                *args.get("other_access_log_sources", []),
                            ],
                            account_id=args["account_id"],
                            administrators=admins,
                        )
                    )
                ),
                expire_current_after_days=args.get(
                    "access_log_retention_days", DEFAULT_ACCESS_LOG_RETENTION_DAYS
                ),
                noncurrent_expiration_days=noncurrent_days,
                deletion_protection=deletion_protection,
            )

        partners = [spec for spec in args.get("access_points", []) if ap.is_cross_account(spec)]
        bucket = hardened_bucket(
            self,
            name,
            data_bucket,
            DefaultEncryption(sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn),
            policy=pulumi.Output.all(
                s3_endpoint_id=args.get("s3_endpoint_id"),
                administrators=administrators,
                data_key_arn=kms_key_arn,
                principals=[spec.get("principals", []) for spec in partners],
            ).apply(
                lambda values: policies.to_json(
                    bucket_policy(
                        args,
                        name=data_bucket,
                        s3_endpoint_id=values["s3_endpoint_id"],
                        administrators=values["administrators"],
                        data_key_arn=values["data_key_arn"],
                        cross_account_principals=values["principals"],
                    )
                )
            ),
            expire_current_after_days=None,
            noncurrent_expiration_days=noncurrent_days,
            deletion_protection=deletion_protection,
        )
        if log_bucket is not None:
            server_access_logging(
                self, f"{name}-access-logs", bucket, target_bucket=log_bucket.bucket.id
            )
        self.athena_workgroups = self._athena(
            name,
            args,
            data_bucket,
            administrators=administrators,
            kms_key_arn=kms_key_arn,
            access_log_bucket=log_bucket.bucket.id if log_bucket is not None else None,
            noncurrent_days=noncurrent_days,
        )

        self.bucket_name = bucket.bucket.bucket
        self.bucket_arn = bucket.bucket.arn
        self.kms_key_arn = kms_key_arn
        self.log_bucket_name = log_bucket.bucket.bucket if log_bucket is not None else None
        self.administrators = administrators
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "bucketArn": self.bucket_arn,
                "kmsKeyArn": self.kms_key_arn,
                "logBucketName": self.log_bucket_name,
                "athenaWorkgroups": self.athena_workgroups,
            }
        )

    def _athena(
        self,
        name: str,
        args: DataBucketArgs,
        data_bucket: str,
        *,
        administrators: pulumi.Output[list[str]],
        kms_key_arn: pulumi.Output[str],
        access_log_bucket: pulumi.Input[str] | None,
        noncurrent_days: int,
    ) -> dict[str, pulumi.Output[str]]:
        """For each Athena access point, a workgroup whose enforced configuration sends query
        results to one bucket of the data account, under the data key: a caller cannot name
        another output location (or run the query in a workgroup that does, see the
        organization policies)."""
        access_points = athena_access_points(args)
        if not access_points:
            return {}
        results = athena_results_bucket_name(data_bucket)
        principals = sorted({str(p) for spec in access_points for p in spec.get("principals", [])})
        deletion_protection = args.get("deletion_protection", True)
        results_bucket = hardened_bucket(
            self,
            f"{name}-athena-results",
            results,
            DefaultEncryption(sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn),
            policy=pulumi.Output.all(administrators, kms_key_arn).apply(
                lambda values: policies.to_json(
                    policies.athena_results_bucket_policy(
                        bucket_name=results,
                        perimeter=perimeter(args),
                        administrators=values[0],
                        principals=principals,
                        data_key_arn=values[1],
                    )
                )
            ),
            expire_current_after_days=ATHENA_RESULT_RETENTION_DAYS,
            noncurrent_expiration_days=noncurrent_days,
            deletion_protection=deletion_protection,
        )
        if access_log_bucket is not None:
            server_access_logging(
                self, f"{name}-athena-results", results_bucket, target_bucket=access_log_bucket
            )
        workgroups = {}
        for spec in access_points:
            workgroup = aws.athena.Workgroup(
                f"{name}-{spec['name']}",
                name=athena_workgroup_name(data_bucket, spec["name"]),
                description=f"Queries through access point {spec['name']}; results stay in "
                f"s3://{results}",
                force_destroy=not deletion_protection,
                configuration=aws.athena.WorkgroupConfigurationArgs(
                    enforce_workgroup_configuration=True,
                    publish_cloudwatch_metrics_enabled=True,
                    result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                        output_location=f"s3://{results}/{spec['name']}/",
                        expected_bucket_owner=args["account_id"],
                        encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                            encryption_option="SSE_KMS", kms_key_arn=kms_key_arn
                        ),
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[results_bucket.policy]),
            )
            workgroups[spec["name"]] = workgroup.name
        return workgroups


class HardenedBucket(NamedTuple):
    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy


def hardened_bucket(
    parent: pulumi.Resource,
    name: str,
    bucket_name: str,
    encryption: DefaultEncryption,
    *,
    policy: pulumi.Input[str],
    expire_current_after_days: int | None,
    noncurrent_expiration_days: int,
    deletion_protection: bool,
) -> HardenedBucket:
    """A bucket with public access blocked, ACLs off, default encryption, versioning,
    lifecycle clean-up and a policy; settings go one after another because S3 rejects
    concurrent configuration changes to one bucket. With deletion protection the bucket is
    protected and retained on delete; without, it is emptied on destroy."""
    bucket = aws.s3.Bucket(
        name,
        bucket=bucket_name,
        force_destroy=not deletion_protection,
        opts=pulumi.ResourceOptions(
            parent=parent, protect=deletion_protection, retain_on_delete=deletion_protection
        ),
    )

    def after(*settings: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, depends_on=list(settings))

    public_access_block = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=after(),
    )
    ownership = aws.s3.BucketOwnershipControls(
        name,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=after(public_access_block),
    )
    encryption_config = aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=encryption,
                bucket_key_enabled=encryption.sse_algorithm == "aws:kms",
            )
        ],
        opts=after(ownership),
    )
    versioning = aws.s3.BucketVersioning(
        name,
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status="Enabled"
        ),
        opts=after(encryption_config),
    )
    lifecycle = aws.s3.BucketLifecycleConfiguration(
        name,
        bucket=bucket.id,
        rules=_lifecycle_rules(expire_current_after_days, noncurrent_expiration_days),
        opts=after(versioning),
    )
    bucket_policy = aws.s3.BucketPolicy(
        name, bucket=bucket.id, policy=policy, opts=after(lifecycle)
    )
    return HardenedBucket(bucket, bucket_policy)


def server_access_logging(
    parent: pulumi.Resource,
    name: str,
    source: HardenedBucket,
    *,
    target_bucket: pulumi.Input[str],
) -> aws.s3.BucketLogging:
    """Server access logs of ``source`` to ``target_bucket``, whose keys start with the source
    account, Region and bucket (partitioned by event time)."""
    return aws.s3.BucketLogging(
        name,
        bucket=source.bucket.id,
        target_bucket=target_bucket,
        target_prefix="",
        target_object_key_format=aws.s3.BucketLoggingTargetObjectKeyFormatArgs(
            partitioned_prefix=aws.s3.BucketLoggingTargetObjectKeyFormatPartitionedPrefixArgs(
                partition_date_source="EventTime"
            )
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[source.policy]),
    )


def _lifecycle_rules(
    expire_current_after_days: int | None, noncurrent_expiration_days: int
) -> Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    return [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-multipart-uploads",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS
            ),
        ),
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-old-versions",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=noncurrent_expiration_days
            ),
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                days=expire_current_after_days
            )
            if expire_current_after_days is not None
            else aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                expired_object_delete_marker=True
            ),
        ),
    ]
