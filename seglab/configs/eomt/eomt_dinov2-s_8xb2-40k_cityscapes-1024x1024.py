# EoMT-S (DINOv2 ViT-S/16 with 4 registers, 100 queries in the last 3 of 12 blocks) on Cityscapes semantic at
# 1024x1024 crops. No published Cityscapes mIoU (the authors publish EoMT-L there).
_base_ = './eomt_dinov2-l_8xb2-40k_cityscapes-1024x1024.py'
model = dict(
    backbone=dict(
        embed_dims=384, num_layers=12, num_heads=6, out_indices=(11,),
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth')),
    decode_head=dict(
        in_channels=384, num_blocks=3,
        attn_mask_annealing=dict(start_iters=[4000, 14000, 24000], end_iters=[14000, 24000, 34000])))
