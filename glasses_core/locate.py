"""Where the faces are: found on a small copy of the photo, then each one measured at its own scale.

The whole-photo pass sees a face as small as the face is in its photo: a face that fills a
fifth of a phone photo, or one of several in a group shot, gets only a few detector pixels and
coarse eye keypoints. So each face found is looked at again on a square region around it,
levelled by the first pass's eye line and cut from the finest pixels it needs, and its eyes
are taken from that second look (by default MediaPipe's face mesh, on the region its landmark
pipeline uses): the crop then depends on the face, not on the rest of the photo.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .config import CropConfig
from .errors import ConfigError
from .face_detect import Face, FaceDetector, make_face
from .face_mesh import INPUT_SIZE as MESH_INPUT, ROI_SCALE as MESH_ROI_SCALE, FaceMesh, eye_centres
from .geometry import CropGeometry, cut
from .image_io import Photo, open_photo

DETECT_SIDE = 256  # the whole-photo pass reads a copy at least this long (2x the detector input)
REGION = 2.0  # "detector" refinement: region side in face-box sides (the face fills half of it)
MESH_PASSES = 4  # at most this many face-mesh passes, each on the region the last one's landmarks give
MESH_DETAIL = 0.5  # ...each cut from a decode holding the region at half the mesh's input or more
MESH_SETTLED = 0.02  # ...stopping once that region moves and grows by less than this (of its side)
MAX_CENTRE_MOVE = 0.25  # a refined face further than this (in region sides) from the region's
#                         centre is another face, and the first pass's keypoints are kept
TRUSTED = 12.0  # a face is trusted when its face-mesh presence (a logit) is at least this and its eye line
UPRIGHT = math.radians(45)  # is within this of the look that found it (find_faces); else the photo is
#                             looked at again, turned and widened
WIDENED_TRUSTED = 2.0  # a face of the widened look (a close-up the frame cuts, set in a black canvas) counts
#                            from this presence: the canvas blacks out its forehead or chin, and the mesh reads
#                            such a face far less present (studies/close_up_study.py)
WIDENED_AGREEING = 0.15  # ...and from GIVE_UP when the mesh's eyes lie within this many eye distances of the
#                           detector's own (eye_agreement): such faces are all right faces (studies/presence_study.py)
GIVE_UP = -6.0  # a face stops being refined when two passes in a row read its presence below this: a second
#                 look's face cannot count then (TRUSTED); faces the second looks made trusted read -2.9 or more
#                 on one of their first two passes (studies/second_look_study.py). An upright face is kept,
#                 refined no further (preprocessing 12: studies/absent_face_study.py)
# The quarter turns of the second look, each with the angle that the eye line of a face upright in
# the turned copy has in the photo (image coordinates: y down, so +90 degrees points down).
TURNS = ((Image.Transpose.ROTATE_90, math.pi / 2), (Image.Transpose.ROTATE_270, -math.pi / 2),
         (Image.Transpose.ROTATE_180, math.pi))
# Where a face mesh region leaves the photo (crop.CROP_OUTSIDE is the crop's), by the look that found the
# face; black for all three (research_and_train_nn/studies/frame_fill_study.py measured the photo's edge):
REGION_OUTSIDE = "black"  # the upright look's faces: edge pixels moved the eyes of a third of ordinary
#                            photos and cost validation F1
TURNED_REGION_OUTSIDE = "black"  # the turned look's (heads on their side, upside down): edge pixels find a
#                                   few more of them, but a false face the turned look finds in a photo
#                                   without one then reads above GIVE_UP and is refined MESH_PASSES times
WIDENED_REGION_OUTSIDE = "black"  # the widened look's (close-ups): edge pixels find more close-ups but
#                                    change the answers of small, tight validation photos (CelebA's)
WIDEN = 2.0  # the second look for close-ups: the photo in a canvas this many times its longer side


class Detectors:
    """The face detector a CropConfig asks for, and the refiner that measures each face's eyes
    again (``config.refine``).

    ``config.detector``: "short" (BlazeFace short-range on the whole photo), "full" (the
    full-range model on the whole photo) or "auto": short-range on the whole photo and, when
    it finds no face or only faces narrower than ``SMALL_FACE`` of the photo (a group or
    distant shot), short-range again on the whole photo at DETAIL times the detector's input
    (one invoke of the network resized to it: what tiles a third of the photo wide would see,
    without their edges), which finds faces down to about 5 % of the photo's longer side.
    """
    SMALL_FACE = 0.15  # face width / longer side under which the whole-photo pass may miss faces
    DETAIL = 3  # "auto": the second pass reads the photo's longer side at DETAIL x the detector's input
    # ...shrunk from the first look's view when that is at least as long (PREPROCESS_VERSION 11: a 12 MP photo
    # is not decoded again at 1/4 for it; studies/detail_decode_study.py), else from a view twice as long

    def __init__(self, config: CropConfig, num_threads: int = 1):
        if config.detector not in ("short", "full", "auto"):
            raise ConfigError(f"unknown detector {config.detector!r}; choose short, full or auto")
        self._detector = FaceDetector("full" if config.detector == "full" else "short",
                                      config.min_face_score, num_threads)
        self._detailed = config.detector == "auto"
        if config.refine not in REFINERS:
            raise ConfigError(f"unknown refine {config.refine!r}; choose one of {sorted(REFINERS)}")
        self.refiner = REFINERS[config.refine](config, num_threads)
        self.looks_again = isinstance(self.refiner, MeshRefiner)  # only the mesh measures presence

    def detect(self, photo) -> list[Face]:
        """Faces in a Photo (or anything ``open_photo`` takes), in its full-resolution pixels,
        keypoints as the detector gives them (not refined)."""
        photo = open_photo(photo)
        longer = max(photo.size)
        view, reduction, small = self._first_view(photo)
        faces = [scaled(face, reduction * _ratio(view, small)) for face in self._detector.detect(small)]
        detail = self.DETAIL * self._detector.variant.input_size
        if self._detailed and longer >= detail and \
                (not faces or max(f.box[2] - f.box[0] for f in faces) < self.SMALL_FACE * longer):
            faces = keep_whole_faces(faces + self._detect_small(photo, detail))
        return faces

    def _detect_small(self, photo: Photo, detail: int) -> list[Face]:
        """Faces found on the photo read at ``detail`` input pixels along its longer side, in its
        full-resolution pixels: shrunk (antialiased) from the first look's view when that is at
        least ``detail`` long, otherwise from the coarsest view at least twice that long."""
        longer = max(photo.size)
        view, reduction = photo.image(DETECT_SIDE / longer)
        if max(view.size) < detail:
            view, reduction = photo.image(2 * detail / longer)
        return [scaled(face, reduction) for face in self._detector.detect(view, detail)]

    def _first_view(self, photo: Photo) -> tuple[Image.Image, int, Image.Image]:
        """(view, reduction, small): the first look's view of the photo (DETECT_SIDE long or more) and
        its copy resized to fit the detector's input (FaceDetector.fitted), made once per photo: the
        turned looks read that copy turned (preprocessing 13: each turn was resized again)."""
        view, reduction = photo.image(DETECT_SIDE / max(photo.size))
        small = photo.kept(("detector's copy", reduction, self._detector.variant.input_size),
                           lambda: self._detector.fitted(view))
        return view, reduction, small

    def detect_turned(self, photo) -> list[tuple[float, list[Face]]]:
        """Faces found on the photo turned by a quarter, three quarters and half a turn (heads
        lying on their side or upside down), in the photo's own pixels, with each turn's upright
        eye-line angle (TURNS): the detector's copy of the first look's view, turned."""
        photo = open_photo(photo)
        view, reduction, small = self._first_view(photo)
        factor = reduction * _ratio(view, small)
        return [(angle, [scaled(unturned(face, turn, small.size), factor)
                         for face in self._detector.detect(small.transpose(turn))]) for turn, angle in TURNS]

    def detect_widened(self, photo) -> list[Face]:
        """Faces found on the photo set in a black canvas WIDEN times its longer side: a close-up
        the frame cuts (forehead, chin) becomes a whole-looking face the detector's size. The view is
        shrunk straight to 1 / WIDEN of the detector's input and set in a black input-sized square
        (preprocessing 13: before, it was set in a canvas WIDEN times the view and that was shrunk)."""
        photo = open_photo(photo)
        view, reduction = photo.image(DETECT_SIDE / max(photo.size))
        side = self._detector.variant.input_size
        inner = self._detector.fitted(view, (round(side / WIDEN),) * 2)
        x, y = (side - inner.size[0]) // 2, (side - inner.size[1]) // 2
        canvas = Image.new("RGB", (side, side))
        canvas.paste(inner, (x, y))
        factor = reduction * _ratio(view, inner)
        return [scaled(shifted(face, -x, -y), factor) for face in self._detector.detect(canvas)]


def _ratio(image: Image.Image, copy: Image.Image) -> np.ndarray:
    """(x, y): how many of ``image``'s pixels one of ``copy``'s spans (a resized copy of it)."""
    return np.asarray(image.size, dtype=np.float64) / np.asarray(copy.size, dtype=np.float64)


def unturned(face: Face, turn: Image.Transpose, size: tuple[int, int]) -> Face:
    """A face found in ``image.transpose(turn)`` (``image`` of ``size``), in ``image``'s pixels."""
    width, height = size
    back = {Image.Transpose.ROTATE_90: lambda p: np.stack([width - p[:, 1], p[:, 0]], 1),
            Image.Transpose.ROTATE_270: lambda p: np.stack([p[:, 1], height - p[:, 0]], 1),
            Image.Transpose.ROTATE_180: lambda p: np.stack([width - p[:, 0], height - p[:, 1]], 1)}[turn]
    corners = back(np.asarray(face.box, dtype=np.float64).reshape(2, 2))
    return make_face((*corners.min(0), *corners.max(0)), back(np.asarray(face.keypoints, dtype=np.float64)),
                     face.score)


