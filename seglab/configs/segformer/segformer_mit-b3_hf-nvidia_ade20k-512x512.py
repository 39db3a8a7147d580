# nvidia/segformer-b3-finetuned-ade-512-512 (https://huggingface.co/nvidia/segformer-b3-finetuned-ade-512-512),
# the SegFormer authors' ADE20K model: MMSegmentation's config with the authors' head, whose per-level
# projections have no activation. 'seglab test THIS_CONFIG hf://nvidia/segformer-b3-finetuned-ade-512-512'.
_base_ = './segformer_mit-b3_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(init_cfg=None), decode_head=dict(act_cfg=None))
load_from = 'hf://nvidia/segformer-b3-finetuned-ade-512-512'
