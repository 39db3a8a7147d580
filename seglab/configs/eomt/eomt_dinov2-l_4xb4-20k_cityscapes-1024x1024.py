# EoMT-L (DINOv2 ViT-L/16 with 4 registers, 100 queries in the last 4 blocks) on Cityscapes semantic with
# 1024x1024 crops, trained as its authors publish it: configs/dinov2/cityscapes/semantic/eomt_large_1024.yaml
# of github.com/tue-mps/eomt (at 7bd19dd) with the defaults the ADE20K config lists (same optimiser, layer-wise
# lr decay 0.8, weight decay, clipping, two-stage warm-up approximated the same way, losses, colour jitter,
# flip, 16-bit mixed precision) and datasets/cityscapes_semantic.py:
# - batch 16 (4 GPUs x 4), 107 epochs = 19902 iterations (2975 images: 744 per GPU, 186 batches of 4 per
#   epoch; the YAML's annealing unit, 3317 iterations, is a sixth of that);
# - masked attention annealed away over iterations 3317-6634, 6634-9951, 9951-13268 and 13268-16585;
# - scale jitter 0.5-2 of the size that fits the 1024x2048 image in 1024x1024 (so images of 256x512 to
#   1024x2048 before the 1024x1024 crop: half of MMSegmentation's Cityscapes scales).
# Their evaluation runs the full 1024x2048 image as two 1024x1024 windows: the sliding window below.
# Published: 84.2 mIoU (EoMT-L 1024x1024, Cityscapes semantic, model_zoo/dinov2.md); the model is on the Hub:
# 'seglab test THIS_CONFIG hf://tue-mps/cityscapes_semantic_eomt_large_1024' (the transformers files), or the
# authors' own file hf://tue-mps/cityscapes_semantic_eomt_large_1024/pytorch_model.bin.
_base_ = [
    '../_base_/models/eomt_dinov2.py', '../_base_/datasets/cityscapes_1024x1024.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (1024, 1024)
max_iters = 19902
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=1024),
    decode_head=dict(
        num_classes=19,
        loss_cls=dict(class_weight=[1.0] * 19 + [0.1]),
        attn_mask_annealing=dict(
            start_iters=[3317, 6634, 9951, 13268], end_iters=[6634, 9951, 13268, 16585], power=0.9)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=crop_size))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', hue_delta=9),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(custom_keys={
        **{f'backbone.blocks.{i}.': dict(lr_mult=0.8**(23 - i)) for i in range(24)},
        **{name: dict(lr_mult=0.8**23) for name in (
            'backbone.cls_token', 'backbone.register_tokens', 'backbone.pos_embed', 'backbone.patch_embed.')}
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=0.9, begin=1500, end=max_iters, eta_min=0.0, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters)
# what `seglab zoo` shows for this config (read as data, not inherited by configs built on this one)
zoo_result = dict(
    mIoU=84.2,
    note="the authors' model, hf://tue-mps/cityscapes_semantic_eomt_large_1024",
    source='https://github.com/tue-mps/eomt/blob/7bd19ddd621c5c6adedcd260458a34783cd4a45f/model_zoo/dinov2.md')
