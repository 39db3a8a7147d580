# microsoft/beit-large-finetuned-ade-640-640 (https://huggingface.co/microsoft/beit-large-finetuned-ade-640-640),
# BEiT-L + UPerNet trained on ADE20K by the BEiT authors (beit_large_patch16_640_pt22k_ft22ktoade20k.pth), as
# transformers serves it: MMSegmentation's BEiT-L config with what the Hub model computes differently set to
# match, as beit-base_upernet_hf-microsoft_ade20k-640x640.py does for BEiT-B. transformers'
# convert_beit_unilm_to_pytorch.py gives the large ADE20K checkpoint 24 blocks of width 1024, 16 heads, relative
# position bias, 640x640, 150 classes and out_indices=[7, 11, 15, 23]; BeitForSemanticSegmentation feeds its neck
# hidden_states[i - 1], hidden_states[0] being the embeddings: the outputs of blocks 5, 9, 13, 21, where
# MMSegmentation's config reads blocks 7, 11, 15, 23. LayerNorm eps is transformers' 1e-12; the Hub's image
# processor normalises with mean = std = 127.5.
# 'seglab test THIS_CONFIG hf://microsoft/beit-large-finetuned-ade-640-640'.
_base_ = './beit-large_upernet_8xb1-amp-160k_ade20k-640x640.py'
crop_size = (640, 640)
data_preprocessor = dict(size=crop_size, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(out_indices=(5, 9, 13, 21), norm_cfg=dict(type='LN', eps=1e-12)))
load_from = 'hf://microsoft/beit-large-finetuned-ade-640-640'
