"""Mono 16 kHz audio as the reference VGGish extractor reads it: the first audio stream decoded by ffmpeg to
16-bit PCM at the source rate with the source channels (what the reference's .wav holds), int16 / 32768,
mean over channels, then resampled to 16 kHz with resampy's `kaiser_best` filter (the reference's choice).

The reference first stream-copies the AAC track to a raw ADTS file and decodes that; this drops the MP4 edit
list. With ffmpeg 9 the result is sample-identical to decoding the .mp4 directly (checked on the sample clips);
with other encoders the ~1024 AAC priming samples may differ (see docs/features.md §2.1)."""
from __future__ import annotations

import os
from typing import Literal

import numpy as np

from ..errors import UnavError
from .ffmpeg import input_arg, run_ffmpeg
from .probe import probe

TARGET_RATE = 16000
Resampler = Literal["kaiser_best", "kaiser_fast"]


def decode_pcm(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """([L, C] int16 samples, sample rate) of the first audio stream, at the source rate and channel count."""
    info = probe(path, require_video=False)
    if not info.has_audio:
        raise UnavError(f"{path}: no audio stream; expected a video with a soundtrack for VGGish features")
    if info.audio_rate <= 0 or info.audio_channels <= 0:
        raise UnavError(f"{path}: could not read the audio sample rate/channels "
                        f"(got {info.audio_rate} Hz, {info.audio_channels} ch)")
    proc = run_ffmpeg(["-v", "error", "-i", input_arg(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
                       "-ac", str(info.audio_channels), "-ar", str(info.audio_rate),
                       "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1"], what=f"{path}: audio decode")
    pcm = np.frombuffer(proc.stdout, dtype="<i2")
    pcm = pcm[: len(pcm) // info.audio_channels * info.audio_channels].reshape(-1, info.audio_channels)
    if len(pcm) == 0:
        raise UnavError(f"{path}: the audio stream decoded to zero samples; expected audible content")
    return pcm, info.audio_rate  # [L, C] int16


def to_mono_float(pcm: np.ndarray) -> np.ndarray:
    """[L, C] int16 -> [L] float64: x / 32768, mean over channels (the reference stays in float64)."""
    return (pcm / 32768.0).mean(axis=1)  # [L] float64


def resample_16k(wave: np.ndarray, sr: int, resampler: Resampler = "kaiser_best") -> np.ndarray:
    """[L] at `sr` -> [int(L*16000/sr)] at 16 kHz with resampy's windowed-sinc filter."""
    if sr == TARGET_RATE:
        return wave
    try:
        import resampy
    except ImportError as err:   # an install without the extraction extra
        raise UnavError("resampling audio to 16 kHz needs resampy: pip install \"unav[extract]\"") from err
    return resampy.resample(wave, sr, TARGET_RATE, filter=resampler)


def load_audio_16k(path: str | os.PathLike, resampler: Resampler = "kaiser_best",
                   dtype: type = np.float32) -> np.ndarray:
    """[L16] mono waveform at 16 kHz in [-1, 1), L16 = int(L_src * 16000 / sr); float32 by default
    (dtype=np.float64 keeps the reference's precision for the log-mel front end)."""
    pcm, sr = decode_pcm(path)
    return np.asarray(resample_16k(to_mono_float(pcm), sr, resampler), dtype=dtype)
