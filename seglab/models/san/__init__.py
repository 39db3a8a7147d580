"""SAN (Side Adapter Network): open-vocabulary segmentation on OpenAI CLIP, as MMSegmentation 1.2.2 runs it."""
