"""The CrossGuard policy pack (policy_pack/): its rules are plain functions, tested here without
the Pulumi CLI on what the real program registers under mocks, and on broken variants of it."""

from __future__ import annotations

import copy
import importlib
import json
import os
import runpy
import select
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.runner import CapturedResource, StackRun
from policy_pack import rules

PACK_DIR = Path(__file__).resolve().parent.parent / "policy_pack"

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)


def as_rule_resources(run: StackRun) -> list[rules.Resource]:
    """The captured registrations as the rules see them (private copies, free to modify)."""
    return [_as_rule_resource(r) for r in run.resources]


def _as_rule_resource(captured: CapturedResource) -> rules.Resource:
    return rules.Resource(
        type=captured.type,
        name=captured.name,
        props=copy.deepcopy(captured.inputs),
        urn=captured.urn,
    )


def find(resources: list[rules.Resource], type_token: str, name: str) -> rules.Resource:
    matches = [r for r in resources if r.type == type_token and r.name == name]
    assert len(matches) == 1, f"{len(matches)} {type_token} named {name}"
    return matches[0]


def edited(
    resources: list[rules.Resource],
    type_token: str,
    name: str,
    edit: Callable[[dict[str, Any]], None],
) -> list[rules.Resource]:
    """``resources`` with one resource's props changed by ``edit``."""
    target = find(resources, type_token, name)
    props = copy.deepcopy(dict(target.props))
    edit(props)
    changed = rules.Resource(target.type, target.name, props, target.urn)
    return [changed if r is target else r for r in resources]


def without(resources: list[rules.Resource], type_token: str, name: str) -> list[rules.Resource]:
    target = find(resources, type_token, name)
    return [r for r in resources if r is not target]


def added(
    resources: list[rules.Resource], type_token: str, name: str, props: Mapping[str, Any]
) -> list[rules.Resource]:
    urn = f"urn:pulumi:test::private-datalake::{type_token}::{name}"
    return [*resources, rules.Resource(type_token, name, dict(props), urn)]


def flagged(violations: Iterable[rules.Violation]) -> set[tuple[str, str]]:
    """(policy, resource name) of every violation."""
    return {(v.policy, v.resource) for v in violations}


@pytest.fixture
def dev_resources(dev_run: StackRun) -> list[rules.Resource]:
    return as_rule_resources(dev_run)


@pytest.fixture
def prod_resources(prod_run: StackRun) -> list[rules.Resource]:
    return as_rule_resources(prod_run)


# --- The example stacks pass ------------------------------------------------------------------


def test_example_stacks_pass_every_rule(example_run: StackRun) -> None:
    resources = as_rule_resources(example_run)
    assert rules.evaluate(resources) == []


def test_example_stacks_contain_what_the_rules_check(example_run: StackRun) -> None:
    """A rule that never meets its resource type proves nothing."""
    types = {r.type for r in example_run.resources}
    # A stack in an existing VPC creates no subnets or route tables of its own.
    expected = {
        *((rules.SUBNET, rules.ROUTE_TABLE) if example_run.stack != "byo-vpc" else ()),
        rules.VPC_ENDPOINT,
        rules.LAMBDA_FUNCTION,
        rules.ACCESS_POINT,
        rules.BUCKET_PUBLIC_ACCESS_BLOCK,
        rules.BUCKET_POLICY,
        BUCKET,
        BUCKET_VERSIONING,
        BUCKET_ENCRYPTION,
        "aws:iam/rolePolicy:RolePolicy",
    }
    assert expected <= types
    # Data, access-log and artifact buckets; prod also holds the invocation-log bucket (it owns
    # logging) and Athena's results bucket (it has an Athena access point).
    assert (
        len(example_run.of_type(BUCKET)) == {"dev": 3, "prod": 5, "byo-vpc": 3}[example_run.stack]
    )


def test_policy_names_are_unique_and_described() -> None:
    assert len(set(rules.POLICY_NAMES)) == len(rules.POLICY_NAMES) == 11
    for rule in (*rules.RESOURCE_RULES, *rules.STACK_RULES):
        assert rule.description.endswith(".")


# --- Network: no internet path, no default route ----------------------------------------------


