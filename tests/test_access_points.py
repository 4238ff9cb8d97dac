"""The access-point layer: per-application access points and the policies around them."""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from components import policies
from components.access_points import AccessPoints, AccessPointsArgs
from components.policies import AccessMode
from offline.runner import CapturedResource, StackRun, load_stack_values, run_stack
from tests.conftest import Refused, policy
from tests.test_provider import registered

ACCESS_POINT = "aws:s3/accessPoint:AccessPoint"
REGION, DATA_ACCOUNT, PARTNER = "us-east-1", "111111111111", "222222222222"
READ = policies.AccessMode.READ
AP_ARN = f"arn:aws:s3:{REGION}:{DATA_ACCOUNT}:accesspoint/analytics"
ROLE = f"arn:aws:iam::{DATA_ACCOUNT}:role/analytics"


def statements_by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


# --- The access point policy, per access mode ---------------------------------------------


@pytest.mark.parametrize(
    ("access", "object_actions", "can_list"),
    [
        ("read", {"s3:GetObject", "s3:GetObjectVersion"}, True),
        (
            "write",
            {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"},
            False,
        ),
        (
            "readwrite",
            {
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
                "s3:DeleteObject",
            },
            True,
        ),
    ],
)
def test_access_point_policy_grants_exactly_the_mode_within_the_prefix(
    access: policies.AccessMode, object_actions: set[str], can_list: bool
) -> None:
    document = policies.access_point_policy(AP_ARN, "curated/", access, [ROLE])
    statements = statements_by_sid(document)
    objects = statements["ObjectsWithinPrefix"]
    assert objects["Effect"] == "Allow"
    assert objects["Principal"] == {"AWS": ROLE}
    assert set(as_list(objects["Action"])) == object_actions
    assert objects["Resource"] == f"{AP_ARN}/object/curated/*"
    assert "Condition" not in objects
    if can_list:
        listing = statements["ListWithinPrefix"]
        assert listing["Action"] == "s3:ListBucket"
        assert listing["Resource"] == AP_ARN
        assert listing["Condition"] == {"StringLike": {"s3:prefix": "curated/*"}}
    else:
        assert "ListWithinPrefix" not in statements
    allowed = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    granted = {a for s in allowed for a in as_list(s["Action"])}
    assert "s3:DeleteObjectVersion" not in granted, "permanent deletion is never delegated"
    assert not any("*" in a for a in granted)
    assert all(r.startswith(AP_ARN) for s in allowed for r in as_list(s["Resource"]))


def deny_statements(access: policies.AccessMode, prefix: str = "curated/") -> dict[str, Any]:
    document = policies.access_point_policy(AP_ARN, prefix, access, [ROLE])
    return {s["Sid"]: s for s in document["Statement"] if s["Effect"] == "Deny"}


@pytest.mark.parametrize("access", ["read", "write", "readwrite"])
def test_explicit_denies_hold_even_against_broad_identity_policies(
    access: policies.AccessMode,
) -> None:
    # Same-account roles with s3:* in IAM need no Allow from the access point: only an
    # explicit deny keeps them to the listed principals, the mode and the prefix. Each deny
    # covers every action (s3:* or NotAction), so one S3 adds later is denied too.
    denies = deny_statements(access)
    for statement in denies.values():
        assert statement["Principal"] == "*"
    through = {"Null": {"s3:DataAccessPointArn": "false"}}
    others = denies["DenyPrincipalsNotListed"]
    assert others["Condition"] == {**through, "ArnNotEquals": {"aws:PrincipalArn": ROLE}}
    assert others["Action"] == "s3:*"
    assert others["Resource"] == [AP_ARN, f"{AP_ARN}/object/*"]
    beyond = denies["DenyObjectActionsBeyondMode"]
    assert set(as_list(beyond["NotAction"])) == set(policies.object_actions(access))
    assert beyond["Resource"] == f"{AP_ARN}/object/*"
    on_the_access_point = denies["DenyBucketActionsBeyondMode"]
    assert on_the_access_point["Resource"] == AP_ARN
    assert on_the_access_point["Condition"] == through
    if access == "write":
        assert on_the_access_point["Action"] == "s3:*"
    else:
        assert on_the_access_point["NotAction"] == "s3:ListBucket"
        assert denies["DenyListingOutsidePrefix"]["Condition"] == {
            "StringNotLike": {"s3:prefix": "curated/*"}
        }
    outside = denies["DenyObjectsOutsidePrefix"]
    assert outside["Action"] == "s3:*"
    assert outside["NotResource"] == [AP_ARN, f"{AP_ARN}/object/curated/*"]


def test_denies_never_touch_managing_the_access_point_itself() -> None:
    # S3 Control requests (its policy, its deletion) are made on the access point ARN without
    # going through it: a deny applies to objects, to requests through the access point, or
    # leaves the access point ARN out.
    for access in policies.AccessMode:
        for statement in deny_statements(access).values():
            assert (
                statement.get("Resource") == f"{AP_ARN}/object/*"
                or statement.get("Condition", {}).get("Null") == {"s3:DataAccessPointArn": "false"}
                or AP_ARN in statement.get("NotResource", [])
                or statement["Sid"] == "DenyListingOutsidePrefix"
            ), statement["Sid"]


def test_an_account_root_principal_stands_for_its_whole_account() -> None:
    root = "arn:aws:iam::333333333333:root"
    document = policies.access_point_policy(AP_ARN, "", READ, [ROLE, root])
    [others] = [s for s in document["Statement"] if s["Sid"] == "DenyPrincipalsNotListed"]
    assert others["Condition"] == {
        "Null": {"s3:DataAccessPointArn": "false"},
        "ArnNotEquals": {"aws:PrincipalArn": ROLE},
        "StringNotEquals": {"aws:PrincipalAccount": "333333333333"},
    }
    sids = {s["Sid"] for s in document["Statement"]}
    assert "DenyObjectsOutsidePrefix" not in sids, "the whole bucket has no outside"
    assert "DenyListingOutsidePrefix" not in sids


def test_whole_bucket_access_point_lists_without_a_prefix_condition() -> None:
    statements = statements_by_sid(policies.access_point_policy(AP_ARN, "", READ, [ROLE]))
    assert statements["ObjectsWithinPrefix"]["Resource"] == f"{AP_ARN}/object/*"
    assert "Condition" not in statements["ListWithinPrefix"]


def test_access_point_principals_are_deduplicated_and_sorted() -> None:
    other = f"arn:aws:iam::{DATA_ACCOUNT}:role/bi"
    document = policies.access_point_policy(AP_ARN, "", READ, [ROLE, other, ROLE])
    assert document["Statement"][0]["Principal"] == {"AWS": sorted([ROLE, other])}


# --- The bucket policy -------------------------------------------------------------------


DATA_KEY = f"arn:aws:kms:{REGION}:{DATA_ACCOUNT}:key/0f3c6d2e-7a51-4e8b-9d2a-5b7c1e9f4a10"
ADMIN = f"arn:aws:iam::{DATA_ACCOUNT}:role/platform-admin"
PARTNER_AP = f"arn:aws:s3:{REGION}:{PARTNER}:accesspoint/partner-share"
PARTNER_READER = f"arn:aws:iam::{PARTNER}:role/partner-reader"


STACK_ENDPOINT = "vpce-0aaaaaaaaaaaaaaaa"
PARTNER_VPC_ARN = f"arn:aws:ec2:{REGION}:{PARTNER}:vpc/vpc-0bbbbbbbbbbbbbbbb"


def bucket_policy(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "bucket_name": "data",
        "perimeter": policies.Perimeter(DATA_ACCOUNT),
        "cross_account_grants": [],
        "network": policies.NetworkPerimeter((STACK_ENDPOINT,)),
        "administrators": [ADMIN],
        "data_key_arn": DATA_KEY,
    }
    return policies.bucket_policy(**(arguments | overrides))


def partner_grant(access: policies.AccessMode = READ) -> policies.CrossAccountGrant:
    return policies.CrossAccountGrant(
        PARTNER_AP, "shared/partner/", access, (PARTNER_READER,), vpc_arn=PARTNER_VPC_ARN
    )


def test_bucket_policy_delegates_to_the_data_accounts_access_points() -> None:
    delegate = statements_by_sid(bucket_policy())["DelegateToDataAccountAccessPoints"]
    assert delegate["Effect"] == "Allow"
    assert delegate["Principal"] == {"AWS": "*"}
    assert delegate["Resource"] == ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]
    assert delegate["Condition"] == {"StringEquals": {"s3:DataAccessPointAccount": DATA_ACCOUNT}}


