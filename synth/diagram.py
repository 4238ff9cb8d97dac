"""The architecture picture of a synthesized stack, drawn with Graphviz.

The graph is built from the synth's records only (:func:`architecture_graph`, pure), then laid
out and rendered to SVG and PNG by Graphviz's ``dot`` program (:func:`render`). The plain
``graphviz`` Python package writes the DOT source and runs ``dot``; ``diagrams`` was not used
because its SVG links its icons by absolute file path, so the picture breaks once committed.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import graphviz  # type: ignore[import-untyped]  # the package ships no type hints

from synth.collect import (
    AccessPointRecord,
    ResourceRecord,
    SynthModel,
    endpoint_service,
    is_provider,
    stack_vpc_names,
)

FORMATS = ("svg", "png")
# More access points than this are drawn as one "+ N more" node: the table in summary.md lists
# them all, and a picture with thousands of boxes shows nothing.
MAX_ACCESS_POINTS_DRAWN = 12
INSTALL_HINT = (
    "install Graphviz from your system's packages (Debian/Ubuntu: `sudo apt-get install "
    "graphviz`; Fedora: `sudo dnf install graphviz`; macOS: `brew install graphviz`), or run "
    "`make install`"
)

SSE_TYPE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING_TYPE = "aws:s3/bucketVersioning:BucketVersioning"

FONT = "Helvetica"
COLORS = {
    "account": "#F5F5F5",
    "vpc": "#E8F5E9",
    "az": "#FFFFFF",
    "subnet": "#C8E6C9",
    "endpoint": "#FFE0B2",
    "gateway": "#FFF3E0",
    "function": "#FFCCBC",
    "service": "#E1F5FE",
    "bucket": "#DCEDC8",
    "key": "#FFF9C4",
    "read": "#BBDEFB",
    "write": "#F8BBD0",
    "readwrite": "#D1C4E9",
    "other": "#ECEFF1",
    "guardrail": "#FFCDD2",
    "logs": "#F0F4C3",
    "alarms": "#FFECB3",
}
SERVICE_NAMES = {
    "bedrock-runtime": "Amazon Bedrock (runtime)",
    "dynamodb": "Amazon DynamoDB",
    "logs": "Amazon CloudWatch Logs",
    "monitoring": "Amazon CloudWatch",
    "sts": "AWS STS",
    "kms": "AWS KMS",
    "secretsmanager": "AWS Secrets Manager",
    "ssm": "AWS Systems Manager",
}


@dataclass(frozen=True)
class Picture:
    """The DOT source and, when ``dot`` could run, the rendered images by format."""

    source: str
    images: Mapping[str, bytes] = field(default_factory=dict)
    problem: str | None = None
    """Why the images are missing, in words for the user; None when they were drawn."""


def render(graph: graphviz.Digraph, formats: Sequence[str] = FORMATS) -> Picture:
    source = str(graph.source)
    if shutil.which("dot") is None:
        return Picture(
            source,
            problem="the architecture picture was not drawn: Graphviz's `dot` program is not "
            f"installed; {INSTALL_HINT}",
        )
    try:
        images = {fmt: bytes(graph.pipe(format=fmt, engine="dot")) for fmt in formats}
    except graphviz.ExecutableNotFound:
        return Picture(source, problem=f"Graphviz's `dot` could not be run; {INSTALL_HINT}")
    except graphviz.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip()
        return Picture(source, problem=f"Graphviz's `dot` failed: {detail or error}")
    return Picture(source, images)


def _lines(*lines: str) -> str:
    # DOT's "\n" escape: a centred line break inside a label.
    return "\\n".join(line for line in lines if line)


def _of_type(model: SynthModel, type_token: str) -> list[ResourceRecord]:
    return [r for r in model.resources if r.type == type_token]


def _count(items: int, word: str) -> str:
    return f"{items:,} {word}{'' if items == 1 else 's'}"


@dataclass
class _Canvas:
    """The graph under construction and the node ids the edges refer to."""

    model: SynthModel
    graph: graphviz.Digraph
    vpc_ids: dict[str, str] = field(default_factory=dict)
    """VPC id -> name of this stack's VPC resource."""
    gateway_nodes: dict[tuple[str, str], str] = field(default_factory=dict)
    """(VPC name, service) -> node id of a gateway endpoint."""
    bucket_nodes: dict[str, str] = field(default_factory=dict)
    function_access_points: dict[str, str] = field(default_factory=dict)
    """Access point ARN -> name of the function that reads through it."""


