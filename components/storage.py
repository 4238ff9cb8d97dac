"""The shared data bucket, its key and its access-log bucket."""

from collections.abc import Sequence
from typing import NamedTuple, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import access_points as ap
from components import policies
from components.access_points import AccessPointSpec
from components.account import DataAccount, perimeter
from components.policies import AccessMode

ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 7
DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS = 90
DEFAULT_ACCESS_LOG_RETENTION_DAYS = 365

DefaultEncryption = (
    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
)


class BucketSettings(TypedDict):
    """The shared data bucket (stack config ``bucket``)."""

    name: NotRequired[str]
    """The data bucket's name (default PROJECT-STACK-ACCOUNT); access logs go to NAME-logs."""
    kms_key_arn: NotRequired[str]
    """An existing KMS key instead of a stack-created one (rotation on)."""
    allowed_vpc_ids: NotRequired[list[str]]
    """VPCs besides the data-lake VPC (and cross-account access points' VPCs) from which the
    data may be used, through access points only."""
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
    vpc_id: NotRequired[pulumi.Input[str]]
    """The data-lake VPC, from which the data may be used."""
    other_access_log_sources: NotRequired[list[str]]
    """Buckets outside this component whose server access logs go to the log bucket too."""


def default_bucket_name(project: str, stack: str, account_id: str) -> str:
    """Unique per project, stack and account; stable so that policies can name it up front."""
    return f"{project}-{stack}-{account_id}".lower()


def bucket_name(args: DataBucketArgs) -> str:
    return args.get("name") or default_bucket_name(
        pulumi.get_project(), pulumi.get_stack(), args["account_id"]
    )


def log_bucket_name(data_bucket_name: str) -> str:
    return f"{data_bucket_name[: 63 - len('-logs')]}-logs"


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
        bucket_name=name,
        cross_account_access=cross_account_access(args),
    )


def bucket_policy(
    args: DataBucketArgs,
    *,
    name: str,
    vpc_id: str | None,
    administrators: Sequence[str],
    data_key_arn: str,
    cross_account_principals: Sequence[Sequence[str]],
) -> policies.PolicyDocument:
    """The data bucket's policy once the VPC, the administrators (the deployer among them),
    the key and the cross-account access points' principals are known."""
    specs = args.get("access_points", [])
    partners = [spec for spec in specs if ap.is_cross_account(spec)]
    own = [spec for spec in specs if not ap.is_cross_account(spec)]
    internet = [spec for spec in specs if ap.origin(spec) == ap.NetworkOrigin.INTERNET]
    other_vpcs = sorted(
        {*args.get("allowed_vpc_ids", []), *(s["vpc_id"] for s in specs if s.get("vpc_id"))}
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
            )
            for spec, principals in zip(partners, cross_account_principals, strict=True)
        ],
        allowed_vpc_ids=[*([vpc_id] if vpc_id is not None else []), *other_vpcs],
        administrators=administrators,
        restrict_to_vpcs=args.get("restrict_to_vpcs", True),
        data_key_arn=data_key_arn,
        internet_access_point_arns=[ap.arn(spec, args) for spec in internet],
        via_service_access_point_arns=[
            ap.arn(spec, args) for spec in internet if spec.get("via_services")
        ],
        stack_access_point_arns=[ap.arn(spec, args) for spec in own]
        if len(own) <= policies.ENUMERATED_ACCESS_POINTS_MAX
        else None,
    )


def deploying_principal(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The role (or user) behind the credentials that run this deployment: the issuer of an
    assumed-role session, with its path. It stays able to update what it deploys whatever the
    configured administrators are, so a deployment never locks itself out."""
    through_parent = pulumi.InvokeOutputOptions(parent=parent)
    caller = aws.get_caller_identity_output(opts=through_parent)
    return aws.iam.get_session_context_output(arn=caller.arn, opts=through_parent).issuer_arn


def with_deployer(
    parent: pulumi.Resource, administrators: pulumi.Input[Sequence[str]]
) -> pulumi.Output[list[str]]:
    """The administrators and, once, the deploying principal (see deploying_principal)."""
    return pulumi.Output.all(deploying_principal(parent), administrators).apply(
        lambda found: [*found[1], *([found[0]] if found[0] not in found[1] else [])]
    )


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

    def __init__(
        self, name: str, args: DataBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:DataBucket", name, {}, opts)
        data_bucket = bucket_name(args)
        deletion_protection = args.get("deletion_protection", True)
        noncurrent_days = args.get(
            "noncurrent_version_expiration_days", DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS
        )
        keep = pulumi.ResourceOptions(
            parent=self, protect=deletion_protection, retain_on_delete=deletion_protection
        )
        administrators = with_deployer(self, administrator_patterns(args))

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
                        bucket_name=data_bucket,
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
                                data_bucket,
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
                vpc_id=args.get("vpc_id"),
                administrators=administrators,
                data_key_arn=kms_key_arn,
                principals=[spec.get("principals", []) for spec in partners],
            ).apply(
                lambda values: policies.to_json(
                    bucket_policy(
                        args,
                        name=data_bucket,
                        vpc_id=values["vpc_id"],
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
            }
        )


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