def test_bucket_policy_bounds_a_cross_account_access_point_to_its_prefix_mode_and_principals() -> (
    None
):
    statements = statements_by_sid(bucket_policy(cross_account_grants=[partner_grant()]))
    objects = statements["CrossAccountAccessPoint0Objects"]
    assert objects["Effect"] == "Allow"
    assert set(as_list(objects["Action"])) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert objects["Resource"] == "arn:aws:s3:::data/shared/partner/*"
    through_it_for_them = {
        "StringEquals": {"s3:DataAccessPointArn": PARTNER_AP},
        "ArnLike": {"aws:PrincipalArn": PARTNER_READER},
    }
    assert objects["Condition"] == through_it_for_them
    listing = statements["CrossAccountAccessPoint0List"]
    assert listing["Resource"] == "arn:aws:s3:::data"
    assert listing["Condition"] == {
        **through_it_for_them,
        "StringLike": {"s3:prefix": "shared/partner/*"},
    }
    # Whatever the partner writes in its access point's policy, nobody else passes it.
    deny = statements["DenyCrossAccountAccessPoint0PrincipalsNotListed"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {
        "StringEquals": {"s3:DataAccessPointArn": PARTNER_AP},
        "ArnNotLike": {"aws:PrincipalArn": PARTNER_READER},
    }
    # A partner could re-create its access point (same ARN) open to the Internet or bound to
    # another VPC: requests through it must still come from the configured VPC.
    assert statements["DenyCrossAccountAccessPoint0OutsideItsVpc"]["Condition"] == {
        "StringEquals": {"s3:DataAccessPointArn": PARTNER_AP},
        "StringNotEquals": {"aws:SourceVpcArn": PARTNER_VPC_ARN},
    }
    # Never the whole bucket for the partner: only the delegation statement is bucket-wide,
    # and it is bound to the data account.
    wide = [
        s for s in statements.values() if s["Effect"] == "Allow" and "data/*" in str(s["Resource"])
    ]
    assert [s["Sid"] for s in wide] == ["DelegateToDataAccountAccessPoints"]


def test_a_partner_account_root_stands_for_every_identity_of_that_account() -> None:
    grant = policies.CrossAccountGrant(
        PARTNER_AP, "shared/", READ, (f"arn:aws:iam::{PARTNER}:root",), vpc_arn=PARTNER_VPC_ARN
    )
    statements = statements_by_sid(bucket_policy(cross_account_grants=[grant]))
    assert statements["CrossAccountAccessPoint0Objects"]["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": f"arn:aws:iam::{PARTNER}:*"
    }


def test_write_only_cross_account_grant_cannot_list() -> None:
    statements = statements_by_sid(
        bucket_policy(cross_account_grants=[partner_grant(policies.AccessMode.WRITE)])
    )
    assert "CrossAccountAccessPoint0List" not in statements
    assert "s3:GetObject" not in as_list(statements["CrossAccountAccessPoint0Objects"]["Action"])


def test_access_points_are_used_through_the_stacks_endpoints_only() -> None:
    network = policies.NetworkPerimeter((STACK_ENDPOINT, "vpce-0bbbbbbbbbbbbbbbb"))
    deny = statements_by_sid(bucket_policy(network=network))[
        "DenyDataAccountAccessPointsOutsideStackEndpoints"
    ]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    # An endpoint, not a VPC: another endpoint of the same VPC gets nothing.
    assert deny["Condition"] == {
        "StringEquals": {"s3:DataAccessPointAccount": DATA_ACCOUNT},
        "StringNotEquals": {"aws:SourceVpce": [STACK_ENDPOINT, "vpce-0bbbbbbbbbbbbbbbb"]},
    }


def test_a_network_perimeter_without_the_stacks_endpoint_is_refused() -> None:
    # A missing endpoint id (an output that did not resolve) fails the deployment; it never
    # becomes a policy without the rule.
    for endpoint_ids in [(), ("",), (None,)]:
        with pytest.raises(ValueError, match="S3 endpoint id"):
            policies.NetworkPerimeter(endpoint_ids)  # type: ignore[arg-type]


def test_via_service_access_points_are_the_only_exception_to_the_vpc_rule() -> None:
    athena_ap = f"arn:aws:s3:{REGION}:{DATA_ACCOUNT}:accesspoint/athena-curated"
    deny = statements_by_sid(
        bucket_policy(
            internet_access_point_arns=[athena_ap],
            network=policies.NetworkPerimeter(
                (STACK_ENDPOINT,), via_service_access_point_arns=(athena_ap,)
            ),
        )
    )["DenyDataAccountAccessPointsOutsideStackEndpoints"]
    assert deny["Condition"]["ArnNotEquals"] == {"s3:DataAccessPointArn": athena_ap}


def test_bucket_settings_and_direct_data_access_are_for_the_administrators_only() -> None:
    deployer = f"arn:aws:iam::{DATA_ACCOUNT}:role/pulumi-deploy"
    reader = f"arn:aws:iam::{DATA_ACCOUNT}:role/aws-service-role/config.amazonaws.com/Config"
    statements = statements_by_sid(
        bucket_policy(administrators=[deployer, ADMIN], configuration_readers=[reader])
    )
    not_through = {"Null": {"s3:DataAccessPointArn": "true"}}
    exempt = {"ArnNotLike": {"aws:PrincipalArn": sorted([ADMIN, deployer])}}
    # Every path that does not pass an access point, whatever its action (replication,
    # settings, ownership overrides, what S3 adds), but reading settings and replicating.
    direct = statements["DenyRequestsNotThroughAccessPoints"]
    assert direct["Condition"] == {**not_through, **exempt}
    assert direct["Resource"] == ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]
    assert set(as_list(direct["NotAction"])) == {
        *policies.CONFIGURATION_READS,
        *policies.REPLICATION_WRITES,
    }
    reads = statements["DenyConfigurationReadsExceptReaders"]
    assert reads["Condition"] == {
        **not_through,
        "ArnNotLike": {"aws:PrincipalArn": sorted([ADMIN, deployer, reader])},
    }
    replication = statements["DenyReplicationExceptConfiguredSources"]
    assert replication["Condition"] == {**not_through, **exempt}
    assert "ReplicationSource0WritesItsPrefix" not in statements
    assert "Condition" in statements["DenyInsecureTransport"]
    assert "ArnNotLike" not in statements["DenyInsecureTransport"]["Condition"]


