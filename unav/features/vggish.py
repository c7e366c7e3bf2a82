"""VGGish audio embeddings as the reference extractor computes them (torchvggish port of Google's VGGish).

Front end (Google's `mel_features`, reproduced in torch, float64 like the numpy reference): 25 ms periodic-Hann
frames every 10 ms, 512-point FFT magnitude, 64 HTK mel bands 125-7500 Hz, ln(x + 0.01), then 96-frame
(0.96 s) examples every round(hop_seconds * 100) frames (UnAV: 0.32 s -> 32 frames).
Network: the torchvggish layout (`features.*`, `embeddings.*`, 18 tensors), TF (NHWC) flatten order, final
ReLU. The released UnAV features are the raw 128-d ReLU embeddings: the PCA/8-bit post-processor exists
(`postprocess=True`) but is off by default, as in the reference.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import UnavError
from ..model.state_dict import load_strict

SAMPLE_RATE = 16000
WINDOW = 400            # samples (25 ms)
HOP = 160               # samples (10 ms)
FFT = 512               # next power of two above WINDOW
MEL_BANDS = 64
MEL_LOW_HZ, MEL_HIGH_HZ = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96     # 0.96 s at 100 frames/s
EMBEDDING_DIM = 128
MIN_SAMPLES = WINDOW + (EXAMPLE_FRAMES - 1) * HOP   # 15600: the audio of one example
MIN_SECONDS = MIN_SAMPLES / SAMPLE_RATE             # 0.975 s


def hertz_to_mel(hz: Tensor) -> Tensor:
    """HTK mel scale: 1127 ln(1 + f / 700)."""
    return 1127.0 * torch.log1p(hz / 700.0)


def mel_matrix(dtype: torch.dtype = torch.float64) -> Tensor:
    """[257, 64] triangular HTK mel weights on the FFT bin frequencies (no area normalisation, DC row 0)."""
    bins_mel = hertz_to_mel(torch.linspace(0.0, SAMPLE_RATE / 2, FFT // 2 + 1, dtype=torch.float64))  # [257]
    edges = torch.linspace(float(hertz_to_mel(torch.tensor(MEL_LOW_HZ, dtype=torch.float64))),
                           float(hertz_to_mel(torch.tensor(MEL_HIGH_HZ, dtype=torch.float64))),
                           MEL_BANDS + 2, dtype=torch.float64)  # [66]
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]  # [64] each
    rising = (bins_mel[:, None] - lower) / (center - lower)    # [257, 64]
    falling = (upper - bins_mel[:, None]) / (upper - center)   # [257, 64]
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    weights[0] = 0.0
    return weights.to(dtype)


def periodic_hann(n: int = WINDOW, dtype: torch.dtype = torch.float64) -> Tensor:
    return 0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(n, dtype=dtype) / n)


def log_mel(wave16k: Tensor) -> Tensor:
    """[L] waveform at 16 kHz -> [F, 64] log-mel frames, F = 1 + (L - 400) // 160 (0 when L < 400)."""
    if wave16k.numel() < WINDOW:
        return wave16k.new_zeros((0, MEL_BANDS))
    frames = wave16k.unfold(0, WINDOW, HOP)                              # [F, 400]
    spec = torch.fft.rfft(frames * periodic_hann(WINDOW, wave16k.dtype), n=FFT).abs()  # [F, 257]
    return torch.log(spec @ mel_matrix(wave16k.dtype) + LOG_OFFSET)      # [F, 64]


def example_hop(hop_seconds: float) -> int:
    hop = int(round(hop_seconds * 100))
    if hop <= 0:
        raise UnavError(f"VGGish example hop must be at least 0.01 s, got {hop_seconds}")
    return hop


def log_mel_examples(wave16k: np.ndarray | Tensor, hop_seconds: float = 0.32) -> Tensor:
    """[L] 16 kHz waveform -> [n, 1, 96, 64] float32 examples (frames along H), n = 1 + (F - 96) // hop;
    an incomplete trailing example is dropped; fewer than 96 frames give n = 0 (an empty batch)."""
    x = torch.as_tensor(np.asarray(wave16k), dtype=torch.float64).reshape(-1)  # [L]
    mel = log_mel(x)                                                            # [F, 64]
    hop = example_hop(hop_seconds)
    if mel.shape[0] < EXAMPLE_FRAMES:
        return torch.zeros((0, 1, EXAMPLE_FRAMES, MEL_BANDS), dtype=torch.float32)
    examples = mel.unfold(0, EXAMPLE_FRAMES, hop).transpose(1, 2)               # [n, 96, 64]
    return examples.unsqueeze(1).to(torch.float32).contiguous()                 # [n, 1, 96, 64]


def vggish_rows(num_samples_src: int, sr: int, hop_seconds: float = 0.32) -> int:
    """Embedding rows for an audio track of `num_samples_src` samples at `sr` Hz (features.md §2.5)."""
    l16 = num_samples_src if sr == SAMPLE_RATE else int(num_samples_src * (SAMPLE_RATE / sr))
    if l16 < WINDOW:
        return 0
    frames = 1 + (l16 - WINDOW) // HOP
    if frames < EXAMPLE_FRAMES:
        return 0
    return 1 + (frames - EXAMPLE_FRAMES) // example_hop(hop_seconds)


