# DINOv3 ViT-L/16 fine-tuned under Mask2Former (Feature2Pyramid neck), ADE20K 512x512, 160k iterations: the
# DINOv2 ViT-L config with the backbone swapped (test images padded to a multiple of 16, the patch size); no
# published result for this combination. Gated weights: accept the licence on the Hub page first.
_base_ = ['../dinov2/dinov2-l_mask2former_8xb2-160k_ade20k-512x512.py']
model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=16)),
    backbone=dict(
        _delete_=True, type='DINOv3', embed_dims=1024, num_layers=24, num_heads=16, drop_path_rate=0.1,
        out_indices=(5, 11, 17, 23),
        init_cfg=dict(
            type='Pretrained', checkpoint='hf://facebook/dinov3-vitl16-pretrain-lvd1689m/model.safetensors')))
