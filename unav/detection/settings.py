"""The feature settings `unav detect` extracts with: exactly those recorded in the checkpoint's feature provenance
(the streams its model reads; device, batch size and weights folder from this run), or an UnavError saying why
they cannot be reproduced from a video (unknown or synthetic provenance, another feature grid, missing streams,
extractor weights not fetched yet)."""
from __future__ import annotations

import dataclasses
import os
from typing import Any

from ..errors import UnavError
from ..features.settings import (EXECUTION_KEYS, FPS, STREAMS, ExtractSettings, required_weights,
                                 with_legacy_defaults)
from ..features.weights import raft_weight_names
from ..features.windows import STACK, STEP

RELEASED = "unav100-released"
# The features of the UnAV-100 release (features.md): pretrained I3D rgb + flow (RAFT-sintel, 20 updates) on 224
# crops of 25 fps frames resized to a 256 shorter side after the reference's x264 re-encode, VGGish at 0.32 s.
RELEASED_SETTINGS: dict[str, Any] = dict(weights="pretrained", flow_method="raft", flow_updates=20,
                                         raft_weights=raft_weight_names()[0], crop=224, min_side=256, hop_seconds=0.32,
                                         reencode=True, seed=0, dis_preset="medium", precision="fp32",
                                         audio_decode="adts")
GRID_KEYS = {"fps": FPS, "stack": STACK, "step": STEP}


def recorded_settings(ckpt: dict, checkpoint: str | os.PathLike) -> dict[str, Any]:
    """The extractor settings the checkpoint's features were made with, as a plain dict; UnavError when
    they are unknown or not something `unav extract` can reproduce from a video."""
    prov = ckpt.get("feature_provenance")
    if prov is None:
        raise UnavError(f"checkpoint {checkpoint} records no feature provenance (it was trained on features "
                        f"without {{id}}.json provenance files), so the extractor settings to reproduce are "
                        f"unknown; retrain it on features written by `unav extract`")
    from ..data.features import recorded_settings_of

    settings = recorded_settings_of(prov)
    if settings == RELEASED:
        return {"streams": list(STREAMS), **RELEASED_SETTINGS, **GRID_KEYS}
    if isinstance(settings, dict) and settings.get("source") == "synthetic-features":
        raise UnavError(f"checkpoint {checkpoint} was trained on synthetic features (the offline demo), not on "
                        f"features of real videos; detect cannot reproduce them from a video. Train on features "
                        f"written by `unav extract`, or import the official checkpoint")
    if not isinstance(settings, dict):
        raise UnavError(f"checkpoint {checkpoint} was trained on features of provenance {settings!r}, which "
                        f"detect cannot reproduce from a video (expected settings written by `unav extract` "
                        f"or {RELEASED!r})")
    settings = with_legacy_defaults(settings)   # features extracted before "precision" existed are fp32
    known = {f.name for f in dataclasses.fields(ExtractSettings)} | set(GRID_KEYS)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UnavError(f"checkpoint {checkpoint}: its feature settings hold key(s) {', '.join(unknown)} that "
                        f"this version of `unav extract` does not know, so it cannot reproduce them")
    missing = sorted(k for k in known - set(settings) - set(EXECUTION_KEYS) - set(GRID_KEYS))
    if missing:
        raise UnavError(f"checkpoint {checkpoint}: its feature settings lack key(s) {', '.join(missing)}; "
                        f"cannot tell how to reproduce its features")
    for key, value in GRID_KEYS.items():
        if key in settings and float(settings[key]) != float(value):
            raise UnavError(f"checkpoint {checkpoint}: its features were extracted with {key} {settings[key]}, "
                            f"but `unav extract` produces {key} {value}")
    return dict(settings)


def needed_streams(cfg: dict) -> tuple[str, ...]:
    """Feature streams the localizer of `cfg` reads."""
    modalities = cfg["model"]["modalities"]
    streams = list(cfg["dataset"]["visual_streams"]) if "visual" in modalities else []
    if "audio" in modalities:
        streams.append(cfg["dataset"].get("audio_stream", "vggish"))
    return tuple(streams)


def extract_settings(ckpt: dict, checkpoint: str | os.PathLike, device: str = "cpu",
                     batch_size: int | None = None, weights_dir: str | None = None,
                     allow_unverified_weights: bool = False, progress: bool = True) -> ExtractSettings:
    """ExtractSettings that reproduce the checkpoint's features (only the streams its model reads); the
    execution keys (device, batch size, weights directory, chunk) come from this run."""
    settings = recorded_settings(ckpt, checkpoint)
    ds = ckpt["config"]["dataset"]
    grid = {"fps": float(ds["fps"]), "feat_stride": int(ds["feat_stride"]), "num_frames": int(ds["num_frames"])}
    if grid != {"fps": FPS, "feat_stride": STEP, "num_frames": STACK}:
        raise UnavError(f"checkpoint {checkpoint}: its model reads a feature grid of {grid}, but `unav extract` "
                        f"writes fps {FPS:g}, feat_stride {STEP}, num_frames {STACK}")
    streams = needed_streams(ckpt["config"])
    lacking = [s for s in streams if s not in settings["streams"]]
    if lacking:
        raise UnavError(f"checkpoint {checkpoint}: its model reads stream(s) {', '.join(lacking)} but its "
                        f"features hold only {', '.join(settings['streams'])}")
    values = {k: v for k, v in settings.items()
              if k not in GRID_KEYS and k not in EXECUTION_KEYS and k != "streams"}
    try:
        out = ExtractSettings(streams=streams, device=device, batch_size=int(batch_size or settings.get("batch_size")
                                                                          or 8),
                              weights_dir=weights_dir or settings.get("weights_dir"),
                              allow_unverified_weights=bool(allow_unverified_weights
                                                            or settings.get("allow_unverified_weights")),
                              progress=progress, **values)
    except (TypeError, ValueError, UnavError) as err:
        raise UnavError(f"checkpoint {checkpoint}: its feature settings cannot be reproduced ({err})") from err
    check_weights(out, checkpoint)
    return out


def check_weights(settings: ExtractSettings, checkpoint: str | os.PathLike) -> None:
    """Refuse, naming the exact `unav weights fetch` command, when pretrained files are not fetched yet."""
    from ..features import weights as W

    names = required_weights(settings)
    if not names:
        return
    root = W.weights_dir(settings.weights_dir)
    missing = [n for n in names if not (root / W.entry_for(n).file).is_file()]
    if missing:
        files = ", ".join(W.entry_for(n).file for n in missing)
        where = f" --weights-dir {settings.weights_dir}" if settings.weights_dir else ""
        raise UnavError(f"checkpoint {checkpoint} needs features from the pretrained extractors "
                        f"({', '.join(names)}; {settings.flow_method.upper()} flow, {settings.crop} crop), but "
                        f"{files} {'is' if len(missing) == 1 else 'are'} not in {root}. Run:\n"
                        f"  unav weights fetch {' '.join(missing)}{where}")
