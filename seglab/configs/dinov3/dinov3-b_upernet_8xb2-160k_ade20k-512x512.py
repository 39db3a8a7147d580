# DINOv3 ViT-B/16 fine-tuned under UPerNet (Feature2Pyramid neck), ADE20K 512x512, 160k iterations, layer-wise
# lr decay; no published mIoU. Gated weights: accept the licence on the Hub page first.
_base_ = ['../dinov2/dinov2-b_upernet_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(
        _delete_=True, type='DINOv3', embed_dims=768, num_layers=12, num_heads=12, drop_path_rate=0.1,
        out_indices=(3, 5, 7, 11),
        init_cfg=dict(
            type='Pretrained', checkpoint='hf://facebook/dinov3-vitb16-pretrain-lvd1689m/model.safetensors')))
