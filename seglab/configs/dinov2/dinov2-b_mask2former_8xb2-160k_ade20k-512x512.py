# DINOv2 ViT-B/14 fine-tuned under Mask2Former (Feature2Pyramid neck), ADE20K 512x512, 160k iterations; the
# ViT-S config's recipe (12 blocks, so the same layer-wise lr decay). No published result for this combination.
_base_ = './dinov2-s_mask2former_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=768, num_heads=12,
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth')),
    neck=dict(embed_dim=768),
    decode_head=dict(in_channels=[768] * 4))
