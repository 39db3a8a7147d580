# EoMT-L (DINOv2 ViT-L/16 with 4 registers, 100 queries in the last 4 blocks) on Cityscapes semantic at
# 1024x1024 crops, batch 16. Published: 84.2 mIoU (EoMT-L 1024x1024, Cityscapes semantic, model_zoo/dinov2.md of
# github.com/tue-mps/eomt at 48e71d0); that model is on the Hub:
# 'seglab test THIS_CONFIG hf://tue-mps/cityscapes_semantic_eomt_large_1024'. Inference slides 1024x1024 windows.
# The schedule is seglab's (see the ADE20K config), not the authors'.
_base_ = [
    '../_base_/models/eomt_dinov2.py', '../_base_/datasets/cityscapes_1024x1024.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (1024, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=1024),
    decode_head=dict(
        num_classes=19,
        loss_cls=dict(class_weight=[1.0] * 19 + [0.1]),
        attn_mask_annealing=dict(start_iters=[4000, 12000, 20000, 28000], end_iters=[12000, 20000, 28000, 36000])),
    test_cfg=dict(mode='slide', crop_size=(1024, 1024), stride=(512, 512)))
train_dataloader = dict(batch_size=2)
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
zoo_result = dict(mIoU=84.2, note="the authors' model, hf://tue-mps/cityscapes_semantic_eomt_large_1024",
                  source='https://github.com/tue-mps/eomt/blob/master/model_zoo/dinov2.md')
