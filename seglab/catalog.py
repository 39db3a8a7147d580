"""Every type name a config can use, and where its class lives: ``name -> "module:Class"``.

This is data, not code: ``seglab.registry`` reads it to know every type up front and imports a
module only when one of its types is first built. A new family adds its rows here (a test imports
every row and checks the class registers under that name). Model rows are grouped by kind, which
``MODELS.names(kind=...)`` and ``seglab zoo`` list.
"""

DATASETS = {
    "BaseSegDataset": "seglab.data.datasets.base:BaseSegDataset",
    "CityscapesDataset": "seglab.data.datasets.cityscapes:CityscapesDataset",
    "PascalVOCDataset": "seglab.data.datasets.voc:PascalVOCDataset",
    "ADE20KDataset": "seglab.data.datasets.ade:ADE20KDataset",
    "ConcatDataset": "seglab.data.datasets.wrappers:ConcatDataset",
}

TRANSFORMS = {
    "LoadImageFromFile": "seglab.data.transforms.loading:LoadImageFromFile",
    "LoadAnnotations": "seglab.data.transforms.loading:LoadAnnotations",
    "Resize": "seglab.data.transforms.geometric:Resize",
    "RandomResize": "seglab.data.transforms.geometric:RandomResize",
    "RandomCrop": "seglab.data.transforms.geometric:RandomCrop",
    "RandomFlip": "seglab.data.transforms.geometric:RandomFlip",
    "Pad": "seglab.data.transforms.geometric:Pad",
    "RandomRotate": "seglab.data.transforms.geometric:RandomRotate",
    "PhotoMetricDistortion": "seglab.data.transforms.photometric:PhotoMetricDistortion",
    "PackSegInputs": "seglab.data.transforms.formatting:PackSegInputs",
}

MODELS = {
    "segmentor": {
        "EncoderDecoder": "seglab.models.segmentors.encoder_decoder:EncoderDecoder",
        "CascadeEncoderDecoder": "seglab.models.segmentors.cascade_encoder_decoder:CascadeEncoderDecoder",
    },
    "data_preprocessor": {
        "SegDataPreProcessor": "seglab.models.preprocessor:SegDataPreProcessor",
    },
    "backbone": {
        "ResNet": "seglab.models.backbones.resnet:ResNet",
        "ResNetV1c": "seglab.models.backbones.resnet:ResNetV1c",
        "ResNetV1d": "seglab.models.backbones.resnet:ResNetV1d",
    },
    "neck": {},
    "head": {
        "ASPPHead": "seglab.models.heads.aspp:ASPPHead",
        "DepthwiseSeparableASPPHead": "seglab.models.heads.aspp:DepthwiseSeparableASPPHead",
        "FCNHead": "seglab.models.heads.fcn:FCNHead",
    },
    "loss": {
        "CrossEntropyLoss": "seglab.models.losses.cross_entropy:CrossEntropyLoss",
        "DiceLoss": "seglab.models.losses.dice:DiceLoss",
        "FocalLoss": "seglab.models.losses.focal:FocalLoss",
    },
}

METRICS = {
    "IoUMetric": "seglab.evaluation.metrics:IoUMetric",
}

PARAM_SCHEDULERS = {
    name: f"seglab.engine.optim:{name}"
    for name in ("PolyLR", "LinearLR", "ConstantLR", "MultiStepLR", "StepLR", "ExponentialLR", "CosineAnnealingLR")
}

HOOKS = {
    "LoggerHook": "seglab.engine.hooks.logger:LoggerHook",
    "CheckpointHook": "seglab.engine.hooks.checkpoint:CheckpointHook",
    "IterTimerHook": "seglab.engine.hooks.runtime:IterTimerHook",
    "ParamSchedulerHook": "seglab.engine.hooks.runtime:ParamSchedulerHook",
    "DistSamplerSeedHook": "seglab.engine.hooks.runtime:DistSamplerSeedHook",
    "RuntimeInfoHook": "seglab.engine.hooks.runtime:RuntimeInfoHook",
    "EMAHook": "seglab.engine.hooks.ema:EMAHook",
    "SegVisualizationHook": "seglab.engine.hooks.visualization:SegVisualizationHook",
}

# Import names that differ from the package to pip-install, for the "missing package" message.
PIP_NAMES = {"cv2": "opencv-python-headless", "sklearn": "scikit-learn", "PIL": "pillow", "yaml": "pyyaml"}
