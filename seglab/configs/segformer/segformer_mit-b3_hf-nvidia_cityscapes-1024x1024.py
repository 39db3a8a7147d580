# nvidia/segformer-b3-finetuned-cityscapes-1024-1024
# (https://huggingface.co/nvidia/segformer-b3-finetuned-cityscapes-1024-1024).
# The SegFormer authors' Cityscapes model: MMSegmentation's config with the authors' head, whose per-level
# projections have no activation and, at b2-b5, 768 channels where MMSegmentation's have 256.
# 'seglab test THIS_CONFIG hf://nvidia/segformer-b3-finetuned-cityscapes-1024-1024'.
_base_ = './segformer_mit-b3_8xb1-160k_cityscapes-1024x1024.py'
model = dict(backbone=dict(init_cfg=None), decode_head=dict(act_cfg=None, channels=768))
load_from = 'hf://nvidia/segformer-b3-finetuned-cityscapes-1024-1024'
