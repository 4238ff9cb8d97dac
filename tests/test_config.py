"""The stack configuration contract: defaults, every rule and its message, and that a bad
config stops the program before any resource is registered."""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import pulumi
import pytest

from components import policies
from components.errors import ConfigError
from components.network import created_interface_endpoints
from components.settings import (
    MAX_ACCESS_POINTS,
    KnowledgeBaseOutputs,
    StackConfig,
    parse_stack_config,
)
from offline.runner import StackRun, load_stack_values, run_stack

PROJECT = "private-datalake"


def project_values(stack: str = "dev") -> dict[str, Any]:
    """The project-namespace values of an example stack, keys without the namespace."""
    prefix = f"{PROJECT}:"
    return {
        key.removeprefix(prefix): copy.deepcopy(value)
        for key, value in load_stack_values(stack).items()
        if key.startswith(prefix)
    }


def parse(values: dict[str, Any], region: Any = "us-east-1", stack: str = "dev") -> StackConfig:
    return parse_stack_config(values, project=PROJECT, stack=stack, region=region)


def problems_of(values: dict[str, Any], **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse(values, **kwargs)
    return raised.value.problems


MINIMAL = {
    "accountId": "111111111111",
    "network": {"cidrBlock": "10.40.0.0/16"},
    "accessPoints": [{"name": "analytics", "principals": ["arn:aws:iam::111111111111:role/a"]}],
    "bedrock": {"modelIds": ["amazon.nova-micro-v1:0"], "accessPoint": "analytics"},
}


def test_minimal_config_gets_secure_defaults() -> None:
    config = parse(copy.deepcopy(MINIMAL))
    assert config.network.availability_zones == 2
    assert config.network.interface_endpoints == ("bedrock-runtime",)
    assert config.network.flow_logs is True
    assert config.bucket.restrict_to_vpcs is True
    assert config.bucket.deletion_protection is True
    assert config.bucket.access_logs is True
    ap = config.access_points[0]
    assert (ap.prefix, ap.access, ap.network, ap.is_cross_account) == ("", "read", "vpc", False)
    assert config.bedrock.model_id == "amazon.nova-micro-v1:0"
    assert config.bedrock.streaming is False
    assert config.function.architecture == "arm64"
    assert config.data_bucket_name == "private-datalake-dev-111111111111"
    assert config.log_bucket_name == "private-datalake-dev-111111111111-logs"


@pytest.mark.parametrize("stack", ["dev", "prod", "byo-vpc"])
def test_example_stacks_parse(stack: str) -> None:
    config = parse(project_values(stack), stack=stack)
    assert config.account_id == "111111111111"


def test_prod_example_has_cross_account_point_three_azs_and_several_models() -> None:
    config = parse(project_values("prod"), stack="prod")
    assert config.network.availability_zones == 3
    assert len(config.bedrock.model_ids) > 1
    [partner] = config.cross_account_access_points
    assert partner.account_id == "222222222222"
    assert config.access_point_arn(partner) == (
        "arn:aws:s3:us-east-1:222222222222:accesspoint/partner-share"
    )


def with_change(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL with one key set; path like 'network.cidrBlock' or 'accessPoints.0.name'."""
    values = copy.deepcopy(MINIMAL)
    *parents, last = path.split(".")
    node: Any = values
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return values


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("accountId", "12345", r"^accountId: '12345' must be a 12-digit AWS account id"),
        ("accountId", 111111111111, r"^accountId: must be a string \(must be a 12-digit"),
        ("network.cidrBlock", "8.8.0.0/16", r"^network\.cidrBlock: '8\.8\.0\.0/16' must be a "),
        ("network.cidrBlock", "10.0.0.0/26", r"^network\.cidrBlock: .*prefix from /16 to /24"),
        ("network.cidrBlock", "10.0.0.1/16", r"^network\.cidrBlock: '10\.0\.0\.1/16' must be"),
        ("network.availabilityZones", 0, r"^network\.availabilityZones: .*greater than or equal"),
        ("network.availabilityZones", 7, r"^network\.availabilityZones: .*less than or equal to 6"),
        ("network.flowLogRetentionDays", 10, r"^network\.flowLogRetentionDays: 10 is not a Cl"),
        ("network.extraS3Buckets", ["Bad_Bucket"], r"^network\.extraS3Buckets\[0\]: 'Bad_B"),
        ("accessPoints.0.name", "Bad_Name", r"^accessPoints\[0\]\.name: 'Bad_Name' must be 3-50"),
        ("accessPoints.0.name", "ab", r"^accessPoints\[0\]\.name: 'ab' must be 3-50"),
        ("accessPoints.0.name", "x-s3alias", r"^accessPoints\[0\]\.name: .*-s3alias"),
        ("accessPoints.0.name", "a" * 51, r"^accessPoints\[0\]\.name: 'a+' must be 3-50"),
        ("accessPoints.0.prefix", "/abs/", r"^accessPoints\[0\]\.prefix: '/abs/' must be a rel"),
        ("accessPoints.0.prefix", "no-slash", r"^accessPoints\[0\]\.prefix: 'no-slash' must"),
        ("accessPoints.0.prefix", "a/../b/", r"^accessPoints\[0\]\.prefix: 'a/\.\./b/' must"),
        ("accessPoints.0.prefix", "a/*/", r"^accessPoints\[0\]\.prefix: 'a/\*/' must"),
        ("accessPoints.0.access", "admin", r"^accessPoints\[0\]\.access: Input should be 'read'"),
        ("accessPoints.0.network", "public", r"^accessPoints\[0\]\.network: Input should be 'vpc'"),
        ("accessPoints.0.principals", ["*"], r"^accessPoints\[0\]\.principals\[0\]: '\*' must be"),
        ("accessPoints.0.principals", ["arn:aws:iam::111111111111:role/a"] * 2, r"more than once"),
        ("bedrock.modelIds", [], r"^bedrock\.modelIds: must list at least 1$"),
        ("bedrock.modelIds", ["not a model"], r"^bedrock\.modelIds\[0\]: 'not a model' must be a"),
        ("bucket.kmsKeyArn", "alias/data", r"^bucket\.kmsKeyArn: 'alias/data' must be a KMS key"),
        (
            "bucket.allowedVpcEndpointIds",
            ["vpc-xyz"],
            r"^bucket\.allowedVpcEndpointIds\[0\]: 'vpc-xyz' must be",
        ),
        ("bucket.adminRoleArns", ["arn:aws:iam::1:role/x"], r"^bucket\.adminRoleArns\[0\]: "),
        (
            "bucket.adminRoleArns",
            ["arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_A_*"],
            r"^bucket\.adminRoleArns\[0\]: .*'\*' and '\?' match more .*adminPermissionSets",
        ),
        ("bucket.adminRoleArns", ["arn:aws:iam::111111111111:role/adm?n"], r"match more"),
        ("bucket.adminPermissionSets", ["Data Admin"], r"^bucket\.adminPermissionSets\[0\]: "),
        ("organizationId", "o-short", r"^organizationId: 'o-short' must be an AWS Organizations"),
        ("organizationId", "O-A1B2C3D4E5", r"^organizationId: .* must be an AWS Organizations"),
        (
            "accessPoints.0.viaServices",
            ["glue"],
            r"^accessPoints\[0\]\.viaServices\[0\]: 'glue': AWS Glue jobs .* own role",
        ),
        ("accessPoints.0.viaServices", ["emr"], r"not a service that calls S3 on a caller's"),
        ("function.memoryMb", 64, r"^function\.memoryMb: Input should be greater than or equal"),
        ("function.timeoutSeconds", 901, r"^function\.timeoutSeconds: .*less than or equal to 900"),
        ("function.architecture", "sparc", r"^function\.architecture: Input should be 'arm64'"),
    ],
)
def test_each_rule_names_the_key_and_the_rule(path: str, value: Any, expected: str) -> None:
    problems = problems_of(with_change(path, value))
    assert any(re.search(expected, p) for p in problems), problems


@pytest.mark.parametrize(
    ("values_path", "typo", "suggestion"),
    [
        ("network", "cidrBlok", "did you mean 'cidrBlock'"),
        ("bucket", "adminRoleArn", "did you mean 'adminRoleArns'"),
        ("accessPoints.0", "princpals", "did you mean 'principals'"),
    ],
)
def test_unknown_keys_are_rejected_with_a_suggestion(
    values_path: str, typo: str, suggestion: str
) -> None:
    values = copy.deepcopy(MINIMAL)
    node: Any = values
    for part in values_path.split("."):
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[typo] = "x"
    where = values_path.replace(".0", "[0]")
    unknown = [p for p in problems_of(values) if p.startswith(f"{where}.{typo}: unknown key")]
    assert len(unknown) == 1
    assert suggestion in unknown[0]


def test_required_keys() -> None:
    problems = problems_of({})
    for key in ("accountId", "network", "accessPoints", "bedrock"):
        assert f"{key}: is required" in problems
    [problem] = problems_of(with_change("network", {}))
    assert problem.startswith("network.cidrBlock: is required, unless network.vpcId, ")


def test_region_is_required_and_must_be_commercial() -> None:
    assert problems_of(copy.deepcopy(MINIMAL), region=None) == [
        "region: is required, a commercial Region such as us-east-1"
    ]
    [problem] = problems_of(copy.deepcopy(MINIMAL), region="cn-north-1")
    assert problem.startswith("region: 'cn-north-1' must be a commercial AWS Region")


def test_injected_keys_cannot_be_written_under_the_project() -> None:
    values = copy.deepcopy(MINIMAL) | {"region": "eu-west-1"}
    [problem] = problems_of(values)
    assert problem.startswith("region: is set by Pulumi")


def access_point(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "principals": ["arn:aws:iam::111111111111:role/app"], **extra}


def with_access_points(*entries: dict[str, Any], **bucket: Any) -> dict[str, Any]:
    values = copy.deepcopy(MINIMAL)
    values["accessPoints"] = [*values["accessPoints"], *entries]
    if bucket:
        values["bucket"] = bucket
    return values


CROSS_ACCOUNT = {
    "accountId": "222222222222",
    "roleArn": "arn:aws:iam::222222222222:role/deployer",
    "vpcId": "vpc-0123456789abcdef0",
}


@pytest.mark.parametrize(
    ("entry", "bucket", "expected"),
    [
        (access_point("analytics"), {}, r"^accessPoints\[1\]\.name: 'analytics' is already used"),
        (
            access_point("web", network="internet"),
            {},
            r"^accessPoints\[1\]\.network: 'internet' could never be used while bucket\.rest",
        ),
        (
            access_point("partner", accountId="222222222222", vpcId="vpc-0123456789abcdef0"),
            {},
            r"^accessPoints\[1\]: a cross-account access point needs both accountId and roleArn",
        ),
        (
            access_point("partner", roleArn="arn:aws:iam::222222222222:role/deployer"),
            {},
            r"^accessPoints\[1\]: a cross-account access point needs both",
        ),
        (
            access_point(
                "partner", **(CROSS_ACCOUNT | {"roleArn": "arn:aws:iam::333333333333:role/d"})
            ),
            {},
            r"^accessPoints\[1\]\.roleArn: must be a role in account 222222222222",
        ),
        (
            access_point(
                "partner",
                **CROSS_ACCOUNT,
                previewRoleArn="arn:aws:iam::333333333333:role/previewer",
            ),
            {},
            r"^accessPoints\[1\]\.previewRoleArn: must be a role in account 222222222222",
        ),
        (
            access_point("partner", **CROSS_ACCOUNT, previewRoleArn=CROSS_ACCOUNT["roleArn"]),
            {},
            r"^accessPoints\[1\]\.previewRoleArn: is roleArn; a preview must not hold the "
            r"deployer's rights",
        ),
        (
            access_point("mine", previewRoleArn="arn:aws:iam::111111111111:role/previewer"),
            {},
            r"^accessPoints\[1\]\.previewRoleArn: only applies to a cross-account access point",
        ),
        (
            access_point("partner", previewRoleArn="arn:aws:iam::1:role/previewer"),
            {},
            r"^accessPoints\[1\]\.previewRoleArn: .* must be an IAM role ARN",
        ),
        (
            access_point("partner", **{k: v for k, v in CROSS_ACCOUNT.items() if k != "vpcId"}),
            {},
            r"^accessPoints\[1\]\.vpcId: is required for a cross-account access point",
        ),
        (
            access_point(
                "mine", accountId="111111111111", roleArn="arn:aws:iam::111111111111:role/d"
            ),
            {},
            r"^accessPoints\[1\]\.accountId: is the data account",
        ),
        (
            access_point("web", network="internet", vpcId="vpc-0123456789abcdef0"),
            {"restrictToVpcs": False},
            r"^accessPoints\[1\]\.vpcId: only applies to network: vpc",
        ),
        ({"name": "nobody"}, {}, r"^accessPoints\[1\]\.principals: must list at least one"),
        (
            access_point("athena", network="vpc", viaServices=["athena"]),
            {},
            r"^accessPoints\[1\]\.network: a viaServices access point is Internet-origin",
        ),
        (
            access_point("partner", viaServices=["athena"], **CROSS_ACCOUNT),
            {},
            r"^accessPoints\[1\]\.viaServices: applies to access points of the data account",
        ),
        (
            {"name": "other", "principals": ["arn:aws:iam::333333333333:role/app"]},
            {},
            r"^accessPoints\[1\]\.principals\[0\]: account 333333333333 is outside the "
            r"perimeter .*set organizationId",
        ),
    ],
)
def test_combinations_that_could_never_work_are_refused(
    entry: dict[str, Any], bucket: dict[str, Any], expected: str
) -> None:
    problems = problems_of(with_access_points(entry, **bucket))
    assert any(re.search(expected, p) for p in problems), problems


PREVIEWER = "arn:aws:iam::222222222222:role/previewer"


def test_every_entry_of_one_partner_account_names_the_same_roles() -> None:
    with_preview = access_point("partner", **CROSS_ACCOUNT, previewRoleArn=PREVIEWER)
    without = access_point("partner-two", **CROSS_ACCOUNT)
    [problem] = problems_of(with_access_points(with_preview, without))
    assert problem.startswith(
        "accessPoints[2]: roleArn and previewRoleArn differ from those of accessPoints[1] in "
        "the same account 222222222222"
    )
    same = access_point("partner-two", **CROSS_ACCOUNT, previewRoleArn=PREVIEWER)
    config = parse(with_access_points(with_preview, same))
    assert [ap.preview_role_arn for ap in config.cross_account_access_points] == [PREVIEWER] * 2


def test_an_athena_access_point_is_internet_origin_behind_the_vpc_rule() -> None:
    config = parse(with_access_points(access_point("athena", viaServices=["athena"])))
    assert config.access_points[1].origin == "internet"
    assert config.bucket.restrict_to_vpcs


def test_with_an_organization_other_accounts_principals_are_inside_the_perimeter() -> None:
    values = with_access_points(
        {"name": "other", "principals": ["arn:aws:iam::333333333333:role/app"]}
    )
    config = parse({**values, "organizationId": "o-a1b2c3d4e5"})
    assert config.perimeter == policies.Perimeter("111111111111", "o-a1b2c3d4e5")


def test_permission_set_admins_become_exact_role_patterns() -> None:
    config = parse({**MINIMAL, "bucket": {"adminPermissionSets": ["DataAdmin"]}})
    assert config.administrator_patterns() == policies.permission_set_role_patterns(
        "111111111111", "DataAdmin"
    )


def test_internet_access_point_is_allowed_once_the_vpc_rule_is_off() -> None:
    config = parse(
        with_access_points(access_point("web", network="internet"), restrictToVpcs=False)
    )
    assert config.access_points[1].network == "internet"


def test_cross_account_access_point_is_accepted_with_all_three_keys() -> None:
    config = parse(with_access_points(access_point("partner", **CROSS_ACCOUNT)))
    assert config.cross_account_access_points[0].role_arn == CROSS_ACCOUNT["roleArn"]
    # The partner's VPC reads through its access point, so the bucket admits it.
    bucket_policy = config.bucket_policy(
        s3_endpoint_id="vpce-0aaaaaaa",
        deployer_arn="arn:aws:iam::111111111111:role/d",
        data_key_arn="k",
    )
    [pinned] = [
        s
        for s in bucket_policy["Statement"]
        if s["Sid"] == "DenyCrossAccountAccessPoint0OutsideItsVpc"
    ]
    assert pinned["Condition"]["StringNotEquals"] == {
        "aws:SourceVpcArn": "arn:aws:ec2:us-east-1:222222222222:vpc/vpc-0123456789abcdef0"
    }


@pytest.mark.parametrize(
    ("bedrock", "network", "expected"),
    [
        ({"accessPoint": "missing"}, {}, r"^bedrock\.accessPoint: 'missing' is not one of"),
        ({"defaultModelId": "amazon.titan-text-lite-v1"}, {}, r"^bedrock\.defaultModelId: 'amazon"),
        ({}, {"interfaceEndpoints": ["sts"]}, r"^network\.interfaceEndpoints: must include 'bedr"),
        ({}, {"interfaceEndpoints": ["bedrock-runtime", "s3"]}, r"^network\.interfaceEndpoints\[1"),
    ],
)
def test_bedrock_combinations(
    bedrock: dict[str, Any], network: dict[str, Any], expected: str
) -> None:
    values = copy.deepcopy(MINIMAL)
    values["bedrock"] |= bedrock  # type: ignore[operator]
    values["network"] |= network  # type: ignore[operator]
    problems = problems_of(values)
    assert any(re.search(expected, p) for p in problems), problems


def test_function_must_read_through_a_readable_access_point_of_the_data_account() -> None:
    write_only = with_access_points()
    write_only["accessPoints"][0]["access"] = "write"
    assert problems_of(write_only) == [
        "bedrock.accessPoint: 'analytics' is write-only; the function needs read"
    ]
    cross = with_access_points(access_point("partner", **CROSS_ACCOUNT))
    cross["bedrock"]["accessPoint"] = "partner"
    assert any("belongs to account 222222222222" in p for p in problems_of(cross))


def test_the_function_access_point_may_list_no_principals_of_its_own() -> None:
    values = copy.deepcopy(MINIMAL)
    values["accessPoints"] = [{"name": "analytics"}]
    assert parse(values).access_points[0].principals == ()


def test_too_many_access_points() -> None:
    values = copy.deepcopy(MINIMAL)
    values["accessPoints"] = [access_point(f"app-{i:05d}") for i in range(MAX_ACCESS_POINTS + 1)]
    values["bedrock"]["accessPoint"] = "app-00000"  # type: ignore[index]
    [problem] = problems_of(values)
    assert problem == "accessPoints: lists 10001, at most 10000 allowed"


def test_ten_thousand_access_points_are_accepted() -> None:
    values = copy.deepcopy(MINIMAL)
    values["accessPoints"] = [access_point(f"app-{i:05d}") for i in range(MAX_ACCESS_POINTS)]
    values["bedrock"]["accessPoint"] = "app-00000"  # type: ignore[index]
    assert len(parse(values).access_points) == MAX_ACCESS_POINTS


def test_policy_sizes_are_checked_before_deploying() -> None:
    many_principals = [f"arn:aws:iam::111111111111:role/reader-{i:04d}" for i in range(500)]
    values = copy.deepcopy(MINIMAL)
    values["accessPoints"][0]["principals"] = many_principals  # type: ignore[index]
    [problem] = problems_of(values)
    assert problem.startswith("accessPoints[0].principals: the access point policy would be ")
    assert "over AWS's limit of 20,480" in problem


def test_too_many_cross_account_access_points_overflow_the_bucket_policy() -> None:
    partners = [
        access_point(
            f"partner-{i:03d}",
            prefix=f"shared/partner-{i:03d}/",
            **CROSS_ACCOUNT,
        )
        for i in range(60)
    ]
    problems = problems_of(with_access_points(*partners))
    assert any(p.startswith("accessPoints: the bucket policy (it grows") for p in problems)


def test_default_bucket_name_must_be_valid_for_the_stack() -> None:
    [problem] = problems_of(copy.deepcopy(MINIMAL), stack="My_Stack")
    assert problem.startswith("bucket.name: the default name")
    assert (
        parse(with_change("bucket.name", "my-data"), stack="My_Stack").data_bucket_name == "my-data"
    )


def test_all_problems_are_reported_at_once() -> None:
    values = with_change("accountId", "1")
    values["network"]["cidrBlock"] = "1.2.3.0/24"
    values["accessPoints"][0]["name"] = "Bad_Name"
    problems = problems_of(values)
    assert [p.split(":")[0] for p in problems] == [
        "accountId",
        "network.cidrBlock",
        "accessPoints[0].name",
    ]


def test_a_bad_stack_config_stops_the_program_before_any_resource(
    dev_values: dict[str, Any],
) -> None:
    dev_values["private-datalake:network"]["cidrBlok"] = "10.0.0.0/16"
    dev_values["private-datalake:accessPoints"][0]["name"] = "Bad_Name"
    with pytest.raises(pulumi.RunError) as raised:
        run_stack("test", values=dev_values)
    message = str(raised.value)
    assert "network.cidrBlok: unknown key; did you mean 'cidrBlock'?" in message
    assert (
        "accessPoints[0].name: 'Bad_Name' must be 3-50 lowercase letters, digits or '-'" in message
    )


def test_no_resource_is_registered_when_the_config_is_bad(dev_values: dict[str, Any]) -> None:
    captured: list[StackRun] = []
    original = StackRun.__init__

    def remember(self: StackRun, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        captured.append(self)

    dev_values["private-datalake:accountId"] = "not-an-account"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StackRun, "__init__", remember)
        with pytest.raises(pulumi.RunError):
            run_stack("test", values=dev_values)
    assert captured[0].resources == []


def test_unknown_top_level_keys_are_rejected(dev_values: dict[str, Any]) -> None:
    dev_values["private-datalake:netwrok"] = {"cidrBlock": "10.0.0.0/16"}
    with pytest.raises(pulumi.RunError, match=r"private-datalake:netwrok: unknown key"):
        run_stack("test", values=dev_values)


def test_account_ids_keep_their_leading_zeros(dev_values: dict[str, Any]) -> None:
    project = PROJECT
    dev_values[f"{project}:accountId"] = "011111111111"
    for index, name in enumerate(("a", "b")):
        dev_values[f"{project}:accessPoints"][index]["principals"] = [
            f"arn:aws:iam::011111111111:role/{name}"
        ]
    dev_values[f"{project}:bucket"]["adminRoleArns"] = ["arn:aws:iam::011111111111:role/admin"]
    run = run_stack("test", values=dev_values)
    assert run.outputs["bucketName"] == "private-datalake-test-011111111111"


EXISTING = {
    "vpcId": "vpc-0b7e2a41c9d35f681",
    "subnetIds": ["subnet-0a3c5e7f9b1d2f4a6", "subnet-0c4e6a8b2d0f1e3c5"],
    "routeTableIds": ["rtb-0e1f2a3b4c5d6e7f8"],
}


def with_network(**network: Any) -> dict[str, Any]:
    values = copy.deepcopy(MINIMAL)
    values["network"] = network
    return values


def test_an_existing_vpc_replaces_the_cidr_block_and_turns_flow_logs_off() -> None:
    config = parse(with_network(**EXISTING))
    assert config.network.cidr_block is None
    args = config.network_args()
    assert "cidr_block" not in args
    assert "flow_logs" not in args  # the component's default with vpc_id: none
    assert created_interface_endpoints(args) == ["bedrock-runtime"]
    reused = parse(
        with_network(
            **EXISTING, existingInterfaceEndpoints={"bedrock-runtime": "vpce-0123456789abcdef0"}
        )
    ).network_args()
    assert created_interface_endpoints(reused) == []


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        (
            {"vpcId": EXISTING["vpcId"]},
            r"^network\.subnetIds: is required with network\.vpcId",
        ),
        (
            {"cidrBlock": "10.40.0.0/16", "subnetIds": EXISTING["subnetIds"]},
            r"^network: vpcId, subnetIds and routeTableIds go together .*missing network\.vpcId, "
            r"network\.routeTableIds$",
        ),
        (
            {**EXISTING, "cidrBlock": "10.40.0.0/16"},
            r"^network\.cidrBlock: comes from the VPC network\.vpcId names; omit it",
        ),
        (
            {**EXISTING, "availabilityZones": 2},
            r"^network\.availabilityZones: are those of network\.subnetIds",
        ),
        ({**EXISTING, "flowLogs": True}, r"^network\.flowLogs: a VPC the stack does not own"),
        ({**EXISTING, "flowLogRetentionDays": 30}, r"^network\.flowLogRetentionDays: only"),
        (
            {**EXISTING, "subnetIds": ["subnet-0a3c5e7f9b1d2f4a6"] * 2},
            r"^network\.subnetIds: lists subnet-0a3c5e7f9b1d2f4a6 more than once$",
        ),
        (
            {**EXISTING, "subnetIds": [f"subnet-0a3c5e7f9b1d2f4a{i}" for i in range(7)]},
            r"^network\.subnetIds: lists 7, at most 6 allowed$",
        ),
        ({**EXISTING, "subnetIds": []}, r"^network\.subnetIds: must list at least 1$"),
        ({**EXISTING, "vpcId": "vpc-xyz"}, r"^network\.vpcId: 'vpc-xyz' must be a VPC id$"),
        ({**EXISTING, "subnetIds": ["sn-1"]}, r"^network\.subnetIds\[0\]: 'sn-1' must be a subnet"),
        ({**EXISTING, "routeTableIds": ["rt-1"]}, r"^network\.routeTableIds\[0\]: 'rt-1' must be"),
        (
            {**EXISTING, "existingInterfaceEndpoints": {"bedrock-runtime": "vpc-1"}},
            r"^network\.existingInterfaceEndpoints\.bedrock-runtime: 'vpc-1' must be a VPC "
            r"endpoint id",
        ),
        (
            {**EXISTING, "existingInterfaceEndpoints": {"sts": "vpce-0123456789abcdef0"}},
            r"^network\.existingInterfaceEndpoints\.sts: 'sts' is not in "
            r"network\.interfaceEndpoints",
        ),
        (
            {
                **EXISTING,
                "interfaceEndpoints": ["bedrock-runtime", "sts"],
                "existingInterfaceEndpoints": {
                    "bedrock-runtime": "vpce-0123456789abcdef0",
                    "sts": "vpce-0123456789abcdef0",
                },
            },
            r"^network\.existingInterfaceEndpoints\.sts: vpce-0123456789abcdef0 is already "
            r"given for bedrock-runtime$",
        ),
        (
            {"cidrBlock": "10.40.0.0/16", "existingInterfaceEndpoints": {"sts": "vpce-01234567"}},
            r"^network\.existingInterfaceEndpoints: only applies to an existing VPC",
        ),
    ],
)
def test_existing_vpc_rules(network: dict[str, Any], expected: str) -> None:
    problems = problems_of(with_network(**network))
    assert any(re.search(expected, p) for p in problems), problems


def test_whole_vpcs_are_refused_in_favour_of_their_endpoints() -> None:
    values = with_network(**EXISTING)
    values["bucket"] = {"allowedVpcIds": ["vpc-0a1b2c3d4e5f67890"]}
    [problem] = problems_of(values)
    assert problem.startswith("bucket.allowedVpcIds: trusts every S3 endpoint of those VPCs")
    assert "unknown key" not in problem
    assert "bucket.allowedVpcEndpointIds" in problem


def test_an_access_point_bound_to_another_vpc_needs_that_vpcs_endpoint() -> None:
    values = with_access_points(access_point("elsewhere", vpcId="vpc-0a1b2c3d4e5f67890"))
    assert problems_of(values) == [
        "accessPoints[1].vpcId: an access point bound to another VPC is used through that "
        "VPC's S3 endpoint, which the bucket refuses unless bucket.allowedVpcEndpointIds "
        "names it"
    ]
    values["bucket"] = {"allowedVpcEndpointIds": ["vpce-0a1b2c3d4e5f67890"]}
    assert parse(values).bucket.allowed_vpc_endpoint_ids == ("vpce-0a1b2c3d4e5f67890",)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("sns", None),
        ("athena", None),
        ("elasticloadbalancing", "has no vetted action list"),
        ("dynamodb", "is already reached through its gateway endpoint"),
    ],
)
def test_interface_endpoints_are_services_with_a_vetted_action_list(
    service: str, expected: str | None
) -> None:
    values = copy.deepcopy(MINIMAL)
    values["network"] |= {"interfaceEndpoints": ["bedrock-runtime", service]}  # type: ignore[operator]
    if expected is None:
        assert service in parse(values).network.interface_endpoints
    else:
        [problem] = problems_of(values)
        assert problem.startswith(f"network.interfaceEndpoints[1]: '{service}' ")
        assert expected in problem
        if "vetted" in expected:
            assert (
                "services with one: athena, bedrock-agent-runtime, bedrock-runtime, kms" in problem
            )


def test_replication_sources_name_a_role_and_a_prefix() -> None:
    values = copy.deepcopy(MINIMAL)
    values["bucket"] = {
        "replicationSources": [
            {"roleArn": "arn:aws:iam::222222222222:role/replication", "prefix": "replicas/"},
            {"roleArn": "arn:aws:iam::222222222222:role/replication", "prefix": ""},
            {"roleArn": "arn:aws:iam::222222222222:role/*", "prefix": "x/"},
        ]
    }
    problems = problems_of(values)
    assert [p.split(":")[0] for p in problems] == [
        "bucket.replicationSources[1].prefix",
        "bucket.replicationSources[2].roleArn",
    ]


def test_organization_policies_never_lose_a_statement_to_a_value_that_did_not_resolve() -> None:
    """Which statements the organization policies hold follows from the config; a deploy-time
    value the config calls for (the invocation log writer, the athena endpoint) that did not
    resolve is an error, not a statement left out."""
    prod = parse(
        {key.split(":", 1)[1]: value for key, value in load_stack_values("prod").items()
         if key.startswith(f"{PROJECT}:")},
        stack="prod",
    )  # fmt: skip
    admins = ["arn:aws:iam::111111111111:role/ci-deployer"]
    writer = "arn:aws:iam::111111111111:role/writer"
    knowledge_base = KnowledgeBaseOutputs(
        arn="arn:aws:bedrock:us-east-1:111111111111:knowledge-base/KB12345678",
        function_role_arn="arn:aws:iam::111111111111:role/function",
        ingestion_runner_arn="arn:aws:iam::111111111111:role/runner",
        endpoint_id="vpce-2",
    )
    resolved: dict[str, Any] = {
        "administrators": admins,
        "invocation_log_writer_arn": writer,
        "athena_endpoint_id": "vpce-1",
        "knowledge_base": knowledge_base,
    }
    for key, error in (
        ("invocation_log_writer_arn", "writer role did not resolve"),
        ("athena_endpoint_id", "athena interface endpoint"),
        ("knowledge_base", "knowledge base's ARN, runner and endpoint did not resolve"),
    ):
        with pytest.raises(ValueError, match=error):
            prod.organization_scope(**(resolved | {key: None}))
    for field in ("arn", "function_role_arn", "ingestion_runner_arn", "endpoint_id"):
        unresolved = dataclasses.replace(knowledge_base, **{field: ""})
        with pytest.raises(ValueError, match="must be known"):
            prod.organization_scope(**(resolved | {"knowledge_base": unresolved}))
    scope = prod.organization_scope(**resolved)
    assert scope.invocation_log_writer_arn == writer
    assert scope.athena_endpoint_id == "vpce-1"
    assert scope.knowledge_base is not None
    assert scope.knowledge_base.endpoint_id == "vpce-2"
