"""The rules across keys: what no single key's type can say."""

from __future__ import annotations

from components.access_points import partner_problems
from components.network import existing_endpoint_problems, interface_endpoint_problems
from components.settings.guardrails import guardrail_problems
from components.settings.knowledge import knowledge_base_problems
from components.settings.models import (
    InvocationLoggingConfig,
    alarm_destination_problems,
    invocation_log_destination_problems,
    model_problems,
)
from components.settings.stack import AccessPointConfig, StackConfig
from components.settings.values import is_bucket_name


def cross_field_problems(config: StackConfig) -> list[str]:
    problems = []
    first_index: dict[str, int] = {}
    for index, ap in enumerate(config.access_points):
        where = f"accessPoints[{index}]"
        if ap.name in first_index:
            problems.append(
                f"{where}.name: '{ap.name}' is already used by accessPoints[{first_index[ap.name]}]"
                "; access point names are unique per account and Region"
            )
        first_index.setdefault(ap.name, index)
        problems += _access_point_problems(config, ap, where)
    problems += partner_problems(config.access_point_specs)

    bedrock_ap = config.access_point_named(config.bedrock.access_point)
    if bedrock_ap is None:
        problems.append(
            f"bedrock.accessPoint: '{config.bedrock.access_point}' is not one of accessPoints"
        )
    elif bedrock_ap.is_cross_account:
        problems.append(
            f"bedrock.accessPoint: '{bedrock_ap.name}' belongs to account {bedrock_ap.account_id}; "
            "the function reads through an access point of the data account"
        )
    elif bedrock_ap.access == "write":
        problems.append(
            f"bedrock.accessPoint: '{bedrock_ap.name}' is write-only; the function needs read"
        )
    problems += _network_problems(config)
    default_model = config.bedrock.default_model_id
    if default_model is not None and default_model not in config.bedrock.model_ids:
        problems.append(f"bedrock.defaultModelId: '{default_model}' is not one of bedrock.modelIds")
    if "bedrock-runtime" not in config.network.interface_endpoints:
        problems.append(
            "network.interfaceEndpoints: must include 'bedrock-runtime'; the function has no "
            "other route to Bedrock from the private subnets"
        )
    problems += interface_endpoint_problems(config.network.interface_endpoints, "network.")
    problems += _bedrock_problems(config)
    if config.bucket.name is None and not is_bucket_name(config.log_bucket_name):
        problems.append(
            f"bucket.name: the default name '{config.data_bucket_name}' (project-stack-account) "
            "is not a valid S3 bucket name for this stack; set bucket.name explicitly"
        )
    return problems


def _bedrock_problems(config: StackConfig) -> list[str]:
    return (
        model_problems(config.bedrock)
        + guardrail_problems(config.bedrock.guardrail, "bedrock.guardrail")
        + _knowledge_base_problems(config)
        + _invocation_logging_problems(config)
        + _alarm_problems(config)
    )


def _knowledge_base_problems(config: StackConfig) -> list[str]:
    knowledge_base = config.bedrock.knowledge_base
    if knowledge_base is None:
        if "bedrock-agent-runtime" in config.network.interface_endpoints:
            return [
                "network.interfaceEndpoints: 'bedrock-agent-runtime' serves the stack's knowledge "
                "base only; it comes with bedrock.knowledgeBase"
            ]
        return []
    where = "bedrock.knowledgeBase"
    problems = knowledge_base_problems(knowledge_base, where)
    function_ap = config.access_point_named(config.bedrock.access_point)
    if function_ap is not None:
        # Whoever retrieves reads what the index holds: the knowledge base must not widen what
        # the function reads through its access point.
        problems += [
            f"{where}.prefixes[{index}]: '{prefix}' is outside '{function_ap.prefix}', the prefix "
            f"of bedrock.accessPoint ({function_ap.name}); the knowledge base would let the "
            "function read what its access point does not"
            for index, prefix in enumerate(knowledge_base.prefixes)
            if not prefix.startswith(function_ap.prefix)
        ]
    return problems


def _invocation_logging_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    logging = config.bedrock.invocation_logging
    if logging is not None:
        where = "bedrock.invocationLogging"
        if config.owned_invocation_logging is not None:
            problems += invocation_log_destination_problems(logging, where)
            if logging.s3 and not config.administrator_patterns():
                problems.append(
                    f"{where}.s3: the log bucket is readable only by the administrators "
                    "(bucket.adminRoleArns, bucket.adminPermissionSets), and there are none "
                    "besides the deployer"
                )
        else:
            problems += [
                f"{where}.{key}: only the owner stack '{logging.owner_stack}' configures the "
                "account's invocation logging (one setting per account and Region)"
                for key in sorted(
                    InvocationLoggingConfig.model_fields[name].alias or name
                    for name in logging.model_fields_set - {"owner_stack"}
                )
            ]
    return problems


