# A CPU-sized fine-tune: frozen DINOv2 ViT-S/14 + Mask2Former on a CamVid-sized set of your own (a few hundred
# 480x360 images, img_dir/{train,val} + ann_dir/{train,val}, labels 0..N-1, 255 ignored), 2k iterations of batch
# 4 at 252x252 crops: the data and iterations of dinov2-s_linear_1xb4-2k_my-data-360x480.py. Only the neck and
# the Mask2Former head train (AdamW 1e-4, grad clipping and poly decay as MMSegmentation's Mask2Former configs;
# 50 queries and 4096 sampled points per mask as the CPU-sized EoMT config). Set metainfo classes, num_classes and
# class_weight.
_base_ = ['../_base_/models/mask2former_dinov2.py', '../_base_/datasets/my_data_360x480.py', '../_base_/default_runtime.py']
crop_size = (252, 252)
num_classes = 11
metainfo = dict(classes=tuple(f'class{i}' for i in range(num_classes)))
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(frozen=True),
    neck=dict(norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(
        num_classes=num_classes,
        num_queries=50,
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        train_cfg=dict(num_points=4096)))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={k: dict(decay_mult=0.0) for k in ('query_embed', 'query_feat', 'level_embed')},
        norm_decay_mult=0.0))
param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=2000, eta_min=0.0, by_epoch=False)]
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
