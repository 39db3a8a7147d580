# EoMT-B (DINOv2 ViT-B/16 with 4 registers, 100 queries in the last 3 of 12 blocks) on ADE20K semantic at 512x512.
# The authors publish EoMT-B on COCO panoptic only (configs/dinov2/coco/panoptic/eomt_base_640*.yaml), so the
# schedule is the L one of configs/dinov2/ade20k/semantic/eomt_large_512.yaml
# (./eomt_dinov2-l_4xb4-39k_ade20k-512x512.py: iterations, optimiser, warm-up, augmentation), with layer-wise lr
# decay 0.8 over 12 blocks and 3 masked blocks annealed as their 3-block COCO configs space them (over units 1-2,
# 2.5-3.5 and 4-5 of the L schedule's annealing unit, 6520 iterations). No published ADE20K mIoU.
_base_ = './eomt_dinov2-l_4xb4-39k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=768, num_layers=12, num_heads=12, out_indices=(11,),
        init_cfg=dict(
            checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_reg4_pretrain.pth')),
    decode_head=dict(
        in_channels=768, num_blocks=3,
        attn_mask_annealing=dict(start_iters=[6520, 16300, 26080], end_iters=[13040, 22820, 32600])))
optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, custom_keys={
        **{f'backbone.blocks.{i}.': dict(lr_mult=0.8**(11 - i)) for i in range(12)},
        **{name: dict(lr_mult=0.8**11) for name in (
            'backbone.cls_token', 'backbone.register_tokens', 'backbone.pos_embed', 'backbone.patch_embed.')}
    }))