class Postprocessor(nn.Module):
    """AudioSet PCA whitening + 8-bit quantisation (torch variant: torch.round). Unused by the reference."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("pca_eigen_vectors", torch.eye(EMBEDDING_DIM))   # [128, 128]
        self.register_buffer("pca_means", torch.zeros(EMBEDDING_DIM, 1))      # [128, 1]

    def forward(self, emb: Tensor) -> Tensor:  # [n, 128] -> [n, 128] values 0..255 (float)
        y = (self.pca_eigen_vectors @ (emb.t() - self.pca_means)).t()
        return torch.round((torch.clamp(y, -2.0, 2.0) + 2.0) * (255.0 / 4.0))


class VGGish(nn.Module):
    """torchvggish network: [n, 1, 96, 64] log-mel examples -> [n, 128] embeddings (>= 0)."""

    def __init__(self, postprocess: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 1
        for spec in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if spec == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(spec), 3, padding=1), nn.ReLU(inplace=True)]
                in_ch = int(spec)
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(inplace=True),
                                        nn.Linear(4096, 4096), nn.ReLU(inplace=True),
                                        nn.Linear(4096, EMBEDDING_DIM), nn.ReLU(inplace=True))
        self.postprocess = postprocess
        self.pproc = Postprocessor() if postprocess else None

    def forward(self, x: Tensor) -> Tensor:  # [n, 1, 96, 64]
        x = self.features(x)                             # [n, 512, 6, 4]
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # [n, 12288] in TF (NHWC) order
        x = self.embeddings(x)                           # [n, 128]
        return self.pproc(x) if self.pproc is not None else x


def load_pca_params(model: VGGish, path: str | os.PathLike) -> None:
    """Load `pca_eigen_vectors` [128, 128] and `pca_means` [128] (torchvggish .pth or Google's .npz)."""
    if model.pproc is None:
        raise ValueError("model was built without postprocess=True")
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as z:
            params = {k: z[k] for k in z.files}
    else:
        from .weights import load_weights

        params = load_weights(path)
    try:
        vecs = torch.as_tensor(np.asarray(params["pca_eigen_vectors"]), dtype=torch.float32)
        means = torch.as_tensor(np.asarray(params["pca_means"]), dtype=torch.float32).reshape(-1, 1)
    except (KeyError, TypeError) as err:
        raise UnavError(f"{path}: expected a dict with pca_eigen_vectors (128, 128) and pca_means (128,)") from err
    if vecs.shape != (EMBEDDING_DIM, EMBEDDING_DIM) or means.shape != (EMBEDDING_DIM, 1):
        raise UnavError(f"{path}: PCA parameters have shapes {tuple(vecs.shape)}, {tuple(means.shape)}; "
                        "expected (128, 128) and (128,)")
    model.pproc.pca_eigen_vectors.copy_(vecs)
    model.pproc.pca_means.copy_(means)


def build_vggish(weights: str | os.PathLike = "random", seed: int = 0,
                 pca_params: str | os.PathLike | None = None) -> VGGish:
    """Eval-mode VGGish: seeded random init, or a torchvggish state dict (e.g. vggish-10086976.pth) loaded
    strictly. `pca_params` enables the (normally unused) PCA post-processor."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VGGish(postprocess=False)
    if str(weights) != "random":
        from .weights import load_weights

        state = load_weights(weights)
        if not isinstance(state, dict):
            raise UnavError(f"{weights}: expected a state dict (name -> tensor), got {type(state).__name__}")
        load_strict(model, state, os.fspath(weights))  # exactly the 18 torchvggish tensors
    if pca_params is not None:
        model.postprocess, model.pproc = True, Postprocessor()
        load_pca_params(model, pca_params)
    return model.eval()


@torch.inference_mode()
def embed_examples(examples: Tensor, model: VGGish, device: str | torch.device = "cpu",
                   batch_size: int = 128, precision: str = "fp32") -> np.ndarray:
    """[n, 1, 96, 64] -> [n, 128] float32 (batches are independent: per-example conv/FC). `precision` applies to
    the CNN only (unav.features.precision); the log-mel examples come in float32 and the embeddings leave so."""
    from .precision import network_precision

    if examples.shape[0] == 0:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    # Channels-last convolutions are ~1.8x faster on CPU (oneDNN) and no slower on GPU; same numbers.
    model = model.to(memory_format=torch.channels_last)
    out = []
    for i in range(0, examples.shape[0], batch_size):
        batch = examples[i:i + batch_size].to(device).contiguous(memory_format=torch.channels_last)
        with network_precision(device, precision):
            emb = model(batch)   # [b, 128]
        out.append(emb.float().cpu())
    return torch.cat(out).numpy()


def extract_vggish(path_or_wave: str | os.PathLike | np.ndarray, model: VGGish, hop_seconds: float = 0.32,
                   device: str | torch.device = "cpu", batch_size: int = 128, precision: str = "fp32") -> np.ndarray:
    """[Ra, 128] float32 VGGish embeddings of a media file (its first audio track) or of a 16 kHz waveform.
    A clip shorter than ~0.975 s gives the documented empty result [0, 128]."""
    return embed_examples(audio_examples(path_or_wave, hop_seconds), model, device, batch_size, precision)


def audio_examples(path_or_wave: str | os.PathLike | np.ndarray, hop_seconds: float = 0.32,
                   audio_decode: str = "adts") -> Tensor:
    """The network-free half of `extract_vggish` (decode, resample, log-mel): [n, 1, 96, 64] float32 examples.
    `audio_decode`: how a file's soundtrack is decoded (unav.media.audio; "adts" is the reference's route)."""
    if isinstance(path_or_wave, np.ndarray):
        wave = path_or_wave
    else:
        from ..media.audio import load_audio_16k

        wave = load_audio_16k(path_or_wave, dtype=np.float64, route=audio_decode)
    return log_mel_examples(wave, hop_seconds)
