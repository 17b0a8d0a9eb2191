"""Low-rank adapters for ``nn.Linear`` and ``nn.Conv1d/2d/3d``: LoRA, FLoRA, SVFit,
plus injection, merging and Trained Rank Pruning."""

from shared.lowrank.adapters.base import AdapterLayer
from shared.lowrank.adapters.flora import FLoRA
from shared.lowrank.adapters.inject import (
    adapter_layers,
    adapter_state_dict,
    apply_adapters,
    count_trainable,
    merge,
    unmerge,
)
from shared.lowrank.adapters.lora import LoRA
from shared.lowrank.adapters.svfit import SVFit
from shared.lowrank.adapters.trp import TrainedRankPruning

__all__ = [
    "AdapterLayer",
    "LoRA",
    "FLoRA",
    "SVFit",
    "apply_adapters",
    "adapter_layers",
    "adapter_state_dict",
    "merge",
    "unmerge",
    "count_trainable",
    "TrainedRankPruning",
]