def keep_whole_faces(faces: list[Face], overlap: float = 0.5, key=lambda f: f.score) -> list[Face]:
    """Each face once: a detection that covers more than ``overlap`` of a more confident one's
    box (or of its own), such as the same face found again by another look,
    is dropped. Confidence is ``key`` (the detector's score)."""
    kept: list[Face] = []
    for face in sorted(faces, key=key, reverse=True):
        if all(_shared(face, other) <= overlap for other in kept):
            kept.append(face)
    return kept


def _shared(a: Face, b: Face) -> float:
    """Intersection over the smaller box."""
    w = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
    h = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return max(0.0, w) * max(0.0, h) / max(min(a.area, b.area), 1e-9)


def find_faces(photo: Photo, detectors: Detectors, config: CropConfig, give_up: float | None = GIVE_UP,
               upright_give_up: float | None = GIVE_UP) -> list[Face]:
    """The usable faces of a photo in full-resolution pixels, largest first, each with its
    eyes measured again by the refiner.

    When the refiner measures a face's presence (the face mesh) and no face of the upright look
    is trusted (``trusted``: a head lying on its side or upside down, a close-up cut by the frame,
    no face at all), the photo is looked at again turned by quarter turns and, failing that,
    widened. What those looks find counts only when trusted (the widened look's faces from
    WIDENED_TRUSTED, or from GIVE_UP where the mesh's eyes agree with the detector's: counts_widened);
    of two looks at one face, one the mesh trusts wins, then the more present.
    Faces of the upright look are always kept otherwise. A face of a second look stops being
    refined once two passes read it below ``give_up``, a face of the upright look once two read it
    below ``upright_give_up`` (None: never; preprocessing 11 refined every upright face in full)."""
    upright_give_up = upright_give_up if detectors.looks_again else None  # only the mesh reads presence
    faces = _refined(photo, detectors, detectors.detect(photo), upright_give_up)
    if detectors.looks_again and not any(trusted(f, 0.0) for f in faces):
        more = [f for angle, found in detectors.detect_turned(photo)
                for f in _refined(photo, detectors, found, give_up, TURNED_REGION_OUTSIDE) if trusted(f, angle)]
        if not more:
            more = [f for f in _refined(photo, detectors, detectors.detect_widened(photo), give_up, WIDENED_REGION_OUTSIDE)
                    if counts_widened(f)]
        # no upright face is trusted here: a second look's face the mesh trusts wins, else the more present
        # (a widened face, counted from WIDENED_TRUSTED or by counts_widened, replaces an upright one only when the
        # mesh reads it more present)
        faces = keep_whole_faces(faces + more, key=lambda f: (f in more and f.presence >= TRUSTED, f.presence))
    return sorted(usable_faces(faces, config), key=lambda f: -f.area)


