# DINOv2 ViT-L/14 fine-tuned under Mask2Former (Feature2Pyramid neck), ADE20K 512x512, 160k iterations; the
# ViT-S config's recipe with blocks 5, 11, 17, 23 (the ends of the four quarters) and the layer-wise lr decay
# spelt out over 24 blocks. No published result for this combination.
_base_ = './dinov2-s_mask2former_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=1024, num_layers=24, num_heads=16, out_indices=(5, 11, 17, 23),
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth')),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024] * 4))
layer_decay_keys = {  # block i: 0.1 x 0.9 ** (24 - i), the tokens and patch embedding 0.1 x 0.9 ** 25
    f'backbone.blocks.{i}.{part}': dict(lr_mult=0.1 * 0.9**(24 - i), decay_mult=0.0 if part else 1.0)
    for i in range(24) for part in ('', 'norm', 'ls')
}
layer_decay_keys.update({
    f'backbone.{name}': dict(lr_mult=0.1 * 0.9**25)
    for name in ('cls_token', 'pos_embed', 'register_tokens', 'storage_tokens', 'patch_embed')
})
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=layer_decay_keys))
