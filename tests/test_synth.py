"""The offline synth (synth): what it writes agrees with what the program registers.

Each example stack is synthesized once per module through the CLI entry point, in-process, and
its files are compared with the resources captured from a separate run of the same program
(the ``dev_run``/``prod_run`` fixtures), so the synth cannot drift from what ``pulumi up``
would be asked to do.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from components import policies
from offline import runner as offline
from offline.runner import PROJECT_DIR, StackRun, default_deployer_arn, load_stack_values
from synth import cli as synth
from synth.collect import (
    AccessPointRecord,
    collect,
    parse_policy,
    policy_file_stem,
    to_json_value,
)
from synth.cost import HOURS_PER_MONTH, PRICES_AS_OF, PRICES_REGION, estimate
from synth.diagram import MAX_ACCESS_POINTS_DRAWN, architecture_graph, render
from synth.render import summary_markdown
from tests.conftest import EXAMPLE_STACKS

PROJECT = "private-datalake"
HAVE_DOT = shutil.which("dot") is not None
# CI installs Graphviz (make install): there a missing `dot` must fail, not skip.
needs_dot = pytest.mark.skipif(
    not HAVE_DOT and not os.environ.get("CI"),
    reason="Graphviz's dot is not installed (make install)",
)


@dataclasses.dataclass(frozen=True)
class SynthResult:
    out: Path
    exit_code: int
    stdout: str
    stderr: str

    def json(self, relative: str) -> Any:
        return json.loads((self.out / relative).read_text())

    @property
    def summary(self) -> str:
        return (self.out / "summary.md").read_text()


def run_cli(
    capsys: pytest.CaptureFixture[str] | None, out: Path, *args: str, stack: str = "dev"
) -> SynthResult:
    code = synth.main(["--stack", stack, "--out", str(out), *args])
    captured = capsys.readouterr() if capsys is not None else None
    return SynthResult(
        out, code, captured.out if captured else "", captured.err if captured else ""
    )


@pytest.fixture(scope="module", params=EXAMPLE_STACKS)
def synthesized(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SynthResult, StackRun]:
    """(the synth's output, the captured resources of a separate run) for each example stack."""
    stack = request.param
    out = tmp_path_factory.mktemp(f"synth-{stack}") / "out"
    code = synth.main(["--stack", stack, "--out", str(out)])
    run: StackRun = request.getfixturevalue(f"{stack.replace('-', '_')}_run")
    return SynthResult(out, code, "", ""), run


def table_rows(markdown: str, heading: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table after ``## heading``, as dicts by column."""
    section = markdown.split(f"## {heading}\n", maxsplit=1)[1]
    block: list[str] = []
    for line in section.strip().splitlines():
        if line.startswith("|"):
            block.append(line)
        elif block:
            break
    assert block, f"no table under {heading}"
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in block]
    headers, rows = cells[0], cells[2:]
    return [dict(zip(headers, row, strict=True)) for row in rows]


def custom_aws(resource: dict[str, Any]) -> bool:
    return bool(resource["custom"]) and not resource["type"].startswith("pulumi:providers:")


# --- the files --------------------------------------------------------------------------------


def test_synth_writes_every_file(synthesized: tuple[SynthResult, StackRun]) -> None:
    result, _ = synthesized
    assert result.exit_code == 0
    for name in ("resources.json", "summary.md", "architecture.dot"):
        assert (result.out / name).is_file(), name
    assert list((result.out / "policies").glob("*.json"))


def test_what_the_organization_must_attach_is_written_ready_to_use(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    scp = json.loads((result.out / "organization/service-control-policy.json").read_text())
    rcp = json.loads((result.out / "organization/resource-control-policy.json").read_text())
    # As the stack outputs them: they name the deployer the run used, and the administrators.
    outputs = run.outputs["organizationPolicies"]
    assert scp == json.loads(outputs["serviceControlPolicy"])
    assert rcp == json.loads(outputs["resourceControlPolicy"])
    for name, document in (
        ("bedrockServiceControlPolicy", "bedrock-service-control-policy.json"),
        ("regionServiceControlPolicy", "region-service-control-policy.json"),
    ):
        written = json.loads((result.out / "organization" / document).read_text())
        assert written == json.loads(outputs[name])
    deny = rcp["Statement"][0]
    assert deny["Effect"] == "Deny"
    assert "s3:*AccessPoint*" in deny["Action"]
    assert (
        default_deployer_arn("111111111111") in deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    )
    key_statements = result.out / "organization/data-key-policy-statements.json"
    # Only a stack with bucket.kmsKeyArn needs statements added to a key it does not own.
    assert key_statements.is_file() == (run.stack == "prod")
    rows = table_rows(result.summary, "What the stack cannot attach itself")
    assert {row["file"].strip("`") for row in rows} == {
        str(p.relative_to(result.out)) for p in (result.out / "organization").iterdir()
    }


@needs_dot
def test_picture_is_drawn_in_both_formats(synthesized: tuple[SynthResult, StackRun]) -> None:
    result, _ = synthesized
    assert (result.out / "architecture.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    ET.parse(result.out / "architecture.svg")  # well-formed XML
    assert "![architecture](architecture.svg)" in result.summary


def test_resources_json_lists_every_captured_resource(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    document = result.json("resources.json")
    listed = document["resources"]
    assert document["stack"] == run.stack
    assert document["region"] == run.region
    assert [r["urn"] for r in listed] == sorted(r.urn for r in run.resources)
    for entry in listed:
        captured = run.by_urn(entry["urn"])
        assert entry["type"] == captured.type
        assert entry["name"] == captured.name
        assert entry["parent"] == captured.parent
        assert entry["protect"] == captured.protect
        assert entry["retainOnDelete"] == captured.retain_on_delete
        assert entry["inputs"] == to_json_value(captured.inputs)
        if custom_aws(entry):
            assert entry["account"] == run.account_of(captured)
            assert entry["region"] == run.region
        elif not entry["custom"]:
            assert entry["account"] is None  # a component lands nowhere itself


def test_resources_land_in_the_configured_accounts(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    values = load_stack_values(run.stack)
    data_account = values[f"{PROJECT}:accountId"]
    cross = {
        ap["name"]: ap["accountId"] for ap in values[f"{PROJECT}:accessPoints"] if "accountId" in ap
    }
    for entry in result.json("resources.json")["resources"]:
        if not custom_aws(entry):
            continue
        if entry["type"] == "aws:s3/accessPoint:AccessPoint":
            expected = cross.get(entry["inputs"]["name"], data_account)
        else:
            expected = data_account
        assert entry["account"] == expected, entry["urn"]


def test_resources_keep_protect_and_retain_flags(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    # prod keeps its buckets (deletionProtection: true); dev is a throwaway stack.
    keep = load_stack_values(run.stack)[f"{PROJECT}:bucket"]["deletionProtection"]
    resources = result.json("resources.json")["resources"]
    protected = {r["name"] for r in resources if r["protect"] and r["retainOnDelete"]}
    # prod also owns the account's invocation logging, whose bucket is kept the same way, and
    # has an Athena access point, whose results bucket too; the function's artifact bucket
    # follows bucket.deletionProtection too.
    kept = {
        "data",
        "data-access-logs",
        "models-invocation-logs",
        "data-athena-results",
        "bedrock-artifacts",
    }
    assert protected == (kept if keep else set())


def test_policy_files_are_every_policy_in_the_inputs(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    expected = Counter(
        json.dumps(document, sort_keys=True)
        for resource in run.resources
        for value in resource.inputs.values()
        if (document := parse_policy(value)) is not None
    )
    files = sorted((result.out / "policies").glob("*.json"))
    written = Counter(json.dumps(json.loads(f.read_text()), sort_keys=True) for f in files)
    assert written == expected
    # Pretty-printed, one file per policy, named after its resource.
    analytics = run.named("aws:s3/accessPoint:AccessPoint", "access-points-analytics")
    assert result.json("policies/aws-s3-accesspoint--access-points-analytics.json") == (
        json.loads(analytics.inputs["policy"])
    )
    trust = result.out / "policies/aws-iam-role--bedrock-role--assume-role-policy.json"
    assert trust.read_text().startswith('{\n  "Statement": [')


def test_policy_file_names_are_readable_and_unique() -> None:
    assert (
        policy_file_stem("aws:s3/accessPoint:AccessPoint", "access-points-analytics", "policy")
        == "aws-s3-accesspoint--access-points-analytics"
    )
    assert (
        policy_file_stem("aws:iam/role:Role", "bedrock-role", "assumeRolePolicy")
        == "aws-iam-role--bedrock-role--assume-role-policy"
    )


def test_policy_sizes_are_held_to_their_aws_limits(dev_run: StackRun) -> None:
    model = collect(dev_run)
    limits = {p.file_name: (p.kind, p.limit, p.unit) for p in model.policies}
    assert limits["aws-s3-bucketpolicy--data.json"] == (
        "bucket policy",
        policies.BUCKET_POLICY_LIMIT_BYTES,
        "bytes",
    )
    assert limits["aws-s3-accesspoint--access-points-ingest.json"][1] == 20 * 1024
    assert limits["aws-ec2-vpcendpoint--datalake-s3-gateway.json"][1:] == (20_480, "characters")
    assert limits["aws-iam-rolepolicy--bedrock-role.json"][1:] == (10_240, "characters")
    assert limits["aws-iam-role--bedrock-role--assume-role-policy.json"] == (
        "trust policy",
        2_048,
        "characters",
    )
    assert limits["aws-kms-key--data-key.json"][1] == 32 * 1024
    for record in model.policies:
        captured = next(r for r in dev_run.resources if r.urn == record.urn)
        text = captured.inputs[record.input_path]
        assert record.size == (len(text.encode()) if record.unit == "bytes" else len(text))


def test_summary_lists_each_policy_with_size_and_limit(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, _ = synthesized
    rows = {
        row["policy"]: row
        for row in table_rows(result.summary, "Policies against their AWS limits")
    }
    files = sorted(f"policies/{f.name}" for f in (result.out / "policies").glob("*.json"))
    assert sorted(rows) == files
    for name, row in rows.items():
        # The program sends policies.to_json's compact text; that is what AWS measures.
        sent = policies.to_json(json.loads((result.out / name).read_text()))
        size = int(row["size"].split()[0].replace(",", ""))
        limit = int(row["AWS limit"].replace(",", ""))
        assert size == len(sent)
        assert size < limit
        assert row["used"] == f"{size / limit:.1%}"


# --- the summary ------------------------------------------------------------------------------


def test_summary_counts_resources_per_component(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    resources = result.json("resources.json")["resources"]
    by_urn = {r["urn"]: r for r in resources}

    def top(entry: dict[str, Any]) -> str:
        """The building block: the ancestor right under PrivateDataLake."""
        while by_urn[entry["parent"]]["parent"] in by_urn:
            entry = by_urn[entry["parent"]]
        return str(entry["name"])

    expected = Counter(top(r) for r in resources if custom_aws(r))
    rows = table_rows(result.summary, "Resources per component")
    counts = {row["component"]: int(row["AWS resources"].replace(",", "")) for row in rows}
    assert counts.pop("**total**") == sum(1 for r in resources if custom_aws(r))
    assert counts == dict(expected)
    blocks = {"datalake", "data", "bedrock", "access-points", "models", "alarms"}
    if "knowledgeBase" in load_stack_values(run.stack)[f"{PROJECT}:bedrock"]:
        blocks.add("knowledge-base")
    assert set(counts) == blocks


def test_summary_describes_each_access_point(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    values = load_stack_values(run.stack)
    data_account = values[f"{PROJECT}:accountId"]
    function_ap = values[f"{PROJECT}:bedrock"]["accessPoint"]
    rows = {row["access point"]: row for row in table_rows(result.summary, "Access points")}
    configured = values[f"{PROJECT}:accessPoints"]
    assert sorted(rows) == sorted(ap["name"] for ap in configured)
    for ap in configured:
        row = rows[ap["name"]]
        assert row["prefix"] == (ap.get("prefix") or "(whole bucket)")
        assert row["access"] == ap.get("access", "read")
        # The function's role is added to the principals of the access point it reads through.
        assert int(row["principals"]) == len(ap["principals"]) + (ap["name"] == function_ap)
        assert row["account"] == ap.get("accountId", data_account)
        if "vpcId" in ap:
            assert row["network origin"] == f"VPC {ap['vpcId']} (outside this stack)"
        elif ap.get("viaServices"):
            assert row["network origin"] == "Internet"
        else:
            # The stack's VPC by name, or an existing one by its id.
            stack_vpc = values[f"{PROJECT}:network"].get("vpcId", "datalake-vpc")
            assert row["network origin"] == f"VPC {stack_vpc}"


def test_access_point_origin_and_mode_are_read_from_what_is_registered(
    dev_run: StackRun, run_with: Callable[[dict[str, Any]], StackRun], dev_values: dict[str, Any]
) -> None:
    dev_values[f"{PROJECT}:bucket"]["restrictToVpcs"] = False
    dev_values[f"{PROJECT}:accessPoints"].append(
        {
            "name": "public-reports",
            "access": "readwrite",
            "principals": ["arn:aws:iam::111111111111:role/reports"],
            "network": "internet",
        }
    )
    record = next(
        ap for ap in collect(run_with(dev_values)).access_points if ap.name == "public-reports"
    )
    assert (record.prefix, record.access, record.origin, record.vpc_id) == (
        "",
        "readwrite",
        "Internet",
        None,
    )


def test_cost_estimate_prices_endpoints_per_az_hour(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    network = load_stack_values(run.stack)[f"{PROJECT}:network"]
    # In an existing VPC, one subnet per zone.
    zones = network.get("availabilityZones") or len(network["subnetIds"])
    tracing = load_stack_values(run.stack)[f"{PROJECT}:function"].get("tracing", False)
    # Tracing brings the xray endpoint; a knowledge base, bedrock-agent-runtime.
    knowledge_base = "knowledgeBase" in load_stack_values(run.stack)[f"{PROJECT}:bedrock"]
    services = len(network["interfaceEndpoints"]) + tracing + knowledge_base
    model = collect(run)
    assert len(model.network.availability_zones) == zones
    assert model.network.gateway_endpoints == ("dynamodb", "s3")

    cost = estimate(model.network, Decimal(100))
    assert cost.endpoint_az_count == services * zones
    assert cost.this_stack.hours == Decimal("0.01") * HOURS_PER_MONTH * services * zones
    assert cost.this_stack.data == Decimal("1.00")
    assert cost.nat_per_az.hours == Decimal("0.045") * HOURS_PER_MONTH * zones
    assert cost.nat_per_az.data == Decimal("4.50")

    rows = table_rows(result.summary, "Network path: monthly cost estimate")
    assert rows[0]["per month"] == f"${cost.this_stack.total:,.2f}"
    assert rows[1]["per month"] == f"${cost.nat_per_az.total:,.2f}"
    assert f"USD for {PRICES_REGION}" in result.summary
    assert PRICES_AS_OF in result.summary


def test_cost_estimate_follows_the_traffic_and_names_another_region(dev_run: StackRun) -> None:
    model = collect(dev_run)
    none = estimate(model.network, Decimal(0))
    assert none.this_stack.data == none.nat_per_az.data == 0
    assert none.this_stack.total == Decimal("14.60")  # 1 endpoint x 2 AZs x 730 h x $0.01
    elsewhere = dataclasses.replace(model, region="eu-west-1")
    text = summary_markdown(elsewhere, none, picture_note="", command="synth")
    assert "This stack is in eu-west-1" in text


# --- the CLI ----------------------------------------------------------------------------------


def test_two_synths_are_byte_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = run_cli(capsys, tmp_path / "first")
    # The second run reports progress every 10 registrations; nothing else may change.
    second = run_cli(capsys, tmp_path / "second", "--progress-every", "10")
    assert first.exit_code == second.exit_code == 0
    names = sorted(p.relative_to(first.out) for p in first.out.rglob("*.json"))
    assert names == sorted(p.relative_to(second.out) for p in second.out.rglob("*.json"))
    assert len(names) > 10
    for name in [*names, Path("architecture.dot"), Path("summary.md")]:
        assert (first.out / name).read_bytes() == (second.out / name).read_bytes(), name
    registrations = len(first.json("resources.json")["resources"])
    progress = re.findall(r"synth: ([\d,]+) resources registered", second.stderr)
    assert progress == [f"{n:,}" for n in range(10, registrations + 1, 10)]
    assert "resources registered" not in first.stderr  # under 1,000: quiet


def test_synth_replaces_its_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / "policies").mkdir(parents=True)
    (out / "resources.json").write_text("{}")
    (out / "policies" / "stale.json").write_text("{}")
    assert run_cli(capsys, out).exit_code == 0
    assert not (out / "policies" / "stale.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_synth_refuses_to_overwrite_another_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = run_cli(capsys, tmp_path)
    assert result.exit_code == synth.EXIT_CONFIG_ERROR
    assert "not a synth output" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_config_error_prints_the_problem_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    values = load_stack_values("dev")
    values[f"{PROJECT}:network"]["cidrBlok"] = values[f"{PROJECT}:network"].pop("cidrBlock")
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.broken.yaml").write_text(json.dumps({"config": values}))
    monkeypatch.setattr(offline, "PROJECT_DIR", stacks)  # where Pulumi.<stack>.yaml is read

    out = tmp_path / "out"
    result = run_cli(capsys, out, stack="broken")
    assert result.exit_code == 2
    assert result.stderr.startswith("invalid stack configuration:")
    assert "network.cidrBlok: unknown key; did you mean 'cidrBlock'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["stacks"]


def test_missing_picture_tool_is_named_and_the_rest_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    dev_run: StackRun,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` anywhere
    result = run_cli(capsys, tmp_path / "out", "--require-picture")
    assert result.exit_code == synth.EXIT_NO_PICTURE
    assert "apt-get install graphviz" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (result.out / "architecture.svg").exists()
    assert (result.out / "architecture.dot").is_file()
    assert (result.out / "resources.json").is_file()
    assert "No picture." in result.summary
    # Without --require-picture the same run succeeds: the picture is optional.
    picture = render(architecture_graph(collect(dev_run)))
    assert picture.images == {}
    assert picture.problem is not None
    assert "apt-get install graphviz" in picture.problem


def test_module_runs_as_a_program(tmp_path: Path) -> None:
    """`python -m synth`, the README command, in a process of its own."""
    out = tmp_path / "dev"
    done = subprocess.run(
        [sys.executable, "-m", "synth", "--stack", "dev", "--out", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout, "Access points")
    assert {row["access point"] for row in rows} == {"analytics", "ingest"}
    assert (out / "summary.md").read_text().startswith("# Offline synth of private-datalake / dev")

    missing = subprocess.run(
        [sys.executable, "-m", "synth", "--stack", "nosuch", "--out", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert missing.returncode == 2
    assert "no stack file Pulumi.nosuch.yaml" in missing.stderr
    assert "dev" in missing.stderr  # lists the stacks there are


# --- the picture ------------------------------------------------------------------------------


def svg_nodes(path: Path) -> set[str]:
    namespace = {"svg": "http://www.w3.org/2000/svg"}
    root = ET.parse(path).getroot()
    return {
        str(group.findtext("svg:title", namespaces=namespace))
        for group in root.iter("{http://www.w3.org/2000/svg}g")
        if group.get("class") == "node"
    }


@needs_dot
def test_picture_shows_each_part_of_the_stack(synthesized: tuple[SynthResult, StackRun]) -> None:
    result, _ = synthesized
    drawn = svg_nodes(result.out / "architecture.svg")
    resources = result.json("resources.json")["resources"]

    def names(type_token: str) -> set[str]:
        return {r["name"] for r in resources if r["type"] == type_token}

    assert {f"subnet/{n}" for n in names("aws:ec2/subnet:Subnet")} <= drawn
    assert {f"endpoint/{n}" for n in names("aws:ec2/vpcEndpoint:VpcEndpoint")} <= drawn
    assert {f"function/{n}" for n in names("aws:lambda/function:Function")} <= drawn
    buckets = {r["inputs"]["bucket"] for r in resources if r["type"] == "aws:s3/bucket:Bucket"}
    assert {f"bucket/{b}" for b in buckets} <= drawn
    access_points = {
        f"ap/{r['account']}/{r['inputs']['name']}"
        for r in resources
        if r["type"] == "aws:s3/accessPoint:AccessPoint"
    }
    assert access_points <= drawn
    assert "service/bedrock-runtime" in drawn
    clusters = (
        ET.parse(result.out / "architecture.svg")
        .getroot()
        .iter("{http://www.w3.org/2000/svg}title")
    )
    accounts = {t.text for t in clusters if (t.text or "").startswith("cluster_account_")}
    assert accounts == {f"cluster_account_{r['account']}" for r in resources if custom_aws(r)}


def test_picture_draws_a_bounded_number_of_access_points(dev_run: StackRun) -> None:
    model = collect(dev_run)
    template = model.access_points[0]
    many = tuple(
        dataclasses.replace(template, name=f"app-{i:04d}", arn=f"{template.arn}-{i}")
        for i in range(MAX_ACCESS_POINTS_DRAWN * 3)
    )
    graph = architecture_graph(dataclasses.replace(model, access_points=many))
    nodes = re.findall(r'^\s*"(ap/[^"]+)" \[', graph.source, flags=re.MULTILINE)
    assert len(nodes) == MAX_ACCESS_POINTS_DRAWN + 1
    assert f"+ {len(many) - MAX_ACCESS_POINTS_DRAWN:,} more access points" in graph.source


def test_function_access_point_is_always_drawn(dev_run: StackRun) -> None:
    model = collect(dev_run)
    reader = next(ap for ap in model.access_points if ap.name == "analytics")
    filler: tuple[AccessPointRecord, ...] = tuple(
        dataclasses.replace(reader, name=f"a-{i:04d}", arn=f"{reader.arn}-{i}")
        for i in range(MAX_ACCESS_POINTS_DRAWN * 2)
    )
    graph = architecture_graph(dataclasses.replace(model, access_points=(*filler, reader)))
    assert f'"ap/{reader.account}/analytics" [' in graph.source


# --- Bedrock governance (issue 14) ------------------------------------------------------------


def test_summary_shows_guardrail_logging_and_alarms(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    section = result.summary.split("## Bedrock governance\n", maxsplit=1)[1].split("\n## ")[0]
    guardrail = run.named("aws:bedrock/guardrail:Guardrail", "models-guardrail")
    assert f"Guardrail: `{guardrail.inputs['name']}`, created and published by the stack" in (
        section
    )
    assert "6 content filters" in section
    if run.stack == "prod":
        [profile] = run.of_type("aws:bedrock/inferenceProfile:InferenceProfile")
        assert f"Application inference profile `{profile.inputs['name']}`" in section
        assert "cost-center=cc-4711" in section
        assert "CloudWatch Logs /aws/bedrock/modelinvocations/private-datalake-prod, kept 731" in (
            section
        )
        assert "S3 s3://private-datalake-prod-111111111111-invocations/bedrock-invocations/" in (
            section
        )
    else:
        assert "Model invocation logging: not managed by this stack." in section
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    rows = table_rows(result.summary, "Bedrock governance")
    assert sorted(row["alarm"] for row in rows) == sorted(a.inputs["name"] for a in alarms)
    assert f"{len(alarms)} alarms to SNS topic private-datalake-{run.stack}-alarms (KMS-" in (
        section
    )


def test_picture_shows_the_guardrail_the_log_destinations_and_the_alarms(
    synthesized: tuple[SynthResult, StackRun],
) -> None:
    result, run = synthesized
    source = (result.out / "architecture.dot").read_text()
    assert '"governance/guardrail" [' in source
    assert '"service/bedrock-runtime" -> "governance/guardrail"' in source
    assert '"governance/alarms" -> "function/bedrock-function"' in source
    logs_to = re.findall(
        r'"service/bedrock-runtime" -> "([^"]+)" \[label="invocation logs"', source
    )
    expected = (
        {"governance/invocation-logs-0", "bucket/private-datalake-prod-111111111111-invocations"}
        if run.stack == "prod"
        else set()
    )
    assert set(logs_to) == expected
