# EoMT-B (DINOv2 ViT-B/16 with 4 registers, 100 queries in the last 3 of 12 blocks) on ADE20K semantic at
# 512x512. No published ADE20K mIoU (the authors publish EoMT-L there; EoMT-B only on COCO panoptic).
_base_ = './eomt_dinov2-l_8xb2-40k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=768, num_layers=12, num_heads=12, out_indices=(11,),
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_reg4_pretrain.pth')),
    decode_head=dict(
        in_channels=768, num_blocks=3,
        attn_mask_annealing=dict(start_iters=[4000, 14000, 24000], end_iters=[14000, 24000, 34000])))
