"""Generic dataset readers shared by the plugins (a task's own layouts live in its plugin)."""

from tryon.data.digits import DigitsDataset
from tryon.data.image_folder import IMAGE_EXTENSIONS, ImageFolderDataset, find_images
from tryon.data.shapes import data_shape
from tryon.data.spec_strings import parse_data_spec

__all__ = ["DigitsDataset", "IMAGE_EXTENSIONS", "ImageFolderDataset", "data_shape", "find_images", "parse_data_spec"]
