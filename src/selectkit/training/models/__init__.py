"""Backbones and networks with selection layers."""

from selectkit.training.models.coss import CoSSNet, Decimator, decimate, lowpass_kernel

__all__ = ["CoSSNet", "Decimator", "decimate", "lowpass_kernel"]
