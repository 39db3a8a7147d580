"""Mask classification: what MaskFormer, Mask2Former and SAN share, with MMDetection's parameter names.

A query predicts a class and a mask; training matches queries to the image's ground-truth masks.

``base_head``: ``MaskClassificationHead``, the heads' shared protocol and scores; ``matching``: Hungarian
assignment and its match costs; ``stage_losses``: targets from ``gt_sem_seg`` and the per-stage losses;
``matched_losses``: MMDetection's avg-factor losses (``mmdet.CrossEntropyLoss`` ... in these heads' configs);
``uncertain_points``: the points the mask losses are computed at; ``detr_layers``: DETR encoder/decoder
layers on one base (``DetrLayer``); ``fpn_pixel_decoders``: MaskFormer's pixel decoders;
``deformable_pixel_decoder`` and ``deformable_attention``: Mask2Former's; ``positional_encoding``: the sine
encoding; ``sub_configs``: how sub-configs (``mmdet.*`` type names) become modules.
The heads themselves live with their families: ``heads/maskformer.py``, ``heads/mask2former.py``, ``san/``.
"""
