"""A training run's settings: one frozen dataclass, saved as ``train_config.json`` in the run folder."""
from __future__ import annotations

from dataclasses import dataclass, field

from glasses_core import CropConfig
from glasses_core.config import from_dict
from glasses_core.errors import ConfigError

KIND_FEATURES = ("pooled", "eye_band")  # what the second answer can read (model.py)


@dataclass(frozen=True)
class TrainConfig:
    """A training run's settings; saved as ``train_config.json`` in the run folder."""
    datasets: tuple[str, ...] = ("mtfl:../shared/data/mtfl", "celeba:../shared/data/celeba")
    test: str = "mtfl-test:../shared/data/mtfl"  # never trained on; "" for none
    val_fraction: float = 0.15  # share of identities held out for early stopping and the threshold
    max_train: int = 0  # use at most this many training crops (0 = all); for quick runs and tests
    balanced_subset: bool = False  # with max_train: sample both classes equally (tiny runs learn faster)
    epochs: int = 40
    batch_size: int = 64
    peak_lr: float = 3e-3  # AdamW, after a 1-epoch warm-up, cosine decay to 2 % of it
    weight_decay: float = 1e-4
    strength_start: float = 0.1  # augmentation strength at the first epoch...
    strength_end: float = 0.8  # ...rising linearly to this at the last
    shadows: float = 0.0  # probability of a brim shadow over the eyes at full strength (augment.py)
    frame_cuts: float = 0.0  # probability of the frame cutting the crop (a close-up) at full strength (augment.py)
    label_smoothing: float = 0.0  # targets 0/1 become e/2 and 1 - e/2: keeps logits moderate
    consistency: float = 0.0  # weight of the squared logit gap between each crop and a copy moved by
    #                           about a refiner's error (consistency.py); 0: off
    synthesis_share: float = 0.0  # share of MTFL no-glasses training photos given glasses (synthetic_set.py)
    patience: int = 10  # early stopping: epochs without a better validation PR-AUC
    class_weights: bool = True  # balance the ~90 % no-glasses majority in the loss
    source_balance: bool = False  # with class_weights: balance the classes within each pool (a pool that is
    #                               nearly all glasses, CelebA-more, must not teach that its look means glasses)
    kind_weight: float = 0.0  # weight of the second answer's loss, P(dark | glasses) (kind_head.py); 0: one answer
    kind_features: str = "pooled"  # what the second answer reads: "pooled" (the first answer's features) or
    #                                "eye_band" (the middle rows of the 8 x 8 feature map, position by position)
    kind_only: bool = False  # train the eye-band kind head alone: every other weight stays init_weights' and
    #                          the threshold init_config's, so the first answer is exactly the starting model's
    threshold_pools: tuple[str, ...] = ()  # validation pools the thresholds are chosen on (empty: all). A
    #                                       pool that is not a sample of its class balance (CelebA-more is
    #                                       nearly all glasses) would pull the threshold down for every photo
    looked_labels: bool = False  # the first answer's labels as the look by eye gave them (data/glasses_audit/,
    #                              label_audit.py), not the datasets' own; the photos it could not tell left out
    crop_variants: float = 0.0  # share of training crops, at full augmentation strength, replaced by the same
    #                             photo cut with other eyes or filters (data/crop_variants.py); 0: none made
    stem_filters: int = 24
    dropout: float = 0.2
    bn_momentum: float = 0.99  # batch-norm moving averages; ~0.9 for runs of a few dozen steps
    seed: int = 1337
    train_seed: int = 0  # seed of the weights, batch order and augmentation; 0: ``seed``. The split
    #                      stays ``seed``'s, so runs that differ only here compare on the same photos
    init_weights: str = ""  # start from this .keras model's weights (fine-tuning); "" for random
    init_config: str = ""  # with kind_only: the starting model's config JSON (glasses.json), whose threshold is kept
    version: str = "0.1.0"
    crop: CropConfig = field(default_factory=CropConfig)

    def __post_init__(self):
        """Settings that cannot train together are refused here, before any photo is cropped."""
        if self.consistency and self.kind_weight:
            raise ConfigError("consistency and kind_weight cannot be used together (the consistency loss "
                              "has one answer); set one of them to 0")
        if self.kind_features not in KIND_FEATURES:
            raise ConfigError(f"kind_features must be one of {', '.join(KIND_FEATURES)}, not {self.kind_features!r}")
        if self.kind_only and not (self.kind_weight and self.init_weights and self.init_config
                                   and self.kind_features == "eye_band"):
            raise ConfigError("kind_only trains the eye-band kind head of a trained model: it needs kind_weight > 0, "
                              "init_weights, init_config (that model's config JSON) and kind_features \"eye_band\"")
        if self.synthesis_share and self.crop_variants:
            raise ConfigError("synthesis_share and crop_variants cannot be used together "
                              "(drawn glasses have no variants)")

    @property
    def run_seed(self) -> int:
        """The seed of everything random in training but the split (``train_seed``, else ``seed``)."""
        return self.train_seed or self.seed

    @classmethod
    def from_dict(cls, data: dict, source: str) -> "TrainConfig":
        data = dict(data)
        crop = from_dict(CropConfig, data.pop("crop", {}), f"{source}: crop")
        for name in ("datasets", "threshold_pools"):
            if isinstance(data.get(name), list):
                data[name] = tuple(data[name])
        return from_dict(cls, {**data, "crop": crop}, source)
