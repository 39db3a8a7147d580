# A CPU-sized fine-tune: frozen DINOv2 ViT-S/14 + UPerNet (Feature2Pyramid neck, blocks 3, 5, 7, 11) on a
# CamVid-sized set of your own (a few hundred 480x360 images, img_dir/{train,val} + ann_dir/{train,val}, labels
# 0..N-1, 255 ignored), 2k iterations of batch 4 at 252x252 crops: the data and iterations of
# dinov2-s_linear_1xb4-2k_my-data-360x480.py. Only the neck's norms and the heads train; the heads are narrowed to
# 256 channels (the ADE20K config's 512 needs about twice the time here). To fine-tune the ViT too, set
# model.backbone.frozen=False and use the ADE20K config's layer-wise lr decay. Set metainfo classes and
# num_classes to your data.
_base_ = ['../_base_/models/upernet_dinov2.py', '../_base_/default_runtime.py']
crop_size = (252, 252)
num_classes = 11
metainfo = dict(classes=tuple(f'class{i}' for i in range(num_classes)))
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=518, frozen=True),
    neck=dict(norm_cfg=norm_cfg),
    decode_head=dict(channels=256, num_classes=num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=128, num_classes=num_classes, norm_cfg=norm_cfg))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(480, 360), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(480, 360), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
dataset = dict(type='BaseSegDataset', data_root='data/my_set', metainfo=metainfo, reduce_zero_label=False,
               img_suffix='.png')
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, pipeline=train_pipeline,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, pipeline=test_pipeline, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=1.0, begin=0, end=2000, eta_min=0.0, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500))
