# The CPU-sized fine-tunes' data: a CamVid-sized set of your own (a few hundred 480x360 PNG images,
# img_dir/{train,val} + ann_dir/{train,val}, labels 0..N-1, 255 ignored) under data/my_set, 252x252 crops (a
# multiple of DINOv2's 14-pixel patch), batch 4, and the 2k-iteration loop with validation and checkpoints
# every 500. The 11 classes are placeholders: a config inheriting it passes its own metainfo to the three
# dataloaders (and num_classes to its heads), as the configs that inherit it show.
crop_size = (252, 252)
metainfo = dict(classes=tuple(f'class{i}' for i in range(11)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(480, 360), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(480, 360), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
dataset = dict(type='BaseSegDataset', data_root='data/my_set', metainfo=metainfo, reduce_zero_label=False,
               img_suffix='.png')
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, pipeline=train_pipeline,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, pipeline=test_pipeline, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500))
