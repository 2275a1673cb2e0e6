"""Datasets: recordings, windows and their metadata, one module per source.

So far: :mod:`selectkit.datasets.synthetic`, seeded tasks with a known answer.
"""

from selectkit.datasets.synthetic import informative_items_task

__all__ = ["informative_items_task"]
