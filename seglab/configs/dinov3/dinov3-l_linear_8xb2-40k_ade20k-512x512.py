# DINOv3 ViT-L/16 (LVD-1689M), frozen, + linear probe (BN + 1x1 conv on the last four blocks), ADE20K
# 512x512, 40k iterations; no published mIoU for this exact setting is recorded here. The weights are gated
# on the Hub: accept the licence at https://huggingface.co/facebook/dinov3-vitl16-pretrain-lvd1689m first.
_base_ = [
    '../_base_/models/dinov2_linear.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True, type='DINOv3', embed_dims=1024, num_layers=24, num_heads=16, out_indices=(20, 21, 22, 23),
        frozen=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='hf://facebook/dinov3-vitl16-pretrain-lvd1689m/model.safetensors')),
    decode_head=dict(in_channels=[1024] * 4, channels=4096))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=40000, eta_min=0.0, by_epoch=False),
]
train_dataloader = dict(batch_size=2)
