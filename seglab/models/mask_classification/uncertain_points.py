"""Where the mask losses look: importance sampling of the points where a mask prediction is least certain
(MMDetection's ``get_uncertain_point_coords_with_randomness``)."""

from __future__ import annotations

import torch

from seglab.models.layers.point_sample import point_sample


def uncertain_point_coords(
    mask_logits: torch.Tensor, num_points: int, oversample: float, importance: float
) -> torch.Tensor:
    """Points where the (N, 1, H, W) logits are least certain (|logit| smallest) among ``oversample`` x
    random candidates, plus random points to fill ``num_points``. The torch.rand calls are MMDetection's,
    in its order, so a seeded run draws the same points."""
    n = mask_logits.shape[0]
    num_sampled = int(num_points * oversample)
    coords = torch.rand(n, num_sampled, 2, device=mask_logits.device)
    uncertainty = -point_sample(mask_logits, coords).abs()
    num_uncertain = int(importance * num_points)
    idx = torch.topk(uncertainty[:, 0, :], k=num_uncertain, dim=1)[1]
    idx = idx + num_sampled * torch.arange(n, dtype=torch.long, device=mask_logits.device)[:, None]
    coords = coords.view(-1, 2)[idx.view(-1), :].view(n, num_uncertain, 2)
    if num_points > num_uncertain:
        coords = torch.cat((coords, torch.rand(n, num_points - num_uncertain, 2, device=mask_logits.device)), dim=1)
    return coords
