# A CPU-sized fine-tune: frozen DINOv2 ViT-S/14 + UPerNet (Feature2Pyramid neck, blocks 3, 5, 7, 11) on a
# CamVid-sized set of your own (a few hundred 480x360 images, img_dir/{train,val} + ann_dir/{train,val}, labels
# 0..N-1, 255 ignored), 2k iterations of batch 4 at 252x252 crops: the data and iterations of
# dinov2-s_linear_1xb4-2k_my-data-360x480.py. Only the neck's norms and the heads train; the heads are narrowed to
# 256 channels (the ADE20K config's 512 needs about twice the time here). To fine-tune the ViT too, set
# model.backbone.frozen=False and use the ADE20K config's layer-wise lr decay. Set metainfo classes and
# num_classes to your data.
_base_ = ['../_base_/models/upernet_dinov2.py', '../_base_/datasets/my_data_360x480.py', '../_base_/default_runtime.py']
crop_size = (252, 252)
num_classes = 11
metainfo = dict(classes=tuple(f'class{i}' for i in range(num_classes)))
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=518, frozen=True),
    neck=dict(norm_cfg=norm_cfg),
    decode_head=dict(channels=256, num_classes=num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=128, num_classes=num_classes, norm_cfg=norm_cfg))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=1.0, begin=0, end=2000, eta_min=0.0, by_epoch=False)]
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
