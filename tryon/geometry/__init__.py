"""Geometry building blocks: thin-plate-spline warps (000 §4.3.3.1) and mask operations."""

from tryon.geometry.masks import dilate, erode, feather, free_form_mask, pixel_to_token_mask, random_rectangle_mask
from tryon.geometry.tps import FixedGridTPS, pixel_centre_grid, tps_kernel, tps_warp

__all__ = [
    "FixedGridTPS",
    "dilate",
    "erode",
    "feather",
    "free_form_mask",
    "pixel_centre_grid",
    "pixel_to_token_mask",
    "random_rectangle_mask",
    "tps_kernel",
    "tps_warp",
]