def test_a_replication_source_writes_replicas_into_its_prefix_and_nothing_else() -> None:
    role = f"arn:aws:iam::{PARTNER}:role/replication"
    statements = statements_by_sid(
        bucket_policy(replication_sources=[policies.ReplicationSource(role, "replicas/")])
    )
    grant = statements["ReplicationSource0WritesItsPrefix"]
    assert grant["Principal"] == {"AWS": role}
    assert set(as_list(grant["Action"])) == set(policies.REPLICATION_WRITES)
    assert grant["Resource"] == "arn:aws:s3:::data/replicas/*"
    assert statements["DenyReplicationSource0OutsideItsPrefix"]["NotResource"] == (
        "arn:aws:s3:::data/replicas/*"
    )
    assert (
        role
        in statements["DenyReplicationExceptConfiguredSources"]["Condition"]["ArnNotLike"][
            "aws:PrincipalArn"
        ]
    )


def test_writes_must_name_the_data_key_or_none() -> None:
    statements = statements_by_sid(bucket_policy())
    key = statements["DenyObjectsNotEncryptedWithTheDataKey"]["Condition"]
    header = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    # Only a request that names a key is judged: one that names none gets the default.
    assert key == {"StringNotEquals": {header: DATA_KEY}, "Null": {header: "false"}}
    # Naming an algorithm without the key: SSE-S3, or aws:kms with AWS's managed aws/s3 key.
    assert statements["DenyEncryptionWithoutTheDataKey"]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption": "false", header: "true"}
    }
    sse_c = statements["DenyCustomerProvidedKeys"]["Condition"]
    assert sse_c == {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}


