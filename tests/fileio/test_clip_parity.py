"""SAN's CLIP from the Hub (``openai/clip-vit-base-patch16``, ``openai/clip-vit-large-patch14-336``: transformers'
``CLIPModel`` layout). A CLIPModel at small sizes with random weights, written as those repos serve it
(``pytorch_model.bin`` with the ``position_ids`` buffers of 2021-era files) into an offline Hub cache, loaded by
``init_pretrained`` through the source a shipped SAN config names (shrunk to the same sizes): the key map
(``seglab/models/san/clip_hf.py``), then the segmentor's clip2mmseg split. SAN's image encoder, its recognition
layer (run with zero attention biases, where its query tokens follow the class token) and its text encoder give
transformers' hidden states, projected image embedding and projected text embeddings within 1e-4 x max."""

from __future__ import annotations

import pytest
import torch

from seglab.fileio.pretrained import read_safetensors
from seglab.fileio.sources import known
from seglab.models import builder

from ..models.hub_parity import randomise, shrunk_config
from .conftest import assert_close

transformers = pytest.importorskip("transformers")
builder.load_weight_tables()

VOCAB, CONTEXT, IMAGE, PATCH = 64, 12, 32, 8
# the vision tower's 4 layers: 3 in SAN's image encoder, the last one in its recognition module
SHRINK = {
    "model.image_encoder.img_size": (IMAGE, IMAGE),
    "model.image_encoder.patch_size": PATCH,
    "model.image_encoder.embed_dims": 32,
    "model.image_encoder.num_heads": 2,
    "model.image_encoder.num_layers": 3,
    "model.image_encoder.out_indices": (0, 1, 2),
    "model.text_encoder.embed_dims": 16,
    "model.text_encoder.num_heads": 2,
    "model.text_encoder.num_layers": 2,
    "model.text_encoder.output_dims": 8,
    "model.text_encoder.context_length": CONTEXT,
    "model.text_encoder.total_vocab_size": VOCAB,
    "model.decode_head.deep_supervision_idxs": [1],
    "model.decode_head.san_cfg.clip_channels": 32,
    "model.decode_head.san_cfg.embed_dims": 24,
    "model.decode_head.san_cfg.num_queries": 10,
    "model.decode_head.san_cfg.cfg_encoder": dict(num_encode_layer=2, num_heads=2, mlp_ratio=2),
    "model.decode_head.san_cfg.cfg_decoder.num_heads": 2,
    "model.decode_head.san_cfg.cfg_decoder.embed_channels": 16,
    "model.decode_head.san_cfg.cfg_decoder.mlp_channels": 16,
    "model.decode_head.maskgen_cfg.sos_token_num": 10,
    "model.decode_head.maskgen_cfg.num_layers": 1,
    "model.decode_head.maskgen_cfg.embed_dims": 32,
    "model.decode_head.maskgen_cfg.num_heads": 2,
    "model.decode_head.maskgen_cfg.out_dims": 8,
}
CONFIGS = {
    "san-vit-b16_coco-stuff164k-640x640": "openai/clip-vit-base-patch16",
    "san-vit-l14_coco-stuff164k-640x640": "openai/clip-vit-large-patch14-336",
}
FROM_CLIP = ("image_encoder.", "text_encoder.", "decode_head.rec_with_attnbias.")


def clip_model() -> torch.nn.Module:
    """transformers' CLIPModel at SHRINK's sizes, every tensor random; ``eos_token_id=2`` as in the Hub repos'
    config.json (the end token is the highest id, found by argmax, as OpenAI's and seglab's encoders find it)."""
    text = dict(vocab_size=VOCAB, hidden_size=16, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    text.update(max_position_embeddings=CONTEXT, bos_token_id=0, pad_token_id=1, eos_token_id=2)
    vision = dict(hidden_size=32, intermediate_size=128, num_hidden_layers=4, num_attention_heads=2)
    vision.update(image_size=IMAGE, patch_size=PATCH)
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=8)
    return randomise(transformers.CLIPModel(config))


def hub_state(model: torch.nn.Module, folder) -> dict[str, torch.Tensor]:
    """What the Hub's pytorch_model.bin holds: ``save_pretrained``'s tensors plus the ``position_ids`` buffers
    files written in 2021 carry (the key map drops them)."""
    model.save_pretrained(folder)
    state = read_safetensors(folder / "model.safetensors")
    state["text_model.embeddings.position_ids"] = torch.arange(CONTEXT)[None]
    state["vision_model.embeddings.position_ids"] = torch.arange((IMAGE // PATCH) ** 2 + 1)[None]
    return state


def token_ids() -> torch.Tensor:
    """Three prompts of 4, 7 and 12 tokens, each closed by the end token (the highest id), zero-padded."""
    torch.manual_seed(3)
    ids = torch.zeros(3, CONTEXT, dtype=torch.long)
    for row, length in enumerate((4, 7, CONTEXT)):
        ids[row, :length] = torch.randint(3, VOCAB - 1, (length,))
        ids[row, length - 1] = VOCAB - 1
    return ids


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_san_loads_openai_clip_from_the_hub_and_gives_transformers_features(
    config, tmp_path, load_from_hub, seglab_log, one_thread
):
    theirs = clip_model()
    state = hub_state(theirs, tmp_path / "clip")
    cfg = shrunk_config(config, SHRINK)
    source = known(cfg.model.pretrained)
    assert source.hub.repo == CONFIGS[config] and source.hub.layout == "transformers"
    ours = builder.build_initialised(cfg.model).eval()
    report = load_from_hub(ours, cfg.model.pretrained, state)

    # every tensor SAN takes from CLIP is loaded; left unloaded: the side adapter and the background embedding
    clip_keys = [k for k in ours.state_dict() if k.startswith(FROM_CLIP) and k != "text_encoder.bg_embed"]
    assert not report.unexpected and not report.skipped and report.loaded == len(clip_keys)
    assert report.missing and all(
        k.startswith("decode_head.side_adapter_network.") or k == "text_encoder.bg_embed" for k in report.missing
    ), report.missing
    assert f"({source.hub.short}, transformers layout)" in seglab_log.text
    assert "converted the original OpenAI CLIP layout" in seglab_log.text

    torch.manual_seed(4)
    x = torch.randn(2, 3, IMAGE, IMAGE)
    with torch.no_grad():
        vision = theirs.vision_model(pixel_values=x, output_hidden_states=True)
        outs = ours.image_encoder(x)  # the embedding after ln_pre, then each layer: ((B, C, h, w), class token)
        assert len(outs) == 4
        for (feature_map, cls_token), tokens in zip(outs, vision.hidden_states[:4], strict=True):
            assert_close(cls_token, tokens[:, 0])
            assert_close(feature_map.flatten(2).transpose(1, 2), tokens[:, 1:])

        rec = ours.decode_head.rec_with_attnbias
        rec.final_norm = False  # compare the projection itself, not only its direction
        side = IMAGE // PATCH
        queries = rec([torch.zeros(2, 1, rec.sos_token_num, side, side)], outs[-1])
        expected = theirs.visual_projection(vision.pooler_output)
        for q in range(rec.sos_token_num):
            assert_close(queries[:, q], expected)

        ids = token_ids()
        expected = theirs.text_projection(theirs.text_model(input_ids=ids).pooler_output)
        assert_close(ours.text_encoder.encode_text(ids), expected)
    assert torch.equal(ours.text_encoder.logit_scale, theirs.logit_scale)
