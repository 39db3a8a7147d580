"""Mask2Former (masked-attention mask transformer) in plain PyTorch, with MMDetection's parameter names.

``head``: Mask2FormerHead; ``pixel_decoder``: MSDeformAttnPixelDecoder; ``deform_attn``: multi-scale
deformable attention via ``grid_sample``; ``transformer_decoder``: the masked-attention decoder;
``assigner``: Hungarian matching and its costs; ``losses``: point-sampled mask/dice losses;
``parts``: how sub-configs (``mmdet.*`` type names) become modules.
"""
