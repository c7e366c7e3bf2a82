"""RAFT (large) optical flow for the I3D flow stream, as video_features computes it for UnAV-100.

The network is torchvision's `raft_large`; the published weights are either torchvision's port of the original
raft-sintel checkpoint (`Raft_Large_Weights.C_T_SKHT_V1`) or the original `raft-sintel.pth` itself (mapped onto
torchvision's names by a strict loader). Our forward differs from the stock one only in *how much* is computed:

* every frame goes through the feature encoder once and its features serve both pairs it belongs to;
* the context encoder runs once per frame, for the pair where it is the first image;
* pairs are batched, each consecutive pair (t -> t+1) is computed exactly once (the reference recomputes each
  pair up to 3 times because its 24-pair windows overlap by 16 frames);
* the convex upsampling (and its mask) is done only after the last update, not after every one.

Per-pair results do not depend on the batch (instance norm is per sample, batch norm is in eval mode), so the
flow equals the stock forward's up to float noise.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.optical_flow import raft_large
from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow
from torchvision.models.optical_flow.raft import RAFT

from ..errors import UnavError
from ..model.state_dict import compare_state_dict, load_strict
from .flowpost import crop_offsets, flow_to_codes, pad_frames, padded_size
from .precision import check_precision, network_precision, precision_note

# The weights the paper's features were computed with (torchvision's port of raft-sintel.pth).
TORCHVISION_WEIGHTS_FILE = "raft_large_C_T_SKHT_V1-0b8c9e55.pth"
ORIGINAL_WEIGHTS_FILE = "raft-sintel.pth"
DEFAULT_UPDATES = 20          # video_features raised RAFT's default of 12 to 20
MIN_PADDED_SIDE = 128         # the 4-level correlation pyramid needs feature maps of at least 16 = 128 / 8
ORIGINAL_TENSOR_COUNT = 179   # raft-sintel.pth after stripping `module.` (norm3 aliases included)

# torchvision name fragment -> original RAFT name fragment, applied in order to whole keys.
_TO_ORIGINAL: list[tuple[str, str]] = [
    (r"^feature_encoder\.", "fnet."),
    (r"^context_encoder\.", "cnet."),
    (r"^(fnet|cnet)\.convnormrelu\.0\.", r"\1.conv1."),
    (r"^(fnet|cnet)\.convnormrelu\.1\.", r"\1.norm1."),
    (r"^(fnet|cnet)\.conv\.", r"\1.conv2."),
    (r"\.convnormrelu1\.0\.", ".conv1."),
    (r"\.convnormrelu1\.1\.", ".norm1."),
    (r"\.convnormrelu2\.0\.", ".conv2."),
    (r"\.convnormrelu2\.1\.", ".norm2."),
    (r"^update_block\.motion_encoder\.convcorr(\d)\.0\.", r"update_block.encoder.convc\1."),
    (r"^update_block\.motion_encoder\.convflow(\d)\.0\.", r"update_block.encoder.convf\1."),
    (r"^update_block\.motion_encoder\.conv\.0\.", "update_block.encoder.conv."),
    (r"^update_block\.recurrent_block\.convgru(\d)\.conv([zrq])\.", r"update_block.gru.conv\2\1."),
    (r"^mask_predictor\.convrelu\.0\.", "update_block.mask.0."),
    (r"^mask_predictor\.conv\.", "update_block.mask.2."),
]
_OPTIONAL = ("num_batches_tracked",)


def to_original_name(name: str) -> str:
    """torchvision RAFT state-dict name -> the original princeton-vl RAFT name (without `module.`)."""
    for pattern, repl in _TO_ORIGINAL:
        name = re.sub(pattern, repl, name)
    return name


def original_key_map(model: RAFT) -> tuple[dict[str, str], dict[str, str]]:
    """(original name -> torchvision name, alias name -> original name it duplicates). The aliases are the
    `norm3` entries of the stride-2 residual blocks, which the original also registers as `downsample.1`."""
    names = {to_original_name(k): k for k in model.state_dict()}
    aliases = {k.replace(".downsample.1.", ".norm3."): k for k in names if ".downsample.1." in k}
    return names, aliases


def original_layout(model: RAFT) -> dict[str, tuple[int, ...]]:
    """Expected name -> shape table of the original raft-sintel.pth (after stripping `module.`)."""
    names, aliases = original_key_map(model)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    table = {orig: shapes[tv] for orig, tv in names.items()}
    table.update({alias: table[orig] for alias, orig in aliases.items()})
    return table


def strip_data_parallel(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove `module.` from keys saved by nn.DataParallel (only keys that start with `module` are changed,
    others are kept as they are so that a strict comparison reports them)."""
    return {(k.replace("module.", "") if k.startswith("module") else k): v for k, v in state.items()}


def _is_original_layout(state: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith(("module.", "fnet.", "cnet.", "update_block.encoder.")) for k in state)


