# DINOv2 ViT-L/14, frozen, + linear probe (BN + 1x1 conv on the last four blocks), ADE20K 512x512, 40k
# iterations. Published: 53.1 mIoU, "ADE20k segm. multiscale" column of the DINOv2 MODEL_CARD.md
# (github.com/facebookresearch/dinov2 at b8931f7), measured with multi-scale test-time augmentation.
_base_ = [
    '../_base_/models/dinov2_linear.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        embed_dims=1024, num_layers=24, num_heads=16, out_indices=(20, 21, 22, 23),
        init_cfg=dict(type='Pretrained', checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth')),
    decode_head=dict(in_channels=[1024] * 4, channels=4096))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=40000, eta_min=0.0, by_epoch=False),
]
train_dataloader = dict(batch_size=2)
# what `seglab zoo` shows for this config (read as data, not inherited by configs built on this one)
zoo_result = dict(mIoU=53.1, note='multi-scale test',
                  source='https://github.com/facebookresearch/dinov2/blob/main/MODEL_CARD.md')