def architecture_graph(model: SynthModel) -> graphviz.Digraph:
    """VPC with its subnets per AZ and endpoints, the function and the services it reaches,
    the bucket with its key and logs, and each access point in its account with its origin."""
    graph = graphviz.Digraph(
        "architecture",
        graph_attr={
            "rankdir": "LR",
            "fontname": FONT,
            "fontsize": "13",
            "label": f"{model.project} / {model.stack}: offline synth, {model.region}",
            "labelloc": "t",
            "newrank": "true",
            "nodesep": "0.25",
            "ranksep": "0.7",
            "pad": "0.3",
        },
        node_attr={
            "fontname": FONT,
            "fontsize": "10",
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": COLORS["other"],
            "color": "#607D8B",
        },
        edge_attr={"fontname": FONT, "fontsize": "9", "color": "#546E7A", "arrowsize": "0.7"},
    )
    canvas = _Canvas(model, graph, vpc_ids=dict(stack_vpc_names(model.resources)))
    canvas.function_access_points = _function_access_points(model)
    accounts = _accounts(model)
    for index, account in enumerate(accounts):
        with graph.subgraph(name=f"cluster_account_{account}") as cluster:
            cluster.attr(
                label=f"AWS account {account}" + (" (data account)" if index == 0 else ""),
                style="filled",
                fillcolor=COLORS["account"],
                color="#90A4AE",
                labeljust="l",
            )
            if index == 0:
                _draw_vpcs(canvas, cluster)
                _draw_buckets(canvas, cluster)
                _draw_governance(canvas, cluster)
            _draw_access_points(canvas, cluster, account)
    _draw_services(canvas)
    return graph


def _accounts(model: SynthModel) -> list[str]:
    """Accounts that receive AWS resources, the one holding the VPC (the data account) first."""
    counts = Counter(
        r.account for r in model.resources if r.account and r.custom and not is_provider(r.type)
    )
    vpc_accounts = [r.account for r in _of_type(model, "aws:ec2/vpc:Vpc") if r.account]
    first = (
        vpc_accounts[0]
        if vpc_accounts
        else max(sorted(counts), key=counts.__getitem__, default=None)
    )
    return ([first] if first else []) + sorted(set(counts) - {first})


def _function_access_points(model: SynthModel) -> dict[str, str]:
    arns = {ap.arn for ap in model.access_points}
    used: dict[str, str] = {}
    for function in _of_type(model, "aws:lambda/function:Function"):
        variables = ((function.inputs.get("environment") or {}).get("variables")) or {}
        for value in variables.values():
            if value in arns:
                used.setdefault(str(value), function.name)
    return used


def _draw_vpcs(canvas: _Canvas, parent: graphviz.Digraph) -> None:
    model = canvas.model
    names_to_ids: dict[str, list[str]] = {}
    for vpc_id, name in canvas.vpc_ids.items():
        names_to_ids.setdefault(name, []).append(vpc_id)
    no_internet = not any(
        r.type in ("aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway")
        for r in model.resources
    )
    created = {vpc.name: vpc for vpc in _of_type(model, "aws:ec2/vpc:Vpc")}
    for name, vpc_ids in names_to_ids.items():
        ids = set(vpc_ids)
        vpc = created.get(name)
        with parent.subgraph(name=f"cluster_vpc_{name}") as cluster:
            flow_logs = any(
                r.type == "aws:ec2/flowLog:FlowLog" and r.inputs.get("vpcId") in ids
                for r in model.resources
            )
            cluster.attr(
                label=_lines(
                    f"VPC {name}  {vpc.inputs.get('cidrBlock', '')}"
                    if vpc is not None
                    else f"existing VPC {name} (not the stack's)",
                    # Only a VPC the stack creates is known to have no way out.
                    "private subnets only: no internet or NAT gateway"
                    if no_internet and vpc is not None
                    else "",
                    "flow logs to CloudWatch Logs" if flow_logs else "",
                ),
                style="filled",
                fillcolor=COLORS["vpc"],
                color="#66BB6A",
            )
            subnets = [
                r for r in _of_type(model, "aws:ec2/subnet:Subnet") if r.inputs.get("vpcId") in ids
            ]
            endpoints = [
                r
                for r in _of_type(model, "aws:ec2/vpcEndpoint:VpcEndpoint")
                if r.inputs.get("vpcId") in ids
            ]
            functions = [
                r
                for r in _of_type(model, "aws:lambda/function:Function")
                if _in_vpc(r, endpoints, only_vpc=len(canvas.vpc_ids) == 1)
            ]
            _draw_subnets(cluster, subnets, endpoints, functions)
            _draw_endpoints(canvas, cluster, name, endpoints, len(subnets))
            _draw_functions(canvas, cluster, name, functions, endpoints)


