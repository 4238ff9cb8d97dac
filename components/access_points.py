"""One S3 Access Point per application, each with its own prefix-scoped policy."""

from collections.abc import Sequence
from enum import StrEnum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import policies
from components.account import DataAccount
from components.errors import refuse
from components.policies import AccessMode


class NetworkOrigin(StrEnum):
    """Where an access point accepts requests from."""

    VPC = "vpc"
    """Only from a VPC: the data-lake VPC, or the partner's for a cross-account one."""
    INTERNET = "internet"
    """From anywhere (still subject to IAM and the bucket policy)."""


class AccessPointSpec(TypedDict):
    """One application's access point (stack config ``accessPoints[]``)."""

    name: str
    """3-50 of a-z0-9-, starting and ending alphanumeric, not ending in -s3alias; unique per
    account and Region."""
    prefix: NotRequired[str]
    """Key prefix the application may use, relative and ending in '/' ('' or omitted for the
    whole bucket)."""
    access: NotRequired[AccessMode]
    """read, write or readwrite (default read)."""
    principals: NotRequired[list[pulumi.Input[str]]]
    """IAM role, user or account-root ARNs granted that access."""
    network: NotRequired[NetworkOrigin]
    """vpc (default) or internet."""
    via_services: NotRequired[list[str]]
    """[athena]: an Internet-origin access point its principals may use only through those
    services (data account only)."""
    account_id: NotRequired[str]
    """Owner account, for an access point in another account than the data account."""
    role_arn: NotRequired[str]
    """The role Pulumi assumes in accountId to create it."""
    vpc_id: NotRequired[str]
    """The VPC in accountId that reads through a cross-account access point."""


def origin(spec: AccessPointSpec) -> NetworkOrigin:
    """AWS services acting on a caller's behalf carry no VPC: a viaServices access point is
    Internet-origin."""
    if spec.get("via_services"):
        return NetworkOrigin.INTERNET
    return NetworkOrigin(spec.get("network", NetworkOrigin.VPC))


def owner(spec: AccessPointSpec, data_account_id: str) -> str:
    return spec.get("account_id") or data_account_id


def arn(spec: AccessPointSpec, account: DataAccount) -> str:
    return policies.access_point_arn(
        account["region"], owner(spec, account["account_id"]), spec["name"]
    )


def vpc_arn(spec: AccessPointSpec, account: DataAccount) -> str | None:
    """The VPC a cross-account access point is bound to, as aws:SourceVpcArn names it (with
    its account and Region: a VPC id alone is unique per Region only); None for an
    Internet-origin one."""
    vpc_id = spec.get("vpc_id")
    if origin(spec) == NetworkOrigin.INTERNET or vpc_id is None:
        return None
    return f"arn:aws:ec2:{account['region']}:{owner(spec, account['account_id'])}:vpc/{vpc_id}"


def is_cross_account(spec: AccessPointSpec) -> bool:
    return spec.get("account_id") is not None


class AccessPointsArgs(DataAccount):
    """Inputs of :class:`AccessPoints`."""

    bucket_name: pulumi.Input[str]
    """The data bucket, owned by the data account."""
    vpc_id: NotRequired[pulumi.Input[str]]
    """The data-lake VPC: the network origin of the data account's VPC access points."""
    access_points: list[AccessPointSpec]
    """One per application."""
    session_name: NotRequired[str]
    """Session name of the role assumed in partner accounts (default: the Pulumi project)."""


class AccessPointInfo(TypedDict):
    """What an application needs to use its access point; keys as in the stack outputs."""

    arn: str
    """The access point's ARN: the AWS CLI and SDKs take it where a bucket name goes."""
    alias: pulumi.Output[str]
    """Its alias (Athena table locations take it, not the ARN)."""
    networkOrigin: str
    """VPC or Internet."""
    accountId: str
    """The owner account."""
    listCommand: str
    """aws s3 ls through the access point, within its prefix."""
    copyCommand: str
    """aws s3 cp of one object (KEY) through the access point."""


