# EoMT (Kerssies et al., CVPR 2025): a DINOv2 ViT-L with 4 register tokens and patch size 16 (the authors resample
# DINOv2's 14x14 patch embedding to 16x16 when it loads, as EoMTDINOv2 does) whose last 4 blocks also carry 100
# query tokens; masked attention annealed away during training (decode_head.attn_mask_annealing: set it to your
# schedule's length), Mask2Former's losses on the prediction before each masked block and after the last one.
num_classes = 150
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EoMT',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='EoMTDINOv2',
        img_size=512,
        patch_size=16,
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        mlp_ratio=4,
        num_register_tokens=4,
        init_values=1e-5,
        interpolate_antialias=True,
        out_indices=(23,),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_reg4_pretrain.pth')),
    decode_head=dict(
        type='EoMTHead',
        in_channels=1024,
        num_classes=num_classes,
        num_queries=100,
        num_blocks=4,
        num_upscale_blocks=2,
        # per masked block, the iterations over which its mask probability falls from 1 to 0
        attn_mask_annealing=dict(
            start_iters=[8000, 16000, 24000, 32000], end_iters=[16000, 24000, 32000, 40000], power=0.9),
        loss_cls=dict(
            type='mmdet.CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=2.0,
            reduction='mean',
            class_weight=[1.0] * num_classes + [0.1]),
        loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, reduction='mean', loss_weight=5.0),
        loss_dice=dict(
            type='mmdet.DiceLoss', use_sigmoid=True, activate=True, reduction='mean', naive_dice=True, eps=1.0,
            loss_weight=5.0),
        train_cfg=dict(
            num_points=12544,
            oversample_ratio=3.0,
            importance_sample_ratio=0.75,
            assigner=dict(
                type='mmdet.HungarianAssigner',
                match_costs=[
                    dict(type='mmdet.ClassificationCost', weight=2.0),
                    dict(type='mmdet.CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                    dict(type='mmdet.DiceCost', weight=5.0, pred_act=True, eps=1.0)
                ]),
            sampler=dict(type='mmdet.MaskPseudoSampler'))),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
