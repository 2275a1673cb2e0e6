"""selectkit: learned selection layers.

One abstraction (:class:`selectkit.selection.Selector`) decides which items along one axis of a
tensor to keep -- body sensors, sampling rates, EEG channels, network nodes, prompt tokens -- as
three decisions: *score* (where the preference comes from), *relax* (how the choice stays
differentiable in training) and *reduce* (what the choice does to the tensor).
"""

__version__ = "0.1.0"