def _alarm_problems(config: StackConfig) -> list[str]:
    if config.alarms is None:
        return []
    return alarm_destination_problems(config.alarms, config.region, "alarms")


def _network_problems(config: StackConfig) -> list[str]:
    network = config.network
    given = network.model_fields_set
    existing_keys = {
        "vpc_id": "vpcId",
        "subnet_ids": "subnetIds",
        "route_table_ids": "routeTableIds",
    }
    missing = [key for field, key in existing_keys.items() if field not in given]
    if network.vpc_id is None:
        problems = []
        if len(missing) < len(existing_keys):
            problems.append(
                "network: vpcId, subnetIds and routeTableIds go together (an existing VPC); "
                f"missing {', '.join(f'network.{key}' for key in missing)}"
            )
        if network.cidr_block is None and not problems:
            problems.append(
                "network.cidrBlock: is required, unless network.vpcId, network.subnetIds and "
                "network.routeTableIds name an existing VPC"
            )
        if network.existing_interface_endpoints:
            problems.append(
                "network.existingInterfaceEndpoints: only applies to an existing VPC "
                "(network.vpcId)"
            )
        return problems
    problems = [
        f"network.{key}: is required with network.vpcId (the stack adds to that VPC's subnets "
        "and route tables and creates none)"
        for key in missing
    ]
    not_with_existing = {
        "cidr_block": ("cidrBlock", "comes from the VPC network.vpcId names"),
        "availability_zones": (
            "availabilityZones",
            "are those of network.subnetIds (one subnet per Availability Zone)",
        ),
        "flow_log_retention_days": (
            "flowLogRetentionDays",
            "only applies to flow logs of a VPC the stack creates",
        ),
    }
    problems += [
        f"network.{key}: {reason}; omit it with an existing VPC"
        for field, (key, reason) in not_with_existing.items()
        if field in given
    ]
    if "flow_logs" in given and network.flow_logs:
        problems.append(
            "network.flowLogs: a VPC the stack does not own is its owner's to record (landing "
            "zones collect flow logs centrally), and a second flow log would copy every "
            "workload's traffic records into this stack's log group; omit it or set false"
        )
    problems += existing_endpoint_problems(
        network.existing_interface_endpoints, network.interface_endpoints, "network."
    )
    return problems


def _access_point_problems(config: StackConfig, ap: AccessPointConfig, where: str) -> list[str]:
    problems = []
    if ap.account_id is not None and ap.account_id == config.account_id:
        problems.append(
            f"{where}.accountId: is the data account; omit accountId and roleArn for an access "
            "point of the data account"
        )
    problems += _access_point_network_problems(config, ap, where)
    if config.organization_id is None and not ap.is_cross_account:
        problems += [
            f"{where}.principals[{index}]: account {account} is outside the perimeter (the data "
            f"account {config.account_id}), so the bucket would refuse it; set organizationId "
            "if both accounts are in one organization, or give that account an access point of "
            "its own (accountId, roleArn)"
            for index, principal in enumerate(ap.principals)
            if (account := principal.split(":")[4]) != config.account_id
        ]
    if not ap.principals and ap.name != config.bedrock.access_point:
        problems.append(f"{where}.principals: must list at least one principal")
    return problems


def _access_point_network_problems(
    config: StackConfig, ap: AccessPointConfig, where: str
) -> list[str]:
    """Where an access point can be used from, against what the bucket admits."""
    problems = []
    if ap.via_services:
        if "network" in ap.model_fields_set and ap.network == "vpc":
            problems.append(
                f"{where}.network: a viaServices access point is Internet-origin (AWS services "
                "acting on a caller's behalf carry no VPC); omit network or set it to internet"
            )
        if ap.is_cross_account:
            problems.append(
                f"{where}.viaServices: applies to access points of the data account only"
            )
    if ap.origin == "internet":
        if ap.vpc_id is not None:
            problems.append(f"{where}.vpcId: only applies to network: vpc")
        if config.bucket.restrict_to_vpcs and not ap.via_services:
            problems.append(
                f"{where}.network: 'internet' could never be used while bucket.restrictToVpcs "
                "is true (the bucket refuses requests from outside the allowed VPCs), unless "
                "the access point serves only AWS services (viaServices)"
            )
    elif (
        not ap.is_cross_account
        and ap.vpc_id not in (None, config.network.vpc_id)
        and config.bucket.restrict_to_vpcs
        and not config.bucket.allowed_vpc_endpoint_ids
    ):
        problems.append(
            f"{where}.vpcId: an access point bound to another VPC is used through that VPC's "
            "S3 endpoint, which the bucket refuses unless bucket.allowedVpcEndpointIds names it"
        )
    elif ap.is_cross_account and ap.vpc_id is None:
        problems.append(
            f"{where}.vpcId: is required for a cross-account access point with network: vpc "
            "(the VPC in account " + f"{ap.account_id} that reads through it)"
        )
    return problems