def test_access_points_are_named_one_by_one_only_while_that_fits() -> None:
    arns = [policies.access_point_arn(REGION, DATA_ACCOUNT, f"app-{i:03d}") for i in range(3)]
    named = statements_by_sid(bucket_policy(stack_access_point_arns=arns))
    assert named["DenyAccessPointsOutsideTheStack"]["Condition"]["ArnNotEquals"] == {
        "s3:DataAccessPointArn": arns
    }
    assert "DenyAccessPointsOutsideTheStack" not in statements_by_sid(bucket_policy())


def test_vpc_rule_can_be_turned_off() -> None:
    statements = statements_by_sid(
        bucket_policy(network=None, cross_account_grants=[partner_grant()])
    )
    assert "DenyDataAccountAccessPointsOutsideStackEndpoints" not in statements
    assert "DenyCrossAccountAccessPoint0OutsideItsVpc" not in statements


def test_permission_set_patterns_match_exactly_that_permission_sets_role() -> None:
    patterns = policies.permission_set_role_patterns(DATA_ACCOUNT, "DataAdmin")
    sso = f"arn:aws:iam::{DATA_ACCOUNT}:role/aws-reserved/sso.amazonaws.com"

    def matches(arn: str) -> bool:
        # ArnLike: '*' any run of characters, '?' exactly one (fnmatch's meaning too).
        return any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns)

    assert matches(f"{sso}/AWSReservedSSO_DataAdmin_0a1b2c3d4e5f6789")
    assert matches(f"{sso}/eu-west-1/AWSReservedSSO_DataAdmin_0a1b2c3d4e5f6789")
    assert not matches(f"{sso}/AWSReservedSSO_DataAdmin_Contractors_0a1b2c3d4e5f6789")
    assert not matches(f"{sso}/eu-west-1/AWSReservedSSO_DataAdmin_Contractors_0a1b2c3d4e5f6789")
    assert not matches(f"{sso}/AWSReservedSSO_DataAdminX_0a1b2c3d4e5f6789")
    assert not matches(
        f"arn:aws:iam::{DATA_ACCOUNT}:role/AWSReservedSSO_DataAdmin_0a1b2c3d4e5f6789"
    )
    assert not matches(f"arn:aws:iam::{PARTNER}:role/aws-reserved/sso.amazonaws.com/"
                       "AWSReservedSSO_DataAdmin_0a1b2c3d4e5f6789")  # fmt: skip


