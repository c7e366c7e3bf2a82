"""Mono 16 kHz audio as the reference VGGish extractor reads it: the first audio stream decoded by ffmpeg to
16-bit PCM at the source rate with the source channels (what the reference's .wav holds), int16 / 32768,
mean over channels, then resampled to 16 kHz with resampy's `kaiser_best` filter (the reference's choice).

An AAC track takes the reference's route (docs/features.md §2.1): stream-copied to raw ADTS, and the ADTS decoded
(both through pipes, no temporary files). ADTS carries no MP4 edit list, so the encoder's priming samples stay at
the start: on the real UnAV-100 clip --HuBNHXu9I.mp4 that is 1,024 samples (23 ms) before what a direct decode of
the .mp4 gives, 2,647,040 samples instead of 2,646,000, which moves every VGGish row; on clips without an edit
list both routes agree. Other codecs (a .wav, PCM or Opus tracks) are decoded directly, as the reference reads a
.wav as-is. Route "direct" decodes every track directly (what features written before this choice hold)."""
from __future__ import annotations

import os
from typing import Literal

import numpy as np

from ..errors import UnavError
from .ffmpeg import input_arg, run_ffmpeg
from .probe import probe

TARGET_RATE = 16000
Resampler = Literal["kaiser_best", "kaiser_fast"]
AudioDecode = Literal["adts", "direct"]   # features.settings.AUDIO_DECODES


def decode_pcm(path: str | os.PathLike, route: AudioDecode = "adts") -> tuple[np.ndarray, int]:
    """([L, C] int16 samples, sample rate) of the first audio stream, at the source rate and channel count.
    route "adts": an AAC track through the reference's raw ADTS copy (other codecs directly); "direct": the
    container decoded directly, its edit list applied."""
    info = probe(path, require_video=False)
    if not info.has_audio:
        raise UnavError(f"{path}: no audio stream; expected a video with a soundtrack for VGGish features")
    if info.audio_rate <= 0 or info.audio_channels <= 0:
        raise UnavError(f"{path}: could not read the audio sample rate/channels "
                        f"(got {info.audio_rate} Hz, {info.audio_channels} ch)")
    to_pcm = ["-ac", str(info.audio_channels), "-ar", str(info.audio_rate), "-c:a", "pcm_s16le", "-f", "s16le",
              "pipe:1"]
    if route == "adts" and info.audio_codec == "aac":
        adts = run_ffmpeg(["-v", "error", "-i", input_arg(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
                           "-c:a", "copy", "-f", "adts", "pipe:1"], what=f"{path}: audio stream copy to ADTS").stdout
        proc = run_ffmpeg(["-v", "error", "-f", "aac", "-i", "pipe:0", *to_pcm], stdin=adts,
                          what=f"{path}: audio decode (ADTS)")
    else:
        proc = run_ffmpeg(["-v", "error", "-i", input_arg(path), "-map", "0:a:0", "-vn", "-sn", "-dn", *to_pcm],
                          what=f"{path}: audio decode")
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
                   dtype: type = np.float32, route: AudioDecode = "adts") -> np.ndarray:
    """[L16] mono waveform at 16 kHz in [-1, 1), L16 = int(L_src * 16000 / sr); float32 by default
    (dtype=np.float64 keeps the reference's precision for the log-mel front end)."""
    pcm, sr = decode_pcm(path, route)
    return np.asarray(resample_16k(to_mono_float(pcm), sr, resampler), dtype=dtype)
