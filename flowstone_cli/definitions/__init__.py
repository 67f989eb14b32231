"""The Python surface users write: decorators that turn functions into frozen specs, and the context
those functions receive.
"""

from flowstone_cli.definitions.asset import AssetSpec, asset
from flowstone_cli.definitions.context import AssetContext, Resources, StepLog
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.definitions.output import Output, RetryPolicy

__all__ = ["AssetContext", "AssetSpec", "Definitions", "Output", "Resources", "RetryPolicy",
           "StepLog", "asset"]
