# A CPU-sized fine-tune: frozen DINOv2 ViT-S/14 + linear probe on a CamVid-sized set of your own (a few hundred
# 480x360 images, img_dir/{train,val} + ann_dir/{train,val}, labels 0..N-1, 255 ignored), 2k iterations of
# batch 4 at 252x252 crops. Only the BN + 1x1 head trains. Set metainfo classes and num_classes to your data.
_base_ = ['../_base_/models/dinov2_linear.py', '../_base_/datasets/my_data_360x480.py', '../_base_/default_runtime.py']
crop_size = (252, 252)
num_classes = 11
metainfo = dict(classes=tuple(f'class{i}' for i in range(num_classes)))
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=518),
    decode_head=dict(num_classes=num_classes, norm_cfg=dict(type='BN', requires_grad=True)))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=1.0, begin=0, end=2000, eta_min=0.0, by_epoch=False)]
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
