"""Segmentors: how backbone, neck and heads are wired for training and inference; ``tta.SegTTAModel`` wraps
one for test-time augmentation."""