# --- The S3 gateway endpoint policy ------------------------------------------------------


def test_s3_endpoint_allows_only_our_access_points_the_bucket_behind_them_and_extras() -> None:
    document = policies.s3_gateway_endpoint_policy(
        region=REGION,
        perimeter=policies.Perimeter(DATA_ACCOUNT),
        bucket_name="data",
        extra_bucket_names=["repo"],
    )
    statements = statements_by_sid(document)
    assert all(s["Effect"] == "Allow" for s in statements.values())
    inside = {"StringEquals": {"aws:PrincipalAccount": DATA_ACCOUNT}}
    access_points = statements["DataAccountAccessPoints"]
    assert access_points["Resource"] == f"arn:aws:s3:{REGION}:{DATA_ACCOUNT}:accesspoint/*"
    assert access_points["Condition"] == inside
    # Data requests only: managing an access point is not done from the data VPC.
    assert not any(a.startswith(("s3:Put", "s3:Delete")) and "Object" not in a
                   for a in as_list(access_points["Action"]))  # fmt: skip
    bucket = statements["DataBucketOnlyThroughAccessPoints"]
    assert bucket["Resource"] == ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]
    assert bucket["Condition"] == {
        "StringEquals": {
            "aws:PrincipalAccount": DATA_ACCOUNT,
            "s3:DataAccessPointAccount": DATA_ACCOUNT,
        }
    }
    extras = statements["ReadNamedExtraBuckets"]
    assert extras["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert extras["Resource"] == ["arn:aws:s3:::repo", "arn:aws:s3:::repo/*"]
    assert extras["Condition"] == inside
    resources = [r for s in statements.values() for r in as_list(s["Resource"])]
    assert "*" not in resources, "nothing else in S3 is reachable (exfiltration)"


# --- Sizes at AWS's quota ----------------------------------------------------------------


def test_policies_stay_within_aws_limits_at_ten_thousand_access_points() -> None:
    names = [f"app-{i:05d}" for i in range(10_000)]
    endpoint = policies.s3_gateway_endpoint_policy(
        region=REGION,
        perimeter=policies.Perimeter(DATA_ACCOUNT, "o-a1b2c3d4e5"),
        bucket_name="data",
        extra_bucket_names=[],
    )
    # Above ENUMERATED_ACCESS_POINTS_MAX the stack's access points are not named one by one.
    bucket = bucket_policy(cross_account_grants=[partner_grant()])
    assert not any(
        name in policies.to_json(endpoint) + policies.to_json(bucket) for name in names[:10]
    )
    assert policies.policy_size(endpoint) <= policies.VPC_ENDPOINT_POLICY_LIMIT_CHARS
    assert policies.policy_size(bucket) <= policies.BUCKET_POLICY_LIMIT_BYTES
    # At the cut-off, with names of the longest kind, the named list still fits.
    longest = [
        policies.access_point_arn(REGION, DATA_ACCOUNT, f"{i:03d}-{'x' * 46}")
        for i in range(policies.ENUMERATED_ACCESS_POINTS_MAX)
    ]
    named = bucket_policy(cross_account_grants=[partner_grant()], stack_access_point_arns=longest)
    assert policies.policy_size(named) <= policies.BUCKET_POLICY_LIMIT_BYTES
    largest = max(
        policies.policy_size(
            policies.access_point_policy(
                policies.access_point_arn(REGION, DATA_ACCOUNT, name),
                f"apps/{name}/",
                policies.AccessMode.READWRITE,
                [ROLE],
            )
        )
        for name in names
    )
    assert largest <= policies.ACCESS_POINT_POLICY_LIMIT_BYTES


# --- What the program registers ----------------------------------------------------------


def access_points(run: StackRun) -> dict[str, CapturedResource]:
    return {ap.inputs["name"]: ap for ap in run.of_type(ACCESS_POINT)}


def test_one_access_point_per_entry_on_the_shared_bucket(example_run: StackRun) -> None:
    expected = {
        "dev": {"analytics", "ingest"},
        "prod": {"analytics", "ingest", "curation", "athena-curated", "partner-share"},
        "byo-vpc": {"analytics", "ingest"},
    }[example_run.stack]
    points = access_points(example_run)
    assert set(points) == expected
    bucket = example_run.named("aws:s3/bucket:Bucket", "data").outputs["bucket"]
    for ap in points.values():
        assert ap.inputs["bucket"] == bucket
        assert ap.inputs["bucketAccountId"] == DATA_ACCOUNT
        block = ap.inputs["publicAccessBlockConfiguration"]
        assert all(block[k] is True for k in block)
        assert len(block) == 4


def test_access_points_are_vpc_only_by_default_bound_to_the_stack_vpc(
    example_run: StackRun,
) -> None:
    vpc_id = example_run.outputs["vpcId"]
    for name, ap in access_points(example_run).items():
        if name == "athena-curated":
            # AWS services acting for a caller carry no VPC: Internet-origin, Athena only.
            assert "vpcConfiguration" not in ap.inputs
            assert example_run.outputs["accessPoints"][name]["networkOrigin"] == "Internet"
            continue
        expected = "vpc-0123456789abcdef0" if name == "partner-share" else vpc_id
        assert ap.inputs["vpcConfiguration"] == {"vpcId": expected}
        assert example_run.outputs["accessPoints"][name]["networkOrigin"] == "VPC"


def test_each_access_point_policy_is_its_own_prefix_mode_and_principals(prod_run: StackRun) -> None:
    for name, ap in access_points(prod_run).items():
        document = policy(ap.inputs)
        owner = ap.inputs["accountId"]
        arn = f"arn:aws:s3:{REGION}:{owner}:accesspoint/{name}"
        for statement in document["Statement"]:
            for key in ("Resource", "NotResource"):
                for resource in as_list(statement.get(key, [])):
                    assert resource.startswith(arn), (name, resource)
    curation = statements_by_sid(policy(access_points(prod_run)["curation"].inputs))
    assert "s3:DeleteObject" in curation["ObjectsWithinPrefix"]["Action"]
    assert curation["ObjectsWithinPrefix"]["Principal"] == {
        "AWS": "arn:aws:iam::111111111111:role/curation-jobs"
    }
    assert curation["DenyPrincipalsNotListed"]["Condition"] == {
        "Null": {"s3:DataAccessPointArn": "false"},
        "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/curation-jobs"},
    }


def test_cross_account_access_point_is_created_in_the_partner_account(prod_run: StackRun) -> None:
    partner = access_points(prod_run)["partner-share"]
    assert partner.inputs["accountId"] == PARTNER
    assert prod_run.account_of(partner) == PARTNER
    provider = prod_run.provider_of(partner)
    assert provider is not None
    # Provider settings reach the engine as JSON text.
    [assumed] = json.loads(provider.inputs["assumeRoles"])
    assert assumed["roleArn"] == "arn:aws:iam::222222222222:role/deployer"
    for name, ap in access_points(prod_run).items():
        if name != "partner-share":
            assert prod_run.account_of(ap) == DATA_ACCOUNT


# --- Partner accounts: the role Pulumi assumes there in a preview and in an update ---------

SECOND_PARTNER = "333333333333"
PROVIDER = "pulumi:providers:aws"


def partner_role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def assumed_roles(run: StackRun) -> dict[str, str]:
    """The role each partner account's provider assumes, by account; the data account's
    provider assumes none (it acts with CI's own credentials)."""
    roles = {}
    for provider in run.of_type(PROVIDER):
        [account] = json.loads(provider.inputs["allowedAccountIds"])
        if account == DATA_ACCOUNT:
            assert "assumeRoles" not in provider.inputs
            continue
        [assumed] = json.loads(provider.inputs["assumeRoles"])
        roles[account] = assumed["roleArn"]
    return roles


def prod_with_a_second_partner() -> dict[str, Any]:
    values = load_stack_values("prod")
    values["private-datalake:accessPoints"].append(
        {
            "name": "partner-two",
            "prefix": "shared/two/",
            "principals": [partner_role(SECOND_PARTNER, "reader")],
            "accountId": SECOND_PARTNER,
            "roleArn": partner_role(SECOND_PARTNER, "deployer"),
            "previewRoleArn": partner_role(SECOND_PARTNER, "previewer"),
            "vpcId": "vpc-0fedcba9876543210",
        }
    )
    return values


def test_a_preview_acts_in_partner_accounts_only_through_their_preview_roles() -> None:
    values = prod_with_a_second_partner()
    preview = run_stack("prod", values=values, preview=True)
    update = run_stack("prod", values=values)
    assert assumed_roles(preview) == {
        PARTNER: partner_role(PARTNER, "previewer"),
        SECOND_PARTNER: partner_role(SECOND_PARTNER, "previewer"),
    }
    assert assumed_roles(update) == {
        PARTNER: partner_role(PARTNER, "deployer"),
        SECOND_PARTNER: partner_role(SECOND_PARTNER, "deployer"),
    }
    # Against the state that `pulumi up` writes, a preview differs in those providers'
    # assumeRoles and nothing else: same resources, same inputs, same providers.
    differing = {entry[0] for entry in set(registered(update)) ^ set(registered(preview))}
    assert {update.by_urn(urn).name for urn in differing} == {
        f"access-points-account-{PARTNER}",
        f"access-points-account-{SECOND_PARTNER}",
    }

    def apart_from_the_role(run: StackRun) -> list[tuple[Any, ...]]:
        return [
            (r.type, r.parent, r.protect, {k: v for k, v in r.inputs.items() if k != "assumeRoles"})
            for r in map(run.by_urn, sorted(differing))
        ]

    assert apart_from_the_role(preview) == apart_from_the_role(update)
    assert preview.outputs == update.outputs


def test_without_a_preview_role_a_preview_assumes_the_deployer_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    values = load_stack_values("prod")
    [partner] = [ap for ap in values["private-datalake:accessPoints"] if "accountId" in ap]
    del partner["previewRoleArn"]

    def warnings() -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if record.levelno == logging.WARNING and "previewRoleArn" in record.getMessage()
        ]

    with caplog.at_level(logging.WARNING):
        preview = run_stack("prod", values=values, preview=True)
    assert assumed_roles(preview) == {PARTNER: partner_role(PARTNER, "deployer")}
    [warning] = warnings()
    assert warning.startswith("accessPoints[4] (partner-share): this preview assumes roleArn")
    assert "accessPoints[4].previewRoleArn is not set" in warning

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        run_stack("prod", values=values)
    assert warnings() == []


def test_bucket_policy_of_prod_bounds_the_partner_and_pins_the_endpoints(
    prod_run: StackRun,
) -> None:
    [bucket_policy_resource] = [
        r for r in prod_run.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == "data"
    ]
    statements = statements_by_sid(policy(bucket_policy_resource.inputs))
    assert statements["CrossAccountAccessPoint0Objects"]["Condition"] == {
        "StringEquals": {
            "s3:DataAccessPointArn": "arn:aws:s3:us-east-1:222222222222:accesspoint/partner-share"
        },
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/partner-reader"},
    }
    assert statements["DenyCrossAccountAccessPoint0OutsideItsVpc"]["Condition"][
        "StringNotEquals"
    ] == {"aws:SourceVpcArn": "arn:aws:ec2:us-east-1:222222222222:vpc/vpc-0123456789abcdef0"}
    endpoints = statements["DenyDataAccountAccessPointsOutsideStackEndpoints"]["Condition"][
        "StringNotEquals"
    ]["aws:SourceVpce"]
    assert set(endpoints) == {prod_run.outputs["s3GatewayEndpointId"], "vpce-0a1b2c3d4e5f67890"}
    admins = statements["DenyRequestsNotThroughAccessPoints"]["Condition"]["ArnNotLike"][
        "aws:PrincipalArn"
    ]
    assert "arn:aws:iam::111111111111:role/ci-deployer" in admins


def test_internet_access_point_when_the_vpc_rule_is_off(
    dev_values: dict[str, Any], run_with: Any
) -> None:
    dev_values["private-datalake:bucket"]["restrictToVpcs"] = False
    dev_values["private-datalake:accessPoints"][1]["network"] = "internet"
    run = run_with(dev_values)
    ingest = access_points(run)["ingest"]
    assert "vpcConfiguration" not in ingest.inputs
    assert run.outputs["accessPoints"]["ingest"]["networkOrigin"] == "Internet"


def test_access_point_outputs_carry_ready_to_run_commands(dev_run: StackRun) -> None:
    analytics = dev_run.outputs["accessPoints"]["analytics"]
    assert analytics["arn"] == AP_ARN
    assert analytics["alias"].endswith("-s3alias")
    assert analytics["listCommand"] == f"aws s3 ls s3://{AP_ARN}/curated/"
    assert analytics["copyCommand"] == f"aws s3 cp s3://{AP_ARN}/curated/KEY ."
    assert analytics["accountId"] == DATA_ACCOUNT


# --- The building block alone, from its own args -------------------------------------------

POINTS_ARGS: AccessPointsArgs = {
    "region": REGION,
    "account_id": DATA_ACCOUNT,
    "bucket_name": "team-data",
    "vpc_id": "vpc-0aaaaaaaaaaaaaaaa",
    "access_points": [
        {"name": "reports", "prefix": "reports/", "principals": [ROLE]},
        {
            "name": "partner",
            "access": AccessMode.WRITE,
            "principals": [f"arn:aws:iam::{PARTNER}:role/writer"],
            "account_id": PARTNER,
            "role_arn": f"arn:aws:iam::{PARTNER}:role/deployer",
            "vpc_id": "vpc-0bbbbbbbbbbbbbbbb",
        },
    ],
}


def test_access_points_alone_default_to_read_from_the_given_vpc(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    run = build(lambda: AccessPoints("aps", POINTS_ARGS))
    reports = run.named("aws:s3/accessPoint:AccessPoint", "aps-reports")
    assert reports.inputs["vpcConfiguration"] == {"vpcId": "vpc-0aaaaaaaaaaaaaaaa"}
    actions = as_list(statements_by_sid(policy(reports.inputs))["ObjectsWithinPrefix"]["Action"])
    assert sorted(actions) == sorted(policies.READ_OBJECT_ACTIONS)
    [partner_provider] = run.of_type("pulumi:providers:aws")
    # The session name is the running project's unless told otherwise: no product name.
    assert "private-datalake" in partner_provider.inputs["assumeRoles"]


def test_access_points_alone_refuse_a_preview_role_of_another_account(refused: Refused) -> None:
    reports, partner = POINTS_ARGS["access_points"]
    other_account = f"arn:aws:iam::{SECOND_PARTNER}:role/previewer"
    args: AccessPointsArgs = {
        **POINTS_ARGS,
        "access_points": [reports, {**partner, "preview_role_arn": other_account}],
    }
    problems = refused(lambda: AccessPoints("aps", args))
    assert problems == [f"accessPoints[1].previewRoleArn: must be a role in account {PARTNER}"]


def test_access_points_alone_refuse_incomplete_entries(refused: Refused) -> None:
    incomplete: AccessPointsArgs = {
        **POINTS_ARGS,
        "access_points": [{"name": "partner", "account_id": PARTNER, "principals": [ROLE]}],
    }
    problems = refused(lambda: AccessPoints("aps", incomplete))
    assert [p.split(":")[0] for p in problems] == ["accessPoints[0]", "accessPoints[0].vpcId"]
