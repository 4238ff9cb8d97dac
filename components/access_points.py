"""One S3 Access Point per application, each with its own prefix-scoped policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import policies
from components.policies import AccessMode


@dataclass(frozen=True)
class AccessPointSpec:
    """One application's access point."""

    name: str
    """Access point name (unique per account and Region)."""
    prefix: str
    """Key prefix the application may use ('' for the whole bucket)."""
    access: AccessMode
    """read, write or readwrite; see components.policies for the exact actions."""
    principals: Sequence[pulumi.Input[str]]
    """IAM principals granted that access."""
    vpc_id: pulumi.Input[str] | None
    """The VPC the access point accepts requests from; None makes it reachable from the
    internet (still subject to IAM and the bucket policy)."""
    account_id: str | None = None
    """Owner account when it is not the data account (cross-account access point)."""
    role_arn: str | None = None
    """The role Pulumi assumes in ``account_id`` to create it."""
    via_services: Sequence[str] = ()
    """AWS services (athena, glue) through which alone the principals may use it."""


@dataclass(frozen=True)
class AccessPointsArgs:
    """Inputs of :class:`AccessPoints`."""

    region: str
    data_account_id: str
    """The account that owns the bucket."""
    bucket_name: pulumi.Input[str]
    access_points: Sequence[AccessPointSpec] = field(default_factory=tuple)


@dataclass(frozen=True)
class AccessPointOutputs:
    arn: str
    alias: pulumi.Output[str]
    network_origin: str
    account_id: str
    prefix: str

    # The CLI takes the access point ARN in place of a bucket name, so both commands are known
    # at preview time rather than after the alias is assigned.
    @property
    def list_command(self) -> str:
        return f"aws s3 ls s3://{self.arn}/{self.prefix}"

    @property
    def copy_command(self) -> str:
        return f"aws s3 cp s3://{self.arn}/{self.prefix}KEY ."

    def as_dict(self) -> dict[str, pulumi.Input[str]]:
        return {
            "arn": self.arn,
            "alias": self.alias,
            "networkOrigin": self.network_origin,
            "accountId": self.account_id,
            "listCommand": self.list_command,
            "copyCommand": self.copy_command,
        }


class AccessPoints(pulumi.ComponentResource):
    """Access points on the shared bucket; those owned by other accounts are created there
    through a provider that assumes the configured role."""

    access_points: Mapping[str, AccessPointOutputs]

    def __init__(
        self, name: str, args: AccessPointsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:AccessPoints", name, {}, opts)
        providers: dict[tuple[str, str], aws.Provider] = {}
        outputs = {}
        for spec in args.access_points:
            owner = spec.account_id or args.data_account_id
            provider = None
            if spec.account_id is not None and spec.role_arn is not None:
                provider = providers.get((spec.account_id, spec.role_arn))
                if provider is None:
                    provider = providers[(spec.account_id, spec.role_arn)] = (
                        self._cross_account_provider(
                            name, args.region, spec.account_id, spec.role_arn
                        )
                    )
            arn = policies.access_point_arn(args.region, owner, spec.name)
            access_point = aws.s3.AccessPoint(
                f"{name}-{spec.name}",
                name=spec.name,
                bucket=args.bucket_name,
                bucket_account_id=args.data_account_id,
                account_id=owner,
                policy=_policy_json(arn, spec),
                public_access_block_configuration=aws.s3.AccessPointPublicAccessBlockConfigurationArgs(
                    block_public_acls=True,
                    block_public_policy=True,
                    ignore_public_acls=True,
                    restrict_public_buckets=True,
                ),
                vpc_configuration=aws.s3.AccessPointVpcConfigurationArgs(vpc_id=spec.vpc_id)
                if spec.vpc_id is not None
                else None,
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
            outputs[spec.name] = AccessPointOutputs(
                arn=arn,
                alias=access_point.alias,
                network_origin="VPC" if spec.vpc_id is not None else "Internet",
                account_id=owner,
                prefix=spec.prefix,
            )
        self.access_points = outputs
        # The stack outputs carry every detail; repeating them here would double what each
        # access point costs to register and to store (see docs/benchmarks.md).
        self.register_outputs({"accessPointArns": {n: o.arn for n, o in outputs.items()}})

    def _cross_account_provider(
        self, name: str, region: str, account_id: str, role_arn: str
    ) -> aws.Provider:
        return aws.Provider(
            f"{name}-account-{account_id}",
            region=region,
            assume_roles=[
                aws.ProviderAssumeRoleArgs(role_arn=role_arn, session_name="private-datalake")
            ],
            # Refuse to act if the assumed role turns out to live in another account.
            allowed_account_ids=[account_id],
            opts=pulumi.ResourceOptions(parent=self),
        )


def _policy_json(arn: str, spec: AccessPointSpec) -> pulumi.Input[str]:
    if all(isinstance(p, str) for p in spec.principals):
        # Plain strings need no Output machinery; this is the common case at scale.
        return policies.to_json(
            policies.access_point_policy(
                arn, spec.prefix, spec.access, [str(p) for p in spec.principals], spec.via_services
            )
        )
    return pulumi.Output.all(*spec.principals).apply(
        lambda principals: policies.to_json(
            policies.access_point_policy(
                arn, spec.prefix, spec.access, principals, spec.via_services
            )
        )
    )
