"""The private data lake as a Pulumi component package: PrivateDataLake for the whole lake,
and its building blocks for teams that want one piece (README, "Use it as a component
package")."""

from components.access_points import (
    AccessPointInfo,
    AccessPoints,
    AccessPointsArgs,
    AccessPointSpec,
    NetworkOrigin,
)
from components.account import DataAccount
from components.bedrock import (
    Architecture,
    BedrockFunction,
    BedrockFunctionArgs,
    BedrockSettings,
    FunctionSettings,
    ModelSettings,
)
from components.datalake import OrganizationPolicies, PrivateDataLake, PrivateDataLakeArgs
from components.errors import ConfigError
from components.network import Network, NetworkArgs, NetworkSettings
from components.policies import AccessMode
from components.storage import BucketSettings, DataBucket, DataBucketArgs

__version__ = "0.2.0"

PACKAGE_NAME = "datalake"
COMPONENTS = [PrivateDataLake, Network, DataBucket, AccessPoints, BedrockFunction]

__all__ = [
    "COMPONENTS",
    "PACKAGE_NAME",
    "AccessMode",
    "AccessPointInfo",
    "AccessPointSpec",
    "AccessPoints",
    "AccessPointsArgs",
    "Architecture",
    "BedrockFunction",
    "BedrockFunctionArgs",
    "BedrockSettings",
    "BucketSettings",
    "ConfigError",
    "DataAccount",
    "DataBucket",
    "DataBucketArgs",
    "FunctionSettings",
    "ModelSettings",
    "Network",
    "NetworkArgs",
    "NetworkOrigin",
    "NetworkSettings",
    "OrganizationPolicies",
    "PrivateDataLake",
    "PrivateDataLakeArgs",
    "__version__",
]
