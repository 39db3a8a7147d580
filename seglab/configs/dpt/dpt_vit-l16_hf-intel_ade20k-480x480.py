# Intel/dpt-large-ade (https://huggingface.co/Intel/dpt-large-ade), the DPT authors' ADE20K model (ViT-L/16 +
# DPT head) as transformers serves it: MMSegmentation's DPT config at the Hub model's sizes, with what
# transformers computes differently set to match (bilinear position-embedding resize, LayerNorm eps 1e-12,
# patch-projection bias, logits upsampled with align_corners=True). The Hub's image processor normalises with
# mean = std = 127.5 and resizes to 480x480. 'seglab test THIS_CONFIG hf://Intel/dpt-large-ade'.
_base_ = './dpt_vit-b16_8xb2-160k_ade20k-512x512.py'
crop_size = (480, 480)
data_preprocessor = dict(size=crop_size, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        img_size=384,
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(5, 11, 17, 23),
        patch_bias=True,
        interpolate_mode='bilinear',
        norm_cfg=dict(type='LN', eps=1e-12)),
    decode_head=dict(
        in_channels=(1024, 1024, 1024, 1024),
        embed_dims=1024,
        post_process_channels=[256, 512, 1024, 1024],
        align_corners=True))
load_from = 'hf://Intel/dpt-large-ade'