def _refined(photo: Photo, detectors: Detectors, faces: list[Face], give_up: float | None = None,
             outside: str | None = None) -> list[Face]:
    """The faces with their eyes measured again; with ``give_up`` (MeshRefiner only),
    a face the mesh reads below it twice in a row is left after those passes, and the mesh's regions
    hold ``outside`` where they leave the photo (None: REGION_OUTSIDE)."""
    if give_up is None and outside is None:
        return [detectors.refiner.refine(photo, face) for face in faces]
    return [detectors.refiner.refine(photo, face, give_up=give_up, outside=outside) for face in faces]


def trusted(face: Face, look: float, at: float = TRUSTED) -> bool:
    """Whether a face is where and how the look that found it says: its presence (where measured)
    is at least ``at`` and its eye line within UPRIGHT of ``look``, the angle a face upright in
    that look has. (The mesh can read a face lying on its side or upside down with full presence
    and its eyes swapped; the eye line then points the wrong way for the look.)"""
    if face.presence is None:
        return True
    angle = math.atan2(face.left_eye[1] - face.right_eye[1], face.left_eye[0] - face.right_eye[0])
    return face.presence >= at and abs(math.remainder(angle - look, math.tau)) <= UPRIGHT


def counts_widened(face: Face) -> bool:
    """Whether a face of the widened look counts: trusted from WIDENED_TRUSTED, or from GIVE_UP when the
    mesh's eyes agree with the detector's within WIDENED_AGREEING."""
    return trusted(face, 0.0, WIDENED_TRUSTED) or \
        (trusted(face, 0.0, GIVE_UP) and eye_agreement(face) < WIDENED_AGREEING)


