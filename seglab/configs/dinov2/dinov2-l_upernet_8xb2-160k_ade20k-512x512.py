# DINOv2 ViT-L/14 fine-tuned under UPerNet (Feature2Pyramid neck), ADE20K 512x512, 160k iterations, AdamW
# with layer-wise lr decay as BEiT's configs. The DINOv2 paper gives no UPerNet result: no published mIoU.
_base_ = './dinov2-s_upernet_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=1024, num_layers=24, num_heads=16, out_indices=(7, 11, 15, 23),
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth')),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024] * 4),
    auxiliary_head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=24))
