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
    "RepeatDataset": "seglab.data.datasets.wrappers:RepeatDataset",
    "MultiImageMixDataset": "seglab.data.datasets.wrappers:MultiImageMixDataset",
    "DarkZurichDataset": "seglab.data.datasets.cityscapes:DarkZurichDataset",
    "NightDrivingDataset": "seglab.data.datasets.cityscapes:NightDrivingDataset",
    "PascalContextDataset": "seglab.data.datasets.pascal_context:PascalContextDataset",
    "PascalContextDataset59": "seglab.data.datasets.pascal_context:PascalContextDataset59",
    "COCOStuffDataset": "seglab.data.datasets.coco_stuff:COCOStuffDataset",
    "ChaseDB1Dataset": "seglab.data.datasets.vessels:ChaseDB1Dataset",
    "DRIVEDataset": "seglab.data.datasets.vessels:DRIVEDataset",
    "HRFDataset": "seglab.data.datasets.vessels:HRFDataset",
    "STAREDataset": "seglab.data.datasets.vessels:STAREDataset",
    "REFUGEDataset": "seglab.data.datasets.refuge:REFUGEDataset",
    "LoveDADataset": "seglab.data.datasets.remote_sensing:LoveDADataset",
    "PotsdamDataset": "seglab.data.datasets.remote_sensing:PotsdamDataset",
    "ISPRSDataset": "seglab.data.datasets.remote_sensing:ISPRSDataset",
    "iSAIDDataset": "seglab.data.datasets.remote_sensing:iSAIDDataset",
    "SynapseDataset": "seglab.data.datasets.synapse:SynapseDataset",
    "DecathlonDataset": "seglab.data.datasets.decathlon:DecathlonDataset",
    "MapillaryDataset_v1": "seglab.data.datasets.mapillary:MapillaryDataset_v1",
    "MapillaryDataset_v2": "seglab.data.datasets.mapillary:MapillaryDataset_v2",
    "BDD100KDataset": "seglab.data.datasets.bdd100k:BDD100KDataset",
    "LIPDataset": "seglab.data.datasets.lip:LIPDataset",
    "BaseCDDataset": "seglab.data.datasets.change_detection:BaseCDDataset",
    "LEVIRCDDataset": "seglab.data.datasets.change_detection:LEVIRCDDataset",
    "NYUDataset": "seglab.data.datasets.nyu:NYUDataset",
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
    "GenerateEdge": "seglab.data.transforms.formatting:GenerateEdge",
    "LoadImageFromNDArray": "seglab.data.transforms.loading:LoadImageFromNDArray",
    "LoadDepthAnnotation": "seglab.data.transforms.loading:LoadDepthAnnotation",
    "RandomRotFlip": "seglab.data.transforms.geometric:RandomRotFlip",
    "AdjustGamma": "seglab.data.transforms.photometric:AdjustGamma",
    "CLAHE": "seglab.data.transforms.photometric:CLAHE",
    "Rerange": "seglab.data.transforms.photometric:Rerange",
    "RGB2Gray": "seglab.data.transforms.photometric:RGB2Gray",
    "ResizeToMultiple": "seglab.data.transforms.resizing:ResizeToMultiple",
    "ResizeShortestEdge": "seglab.data.transforms.resizing:ResizeShortestEdge",
    "RandomChoiceResize": "seglab.data.transforms.resizing:RandomChoiceResize",
    "SegRescale": "seglab.data.transforms.resizing:SegRescale",
    "RandomCutOut": "seglab.data.transforms.mixing:RandomCutOut",
    "RandomMosaic": "seglab.data.transforms.mixing:RandomMosaic",
    "RandomDepthMix": "seglab.data.transforms.mixing:RandomDepthMix",
    "RandomChoice": "seglab.data.transforms.wrappers:RandomChoice",
    "RandomApply": "seglab.data.transforms.wrappers:RandomApply",
    "TestTimeAug": "seglab.data.transforms.wrappers:TestTimeAug",
    "LoadSingleRSImageFromFile": "seglab.data.transforms.remote_sensing:LoadSingleRSImageFromFile",
    "LoadMultipleRSImageFromFile": "seglab.data.transforms.remote_sensing:LoadMultipleRSImageFromFile",
    "ConcatCDInput": "seglab.data.transforms.remote_sensing:ConcatCDInput",
    "LoadBiomedicalImageFromFile": "seglab.data.transforms.biomedical:LoadBiomedicalImageFromFile",
    "LoadBiomedicalAnnotation": "seglab.data.transforms.biomedical:LoadBiomedicalAnnotation",
    "LoadBiomedicalData": "seglab.data.transforms.biomedical:LoadBiomedicalData",
    "BioMedical3DRandomCrop": "seglab.data.transforms.biomedical:BioMedical3DRandomCrop",
    "BioMedical3DPad": "seglab.data.transforms.biomedical:BioMedical3DPad",
    "BioMedical3DRandomFlip": "seglab.data.transforms.biomedical:BioMedical3DRandomFlip",
    "BioMedicalGaussianNoise": "seglab.data.transforms.biomedical_intensity:BioMedicalGaussianNoise",
    "BioMedicalGaussianBlur": "seglab.data.transforms.biomedical_intensity:BioMedicalGaussianBlur",
    "BioMedicalRandomGamma": "seglab.data.transforms.biomedical_intensity:BioMedicalRandomGamma",
    "Albu": "seglab.data.transforms.albu:Albu",
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
        "ResNeXt": "seglab.models.backbones.resnext:ResNeXt",
        "ResNeSt": "seglab.models.backbones.resnest:ResNeSt",
        "MixVisionTransformer": "seglab.models.backbones.mit:MixVisionTransformer",
        "SwinTransformer": "seglab.models.backbones.swin:SwinTransformer",
        "BiSeNetV1": "seglab.models.backbones.bisenetv1:BiSeNetV1",
        "BiSeNetV2": "seglab.models.backbones.bisenetv2:BiSeNetV2",
        "STDCNet": "seglab.models.backbones.stdc:STDCNet",
        "STDCContextPathNet": "seglab.models.backbones.stdc:STDCContextPathNet",
        "CGNet": "seglab.models.backbones.cgnet:CGNet",
        "ERFNet": "seglab.models.backbones.erfnet:ERFNet",
        "ICNet": "seglab.models.backbones.icnet:ICNet",
        "ConvNeXt": "seglab.models.backbones.convnext:ConvNeXt",
        "mmpretrain.ConvNeXt": "seglab.models.backbones.convnext:ConvNeXt",
        "PoolFormer": "seglab.models.backbones.poolformer:PoolFormer",
        "mmpretrain.PoolFormer": "seglab.models.backbones.poolformer:PoolFormer",
        "HRNet": "seglab.models.backbones.hrnet:HRNet",
    },
    "neck": {
        "FPN": "seglab.models.necks.fpn:FPN",
        "JPU": "seglab.models.necks.jpu:JPU",
        "ICNeck": "seglab.models.necks.ic_neck:ICNeck",
    },
    "head": {
        "ASPPHead": "seglab.models.heads.aspp:ASPPHead",
        "DepthwiseSeparableASPPHead": "seglab.models.heads.aspp:DepthwiseSeparableASPPHead",
        "FCNHead": "seglab.models.heads.fcn:FCNHead",
        "DepthwiseSeparableFCNHead": "seglab.models.heads.fcn:DepthwiseSeparableFCNHead",
        "PSPHead": "seglab.models.heads.psp:PSPHead",
        "UPerHead": "seglab.models.heads.uper:UPerHead",
        "FPNHead": "seglab.models.heads.fpn:FPNHead",
        "SegformerHead": "seglab.models.heads.segformer:SegformerHead",
        "OCRHead": "seglab.models.heads.ocr:OCRHead",
        "PointHead": "seglab.models.heads.point:PointHead",
        "PSAHead": "seglab.models.heads.psa:PSAHead",
        "EncHead": "seglab.models.heads.enc:EncHead",
        "ANNHead": "seglab.models.heads.ann:ANNHead",
        "APCHead": "seglab.models.heads.apc:APCHead",
        "DMHead": "seglab.models.heads.dm:DMHead",
        "EMAHead": "seglab.models.heads.ema:EMAHead",
        "ISAHead": "seglab.models.heads.isa:ISAHead",
        "DAHead": "seglab.models.heads.da:DAHead",
        "DNLHead": "seglab.models.heads.dnl:DNLHead",
        "GCHead": "seglab.models.heads.gc:GCHead",
        "NLHead": "seglab.models.heads.nl:NLHead",
        "CCHead": "seglab.models.heads.cc:CCHead",
        "STDCHead": "seglab.models.heads.stdc_head:STDCHead",
    },
    "loss": {
        "CrossEntropyLoss": "seglab.models.losses.cross_entropy:CrossEntropyLoss",
        "DiceLoss": "seglab.models.losses.dice:DiceLoss",
        "FocalLoss": "seglab.models.losses.focal:FocalLoss",
        "LovaszLoss": "seglab.models.losses.lovasz:LovaszLoss",
        "TverskyLoss": "seglab.models.losses.tversky:TverskyLoss",
        "BoundaryLoss": "seglab.models.losses.boundary:BoundaryLoss",
        "HuasdorffDisstanceLoss": "seglab.models.losses.hausdorff:HuasdorffDisstanceLoss",
        "OhemCrossEntropy": "seglab.models.losses.ohem:OhemCrossEntropy",
        "KLDivLoss": "seglab.models.losses.kldiv:KLDivLoss",
    },
    "pixel_sampler": {
        "OHEMPixelSampler": "seglab.models.samplers.ohem:OHEMPixelSampler",
    },
}

METRICS = {
    "IoUMetric": "seglab.evaluation.metrics:IoUMetric",
}

PARAM_SCHEDULERS = {
    name: f"seglab.engine.optim:{name}"
    for name in (
        "PolyLR",
        "PolyLRRatio",
        "LinearLR",
        "ConstantLR",
        "MultiStepLR",
        "StepLR",
        "ExponentialLR",
        "CosineAnnealingLR",
    )
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
