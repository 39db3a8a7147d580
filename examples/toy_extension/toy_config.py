# A config that uses only the toy extension's types beside seglab's shipped runtime.
# Run from the repository root with the package importable:
#   PYTHONPATH=examples/toy_extension seglab train examples/toy_extension/toy_config.py
_base_ = ["mmseg::_base_/default_runtime.py"]
custom_imports = dict(imports=["toy_ext"], allow_failed_imports=False)  # registers the Toy* types

crop_size = (28, 28)  # the 32x32 toy images after ToyBorderCrop(border=2)
data_root = "data/toy"
model = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(
        type="SegDataPreProcessor",
        mean=[127.5, 127.5, 127.5],
        std=[64.0, 64.0, 64.0],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size,
    ),  # ToyBorderCrop declares changes_size: batches are padded to one size
    backbone=dict(type="ToyBackbone", in_channels=3, channels=(8, 16)),
    decode_head=dict(
        type="ToyHead",
        in_channels=16,
        in_index=-1,
        channels=16,
        num_classes=2,
        dropout_ratio=0.0,
        loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode="whole"),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations"),
    dict(type="ToyBorderCrop", border=2),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackSegInputs"),
]
test_pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"), dict(type="PackSegInputs")]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    dataset=dict(type="ToyCsvDataset", data_root=data_root, ann_file="train.csv", pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type="ToyCsvDataset", data_root=data_root, ann_file="val.csv", pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="IoUMetric", iou_metrics=["mIoU"])
test_evaluator = val_evaluator

optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0005))
param_scheduler = [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=20, by_epoch=False)]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=20, val_interval=20)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=20))
custom_hooks = [dict(type="ToyLossRecorderHook", file_name="toy_losses.json")]
randomness = dict(seed=0)
