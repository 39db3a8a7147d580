# EoMT-L (DINOv2 ViT-L/16 with 4 registers, 100 queries in the last 4 blocks) on ADE20K semantic at 512x512,
# trained as its authors publish it: configs/dinov2/ade20k/semantic/eomt_large_512.yaml of github.com/tue-mps/eomt
# (at 7bd19dd), with the defaults of its main.py, training/mask_classification_semantic.py, training/
# lightning_module.py, training/two_stage_warmup_poly_schedule.py and datasets/{ade20k_semantic,transforms}.py:
# - batch 16 (4 GPUs x 4, as their README trains), 31 epochs = 39122 iterations: 1262 per epoch, the 20210
#   training images less the few with a constant label map their loader skips (the YAML's annealing unit,
#   6520 iterations, is a sixth of that);
# - AdamW, lr 1e-4, weight decay 0.05 on every parameter (norms and biases too), gradient norm clipped at 0.01;
# - layer-wise lr decay 0.8 as their configure_optimizers applies it: block i of 24 at 0.8 ** (23 - i), the
#   embeddings at block 0's rate, the final norm and the whole head at 1 (custom_keys below; seglab's
#   LearningRateDecayOptimizerConstructor would exempt norms and biases from weight decay, they do not);
# - warm-up, then poly (power 0.9) down to 0 at the end. Theirs is two-stage: the head warms up over 500
#   iterations while the ViT stays at 0, the ViT then warms up over 1000 more; seglab's schedulers scale every
#   parameter group alike, so here all groups warm up linearly over the first 1500 and decay from there;
# - masked attention annealed away block by block (power 0.9), over iterations 6520-13040, 13040-19560,
#   19560-26080 and 26080-32600 (attn_mask_annealing_{start,end}_steps);
# - losses (base model file): mask 5, dice 5, class 2, no-object 0.1, 12544 sampled points; the same costs
#   in the Hungarian matching;
# - augmentation (their Transforms): scale jitter 0.5-2 of the size that fits the image in 512x512
#   (RandomResize with scale=crop_size), a 512x512 crop with no category cap (padded by the data
#   preprocessor), horizontal flip, colour jitter (they jitter first, which changes nothing here).
#   PhotoMetricDistortion has their ranges and probabilities (hue_delta=9: MMSegmentation counts hue in
#   OpenCV's 0-180 units, they allow 18 degrees); it shifts brightness by up to 32 where they scale it by
#   1 +- 32/255;
# - 16-bit mixed precision: train with --amp.
# Their evaluation resizes the short side to 512 and averages ceil(long side / 512) windows of 512: the
# sliding window below has as many (seglab puts the last at the edge, they space them evenly).
# Published: 58.4 mIoU (EoMT-L 512x512, ADE20K semantic, model_zoo/dinov2.md); the model is on the Hub:
# 'seglab test THIS_CONFIG hf://tue-mps/ade20k_semantic_eomt_large_512' (the transformers files), or the
# authors' own file hf://tue-mps/ade20k_semantic_eomt_large_512/pytorch_model.bin.
_base_ = [
    '../_base_/models/eomt_dinov2.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
max_iters = 39122
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(
        attn_mask_annealing=dict(
            start_iters=[6520, 13040, 19560, 26080], end_iters=[13040, 19560, 26080, 32600], power=0.9)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=crop_size))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
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
    mIoU=58.4,
    note="the authors' model, hf://tue-mps/ade20k_semantic_eomt_large_512",
    source='https://github.com/tue-mps/eomt/blob/7bd19ddd621c5c6adedcd260458a34783cd4a45f/model_zoo/dinov2.md')
