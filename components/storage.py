"""The shared data bucket, its key and its access-log bucket."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies

ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 7

DefaultEncryption = (
    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
)


@dataclass(frozen=True)
class DataBucketArgs:
    """Inputs of :class:`DataBucket`."""

    account_id: str
    """The data account; only its S3 log delivery may write the access logs."""
    bucket_name: str
    """Name of the data bucket; known up front so that policies can name it."""
    bucket_policy: Callable[[pulumi.Output[str]], pulumi.Input[str]]
    """Builds the data bucket's policy (JSON) from the data key's ARN (writes must name that
    key or none): delegation to access points, TLS, VPC restriction, guardrails."""
    administrators: pulumi.Input[Sequence[str]]
    """Role/user ARNs or exact patterns (the deployer among them): the only principals that
    read the access logs or change either bucket's protections."""
    key_policy: str
    """Policy of the data key the stack creates (ignored when ``kms_key_arn`` is given)."""
    kms_key_arn: str | None = None
    """An existing customer managed key to encrypt with instead of creating one."""
    log_bucket_name: str | None = None
    """Where server access logs go; None turns access logging off."""
    other_access_log_sources: Sequence[str] = ()
    """Buckets outside this component whose server access logs go to the log bucket too."""
    noncurrent_version_expiration_days: int = 90
    """How long overwritten or deleted object versions are kept."""
    access_log_retention_days: int = 365
    """How long access logs are kept."""
    deletion_protection: bool = True
    """Protect bucket, key and logs from `pulumi destroy` and keep them if removed from the
    program; turn off only for a throwaway stack (then the buckets are emptied on destroy)."""


class DataBucket(pulumi.ComponentResource):
    """An SSE-KMS encrypted, versioned, private, TLS-only bucket whose access logs go to a
    separate bucket hardened the same way."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    log_bucket_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: DataBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:DataBucket", name, {}, opts)
        self._name = name
        self._args = args
        keep = pulumi.ResourceOptions(
            parent=self,
            protect=args.deletion_protection,
            retain_on_delete=args.deletion_protection,
        )

        if args.kms_key_arn is None:
            key = aws.kms.Key(
                f"{name}-key",
                description=f"Encrypts the objects of s3://{args.bucket_name}",
                enable_key_rotation=True,
                deletion_window_in_days=30 if args.deletion_protection else 7,
                policy=args.key_policy,
                opts=keep,
            )
            aws.kms.Alias(
                f"{name}-key",
                name=f"alias/{args.bucket_name}",
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            kms_key_arn: pulumi.Output[str] = key.arn
        else:
            kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)

        log_bucket = None
        if (log_bucket_name := args.log_bucket_name) is not None:
            log_bucket = self._hardened_bucket(
                f"{name}-access-logs",
                log_bucket_name,
                # S3 server access logging can only deliver to SSE-S3 encrypted buckets.
                DefaultEncryption(sse_algorithm="AES256"),
                policy=pulumi.Output.from_input(args.administrators).apply(
                    lambda administrators: policies.to_json(
                        policies.log_bucket_policy(
                            log_bucket_name=log_bucket_name,
                            source_bucket_names=[
                                args.bucket_name,
                                *args.other_access_log_sources,
                            ],
                            account_id=args.account_id,
                            administrators=administrators,
                        )
                    )
                ),
                expire_current_after_days=args.access_log_retention_days,
                noncurrent_expiration_days=args.noncurrent_version_expiration_days,
                opts=keep,
            )

        bucket = self._hardened_bucket(
            name,
            args.bucket_name,
            DefaultEncryption(sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn),
            policy=args.bucket_policy(kms_key_arn),
            expire_current_after_days=None,
            noncurrent_expiration_days=args.noncurrent_version_expiration_days,
            opts=keep,
        )
        if log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logs",
                bucket=bucket.id,
                target_bucket=log_bucket.id,
                target_prefix="",
                target_object_key_format=aws.s3.BucketLoggingTargetObjectKeyFormatArgs(
                    partitioned_prefix=aws.s3.BucketLoggingTargetObjectKeyFormatPartitionedPrefixArgs(
                        partition_date_source="EventTime"
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.kms_key_arn = kms_key_arn
        self.log_bucket_name = log_bucket.bucket if log_bucket is not None else None
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "bucketArn": self.bucket_arn,
                "kmsKeyArn": self.kms_key_arn,
                "logBucketName": self.log_bucket_name,
            }
        )

    def _hardened_bucket(
        self,
        name: str,
        bucket_name: str,
        encryption: DefaultEncryption,
        *,
        policy: pulumi.Input[str],
        expire_current_after_days: int | None,
        noncurrent_expiration_days: int,
        opts: pulumi.ResourceOptions,
    ) -> aws.s3.Bucket:
        """A bucket with public access blocked, ACLs off, default encryption, versioning,
        lifecycle clean-up and a policy; settings go one after another because S3 rejects
        concurrent configuration changes to one bucket."""
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            name,
            bucket=bucket_name,
            force_destroy=not self._args.deletion_protection,
            opts=opts,
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ownership]),
        )
        versioning = aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[encryption_config]),
        )
        lifecycle = aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=_lifecycle_rules(expire_current_after_days, noncurrent_expiration_days),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[lifecycle]),
        )
        return bucket


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
