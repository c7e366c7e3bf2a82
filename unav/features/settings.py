"""The extractor's settings: every option of `unav extract` / `unav flow`, checked, and for each one the feature
streams it shapes (or that it only says how the work was run). Stored verbatim under "settings" in each
provenance file. Kept free of torch so provenance readers stay light."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import UnavError
from .weights import name_for_role, raft_weight_names

# torch-free: the names and the "missing = fp32" rule are all that is needed here
PRECISIONS = ("fp32", "tf32", "bf16")

FPS = 25.0   # every stream's frame grid (fixed by the reference, so not a setting; recorded with them)
STREAMS = ("rgb", "flow", "vggish")
VISUAL_STREAMS = ("rgb", "flow")
FLOW_METHODS = ("raft", "dis")
WEIGHTS_MODES = ("random", "pretrained")
AUDIO_DECODES = ("adts", "direct")   # unav.media.audio


def _shapes(default: Any, streams: tuple[str, ...] = STREAMS, **kw: Any) -> Any:
    """A setting that changes the features of `streams`."""
    return field(default=default, metadata={"streams": streams}, **kw)


def _runs(default: Any) -> Any:
    """A setting that says how, not what, was computed (device, batch size, where the weights are)."""
    return field(default=default, metadata={"streams": (), "execution": True})


def _default_raft_weights() -> str:
    return raft_weight_names()[0]


@dataclass(frozen=True)
class ExtractSettings:
    """Every extractor option; stored verbatim under "settings" in each provenance file."""

    streams: tuple[str, ...] = _shapes(STREAMS)
    device: str = _runs("cpu")
    batch_size: int = _runs(8)                # I3D windows (and RAFT pairs) per forward pass
    weights: str = _shapes("random")          # "random" (seeded) | "pretrained" (files resolved via .weights)
    weights_dir: str | None = _runs(None)
    allow_unverified_weights: bool = _runs(False)
    seed: int = _shapes(0)
    flow_method: str = _shapes("raft", ("flow",))   # "raft" (the paper) | "dis" (fast, not paper-compatible)
    flow_updates: int = _shapes(20, ("flow",))      # RAFT refinement iterations (video_features: 20)
    # registry entry of the RAFT file (weights "pretrained"); choices and default come from the registry
    raft_weights: str = field(default_factory=_default_raft_weights, metadata={"streams": ("flow",)})
    dis_preset: str = _shapes("medium", ("flow",))  # OpenCV DIS preset (flow_method "dis")
    crop: int = _shapes(224, VISUAL_STREAMS)
    min_side: int = _shapes(256, VISUAL_STREAMS)
    hop_seconds: float = _shapes(0.32, ("vggish",))  # VGGish example hop (UnAV: 0.32 s)
    # soundtrack decode (unav.media.audio): adts, the reference's stream copy of an AAC track to raw ADTS (the
    # encoder's priming samples kept); direct, the container's own timeline (its edit list applied)
    audio_decode: str = _shapes("adts", ("vggish",))
    reencode: bool = _shapes(False, VISUAL_STREAMS)  # reproduce the reference's lossy x264 25 fps re-encode
    # numerics of the network forwards (unav.features.precision): fp32 (released) | tf32 (CUDA) | bf16 (autocast)
    precision: str = _shapes("fp32")
    chunk: int = _runs(64)                    # decoded frames per chunk (memory bound)
    progress: bool = _runs(True)

    def __post_init__(self) -> None:
        bad = [s for s in self.streams if s not in STREAMS]
        if bad or not self.streams:
            raise UnavError(f"unknown stream(s) {bad or '(none)'}; choose from {', '.join(STREAMS)}")
        if self.flow_method not in FLOW_METHODS:
            raise UnavError(f"unknown flow method {self.flow_method!r}; choose from {', '.join(FLOW_METHODS)}")
        if self.precision not in PRECISIONS:
            raise UnavError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)} "
                            f"(fp32 is the released features' numerics)")
        if self.audio_decode not in AUDIO_DECODES:
            raise UnavError(f"unknown audio decode {self.audio_decode!r}; choose from {', '.join(AUDIO_DECODES)} "
                            f"(adts is the released features' route)")
        if self.weights not in WEIGHTS_MODES:
            raise UnavError(f"weights must be 'random' or 'pretrained', got {self.weights!r}")
        for name in ("batch_size", "crop", "min_side", "chunk", "flow_updates"):
            if getattr(self, name) < 1:
                raise UnavError(f"{name} {getattr(self, name)}: expected an integer >= 1")
        if self.crop > self.min_side:
            raise UnavError(f"crop {self.crop} is larger than the frames' shorter side {self.min_side}")
        if self.raft_weights not in raft_weight_names():
            raise UnavError(f"unknown RAFT weights {self.raft_weights!r}; choose from "
                            f"{', '.join(raft_weight_names())}")
        if not 0.01 <= self.hop_seconds < float("inf"):
            raise UnavError(f"VGGish hop {self.hop_seconds}: expected a finite number of seconds >= 0.01")


# setting name -> the streams whose features it shapes (empty for the execution settings)
SETTING_STREAMS: dict[str, tuple[str, ...]] = {f.name: f.metadata["streams"] for f in fields(ExtractSettings)}
EXECUTION_KEYS: tuple[str, ...] = tuple(f.name for f in fields(ExtractSettings) if f.metadata.get("execution"))

# Settings added after files were first written, with the value a file that does not record them was made with:
# features and flow files written before "precision" existed were computed at fp32, and compare equal to fp32
# ones (so upgrading recomputes nothing); VGGish features written before "audio_decode" existed decoded the
# container directly, so they are told apart from (and not reused for) features of the reference's ADTS route.
LEGACY_DEFAULTS: dict[str, Any] = {"precision": "fp32", "audio_decode": "direct"}


def recorded_value(settings: dict[str, Any], key: str) -> Any:
    """`settings[key]`, or, for a setting older files do not record, the value they were made with."""
    return settings.get(key, LEGACY_DEFAULTS.get(key))


def with_legacy_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """Recorded settings with the values older files leave out filled in (a new dict)."""
    return {**LEGACY_DEFAULTS, **settings}


# stream -> the weights role (unav.features.weights.ROLES) of the network that computes it
_STREAM_ROLES = {"rgb": "i3d_rgb", "flow": "i3d_flow", "vggish": "vggish"}


def stream_weights(stream: str) -> str:
    """Registry name of the network weights of `stream` (the RAFT file is `ExtractSettings.raft_weights`)."""
    return name_for_role(_STREAM_ROLES[stream])


def required_weights(settings: ExtractSettings) -> list[str]:
    """Registry names of the pretrained files the settings load (none with random weights), in stream order."""
    if settings.weights != "pretrained":
        return []
    names = []
    for stream in (s for s in STREAMS if s in settings.streams):
        names.append(stream_weights(stream))
        if stream == "flow" and settings.flow_method == "raft":
            names.append(settings.raft_weights)
    return names
