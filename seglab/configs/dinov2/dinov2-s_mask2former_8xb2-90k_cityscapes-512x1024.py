# DINOv2 ViT-S/14 fine-tuned under Mask2Former (Feature2Pyramid neck), Cityscapes 512x1024 crops (as
# MMSegmentation's Mask2Former Swin Cityscapes configs), 90k iterations of batch 16. No published result for
# this combination. Optimiser: the ADE20K config's (schedule_mask2former_dinov2_160k.py, with its sources).
_base_ = [
    '../_base_/models/mask2former_dinov2.py', '../_base_/datasets/cityscapes.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_mask2former_dinov2_160k.py'
]
crop_size = (512, 1024)
num_classes = 19
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=num_classes, loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])))
# MMSegmentation's Mask2Former Cityscapes pipeline: shortest edge drawn from 512 ... 2048, long edge at most 4096
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomChoiceResize',
        scales=[int(1024 * x * 0.1) for x in range(5, 21)],
        resize_type='ResizeShortestEdge',
        max_size=4096),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
# the Mask2Former Cityscapes schedule: 90k iterations
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=90000, by_epoch=False)]
train_cfg = dict(max_iters=90000)
