# DINOv2 ViT-B/14 fine-tuned under UPerNet (Feature2Pyramid neck), ADE20K 512x512, 160k iterations, AdamW
# with layer-wise lr decay as BEiT's configs. The DINOv2 paper gives no UPerNet result: no published mIoU.
_base_ = './dinov2-s_upernet_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=768, num_layers=12, num_heads=12, out_indices=(3, 5, 7, 11),
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth')),
    neck=dict(embed_dim=768),
    decode_head=dict(in_channels=[768] * 4),
    auxiliary_head=dict(in_channels=768))
