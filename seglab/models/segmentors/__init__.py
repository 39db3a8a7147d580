"""Segmentors: how backbone, neck and heads are wired for training and inference."""
