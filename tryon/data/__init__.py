"""Generic dataset readers shared by the plugins (a task's own layouts live in its plugin)."""

from tryon.data.image_folder import IMAGE_EXTENSIONS, ImageFolderDataset, find_images

__all__ = ["IMAGE_EXTENSIONS", "ImageFolderDataset", "find_images"]