@pytest.mark.parametrize(
    "type_token",
    [
        rules.INTERNET_GATEWAY,
        rules.NAT_GATEWAY,
        rules.EGRESS_ONLY_GATEWAY,
        rules.INTERNET_GATEWAY_ATTACHMENT,
    ],
)
def test_an_internet_or_nat_gateway_is_flagged(example_run: StackRun, type_token: str) -> None:
    vpc_id = example_run.outputs["vpcId"]
    resources = added(as_rule_resources(example_run), type_token, "escape", {"vpcId": vpc_id})
    violations = rules.evaluate(resources)
    assert flagged(violations) == {("no-internet-path", "escape")}
    assert "internet" in violations[0].message


def test_a_subnet_with_public_ips_is_flagged(dev_resources: list[rules.Resource]) -> None:
    resources = edited(
        dev_resources,
        rules.SUBNET,
        "datalake-private-1",
        lambda p: p.update(mapPublicIpOnLaunch=True),
    )
    assert flagged(rules.evaluate(resources)) == {("no-internet-path", "datalake-private-1")}


@pytest.mark.parametrize(
    "route",
    [
        {"destinationCidrBlock": "0.0.0.0/0", "transitGatewayId": "tgw-0123"},
        {"destinationIpv6CidrBlock": "::/0", "egressOnlyGatewayId": "eigw-0123"},
        {"destinationCidrBlock": "203.0.113.0/24", "gatewayId": "igw-0123"},
        {"destinationCidrBlock": "198.51.100.0/24", "natGatewayId": "nat-0123"},
    ],
)
def test_a_route_to_the_internet_is_flagged(
    dev_resources: list[rules.Resource], route: dict[str, str]
) -> None:
    resources = added(dev_resources, rules.ROUTE, "egress", {"routeTableId": "rtb-1", **route})
    violations = rules.evaluate(resources)
    assert flagged(violations) == {("no-default-route", "egress")}


def test_a_route_to_a_private_network_is_fine(dev_resources: list[rules.Resource]) -> None:
    route = {"routeTableId": "rtb-1", "destinationCidrBlock": "10.0.0.0/8", "transitGatewayId": "t"}
    assert rules.evaluate(added(dev_resources, rules.ROUTE, "peering", route)) == []