def _in_vpc(function: ResourceRecord, endpoints: Sequence[ResourceRecord], only_vpc: bool) -> bool:
    """Whether a function runs in the VPC these endpoints are in. Captured resources have no
    ids, so the function's subnet ids are matched against the endpoints' subnet ids."""
    subnet_ids = set((function.inputs.get("vpcConfig") or {}).get("subnetIds") or [])
    if not subnet_ids:
        return False
    endpoint_subnets = {s for e in endpoints for s in e.inputs.get("subnetIds") or []}
    return bool(subnet_ids & endpoint_subnets) or only_vpc


def _draw_subnets(
    cluster: graphviz.Digraph,
    subnets: Sequence[ResourceRecord],
    endpoints: Sequence[ResourceRecord],
    functions: Sequence[ResourceRecord],
) -> None:
    # A resource with as many subnet ids as the VPC has subnets has an ENI in each of them.
    everywhere = [
        endpoint_service(str(e.inputs.get("serviceName", "")))
        for e in endpoints
        if e.inputs.get("vpcEndpointType") == "Interface"
        and len(e.inputs.get("subnetIds") or []) == len(subnets)
    ] + [
        f.name
        for f in functions
        if len((f.inputs.get("vpcConfig") or {}).get("subnetIds") or []) == len(subnets)
    ]
    for subnet in sorted(subnets, key=lambda s: str(s.inputs.get("availabilityZone", ""))):
        zone = str(subnet.inputs.get("availabilityZone", "?"))
        with cluster.subgraph(name=f"cluster_az_{zone}_{subnet.name}") as az:
            az.attr(label=f"AZ {zone}", style="dashed,filled", fillcolor=COLORS["az"])
            az.node(
                f"subnet/{subnet.name}",
                _lines(
                    f"private subnet {subnet.name}",
                    str(subnet.inputs.get("cidrBlock", "")),
                    f"ENIs: {', '.join(everywhere)}" if everywhere else "",
                ),
                fillcolor=COLORS["subnet"],
            )


def _draw_endpoints(
    canvas: _Canvas,
    cluster: graphviz.Digraph,
    vpc_name: str,
    endpoints: Sequence[ResourceRecord],
    subnet_count: int,
) -> None:
    for endpoint in endpoints:
        service = endpoint_service(str(endpoint.inputs.get("serviceName", "")))
        node = f"endpoint/{endpoint.name}"
        if endpoint.inputs.get("vpcEndpointType") == "Interface":
            zones = len(endpoint.inputs.get("subnetIds") or [])
            cluster.node(
                node,
                _lines(
                    f"{service}",
                    "interface endpoint (PrivateLink)",
                    f"ENI in {_count(zones, 'AZ')}"
                    + (" (all)" if zones == subnet_count else "")
                    + (", private DNS" if endpoint.inputs.get("privateDnsEnabled") else ""),
                ),
                fillcolor=COLORS["endpoint"],
            )
        else:
            canvas.gateway_nodes[(vpc_name, service)] = node
            tables = len(endpoint.inputs.get("routeTableIds") or [])
            cluster.node(
                node,
                _lines(
                    f"{service}",
                    "gateway endpoint (free)",
                    f"on {_count(tables, 'route table')}",
                ),
                fillcolor=COLORS["gateway"],
                shape="cds",
                style="filled",
            )
        if service != "s3":  # S3 is drawn as the bucket and its access points
            canvas.graph.edge(node, f"service/{service}", style="dashed")


def _draw_functions(
    canvas: _Canvas,
    cluster: graphviz.Digraph,
    vpc_name: str,
    functions: Sequence[ResourceRecord],
    endpoints: Sequence[ResourceRecord],
) -> None:
    for function in functions:
        inputs = function.inputs
        node = f"function/{function.name}"
        architectures = inputs.get("architectures") or []
        cluster.node(
            node,
            _lines(
                f"Lambda {function.name}",
                " ".join(str(p) for p in [inputs.get("runtime", ""), *architectures] if p),
                f"{inputs.get('memorySize', '?')} MB, {inputs.get('timeout', '?')} s timeout",
            ),
            fillcolor=COLORS["function"],
        )
        for endpoint in endpoints:
            if endpoint.inputs.get("vpcEndpointType") == "Interface":
                canvas.graph.edge(node, f"endpoint/{endpoint.name}", label="HTTPS")
        s3_gateway = canvas.gateway_nodes.get((vpc_name, "s3"))
        if s3_gateway is not None and any(
            name == function.name for name in canvas.function_access_points.values()
        ):
            canvas.graph.edge(node, s3_gateway, label="HTTPS")


