# DINOv3 ViT-L/16 (LVD-1689M), frozen, + linear probe (BN + 1x1 conv on the last four blocks), ADE20K
# 512x512, 40k iterations; no published mIoU for this exact setting is recorded here. The weights are gated
# on the Hub: accept the licence at https://huggingface.co/facebook/dinov3-vitl16-pretrain-lvd1689m first.
_base_ = './dinov3-s_linear_8xb2-40k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=1024, num_layers=24, num_heads=16, out_indices=(20, 21, 22, 23),
        init_cfg=dict(checkpoint='hf://facebook/dinov3-vitl16-pretrain-lvd1689m/model.safetensors')),
    decode_head=dict(in_channels=[1024] * 4, channels=4096))