def test_an_inline_default_route_in_a_route_table_is_flagged(
    prod_resources: list[rules.Resource],
) -> None:
    resources = edited(
        prod_resources,
        rules.ROUTE_TABLE,
        "datalake-private-2",
        lambda p: p.update(routes=[{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-0abc"}]),
    )
    violations = rules.evaluate(resources)
    assert flagged(violations) == {("no-default-route", "datalake-private-2")}
    assert "0.0.0.0/0" in violations[0].message
    assert "igw-0abc" in violations[1].message


# --- S3 buckets: encryption, versioning, public access block, TLS-only policy -----------------


def test_a_bucket_without_versioning_is_flagged(example_run: StackRun) -> None:
    resources = without(as_rule_resources(example_run), BUCKET_VERSIONING, "data")
    violations = rules.evaluate(resources)
    assert flagged(violations) == {("s3-bucket-versioned", "data")}
    assert f"private-datalake-{example_run.stack}-111111111111" in violations[0].message


def test_suspended_versioning_is_flagged(dev_resources: list[rules.Resource]) -> None:
    resources = edited(
        dev_resources,
        BUCKET_VERSIONING,
        "data-access-logs",
        lambda p: p.update(versioningConfiguration={"status": "Suspended"}),
    )
    assert flagged(rules.evaluate(resources)) == {("s3-bucket-versioned", "data-access-logs")}


def test_a_bucket_without_encryption_is_flagged(prod_resources: list[rules.Resource]) -> None:
    resources = without(prod_resources, BUCKET_ENCRYPTION, "data")
    assert flagged(rules.evaluate(resources)) == {("s3-bucket-encrypted", "data")}


def test_a_companion_of_another_bucket_does_not_count(
    dev_resources: list[rules.Resource],
) -> None:
    """The log bucket's versioning must not satisfy the data bucket's rule."""
    resources = edited(
        dev_resources,
        BUCKET_VERSIONING,
        "data",
        lambda p: p.update(bucket="private-datalake-dev-111111111111-logs"),
    )
    assert flagged(rules.evaluate(resources)) == {("s3-bucket-versioned", "data")}


@pytest.mark.parametrize("flag", rules.PUBLIC_ACCESS_BLOCK_FLAGS)
def test_a_bucket_with_public_access_allowed_is_flagged(
    dev_resources: list[rules.Resource], flag: str
) -> None:
    resources = edited(
        dev_resources, rules.BUCKET_PUBLIC_ACCESS_BLOCK, "data", lambda p: p.update({flag: False})
    )
    assert flagged(rules.evaluate(resources)) == {("s3-bucket-public-access-blocked", "data")}


def test_a_bucket_without_public_access_block_is_flagged(
    dev_resources: list[rules.Resource],
) -> None:
    resources = without(dev_resources, rules.BUCKET_PUBLIC_ACCESS_BLOCK, "data-access-logs")
    assert flagged(rules.evaluate(resources)) == {
        ("s3-bucket-public-access-blocked", "data-access-logs")
    }


def _drop_tls_statement(props: dict[str, Any]) -> None:
    document = json.loads(props["policy"])
    document["Statement"] = [
        s for s in document["Statement"] if "aws:SecureTransport" not in json.dumps(s)
    ]
    props["policy"] = json.dumps(document)


def test_a_bucket_policy_without_the_tls_deny_is_flagged(example_run: StackRun) -> None:
    resources = edited(
        as_rule_resources(example_run), rules.BUCKET_POLICY, "data", _drop_tls_statement
    )
    assert flagged(rules.evaluate(resources)) == {("s3-bucket-tls-only", "data")}


def test_a_tls_deny_of_the_objects_only_is_flagged(dev_resources: list[rules.Resource]) -> None:
    def objects_only(props: dict[str, Any]) -> None:
        document = json.loads(props["policy"])
        for statement in document["Statement"]:
            if "aws:SecureTransport" in json.dumps(statement):
                statement["Resource"] = "arn:aws:s3:::private-datalake-dev-111111111111-logs/*"
        props["policy"] = json.dumps(document)

    resources = edited(dev_resources, rules.BUCKET_POLICY, "data-access-logs", objects_only)
    assert flagged(rules.evaluate(resources)) == {("s3-bucket-tls-only", "data-access-logs")}


def test_a_bucket_without_any_policy_is_flagged(dev_resources: list[rules.Resource]) -> None:
    resources = without(dev_resources, rules.BUCKET_POLICY, "data")
    assert flagged(rules.evaluate(resources)) == {("s3-bucket-tls-only", "data")}


def test_unknown_values_during_preview_are_not_violations(
    dev_resources: list[rules.Resource],
) -> None:
    """In a first preview the bucket policy (built from the VPC id) and the function's subnets
    are unknown; the rules wait for `pulumi up`, where they are known."""
    resources = edited(
        dev_resources, rules.BUCKET_POLICY, "data", lambda p: p.update(policy=rules.UNKNOWN)
    )
    resources = edited(
        resources,
        rules.LAMBDA_FUNCTION,
        "bedrock-function",
        lambda p: p["vpcConfig"].update(subnetIds=rules.UNKNOWN),
    )
    resources = edited(
        resources,
        rules.VPC_ENDPOINT,
        "datalake-s3-gateway",
        lambda p: p.update(policy=rules.UNKNOWN),
    )
    assert rules.evaluate(resources) == []


def test_companions_with_an_unknown_bucket_match_by_dependency(
    dev_resources: list[rules.Resource],
) -> None:
    """During a first preview the companions' `bucket` (the bucket's id) is unknown: they are
    matched to the bucket through their property dependencies, as CrossGuard reports them."""
    data_bucket = find(dev_resources, BUCKET, "data")
    linked = [
        rules.Resource(
            r.type,
            r.name,
            {**r.props, "bucket": rules.UNKNOWN},
            r.urn,
            property_dependencies={"bucket": [data_bucket.urn]},
        )
        if r.type != BUCKET and r.props.get("bucket") == data_bucket.props["bucket"]
        else r
        for r in dev_resources
    ]
    assert rules.evaluate(linked) == []

    unlinked = [
        rules.Resource(r.type, r.name, r.props, r.urn) if r.property_dependencies else r
        for r in linked
    ]
    assert flagged(rules.evaluate(unlinked)) == {
        (policy, "data")
        for policy in (
            "s3-bucket-encrypted",
            "s3-bucket-versioned",
            "s3-bucket-public-access-blocked",
            "s3-bucket-tls-only",
        )
    }


# --- Access points ----------------------------------------------------------------------------


def test_an_access_point_without_vpc_origin_is_flagged(example_run: StackRun) -> None:
    resources = edited(
        as_rule_resources(example_run),
        rules.ACCESS_POINT,
        "access-points-analytics",
        lambda p: p.pop("vpcConfiguration"),
    )
    violations = rules.evaluate(resources)
    assert flagged(violations) == {("access-point-vpc-origin", "access-points-analytics")}
    assert "'analytics'" in violations[0].message

    allowed = {"access-point-vpc-origin": {rules.ALLOWED_INTERNET_ACCESS_POINTS: ["analytics"]}}
    assert rules.evaluate(resources, allowed) == []
    others = {"access-point-vpc-origin": {rules.ALLOWED_INTERNET_ACCESS_POINTS: ["ingest"]}}
    assert flagged(rules.evaluate(resources, others)) == flagged(violations)


def test_an_internet_access_point_that_serves_only_aws_services_passes(prod_run: StackRun) -> None:
    """prod's athena-curated is Internet-origin by necessity: its policy admits only requests
    Athena makes on a caller's behalf. Without that deny it is flagged like any other."""
    resources = as_rule_resources(prod_run)
    athena = find(resources, rules.ACCESS_POINT, "access-points-athena-curated")
    assert not athena.props.get("vpcConfiguration")
    assert rules.evaluate(resources) == []

    def drop_called_via_deny(props: dict[str, Any]) -> None:
        document = json.loads(props["policy"])
        document["Statement"] = [
            s for s in document["Statement"] if s.get("Sid") != "DenyUnlessCalledViaServices"
        ]
        props["policy"] = json.dumps(document)

    opened = edited(
        resources, rules.ACCESS_POINT, "access-points-athena-curated", drop_called_via_deny
    )
    assert flagged(rules.evaluate(opened)) == {
        ("access-point-vpc-origin", "access-points-athena-curated")
    }


def test_an_internet_access_point_configured_in_the_program_needs_the_allowance(
    dev_values: dict[str, Any], run_with: Callable[[dict[str, Any]], StackRun]
) -> None:
    """End to end: `network: internet` in the stack config is caught unless the pack allows it."""
    dev_values["private-datalake:bucket"]["restrictToVpcs"] = False
    dev_values["private-datalake:accessPoints"][1]["network"] = "internet"
    resources = as_rule_resources(run_with(dev_values))
    assert flagged(rules.evaluate(resources)) == {
        ("access-point-vpc-origin", "access-points-ingest")
    }
    allowed = {"access-point-vpc-origin": {rules.ALLOWED_INTERNET_ACCESS_POINTS: ["ingest"]}}
    assert rules.evaluate(resources, allowed) == []


def test_the_shipped_pack_config_allows_no_internet_access_point() -> None:
    config = json.loads((PACK_DIR / "config.json").read_text())
    assert set(config) <= set(rules.POLICY_NAMES)
    assert config["access-point-vpc-origin"][rules.ALLOWED_INTERNET_ACCESS_POINTS] == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p.pop("publicAccessBlockConfiguration"),
        lambda p: p["publicAccessBlockConfiguration"].update(restrictPublicBuckets=False),
    ],
    ids=["missing", "one-setting-off"],
)
def test_an_access_point_without_public_access_block_is_flagged(
    prod_resources: list[rules.Resource], edit: Callable[[dict[str, Any]], None]
) -> None:
    resources = edited(prod_resources, rules.ACCESS_POINT, "access-points-partner-share", edit)
    assert flagged(rules.evaluate(resources)) == {
        ("access-point-public-access-block", "access-points-partner-share")
    }


# --- VPC endpoints, functions -----------------------------------------------------------------


@pytest.mark.parametrize("policy", [None, "", "not json", '{"Version": "2012-10-17"}'], ids=str)
def test_an_endpoint_without_a_policy_is_flagged(example_run: StackRun, policy: str | None) -> None:
    def set_policy(props: dict[str, Any]) -> None:
        props.pop("policy")
        if policy is not None:
            props["policy"] = policy

    resources = edited(
        as_rule_resources(example_run),
        rules.VPC_ENDPOINT,
        "datalake-bedrock-runtime-interface",
        set_policy,
    )
    violations = rules.evaluate(resources)
    assert flagged(violations) == {("vpc-endpoint-policy", "datalake-bedrock-runtime-interface")}
    assert "bedrock-runtime" in violations[0].message


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p.pop("vpcConfig"),
        lambda p: p["vpcConfig"].update(subnetIds=[]),
        lambda p: p["vpcConfig"].update(securityGroupIds=[]),
    ],
    ids=["no-vpc-config", "no-subnets", "no-security-groups"],
)
def test_a_function_outside_the_vpc_is_flagged(
    example_run: StackRun, edit: Callable[[dict[str, Any]], None]
) -> None:
    resources = edited(
        as_rule_resources(example_run), rules.LAMBDA_FUNCTION, "bedrock-function", edit
    )
    assert flagged(rules.evaluate(resources)) == {("lambda-in-vpc", "bedrock-function")}


