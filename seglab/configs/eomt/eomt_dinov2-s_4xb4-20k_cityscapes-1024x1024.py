# EoMT-S (DINOv2 ViT-S/16 with 4 registers, 100 queries in the last 3 of 12 blocks) on Cityscapes semantic with
# 1024x1024 crops. The authors publish EoMT-S on COCO panoptic only
# (configs/dinov2/coco/panoptic/eomt_small_640*.yaml), so the schedule is the L one of
# configs/dinov2/cityscapes/semantic/eomt_large_1024.yaml (./eomt_dinov2-l_4xb4-20k_cityscapes-1024x1024.py:
# iterations, optimiser, warm-up, augmentation), with layer-wise lr decay 0.8 over 12 blocks and 3 masked blocks
# annealed as their 3-block COCO configs space them (over units 1-2, 2.5-3.5 and 4-5 of the L schedule's annealing
# unit, 3317 iterations). No published Cityscapes mIoU.
_base_ = './eomt_dinov2-l_4xb4-20k_cityscapes-1024x1024.py'
model = dict(
    backbone=dict(
        embed_dims=384, num_layers=12, num_heads=6, out_indices=(11,),
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth')),
    decode_head=dict(
        in_channels=384, num_blocks=3,
        attn_mask_annealing=dict(start_iters=[3317, 8292, 13268], end_iters=[6634, 11609, 16585])))
optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, custom_keys={
        **{f'backbone.blocks.{i}.': dict(lr_mult=0.8**(11 - i)) for i in range(12)},
        **{name: dict(lr_mult=0.8**11) for name in (
            'backbone.cls_token', 'backbone.register_tokens', 'backbone.pos_embed', 'backbone.patch_embed.')}
    }))
