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
from components.alarms import Alarms, AlarmsArgs
from components.bedrock import (
    Architecture,
    BedrockFunction,
    BedrockFunctionArgs,
    FunctionSettings,
    ModelSettings,
)
from components.datalake import (
    BedrockSettings,
    InvocationLoggingSettings,
    OrganizationPolicies,
    PrivateDataLake,
    PrivateDataLakeArgs,
)
from components.errors import ConfigError
from components.knowledge_base import (
    Chunking,
    KnowledgeBase,
    KnowledgeBaseArgs,
    KnowledgeBaseSettings,
)
from components.model_governance import (
    GuardrailSettings,
    InvocationLogDelivery,
    ModelGovernance,
    ModelGovernanceArgs,
)
from components.network import Network, NetworkArgs, NetworkSettings
from components.policies import AccessMode
from components.settings import VectorStore
from components.storage import BucketSettings, DataBucket, DataBucketArgs

__version__ = "0.4.0"

PACKAGE_NAME = "datalake"
COMPONENTS = [
    PrivateDataLake,
    Network,
    DataBucket,
    AccessPoints,
    BedrockFunction,
    ModelGovernance,
    KnowledgeBase,
    Alarms,
]

__all__ = [
    "COMPONENTS",
    "PACKAGE_NAME",
    "AccessMode",
    "AccessPointInfo",
    "AccessPointSpec",
    "AccessPoints",
    "AccessPointsArgs",
    "Alarms",
    "AlarmsArgs",
    "Architecture",
    "BedrockFunction",
    "BedrockFunctionArgs",
    "BedrockSettings",
    "BucketSettings",
    "Chunking",
    "ConfigError",
    "DataAccount",
    "DataBucket",
    "DataBucketArgs",
    "FunctionSettings",
    "GuardrailSettings",
    "InvocationLogDelivery",
    "InvocationLoggingSettings",
    "KnowledgeBase",
    "KnowledgeBaseArgs",
    "KnowledgeBaseSettings",
    "ModelGovernance",
    "ModelGovernanceArgs",
    "ModelSettings",
    "Network",
    "NetworkArgs",
    "NetworkOrigin",
    "NetworkSettings",
    "OrganizationPolicies",
    "PrivateDataLake",
    "PrivateDataLakeArgs",
    "VectorStore",
    "__version__",
]