# --- No '*' on '*' ----------------------------------------------------------------------------

ADMIN_STATEMENT = {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}


def _add_statement(statement: Mapping[str, Any], key: str = "policy") -> Callable[..., None]:
    def edit(props: dict[str, Any]) -> None:
        document = json.loads(props[key])
        document["Statement"].append(dict(statement))
        props[key] = json.dumps(document)

    return edit


@pytest.mark.parametrize(
    ("type_token", "name"),
    [
        ("aws:iam/rolePolicy:RolePolicy", "bedrock-role"),
        ("aws:iam/rolePolicy:RolePolicy", "datalake-flow-logs"),
        (rules.VPC_ENDPOINT, "datalake-s3-gateway"),
        (rules.BUCKET_POLICY, "data"),
        (rules.ACCESS_POINT, "access-points-ingest"),
    ],
)
def test_a_star_on_star_statement_is_flagged(
    example_run: StackRun, type_token: str, name: str
) -> None:
    if name == "datalake-flow-logs" and not example_run.of_type("aws:ec2/flowLog:FlowLog"):
        pytest.skip("no flow logs in a VPC the stack does not own")
    statement = dict(ADMIN_STATEMENT)
    if type_token != "aws:iam/rolePolicy:RolePolicy":
        statement["Principal"] = "*"  # a resource policy names its principal
    resources = edited(as_rule_resources(example_run), type_token, name, _add_statement(statement))
    violations = rules.evaluate(resources)
    assert flagged(violations) == {("no-wildcard-admin-policy", name)}
    assert "Everything" in violations[0].message


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": "*:*", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
    ],
    ids=["listed", "star-colon-star", "not-action"],
)
def test_other_spellings_of_star_on_star_are_flagged(
    dev_resources: list[rules.Resource], statement: dict[str, Any]
) -> None:
    resources = edited(
        dev_resources, "aws:iam/rolePolicy:RolePolicy", "bedrock-role", _add_statement(statement)
    )
    assert flagged(rules.evaluate(resources)) == {("no-wildcard-admin-policy", "bedrock-role")}