def eye_agreement(face: Face) -> float:
    """How far a refined face's eyes (the mesh's) lie from the detector's own: the farther eye's
    distance, in eye distances."""
    mesh, detector = np.array([face.right_eye, face.left_eye]), np.array(face.detected_eyes)
    return float(np.linalg.norm(mesh - detector, axis=1).max() / max(np.linalg.norm(mesh[1] - mesh[0]), 1e-9))


def usable_faces(faces: list[Face], config: CropConfig) -> list[Face]:
    """Drop detections whose eyes are too close together to crop."""
    return [f for f in faces if math.dist(f.right_eye, f.left_eye) >= config.min_eye_distance]


def region_of(box, right_eye, left_eye, scale: float) -> CropGeometry:
    """A square ``scale`` times a face's box around its centre, levelled by its eyes."""
    (x0, y0, x1, y1), (rx, ry), (lx, ly) = box, right_eye, left_eye
    side = scale * max(x1 - x0, y1 - y0, 1.0)
    return CropGeometry(((x0 + x1) / 2.0, (y0 + y1) / 2.0), side, math.atan2(ly - ry, lx - rx))


def region_pixels(photo: Photo, region: CropGeometry, size: int, detail: float = 1.0,
                  outside: str | None = None) -> np.ndarray:
    """The region as size x size pixels, cut from the coarsest decode that holds it at
    ``detail * size`` pixels or more; ``outside`` where it leaves the photo (None: REGION_OUTSIDE)."""
    view, reduction = photo.image(detail * size / region.side)
    return cut(view, region.reduced(reduction), size, outside=outside or REGION_OUTSIDE)