def _problems(args: AccessPointsArgs) -> list[str]:
    problems = []
    for index, spec in enumerate(args["access_points"]):
        where = f"accessPoints[{index}]"
        if is_cross_account(spec) != (spec.get("role_arn") is not None):
            problems.append(
                f"{where}: a cross-account access point needs both accountId and roleArn "
                "(the role Pulumi assumes in that account)"
            )
        if origin(spec) == NetworkOrigin.VPC and is_cross_account(spec) and not spec.get("vpc_id"):
            problems.append(f"{where}.vpcId: is required for a cross-account VPC access point")
        if (
            origin(spec) == NetworkOrigin.VPC
            and not is_cross_account(spec)
            and args.get("vpc_id") is None
        ):
            problems.append(f"{where}.network: vpc needs vpcId (the data-lake VPC) in the args")
    return problems


class AccessPoints(pulumi.ComponentResource):
    """Access points on the shared bucket; those owned by other accounts are created there
    through a provider that assumes the configured role."""

    access_points: dict[str, AccessPointInfo]
    """Each access point, by name."""

    def __init__(
        self, name: str, args: AccessPointsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        refuse(_problems(args), "AccessPoints arguments")
        super().__init__("datalake:index:AccessPoints", name, {}, opts)
        account_id = args["account_id"]
        session_name = args.get("session_name") or pulumi.get_project()
        providers: dict[tuple[str, str], aws.Provider] = {}
        outputs: dict[str, AccessPointInfo] = {}
        for spec in args["access_points"]:
            provider = None
            partner, role_arn = spec.get("account_id"), spec.get("role_arn")
            if partner is not None and role_arn is not None:
                provider = providers.get((partner, role_arn))
                if provider is None:
                    provider = providers[(partner, role_arn)] = self._cross_account_provider(
                        name, args["region"], partner, role_arn, session_name
                    )
            ap_arn = arn(spec, args)
            vpc_id = (
                None
                if origin(spec) == NetworkOrigin.INTERNET
                else spec.get("vpc_id") or args.get("vpc_id")
            )
            access_point = aws.s3.AccessPoint(
                f"{name}-{spec['name']}",
                name=spec["name"],
                bucket=args["bucket_name"],
                bucket_account_id=account_id,
                account_id=owner(spec, account_id),
                policy=_policy_json(ap_arn, spec),
                public_access_block_configuration=aws.s3.AccessPointPublicAccessBlockConfigurationArgs(
                    block_public_acls=True,
                    block_public_policy=True,
                    ignore_public_acls=True,
                    restrict_public_buckets=True,
                ),
                vpc_configuration=aws.s3.AccessPointVpcConfigurationArgs(vpc_id=vpc_id)
                if vpc_id is not None
                else None,
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
            prefix = spec.get("prefix", "")
            # The CLI takes the access point ARN in place of a bucket name, so both commands
            # are known at preview time rather than after the alias is assigned.
            outputs[spec["name"]] = {
                "arn": ap_arn,
                "alias": access_point.alias,
                "networkOrigin": "VPC" if vpc_id is not None else "Internet",
                "accountId": owner(spec, account_id),
                "listCommand": f"aws s3 ls s3://{ap_arn}/{prefix}",
                "copyCommand": f"aws s3 cp s3://{ap_arn}/{prefix}KEY .",
            }
        self.access_points = outputs
        # The stack outputs carry every detail; repeating them here would double what each
        # access point costs to register and to store (see docs/benchmarks.md).
        self.register_outputs({"accessPointArns": {n: o["arn"] for n, o in outputs.items()}})

    def _cross_account_provider(
        self, name: str, region: str, account_id: str, role_arn: str, session_name: str
    ) -> aws.Provider:
        return aws.Provider(
            f"{name}-account-{account_id}",
            region=region,
            assume_roles=[aws.ProviderAssumeRoleArgs(role_arn=role_arn, session_name=session_name)],
            # Refuse to act if the assumed role turns out to live in another account.
            allowed_account_ids=[account_id],
            opts=pulumi.ResourceOptions(parent=self),
        )


def _policy_json(ap_arn: str, spec: AccessPointSpec) -> pulumi.Input[str]:
    prefix = spec.get("prefix", "")
    access = spec.get("access", AccessMode.READ)
    via_services = spec.get("via_services", [])
    principals: Sequence[pulumi.Input[str]] = spec.get("principals", [])
    if all(isinstance(p, str) for p in principals):
        # Plain strings need no Output machinery; this is the common case at scale.
        return policies.to_json(
            policies.access_point_policy(
                ap_arn, prefix, access, [str(p) for p in principals], via_services
            )
        )
    return pulumi.Output.all(*principals).apply(
        lambda resolved: policies.to_json(
            policies.access_point_policy(ap_arn, prefix, access, resolved, via_services)
        )
    )