def load_original_state(model: RAFT, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Strictly load an original-layout RAFT state dict (e.g. raft-sintel.pth) into torchvision's RAFT."""
    state = strip_data_parallel(state)
    expected = original_layout(model)
    problems = [p for p in compare_state_dict(expected, state)
                if not (p.startswith("missing tensor ") and p.split()[2].endswith(_OPTIONAL))]
    names, aliases = original_key_map(model)
    if not problems:
        for alias, orig in aliases.items():
            if alias.endswith(_OPTIONAL) or alias not in state or orig not in state:
                continue
            if not torch.equal(state[alias], state[orig]):
                problems.append(f"tensor {alias} should equal its alias {orig} but differs")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise UnavError(f"{source}: weights do not match the original RAFT (raft-sintel.pth) layout "
                        f"({len(problems)} problem(s)):\n  {shown}{more}")
    mapped = {names[k]: v for k, v in state.items() if k in names}
    load_strict(model, mapped, source)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_raft_weights(model: RAFT, path: str | os.PathLike) -> None:
    """Load a RAFT checkpoint strictly: torchvision's layout (169 tensors) or the original one (179)."""
    path = Path(path)
    if not path.is_file():
        raise UnavError(f"RAFT weights file {path} does not exist (expected {TORCHVISION_WEIGHTS_FILE} "
                        f"or {ORIGINAL_WEIGHTS_FILE}; see `unav weights fetch`)")
    from .weights import load_weights  # torch.load(weights_only=True) with errors that name the file

    state = load_weights(path)
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise UnavError(f"{path}: expected a RAFT state dict, got {type(state).__name__}")
    if _is_original_layout(state):
        load_original_state(model, state, str(path))
    else:
        load_strict(model, state, str(path))


def build_raft(weights: str | os.PathLike = "random", seed: int = 0) -> tuple[RAFT, str]:
    """RAFT-large in eval mode and the weights' identity: the file's sha256, or "random" (seeded init)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = raft_large(weights=None, progress=False)
    if str(weights) == "random":
        ident = "random"
    else:
        load_raft_weights(model, weights)
        ident = sha256_file(weights)
    return model.eval(), ident


def check_min_side(min_side: int, option: str = "--min-side") -> None:
    """Refuse, before any work, a frame size RAFT cannot run on (its padded shorter side must reach
    MIN_PADDED_SIDE)."""
    if min(padded_size(min_side, min_side)) < MIN_PADDED_SIDE:
        smallest = MIN_PADDED_SIDE - 7   # padding to a multiple of 8 lifts 121 .. 128 to 128
        raise UnavError(f"{option} {min_side} is too small for RAFT flow: expected {option} >= {smallest} "
                        f"(padded sides must be at least {MIN_PADDED_SIDE}), or the dis flow method")


def frames_to_input(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 RGB frames [N, H, W, 3] -> padded RAFT input [N, 3, Hp, Wp] in [-1, 1] (sintel-mode replicate pad)."""
    frames = np.ascontiguousarray(frames)
    if not frames.flags.writeable:  # e.g. frames decoded straight from a pipe buffer
        frames = frames.copy()
    x = torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float()  # [N, 3, H, W]
    x = 2 * (x / 255.0) - 1.0
    return pad_frames(x)


class FlowComputer:
    """Streams RAFT flow codes for every consecutive frame pair of a video, each pair computed once."""

    method = "raft"

    def __init__(self, weights: str | os.PathLike = "random", seed: int = 0, num_flow_updates: int = DEFAULT_UPDATES,
                 device: str | torch.device = "cpu", batch_size: int = 8, crop: int = 224,
                 precision: str = "fp32") -> None:
        if batch_size < 1:
            raise UnavError(f"batch size must be >= 1, got {batch_size}")
        if num_flow_updates < 1:
            raise UnavError(f"number of flow updates must be >= 1, got {num_flow_updates}")
        self.device = torch.device(device)
        self.model, self.weights_id = build_raft(weights, seed)
        self.model.to(self.device)
        self.seed = seed
        self.num_flow_updates = num_flow_updates
        self.batch_size = batch_size
        self.crop = crop
        self.precision = check_precision(precision)
        self.frames_seen = 0

    def meta(self) -> dict:
        """Provenance of the codes this computer produces (a file without "precision" was made at fp32)."""
        meta = {"method": self.method, "weights": self.weights_id,
                "seed": self.seed if self.weights_id == "random" else None,
                "updates": self.num_flow_updates, "crop": self.crop, "padding": "sintel-replicate-8",
                "precision": self.precision,
                "paper_compatible": self.weights_id != "random" and self.precision == "fp32"}
        note = precision_note(self.precision)
        if note is not None:
            meta["note"] = note
        return meta

    # ---- network pieces -------------------------------------------------------------------------------
    def _features(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.feature_encoder(images)  # [N, 256, Hp/8, Wp/8]

    def pair_flow(self, image1: torch.Tensor, fmap1: torch.Tensor, fmap2: torch.Tensor) -> torch.Tensor:
        """Final upsampled flow [B, 2, Hp, Wp] for B pairs given image 1 [B, 3, Hp, Wp] and both feature maps."""
        model = self.model
        batch, _, h8, w8 = fmap1.shape
        model.corr_block.build_pyramid(fmap1, fmap2)  # per-pair correlation pyramid
        context_out = model.context_encoder(image1)  # [B, 256, h8, w8]
        hidden_size = model.update_block.hidden_state_size
        hidden, context = torch.split(context_out, [hidden_size, context_out.shape[1] - hidden_size], dim=1)
        hidden, context = torch.tanh(hidden), F.relu(context)
        coords0 = make_coords_grid(batch, h8, w8).to(fmap1.device)  # [B, 2, h8, w8]
        coords1 = coords0.clone()
        for _ in range(self.num_flow_updates):
            corr = model.corr_block.index_pyramid(centroids_coords=coords1)  # [B, 324, h8, w8]
            hidden, delta = model.update_block(hidden, context, corr, coords1 - coords0)
            coords1 = coords1 + delta
        model.corr_block.corr_pyramid = [torch.tensor(0)]  # release the pyramid
        return upsample_flow(coords1 - coords0, up_mask=model.mask_predictor(hidden))  # [B, 2, Hp, Wp]

    @torch.inference_mode()
    def forward_pairs(self, image1: torch.Tensor, image2: torch.Tensor) -> torch.Tensor:
        """Same contract as torchvision's `raft(image1, image2)[-1]` on padded [-1, 1] inputs [B, 3, Hp, Wp]."""
        with network_precision(self.device, self.precision):
            fmaps = self._features(torch.cat([image1, image2]))
            fmap1, fmap2 = fmaps.chunk(2)
            flow = self.pair_flow(image1, fmap1, fmap2)
        return flow.float()

    # ---- streaming ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def flows_for_frames(self, frames_iter: Iterator[np.ndarray]) -> Iterator[torch.Tensor]:
        """Padded float flow [n, 2, Hp, Wp] for every consecutive pair (t -> t+1), in order, each once.
        Memory is bounded by one batch of frames plus the last frame's features."""
        self.frames_seen = 0
        queue: list[np.ndarray] = []
        queued = 0
        last_image = last_fmap = None  # the previous batch's last frame: [1, 3, Hp, Wp], [1, 256, h8, w8]
        shape = None
        for chunk in frames_iter:
            chunk = np.asarray(chunk)
            if chunk.ndim != 4 or chunk.shape[-1] != 3 or chunk.dtype != np.uint8:
                raise UnavError(f"expected uint8 RGB frames [n, H, W, 3], got {chunk.dtype} {chunk.shape}")
            if len(chunk) == 0:
                continue
            if shape is None:
                shape = chunk.shape[1:3]
                hp, wp = padded_size(*shape)
                if min(hp, wp) < MIN_PADDED_SIDE:
                    raise UnavError(f"frames of {shape[0]}x{shape[1]} are too small for RAFT "
                                    f"(padded sides must be at least {MIN_PADDED_SIDE})")
                crop_offsets(hp, wp, self.crop)
            elif chunk.shape[1:3] != shape:
                raise UnavError(f"frame size changed from {shape} to {chunk.shape[1:3]} mid-video")
            self.frames_seen += len(chunk)
            queue.append(chunk)
            queued += len(chunk)
            while queued >= self.batch_size + (last_image is None):
                take = self.batch_size + (last_image is None)
                frames, queue, queued = _pop(queue, take), _rest(queue, take), queued - take
                flow, last_image, last_fmap = self._step(frames, last_image, last_fmap)
                yield flow
        if queued and (queued > 1 or last_image is not None):
            flow, _, _ = self._step(np.concatenate(queue), last_image, last_fmap)
            yield flow

    def _step(self, frames: np.ndarray, last_image: torch.Tensor | None, last_fmap: torch.Tensor | None):
        images = frames_to_input(frames, self.device)  # [k, 3, Hp, Wp] float32 (pre-processing stays fp32)
        # the network pieces only: the caller's generator yields between steps, and must not do so under autocast
        with network_precision(self.device, self.precision):
            fmaps = self._features(images)  # [k, 256, h8, w8], each frame once
            if last_image is None:
                image1, fmap1, fmap2 = images[:-1], fmaps[:-1], fmaps[1:]
            else:
                image1 = torch.cat([last_image, images[:-1]])
                fmap1, fmap2 = torch.cat([last_fmap, fmaps[:-1]]), fmaps
            flow = self.pair_flow(image1, fmap1, fmap2)
        return flow.float(), images[-1:], fmaps[-1:]   # float32 flow: quantised as at fp32

    def codes_for_frames(self, frames_iter: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """uint16 codes [n, 2, crop, crop] (values 0..256) for every consecutive pair, streamed in order."""
        for flow in self.flows_for_frames(frames_iter):
            yield flow_to_codes(flow, self.crop)


def _pop(queue: list[np.ndarray], n: int) -> np.ndarray:
    """The first n frames of a queue of chunks, as one array."""
    out, need = [], n
    for chunk in queue:
        out.append(chunk[:need])
        need -= len(out[-1])
        if need == 0:
            break
    return np.concatenate(out) if len(out) > 1 else out[0]


def _rest(queue: list[np.ndarray], n: int) -> list[np.ndarray]:
    """The queue without its first n frames."""
    rest, skip = [], n
    for chunk in queue:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        rest.append(chunk[skip:])
        skip = 0
    return rest