class MeshRefiner:
    """Eyes from MediaPipe's face mesh on the region around the detector's box, then again on
    the region around the mesh's own landmarks (as MediaPipe's tracking does) until that region
    settles: the eyes then no longer depend on where the whole-photo pass put the box. With
    ``mirrored``, the last region's mirror image is read too and the eyes are the mean of both
    looks: the mesh's own left-right bias cancels, and a face's eyes no longer depend on which
    way it looks (``CropConfig.refine`` "mesh_mirrored"; research_and_train_nn/studies/refine_study.py
    measured the choices)."""

    def __init__(self, config: CropConfig, num_threads: int = 1, passes: int = MESH_PASSES,
                 settled: float = MESH_SETTLED, mirrored: bool = False):
        self._mesh = FaceMesh(num_threads)
        self.passes, self.settled, self.mirrored = passes, settled, mirrored

    def refine(self, photo: Photo, face: Face, give_up: float | None = None, outside: str | None = None) -> Face:
        """The face with the mesh's eyes and presence; with ``give_up``, the passes also stop once
        two in a row read the presence below it (find_faces: a second look's face cannot count then);
        the regions hold ``outside`` where they leave the photo (None: REGION_OUTSIDE)."""
        region = region_of(face.box, face.right_eye, face.left_eye, MESH_ROI_SCALE)
        before = math.inf
        for _ in range(self.passes):
            patch = region_pixels(photo, region, MESH_INPUT, MESH_DETAIL, outside)
            landmarks, presence = self._mesh.look(patch)
            points = region.to_image(landmarks)
            eyes = eye_centres(points)
            looked, region = region, region_of((*points.min(0), *points.max(0)), eyes[0], eyes[1],
                                               MESH_ROI_SCALE)
            if _settled(looked, region, self.settled) or \
                    (give_up is not None and max(before, presence) < give_up):
                break
            before = presence
        if self.mirrored:
            eyes = (eyes + self._mirrored_eyes(patch, looked)) / 2.0
        return make_face(face.box, np.concatenate([eyes, np.asarray(face.keypoints)[2:]]), face.score,
                         presence, (face.right_eye, face.left_eye))

    def _mirrored_eyes(self, patch: np.ndarray, region: CropGeometry) -> np.ndarray:
        """The eye centres the mesh finds in ``patch`` (cut from ``region``) mirrored, in the photo's
        pixels: the subject's right eye first, as always."""
        landmarks = self._mesh.landmarks(np.ascontiguousarray(patch[:, ::-1]))
        landmarks[:, 0] = 1.0 - landmarks[:, 0]
        # in the mirror image the subject's right eye is the one the mesh calls left
        return eye_centres(region.to_image(landmarks))[::-1]


def _settled(a: CropGeometry, b: CropGeometry, within: float = MESH_SETTLED) -> bool:
    """Whether two regions differ by less than ``within`` of their side in centre and size."""
    return (math.dist(a.centre, b.centre) < within * a.side
            and abs(a.side - b.side) < within * a.side)


class DetectorRefiner:
    """Keypoints from a second BlazeFace (short-range) pass on a region ``REGION`` times the
    face's box; the first pass's are kept when that pass finds no face near the centre."""

    def __init__(self, config: CropConfig, num_threads: int = 1):
        self._detector = FaceDetector("short", config.min_face_score, num_threads)

    def refine(self, photo: Photo, face: Face) -> Face:
        size = self._detector.variant.input_size
        region = region_of(face.box, face.right_eye, face.left_eye, REGION)
        middle = (size / 2, size / 2)
        near = [f for f in self._detector.detect(region_pixels(photo, region, size))
                if math.dist(_centre(f.box), middle) <= MAX_CENTRE_MOVE * size]
        if not near:
            return face
        best = min(near, key=lambda f: math.dist(_centre(f.box), middle))
        return make_face(face.box, region.to_image(np.asarray(best.keypoints) / size), face.score)


class NoRefiner:
    """The whole-photo pass's keypoints as they are."""

    def __init__(self, config: CropConfig, num_threads: int = 1):
        pass

    def refine(self, photo: Photo, face: Face) -> Face:
        return face


def _mirrored_mesh(config: CropConfig, num_threads: int = 1) -> MeshRefiner:
    return MeshRefiner(config, num_threads, mirrored=True)


REFINERS = {"mesh": MeshRefiner, "mesh_mirrored": _mirrored_mesh, "detector": DetectorRefiner, "none": NoRefiner}


def scaled(face: Face, factor) -> Face:
    """A face found in an image shrunk ``factor`` times (a number, or (x, y) factors), in the full
    image's pixels."""
    factor = np.broadcast_to(np.asarray(factor, dtype=np.float64), (2,))
    return make_face((np.asarray(face.box).reshape(2, 2) * factor).ravel(), np.asarray(face.keypoints) * factor,
                     face.score)


def shifted(face: Face, dx: float, dy: float) -> Face:
    """A face found in an image whose origin is (dx, dy) in another one, in that one's pixels."""
    offset = np.array([dx, dy], dtype=np.float64)
    return make_face((np.asarray(face.box).reshape(2, 2) + offset).ravel(),
                     np.asarray(face.keypoints) + offset, face.score)


def _centre(box) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
