# microsoft/beit-base-finetuned-ade-640-640 (https://huggingface.co/microsoft/beit-base-finetuned-ade-640-640),
# BEiT-B + UPerNet trained on ADE20K by the BEiT authors, as transformers serves it: MMSegmentation's BEiT-B
# config with what the Hub model computes differently set to match. Its sizes are those transformers'
# convert_beit_unilm_to_pytorch.py gives an ADE20K base checkpoint (BeitConfig defaults, relative position
# bias, 640x640, 150 classes). BeitForSemanticSegmentation feeds its neck hidden_states[i - 1] for i in
# out_indices=[3, 5, 7, 11], hidden_states[0] being the embeddings: the outputs of blocks 1, 3, 5, 9, where
# MMSegmentation's config reads blocks 3, 5, 7, 11. LayerNorm eps is transformers' 1e-12; the Hub's image
# processor normalises with mean = std = 127.5. 'seglab test THIS_CONFIG hf://microsoft/beit-base-finetuned-ade-640-640'.
_base_ = './beit-base_upernet_8xb2-160k_ade20k-640x640.py'
crop_size = (640, 640)
data_preprocessor = dict(size=crop_size, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(out_indices=(1, 3, 5, 9), norm_cfg=dict(type='LN', eps=1e-12)))
load_from = 'hf://microsoft/beit-base-finetuned-ade-640-640'
