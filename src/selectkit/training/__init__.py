"""Training: models, Lightning modules and the command line.

So far: :mod:`selectkit.training.recovery`, the ground-truth recovery run (plain PyTorch).
"""
