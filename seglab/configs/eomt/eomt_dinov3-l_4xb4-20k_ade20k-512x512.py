# EoMT-L on DINOv3 (ViT-L/16, LVD-1689M: 4 storage tokens, RoPE, no position table; 100 queries in the last 4
# blocks) on ADE20K semantic at 512x512, trained as its authors publish it: configs/dinov3/ade20k/semantic/
# eomt_large_512.yaml of github.com/tue-mps/eomt (at 7bd19dd), with the defaults the DINOv2 ADE20K config lists
# (./eomt_dinov2-l_4xb4-39k_ade20k-512x512.py: batch 16, weight decay 0.05 everywhere, clipping, losses,
# augmentation, evaluation windows, 16-bit mixed precision) except what the YAML sets:
# - 16 epochs = 20192 iterations (1262 per epoch);
# - AdamW lr 2e-4 and no layer-wise decay (llrd 1.0; the YAML's lr_mult 0.1 changes no learning rate in their
#   configure_optimizers, where it only decides whether the last 4 blocks skip the decay);
# - warm-up [2000, 3000]: their head over 2000 iterations, the ViT over 3000 after it; here all groups warm up
#   linearly over the first 5000, then poly (power 0.9) to 0;
# - masked attention annealed away over iterations 0-3000, 6520-9780, 9780-13040 and 13040-16300.
# The DINOv3 weights are gated on the Hub: accept the licence at
# https://huggingface.co/facebook/dinov3-vitl16-pretrain-lvd1689m and run 'hf auth login' first.
# Published: 59.5 mIoU (EoMT-L 512x512, ADE20K semantic, model_zoo/dinov3.md). The authors' file,
# hf://tue-mps/ade_semantic_eomt_large_512_dinov3/pytorch_model.bin, holds the backbone as differences from those
# DINOv3 weights ("delta weights"): seglab adds the weights model.delta_base names when it loads such a file:
# 'seglab test THIS_CONFIG hf://tue-mps/ade_semantic_eomt_large_512_dinov3/pytorch_model.bin'.
# transformers' layout (EomtDinov3ForUniversalSegmentation: config.json + model.safetensors, as transformers'
# convert_eomt_dinov3_to_hf.py writes it, the base already added) holds absolute weights and loads as it is,
# without delta_base: 'seglab test THIS_CONFIG FOLDER_OR_HF_REPO' (seglab/models/heads/eomt_dinov3_hf.py).
_base_ = [
    '../_base_/models/eomt_dinov2.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
max_iters = 20192
dinov3_weights = 'hf://facebook/dinov3-vitl16-pretrain-lvd1689m/model.safetensors'
model = dict(
    data_preprocessor=dict(size=crop_size),
    delta_base=dinov3_weights,
    backbone=dict(
        _delete_=True,
        type='DINOv3',
        img_size=512,
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        mlp_ratio=4,
        out_indices=(23,),
        init_cfg=dict(type='Pretrained', checkpoint=dinov3_weights)),
    decode_head=dict(
        attn_mask_annealing=dict(
            start_iters=[0, 6520, 9780, 13040], end_iters=[3000, 9780, 13040, 16300], power=0.9)),
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
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=0.01, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=5000),
    dict(type='PolyLR', power=0.9, begin=5000, end=max_iters, eta_min=0.0, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters)
# what `seglab zoo` shows for this config (read as data, not inherited by configs built on this one)
zoo_result = dict(
    mIoU=59.5,
    note="the authors' model, hf://tue-mps/ade_semantic_eomt_large_512_dinov3/pytorch_model.bin",
    source='https://github.com/tue-mps/eomt/blob/7bd19ddd621c5c6adedcd260458a34783cd4a45f/model_zoo/dinov3.md')
