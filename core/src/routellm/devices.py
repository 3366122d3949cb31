"""Choosing a torch device (torch is imported only when called; the calling plugin depends on it)."""

from __future__ import annotations


def pick_device(device: str) -> str:
    """Resolve ``auto`` to the best available torch device: CUDA, then MPS, then CPU."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