def _draw_buckets(canvas: _Canvas, cluster: graphviz.Digraph) -> None:
    model = canvas.model
    by_bucket = _bucket_settings(model.resources)
    keys = _of_type(model, "aws:kms/key:Key")
    for bucket in _of_type(model, "aws:s3/bucket:Bucket"):
        name = str(bucket.inputs.get("bucket", bucket.name))
        node = f"bucket/{name}"
        canvas.bucket_nodes[name] = node
        settings = by_bucket.get(name, {})
        cluster.node(
            node,
            _lines(
                f"S3 bucket {name}",
                ", ".join(
                    part
                    for part in (
                        settings.get("encryption", ""),
                        "versioned" if settings.get("versioned") else "",
                        "protected" if bucket.protect else "",
                    )
                    if part
                ),
            ),
            shape="cylinder",
            style="filled",
            fillcolor=COLORS["bucket"],
        )
        key_arn = settings.get("kms_key")
        if key_arn:
            # The key created beside the bucket (same component), else a key from config.
            own = [k for k in keys if k.parent == bucket.parent]
            # No ':' in node ids: in an edge, DOT reads "node:port".
            key_node = f"key/{own[0].name}" if own else f"key/{key_arn}".replace(":", "_")
            cluster.node(
                key_node,
                _lines(
                    f"KMS key {own[0].name}" if own else "existing KMS key",
                    "rotation on"
                    if own and own[0].inputs.get("enableKeyRotation")
                    else str(key_arn)[-36:],
                ),
                fillcolor=COLORS["key"],
                shape="note",
                style="filled",
            )
            canvas.graph.edge(node, key_node, label="SSE-KMS")
    for logging in _of_type(model, "aws:s3/bucketLogging:BucketLogging"):
        source = canvas.bucket_nodes.get(str(logging.inputs.get("bucket")))
        target = canvas.bucket_nodes.get(str(logging.inputs.get("targetBucket")))
        if source and target:
            canvas.graph.edge(source, target, label="access logs", style="dotted")


def _bucket_settings(resources: Iterable[ResourceRecord]) -> dict[str, dict[str, Any]]:
    settings: dict[str, dict[str, Any]] = {}
    for resource in resources:
        bucket = str(resource.inputs.get("bucket", ""))
        if resource.type == SSE_TYPE:
            rules = resource.inputs.get("rules") or [{}]
            default = rules[0].get("applyServerSideEncryptionByDefault") or {}
            algorithm = str(default.get("sseAlgorithm", ""))
            settings.setdefault(bucket, {})["encryption"] = (
                "SSE-KMS" if algorithm == "aws:kms" else "SSE-S3" if algorithm else ""
            )
            if default.get("kmsMasterKeyId"):
                settings[bucket]["kms_key"] = default["kmsMasterKeyId"]
        elif resource.type == VERSIONING_TYPE:
            status = (resource.inputs.get("versioningConfiguration") or {}).get("status")
            settings.setdefault(bucket, {})["versioned"] = status == "Enabled"
    return settings


def _draw_access_points(canvas: _Canvas, cluster: graphviz.Digraph, account: str) -> None:
    mine = [ap for ap in canvas.model.access_points if ap.account == account]
    # The function's access points first, so they are drawn whatever the cap.
    mine.sort(key=lambda ap: (ap.arn not in canvas.function_access_points, ap.name))
    drawn, hidden = mine[:MAX_ACCESS_POINTS_DRAWN], mine[MAX_ACCESS_POINTS_DRAWN:]
    for ap in drawn:
        node = f"ap/{account}/{ap.name}"
        origin = _origin(canvas, cluster, ap)
        cluster.node(
            node,
            _lines(
                f"access point {ap.name}",
                f"{ap.prefix or '(whole bucket)'}  {ap.access}",
                f"{_count(ap.principals, 'principal')}",
                f"origin: {_origin_text(ap)}",
            ),
            fillcolor=COLORS.get(ap.access, COLORS["other"]),
        )
        reader = canvas.function_access_points.get(ap.arn)
        if reader is not None:
            canvas.graph.edge(
                origin, node, label=f"{reader} reads", color="#D84315", penwidth="1.6"
            )
        else:
            canvas.graph.edge(origin, node)
        bucket = canvas.bucket_nodes.get(ap.bucket)
        if bucket is not None:
            canvas.graph.edge(node, bucket)
    if hidden:
        node = f"ap/{account}/more"
        cluster.node(
            node,
            _lines(f"+ {_count(len(hidden), 'more access point')}", "listed in summary.md"),
            shape="folder",
            style="filled",
        )
        origins = {_origin(canvas, cluster, ap) for ap in hidden}
        for origin in sorted(origins):
            canvas.graph.edge(origin, node)
        buckets = {canvas.bucket_nodes.get(ap.bucket) for ap in hidden} - {None}
        for bucket in sorted(b for b in buckets if b is not None):
            canvas.graph.edge(node, bucket)


