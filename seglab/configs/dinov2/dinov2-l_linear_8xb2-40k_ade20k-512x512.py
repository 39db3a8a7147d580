# DINOv2 ViT-L/14, frozen, + linear probe (BN + 1x1 conv on the last four blocks), ADE20K 512x512, 40k
# iterations. Published: 53.1 mIoU, "ADE20k segm. multiscale" column of the DINOv2 MODEL_CARD.md
# (github.com/facebookresearch/dinov2 at b8931f7), measured with multi-scale test-time augmentation.
_base_ = './dinov2-s_linear_8xb2-40k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=1024, num_layers=24, num_heads=16, out_indices=(20, 21, 22, 23),
        init_cfg=dict(checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth')),
    decode_head=dict(in_channels=[1024] * 4, channels=4096))
# what `seglab zoo` shows for this config (read as data, not inherited by configs built on this one)
zoo_result = dict(mIoU=53.1, note='multi-scale test',
                  source='https://github.com/facebookresearch/dinov2/blob/main/MODEL_CARD.md')
