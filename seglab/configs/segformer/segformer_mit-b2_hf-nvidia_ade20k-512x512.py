# nvidia/segformer-b2-finetuned-ade-512-512 (https://huggingface.co/nvidia/segformer-b2-finetuned-ade-512-512),
# the SegFormer authors' ADE20K model: MMSegmentation's config with the authors' head, whose per-level
# projections have no activation and, at b2-b5, 768 channels where MMSegmentation's have 256.
# 'seglab test THIS_CONFIG hf://nvidia/segformer-b2-finetuned-ade-512-512'.
_base_ = './segformer_mit-b2_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(init_cfg=None), decode_head=dict(act_cfg=None, channels=768))
load_from = 'hf://nvidia/segformer-b2-finetuned-ade-512-512'
