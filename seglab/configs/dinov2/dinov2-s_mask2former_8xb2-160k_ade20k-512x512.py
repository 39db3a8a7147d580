# DINOv2 ViT-S/14 fine-tuned under Mask2Former (Feature2Pyramid neck), ADE20K 512x512, 160k iterations of batch
# 16; optimiser and schedule in schedule_mask2former_dinov2_160k.py, with their sources. No published result for
# this combination (the DINOv2 paper's Mask2Former result is ViT-g with a ViT-Adapter).
_base_ = [
    '../_base_/models/mask2former_dinov2.py', '../_base_/datasets/ade20k.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_mask2former_dinov2_160k.py'
]
crop_size = (512, 512)
model = dict(data_preprocessor=dict(size=crop_size))
# MMSegmentation's Mask2Former ADE20K pipeline: shortest edge drawn from 256 ... 1024, long edge at most 2048
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomChoiceResize',
        scales=[int(512 * x * 0.1) for x in range(5, 21)],
        resize_type='ResizeShortestEdge',
        max_size=2048),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
