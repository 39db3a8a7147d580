# DINOv2 ViT-L/14 fine-tuned under UPerNet (Feature2Pyramid neck), ADE20K 512x512, 160k iterations, AdamW
# with layer-wise lr decay as BEiT's configs. The DINOv2 paper gives no UPerNet result: no published mIoU.
_base_ = [
    '../_base_/models/upernet_dinov2.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        embed_dims=1024, num_layers=24, num_heads=16, out_indices=(7, 11, 15, 23),
        init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth')),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024] * 4),
    auxiliary_head=dict(in_channels=1024))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.9, decay_type='layer_wise', num_layers=24))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=160000, eta_min=0.0, by_epoch=False),
]
train_dataloader = dict(batch_size=2)
