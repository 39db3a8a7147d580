"""Segmentation losses under MMSegmentation's names, one module per loss family.

``base.SegLoss`` is the contract every loss follows (weight, name, reduction, who owns
``ignore_index``, ``avg_non_ignore``, binary targets); ``accuracy`` is the logged ``acc_seg``.
Modules are imported on first use through ``seglab.registry``.
"""