def _origin_text(ap: AccessPointRecord) -> str:
    if ap.origin == "Internet":
        return "Internet"
    return f"VPC {ap.stack_vpc}" if ap.stack_vpc else f"VPC {ap.vpc_id} (outside this stack)"


def _origin(canvas: _Canvas, cluster: graphviz.Digraph, ap: AccessPointRecord) -> str:
    """The node requests to the access point come from: this stack's S3 gateway endpoint, a
    VPC outside the stack (drawn in the access point's account), or the internet."""
    if ap.origin == "Internet":
        canvas.graph.node("origin/internet", "Internet", shape="ellipse", style="filled")
        return "origin/internet"
    if ap.stack_vpc is not None and (ap.stack_vpc, "s3") in canvas.gateway_nodes:
        return canvas.gateway_nodes[(ap.stack_vpc, "s3")]
    node = f"origin/{ap.vpc_id}"
    cluster.node(
        node,
        _lines(f"VPC {ap.vpc_id}", "outside this stack"),
        shape="box",
        style="dashed,rounded",
    )
    return node


def _draw_governance(canvas: _Canvas, cluster: graphviz.Digraph) -> None:
    """The guardrail beside the Bedrock service, the invocation-log destinations it writes to,
    and the alarms watching the function."""
    record = canvas.model.governance
    if record.guardrail is not None:
        guardrail = record.guardrail
        canvas.graph.node(
            "governance/guardrail",
            _lines(
                "Bedrock guardrail" + ("" if guardrail.created else " (existing)"),
                guardrail.name,
                *guardrail.policies,
                "KMS: data key" if guardrail.kms_key else "",
            ),
            style="rounded,filled,bold",
            fillcolor=COLORS["guardrail"],
        )
        canvas.graph.edge(
            "service/bedrock-runtime", "governance/guardrail", label="every call", style="bold"
        )
    for index, destination in enumerate(record.invocation_log_destinations):
        node = f"governance/invocation-logs-{index}"
        bucket = destination.removeprefix("S3 s3://").split("/", maxsplit=1)[0]
        if destination.startswith("S3 ") and bucket in canvas.bucket_nodes:
            node = canvas.bucket_nodes[bucket]
        else:
            cluster.node(
                node,
                _lines("model invocation logs", *destination.split(", ")),
                shape="note",
                style="filled",
                fillcolor=COLORS["logs"],
            )
        canvas.graph.edge("service/bedrock-runtime", node, label="invocation logs", style="dotted")
    if record.alarms:
        cluster.node(
            "governance/alarms",
            _lines(_count(len(record.alarms), "CloudWatch alarm"), f"to {record.alarm_topic}"),
            shape="tab",
            style="filled",
            fillcolor=COLORS["alarms"],
        )
        for function in _of_type(canvas.model, "aws:lambda/function:Function"):
            canvas.graph.edge(
                "governance/alarms", f"function/{function.name}", label="watch", style="dashed"
            )


def _draw_services(canvas: _Canvas) -> None:
    model = canvas.model
    services = sorted(
        {
            endpoint_service(str(r.inputs.get("serviceName", "")))
            for r in _of_type(model, "aws:ec2/vpcEndpoint:VpcEndpoint")
        }
        - {"s3"}
    )
    profiled = {p.copies.rsplit("/", maxsplit=1)[-1] for p in model.governance.profiles}
    models = sorted(
        {
            model_id + (" (via tagged application profile)" if model_id in profiled else "")
            for function in _of_type(model, "aws:lambda/function:Function")
            for model_id in str(
                ((function.inputs.get("environment") or {}).get("variables") or {}).get(
                    "ALLOWED_MODEL_IDS", ""
                )
            ).split(",")
            if model_id
        }
    )
    with canvas.graph.subgraph(name="cluster_services") as cluster:
        cluster.attr(
            label=f"AWS services in {model.region}, reached privately",
            style="filled",
            fillcolor="#FAFAFA",
            color="#90A4AE",
        )
        for service in services:
            cluster.node(
                f"service/{service}",
                _lines(
                    SERVICE_NAMES.get(service, f"AWS {service}"),
                    *(models if service == "bedrock-runtime" else []),
                ),
                shape="component",
                style="filled",
                fillcolor=COLORS["service"],
            )