def test_deny_star_on_star_and_scoped_stars_are_fine(dev_resources: list[rules.Resource]) -> None:
    resources = edited(
        dev_resources,
        "aws:iam/rolePolicy:RolePolicy",
        "bedrock-role",
        _add_statement({"Effect": "Deny", "Action": "*", "Resource": "*"}),
    )
    resources = edited(
        resources,
        "aws:iam/rolePolicy:RolePolicy",
        "datalake-flow-logs",
        _add_statement({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::x/*"}),
    )
    assert rules.evaluate(resources) == []


def test_inline_role_policies_and_admin_attachments_are_flagged(
    dev_resources: list[rules.Resource],
) -> None:
    admin = json.dumps({"Version": "2012-10-17", "Statement": [ADMIN_STATEMENT]})
    resources = edited(
        dev_resources,
        "aws:iam/role:Role",
        "bedrock-role",
        lambda p: p.update(inlinePolicies=[{"name": "admin", "policy": admin}]),
    )
    resources = added(
        resources,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "admin",
        {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    violations = rules.evaluate(resources)
    assert flagged(violations) == {
        ("no-wildcard-admin-policy", "bedrock-role"),
        ("no-wildcard-admin-policy", "admin"),
    }
    assert any("inlinePolicies[0].policy" in v.message for v in violations)


# --- The CrossGuard wrapper (policy_pack/__main__.py) -----------------------------------------


@pytest.fixture(scope="module")
def sdk() -> Any:
    """The ``pulumi_policy`` SDK (requirements.txt); a missing SDK fails in CI."""
    try:
        return importlib.import_module("pulumi_policy")
    except ImportError:  # pragma: no cover - requirements.txt installs it
        if os.environ.get("CI"):
            pytest.fail("pulumi-policy is not installed (requirements.txt)")
        pytest.skip("pulumi-policy is not installed")


@pytest.fixture(scope="module")
def proxy(sdk: Any) -> Any:
    """``pulumi_policy.proxy``: wraps props the way CrossGuard does, unknown sentinels included."""
    return importlib.import_module("pulumi_policy.proxy")


@pytest.fixture(scope="module")
def pack(sdk: Any) -> dict[str, Any]:
    """The pack's module namespace, loaded the way the CLI runs it (`python policy_pack`, with
    the directory on sys.path) but under another name, so the analyzer server is not started."""
    return runpy.run_path(str(PACK_DIR), run_name="policy_pack_under_test")


def test_the_pack_builds_every_rule_as_a_mandatory_policy(sdk: Any, pack: dict[str, Any]) -> None:
    policies = pack["build_policies"]()
    assert [p.name for p in policies] == list(rules.POLICY_NAMES)
    assert {p.enforcement_level for p in policies} == {sdk.EnforcementLevel.MANDATORY}
    assert sum(isinstance(p, sdk.StackValidationPolicy) for p in policies) == 4
    vpc_origin = next(p for p in policies if p.name == "access-point-vpc-origin")
    assert rules.ALLOWED_INTERNET_ACCESS_POINTS in vpc_origin.config_schema.properties


def _policy(pack: dict[str, Any], name: str) -> Any:
    return next(p for p in pack["build_policies"]() if p.name == name)


def _options(sdk: Any) -> Any:
    timeouts = sdk.PolicyCustomTimeouts(0, 0, 0)
    return sdk.PolicyResourceOptions(False, [], None, [], timeouts, [])


def _validate(policy: Any, args: Any) -> list[tuple[str, str | None]]:
    reported: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    return reported


def test_the_resource_wrapper_reports_violations_and_tolerates_unknowns(
    sdk: Any, proxy: Any, pack: dict[str, Any]
) -> None:
    def args(type_token: str, props: dict[str, Any], config: Any = None) -> Any:
        urn = f"urn:pulumi:dev::private-datalake::{type_token}::r"
        wrapped = proxy.unknown_checking_proxy(props)
        return sdk.ResourceValidationArgs(
            type_token, wrapped, urn, "r", _options(sdk), None, config
        )

    in_vpc = _policy(pack, "lambda-in-vpc")
    assert _validate(in_vpc, args(rules.LAMBDA_FUNCTION, {"role": "r"}))
    unknown = {"vpcConfig": proxy.UNKNOWN_OBJECT_VALUE}
    assert _validate(in_vpc, args(rules.LAMBDA_FUNCTION, unknown)) == []
    # The pack imports its own copy of the module as `rules`, as the CLI does.
    pack_unknown = pack["rules"].UNKNOWN
    assert pack["to_plain"](proxy.unknown_checking_proxy(unknown)) == {"vpcConfig": pack_unknown}

    vpc_origin = _policy(pack, "access-point-vpc-origin")
    internet = {"name": "partner", "bucket": "b"}
    assert _validate(vpc_origin, args(rules.ACCESS_POINT, internet))
    config = {rules.ALLOWED_INTERNET_ACCESS_POINTS: ["partner"]}
    assert _validate(vpc_origin, args(rules.ACCESS_POINT, internet, config)) == []


def test_the_stack_wrapper_links_companions_through_property_dependencies(
    sdk: Any, proxy: Any, pack: dict[str, Any], dev_run: StackRun
) -> None:
    """As in a first preview: every companion's `bucket` is unknown, and only the property
    dependencies CrossGuard passes along tie it to its bucket."""
    captured = [r for r in dev_run.resources if r.type.startswith("aws:s3/")]
    resources = []
    for resource in captured:
        props = dict(resource.inputs)
        if "bucket" in props and resource.type != BUCKET:
            props["bucket"] = proxy.UNKNOWN_STRING_VALUE
        resources.append(
            sdk.PolicyResource(
                resource.type,
                proxy.unknown_checking_proxy(props),
                resource.urn,
                resource.name,
                _options(sdk),
                None,
                None,
                [],
                {},
            )
        )
    buckets = {r.props["bucket"]: r for r in resources if r.resource_type == BUCKET}
    for source, resource in zip(captured, resources, strict=True):
        target = source.inputs.get("bucket")
        if source.type != BUCKET and target in buckets:
            resource.property_dependencies["bucket"] = [buckets[target]]

    versioned = _policy(pack, "s3-bucket-versioned")
    stack = sdk.StackValidationArgs(resources)
    assert _validate(versioned, stack) == []

    for resource in resources:
        resource.property_dependencies.clear()
    reported = _validate(versioned, stack)
    assert {urn for _, urn in reported} == {r.urn for r in buckets.values()}
    assert all("has no BucketVersioning" in message for message, _ in reported)


def test_the_pack_project_files() -> None:
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    requirements = (PACK_DIR / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements


# --- The pack as the CLI runs it: `python policy_pack`, an Analyzer over gRPC on loopback ------


@pytest.fixture(scope="module")
def analyzer(sdk: Any) -> Iterator[Any]:
    """An Analyzer client for the pack started the way the CLI starts it (the process prints
    its port, then serves on 127.0.0.1 until it is stopped)."""
    grpc = importlib.import_module("grpc")
    analyzer_grpc = importlib.import_module("pulumi.runtime.proto.analyzer_pb2_grpc")
    process = subprocess.Popen(
        [sys.executable, str(PACK_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the pack printed no port"
        port = int(process.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield analyzer_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.kill()
        process.wait(timeout=30)


def _struct(props: Mapping[str, Any]) -> Any:
    struct = importlib.import_module("google.protobuf.struct_pb2").Struct()
    # Assets (the function's code archive) are not JSON; no rule reads them.
    struct.update(json.loads(json.dumps(props, default=lambda _: None)))
    return struct


def _analyze_stack(analyzer: Any, resources: Iterable[CapturedResource]) -> list[tuple[str, str]]:
    proto = importlib.import_module("pulumi.runtime.proto.analyzer_pb2")
    request = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name
            )
            for r in resources
        ]
    )
    return [(d.policyName, d.urn) for d in analyzer.AnalyzeStack(request).diagnostics]


def test_the_running_pack_passes_the_example_stacks_and_blocks_a_broken_one(
    analyzer: Any, example_run: StackRun
) -> None:
    proto = importlib.import_module("pulumi.runtime.proto.analyzer_pb2")
    empty = importlib.import_module("google.protobuf.empty_pb2").Empty()
    info = analyzer.GetAnalyzerInfo(empty)
    assert [p.name for p in info.policies] == list(rules.POLICY_NAMES)
    assert {p.enforcementLevel for p in info.policies} == {proto.MANDATORY}

    for resource in example_run.resources:
        request = proto.AnalyzeRequest(
            type=resource.type,
            properties=_struct(resource.inputs),
            urn=resource.urn,
            name=resource.name,
        )
        assert list(analyzer.Analyze(request).diagnostics) == [], resource.name
    assert _analyze_stack(analyzer, example_run.resources) == []

    data = example_run.named(BUCKET, "data")
    unversioned = [
        r for r in example_run.resources if not (r.type == BUCKET_VERSIONING and r.name == "data")
    ]
    assert _analyze_stack(analyzer, unversioned) == [("s3-bucket-versioned", data.urn)]
