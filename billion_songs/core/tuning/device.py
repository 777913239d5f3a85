"""Where training runs and in what precision: CUDA when present, the CPU otherwise."""

from __future__ import annotations

import contextlib

import torch

from billion_songs.core.tuning.train_config import TrainError


def pick_device(spec: str = "auto") -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainError(f"device {spec!r} asked for, but this machine has no CUDA device")
    return device


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """bf16 autocast on a CUDA device that supports it; None (plain fp32) otherwise. fp16
    is never chosen: it needs loss scaling, and bf16 hardware is the common case now."""
    if precision == "fp32" or device.type != "cuda":
        return None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if precision == "bf16":
        raise TrainError("precision bf16 asked for, but this CUDA device does not support it")
    return None


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
