# A CPU-sized fine-tune: EoMT-S (DINOv2 ViT-S/16 with 4 registers, 50 queries in the last 3 blocks) on a
# CamVid-sized set of your own (a few hundred 480x360 images, img_dir/{train,val} + ann_dir/{train,val}, labels
# 0..N-1, 255 ignored), 2k iterations of batch 4 at 256x256 crops, the attention masks annealed away by
# iteration 1600. Set metainfo classes and num_classes (and class_weight's length) to your data.
_base_ = ['../_base_/models/eomt_dinov2.py', '../_base_/datasets/my_data_360x480.py', '../_base_/default_runtime.py']
crop_size = (256, 256)
num_classes = 11
metainfo = dict(classes=tuple(f'class{i}' for i in range(num_classes)))
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        img_size=512, embed_dims=384, num_layers=12, num_heads=6, out_indices=(11,),
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth')),
    decode_head=dict(
        in_channels=384, num_classes=num_classes, num_queries=50, num_blocks=3,
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        train_cfg=dict(num_points=4096),
        attn_mask_annealing=dict(start_iters=[0, 400, 800], end_iters=[800, 1200, 1600])))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=2000, eta_min=0.0, by_epoch=False)]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(480, 360), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
