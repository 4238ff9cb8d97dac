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
    """The role Pulumi assumes in accountId to create, change and delete it (pulumi up)."""
    preview_role_arn: NotRequired[str]
    """A read-only role in accountId that Pulumi assumes instead of roleArn when it previews:
    a pull request's preview runs code nobody has reviewed yet, which must not hold the
    deployer's rights in the partner account (docs/ci.md)."""
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


def assumed_role(spec: AccessPointSpec, *, preview: bool) -> str | None:
    """The role Pulumi assumes in a partner account: the read-only previewRoleArn while it
    previews, roleArn otherwise and when there is no preview role (None in the data account).

    Only the assumed role differs between a preview and an update, so a preview shows the
    partner's provider updated (its assumeRoles) and nothing else that ``pulumi up`` would not
    do; skipping the partner's resources instead would show them deleted."""
    if preview and "preview_role_arn" in spec:
        return spec["preview_role_arn"]
    return spec.get("role_arn")


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def partner_problems(specs: Sequence[AccessPointSpec]) -> list[str]:
    """The roles of cross-account entries: accountId and roleArn together, roles of that
    account, a preview role that is not the deployer, and the same roles for every entry of
    one partner account (Pulumi acts there through one provider)."""
    problems = []
    roles_of_account: dict[str, tuple[int, tuple[str | None, str | None]]] = {}
    for index, spec in enumerate(specs):
        where = f"accessPoints[{index}]"
        account_id = spec.get("account_id")
        role_arn, preview_role_arn = spec.get("role_arn"), spec.get("preview_role_arn")
        if (account_id is None) != (role_arn is None):
            problems.append(
                f"{where}: a cross-account access point needs both accountId and roleArn "
                "(the role Pulumi assumes in that account)"
            )
        if account_id is None:
            if preview_role_arn is not None:
                problems.append(
                    f"{where}.previewRoleArn: only applies to a cross-account access point "
                    "(accountId, roleArn); previews in the data account use CI's own "
                    "read-only role"
                )
            continue
        problems += [
            f"{where}.{key}: must be a role in account {account_id}"
            for key, role in (("roleArn", role_arn), ("previewRoleArn", preview_role_arn))
            if role is not None and _account_of(role) != account_id
        ]
        if preview_role_arn is not None and preview_role_arn == role_arn:
            problems.append(
                f"{where}.previewRoleArn: is roleArn; a preview must not hold the deployer's "
                "rights, so name a read-only role (docs/ci.md)"
            )
        first, roles = roles_of_account.setdefault(
            account_id, (index, (role_arn, preview_role_arn))
        )
        if roles != (role_arn, preview_role_arn):
            problems.append(
                f"{where}: roleArn and previewRoleArn differ from those of accessPoints[{first}] "
                f"in the same account {account_id}; Pulumi acts in an account through one role "
                "(and one preview role)"
            )
    return problems


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
    problems = partner_problems(args["access_points"])
    for index, spec in enumerate(args["access_points"]):
        where = f"accessPoints[{index}]"
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
        preview = pulumi.runtime.is_dry_run()
        providers: dict[str, aws.Provider] = {}
        outputs: dict[str, AccessPointInfo] = {}
        for index, spec in enumerate(args["access_points"]):
            provider = None
            partner, role_arn = spec.get("account_id"), assumed_role(spec, preview=preview)
            if partner is not None and role_arn is not None:
                provider = providers.get(partner)
                if provider is None:
                    if preview and "preview_role_arn" not in spec:
                        _warn_preview_assumes_the_deployer(self, index, spec)
                    provider = providers[partner] = self._cross_account_provider(
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


def _warn_preview_assumes_the_deployer(
    access_points: AccessPoints, index: int, spec: AccessPointSpec
) -> None:
    pulumi.log.warn(
        f"accessPoints[{index}] ({spec['name']}): this preview assumes roleArn "
        f"{spec.get('role_arn')}, the role that deploys in account {spec.get('account_id')}, "
        f"because accessPoints[{index}].previewRoleArn is not set. A pull request's preview "
        "may not assume it (docs/ci.md): it fails there until previewRoleArn names a read-only "
        "role in that account, or runs only after a reviewer approves it.",
        resource=access_points,
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
