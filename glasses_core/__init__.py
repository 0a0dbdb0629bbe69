"""glasses_core: what every tool shares — load an image, find faces, crop, predict.

Nothing here imports TensorFlow, Tornado, coremltools or any front end.
"""
from .config import CropConfig, ModelConfig
from .crop import Detectors, FaceCrop, crop_face, preprocess
from .errors import ConfigError, GlassesError, ImageLoadError, ModelError
from .face_detect import Face, FaceDetector
from .image_io import load_image
from .runtime import DEFAULT_MODEL, GlassesClassifier, PhotoResult

__all__ = ["CropConfig", "ModelConfig", "Detectors", "FaceCrop", "crop_face", "preprocess",
           "ConfigError", "GlassesError", "ImageLoadError", "ModelError", "Face", "FaceDetector",
           "load_image", "DEFAULT_MODEL", "GlassesClassifier", "PhotoResult"]
__version__ = "0.1.0"
