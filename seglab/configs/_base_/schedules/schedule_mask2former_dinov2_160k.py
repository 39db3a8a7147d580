# Optimiser and 160k schedule of a 12-block DINOv2 ViT under Mask2Former. From MMSegmentation's Mask2Former Swin
# configs: AdamW (lr 1e-4, weight decay 0.05, grad norm clipped at 0.01), the backbone at 0.1x, no weight decay
# on norms, the backbone's tokens and position table, or the queries; poly decay (power 0.9), validation and a
# checkpoint every 5k iterations. From the DINOv2 UPerNet configs: within the backbone, a layer-wise lr decay of
# 0.9 per block (BEiT's layer ids). Their LearningRateDecayOptimizerConstructor takes no custom_keys, so the decay
# is spelt out per block here; a 24-block ViT-L config spells it out again.
embed_multi = dict(lr_mult=1.0, decay_mult=0.0)
custom_keys = {
    'backbone': dict(lr_mult=0.1, decay_mult=1.0),
    'backbone.norm': dict(lr_mult=0.1, decay_mult=0.0),
    'backbone.patch_embed': dict(lr_mult=0.1 * 0.9**13, decay_mult=1.0),
    'query_embed': embed_multi,
    'query_feat': embed_multi,
    'level_embed': embed_multi,
}
custom_keys.update({
    f'backbone.{name}': dict(lr_mult=0.1 * 0.9**13, decay_mult=0.0)
    for name in ('cls_token', 'pos_embed', 'register_tokens', 'storage_tokens')
})
custom_keys.update({  # block i: 0.1 x 0.9 ** (12 - i); its norms and layer scales without weight decay
    f'backbone.blocks.{i}.{part}': dict(lr_mult=0.1 * 0.9**(12 - i), decay_mult=0.0 if part else 1.0)
    for i in range(12) for part in ('', 'norm', 'ls')
})
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(custom_keys=custom_keys, norm_decay_mult=0.0))
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=160000, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, save_best='mIoU'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
