"""Selection layers: the :class:`Selector` abstraction, its registry and the built-in methods.

>>> import selectkit.selection as s
>>> s.list_selectors()
['attention_topk', 'gumbel_gates', 'gumbel_topk', 'soft_select', 'weight_scores']
"""

from selectkit.selection.base import Selection, SelectionContext, Selector
from selectkit.selection.registry import create_selector, get_selector_class, list_selectors, register_selector

# Importing the method modules registers them.
from selectkit.selection.weight_scores import WeightScores
from selectkit.selection.gumbel_topk import GumbelTopK
from selectkit.selection.gumbel_gates import GumbelGates, ItemStatsScorer
from selectkit.selection.attention_topk import AttentionTopK, attention_scores
from selectkit.selection.soft_select import SoftSelect
from selectkit.selection.schedules import (
    ConstantSchedule,
    CosineSchedule,
    ExponentialSchedule,
    LinearSchedule,
    Schedule,
    make_schedule,
)

__all__ = [
    "Selection",
    "SelectionContext",
    "Selector",
    "register_selector",
    "list_selectors",
    "get_selector_class",
    "create_selector",
    "WeightScores",
    "GumbelTopK",
    "GumbelGates",
    "ItemStatsScorer",
    "AttentionTopK",
    "attention_scores",
    "SoftSelect",
    "Schedule",
    "ConstantSchedule",
    "LinearSchedule",
    "ExponentialSchedule",
    "CosineSchedule",
    "make_schedule",
]
