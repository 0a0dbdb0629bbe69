"""glasses_core: what every tool shares — load an image, find faces, crop, predict.

Nothing here imports TensorFlow, Tornado, coremltools or any front end.
"""
from .config import CropConfig, ModelConfig
from .crop import FaceCrop, crop_face, preprocess
from .errors import ConfigError, GlassesError, ImageLoadError, ModelError
from .face_detect import Face, FaceDetector
from .image_io import Photo, load_image, open_photo
from .locate import Detectors
from .runtime import DEFAULT_MODEL, GlassesClassifier, PhotoResult

__all__ = ["CropConfig", "ModelConfig", "Detectors", "FaceCrop", "crop_face", "preprocess",
           "ConfigError", "GlassesError", "ImageLoadError", "ModelError", "Face", "FaceDetector",
           "load_image", "open_photo", "Photo", "DEFAULT_MODEL", "GlassesClassifier", "PhotoResult"]
__version__ = "0.1.0"
