# EoMT-L (DINOv2 ViT-L/16 with 4 registers, 100 queries in the last 4 blocks) on ADE20K semantic at 512x512,
# batch 16. Published: 58.4 mIoU (EoMT-L 512x512, ADE20K semantic, model_zoo/dinov2.md of github.com/tue-mps/eomt
# at 48e71d0); that model is on the Hub: 'seglab test THIS_CONFIG hf://tue-mps/ade20k_semantic_eomt_large_512'.
# The schedule here is seglab's, not the authors' (they count epochs and use layer-wise lr decay): 40k
# iterations of AdamW (backbone at 0.1x), poly decay after a linear warm-up, each masked block's attention
# mask annealed away in turn by iteration 36k. Inference slides 512x512 windows (the authors' semantic models
# predict 512x512 windows too).
_base_ = [
    '../_base_/models/eomt_dinov2.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(
        attn_mask_annealing=dict(start_iters=[4000, 12000, 20000, 28000], end_iters=[12000, 20000, 28000, 36000])),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={'backbone': dict(lr_mult=0.1, decay_mult=1.0), 'decode_head.query': dict(decay_mult=0.0)},
        norm_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=0.9, begin=1500, end=40000, eta_min=0.0, by_epoch=False),
]
# what `seglab zoo` shows for this config (read as data, not inherited by configs built on this one)
zoo_result = dict(mIoU=58.4, note="the authors' model, hf://tue-mps/ade20k_semantic_eomt_large_512",
                  source='https://github.com/tue-mps/eomt/blob/master/model_zoo/dinov2.md')
