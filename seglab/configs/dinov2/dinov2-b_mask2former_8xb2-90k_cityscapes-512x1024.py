# DINOv2 ViT-B/14 fine-tuned under Mask2Former (Feature2Pyramid neck), Cityscapes 512x1024, 90k iterations; the
# ViT-S config's recipe (12 blocks, so the same layer-wise lr decay). No published result for this combination.
_base_ = './dinov2-s_mask2former_8xb2-90k_cityscapes-512x1024.py'
model = dict(
    backbone=dict(
        embed_dims=768, num_heads=12,
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth')),
    neck=dict(embed_dim=768),
    decode_head=dict(in_channels=[768] * 4))
