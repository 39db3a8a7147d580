# nvidia/segformer-b1-finetuned-cityscapes-1024-1024
# (https://huggingface.co/nvidia/segformer-b1-finetuned-cityscapes-1024-1024).
# The SegFormer authors' Cityscapes model: MMSegmentation's config with the authors' head, whose per-level
# projections have no activation.
# 'seglab test THIS_CONFIG hf://nvidia/segformer-b1-finetuned-cityscapes-1024-1024'.
_base_ = './segformer_mit-b1_8xb1-160k_cityscapes-1024x1024.py'
model = dict(backbone=dict(init_cfg=None), decode_head=dict(act_cfg=None))
load_from = 'hf://nvidia/segformer-b1-finetuned-cityscapes-1024-1024'
