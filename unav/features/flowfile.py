"""The flow stage's output file: quantised flow codes of every frame pair, written and read back as a stream.

Layout (all integers little-endian):

    b"UNAVFLOW" | u32 version | u32 n | n bytes header JSON (the metadata known before the first pair)
    chunks:  b"CHNK" | u32 pairs | u32 height | u32 width | u32 crc32(payload) | u32 len | payload
             payload = zlib(byte planes of the uint16 codes [pairs, 2, height, width]: low bytes, then high)
    end:     b"TAIL" | u32 n | n bytes footer JSON (the metadata again, plus pairs/chunks/shape) |
             u32 n | b"UNAVEND!"

The trailer lets a reader learn the pair count without decompressing anything; a file without it (killed
writer, truncated copy) is refused. Files are written atomically, so a half file never carries the final name.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import numpy as np

from ..errors import UnavError
from ..io import atomic_path

MAGIC = b"UNAVFLOW"
END_MAGIC = b"UNAVEND!"
CHUNK_TAG = b"CHNK"
TAIL_TAG = b"TAIL"
VERSION = 1
_CHUNK_HEAD = struct.Struct("<4sIIIII")  # tag, pairs, height, width, crc32, payload length
_U32 = struct.Struct("<I")
_MAX_CHUNK_PAIRS = 4096


def _encode(codes: np.ndarray, level: int) -> bytes:
    planes = codes.astype("<u2", copy=False).view(np.uint8).reshape(-1, 2).T  # [2, N]: low bytes, high bytes
    return zlib.compress(np.ascontiguousarray(planes).tobytes(), level)


def _decode(payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
    planes = np.frombuffer(zlib.decompress(payload), dtype=np.uint8).reshape(2, -1)  # [2, N]
    return np.ascontiguousarray(planes.T).view("<u2").reshape(shape).astype(np.uint16, copy=False)


def write_flow_file(path: str | os.PathLike, codes_iter: Iterable[np.ndarray], meta: dict,
                    level: int = 6) -> dict:
    """Write the code chunks [n, 2, H, W] (uint16) of `codes_iter` to `path` atomically, returning the final
    metadata. `meta` is stored in the header, and again in the trailer after the stream ends, so fields the
    producer fills in while streaming (e.g. the frame count) are kept."""
    path = Path(path)
    header = json.dumps(meta, sort_keys=True).encode()
    pairs = chunks = 0
    shape: tuple[int, int] | None = None
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(MAGIC + _U32.pack(VERSION) + _U32.pack(len(header)) + header)
        for codes in codes_iter:
            codes = np.asarray(codes)
            if codes.ndim != 4 or codes.shape[1] != 2:
                raise UnavError(f"{path}: flow codes must be [n, 2, H, W], got shape {codes.shape}")
            if codes.dtype != np.uint16:
                raise UnavError(f"{path}: flow codes must be uint16, got {codes.dtype}")
            if shape is None:
                shape = (int(codes.shape[2]), int(codes.shape[3]))
            elif codes.shape[2:] != shape:
                raise UnavError(f"{path}: flow chunk of size {codes.shape[2:]} after chunks of size {shape}")
            for start in range(0, len(codes), _MAX_CHUNK_PAIRS):
                part = codes[start:start + _MAX_CHUNK_PAIRS]
                if not len(part):
                    continue
                payload = _encode(part, level)
                fh.write(_CHUNK_HEAD.pack(CHUNK_TAG, len(part), *shape, zlib.crc32(payload), len(payload)))
                fh.write(payload)
                pairs += len(part)
                chunks += 1
        final = {**meta, "pairs": pairs, "chunks": chunks,
                 "shape": [2, *shape] if shape is not None else None, "format_version": VERSION}
        footer = json.dumps(final, sort_keys=True).encode()
        fh.write(TAIL_TAG + _U32.pack(len(footer)) + footer + _U32.pack(len(footer)) + END_MAGIC)
    return final


def _read_exact(fh: BinaryIO, n: int, path: Path, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise UnavError(f"{path}: flow file is truncated (while reading {what}); rerun `unav flow` for it")
    return data


def read_flow_meta(path: str | os.PathLike) -> dict:
    """The trailer metadata (header meta + pairs, chunks, shape) of a flow file, checking its framing."""
    path = Path(path)
    if path.is_dir():
        raise UnavError(f"flow file {path} is a folder (expected the output of `unav flow`, a file)")
    if not path.is_file():
        raise UnavError(f"flow file {path} does not exist (expected the output of `unav flow`)")
    with open(path, "rb") as fh:
        return _read_footer(fh, path)[0]


def _read_footer(fh: BinaryIO, path: Path) -> tuple[dict, int]:
    """(footer meta, offset of the first chunk)."""
    head = fh.read(16)
    if len(head) < 16 or head[:8] != MAGIC:
        raise UnavError(f"{path}: not a unav flow file (bad magic); expected the output of `unav flow`")
    version, n_header = struct.unpack("<II", head[8:])
    if version != VERSION:
        raise UnavError(f"{path}: flow file version {version}, this unav reads version {VERSION}")
    size = fh.seek(0, os.SEEK_END)
    first_chunk = 16 + n_header
    if size < first_chunk + 4 + 4 + 4 + len(END_MAGIC):
        raise UnavError(f"{path}: flow file is truncated (no trailer); rerun `unav flow` for it")
    fh.seek(size - 4 - len(END_MAGIC))
    tail = fh.read(4 + len(END_MAGIC))
    if tail[4:] != END_MAGIC:
        raise UnavError(f"{path}: flow file is truncated or corrupt (no end marker); rerun `unav flow` for it")
    (n_footer,) = _U32.unpack(tail[:4])
    footer_at = size - 4 - len(END_MAGIC) - n_footer
    if footer_at - 8 < first_chunk:
        raise UnavError(f"{path}: flow file is corrupt (bad trailer length)")
    fh.seek(footer_at - 8)
    tag, n_check = struct.unpack("<4sI", fh.read(8))
    if tag != TAIL_TAG or n_check != n_footer:
        raise UnavError(f"{path}: flow file is corrupt (bad trailer)")
    try:
        meta = json.loads(fh.read(n_footer))
    except ValueError as err:
        raise UnavError(f"{path}: flow file is corrupt (trailer is not JSON: {err})") from err
    meta["_chunks_end"] = footer_at - 8
    fh.seek(first_chunk)
    return meta, first_chunk


def read_flow_file(path: str | os.PathLike) -> tuple[dict, Iterator[np.ndarray]]:
    """(metadata, iterator over uint16 code chunks [n, 2, H, W]). The framing is checked now; each chunk's
    checksum as it is read. The file is opened by the iterator, so nothing stays open if it is not consumed."""
    path = Path(path)
    meta = read_flow_meta(path)
    chunks_end = meta.pop("_chunks_end")

    def chunks() -> Iterator[np.ndarray]:
        with open(path, "rb") as fh:
            _, offset = _read_footer(fh, path)
            pairs = index = 0
            while offset < chunks_end:
                head = _read_exact(fh, _CHUNK_HEAD.size, path, f"chunk {index}")
                tag, n, h, w, crc, length = _CHUNK_HEAD.unpack(head)
                if tag != CHUNK_TAG or offset + _CHUNK_HEAD.size + length > chunks_end:
                    raise UnavError(f"{path}: flow file is corrupt (bad header of chunk {index})")
                payload = _read_exact(fh, length, path, f"chunk {index}")
                if zlib.crc32(payload) != crc:
                    raise UnavError(f"{path}: flow file is corrupt (checksum of chunk {index} does not match)")
                try:
                    codes = _decode(payload, (n, 2, h, w))
                except (zlib.error, ValueError) as err:
                    raise UnavError(f"{path}: flow file is corrupt (chunk {index}: {err})") from err
                offset += _CHUNK_HEAD.size + length
                pairs += n
                index += 1
                yield codes
            if pairs != meta.get("pairs"):
                raise UnavError(f"{path}: flow file holds {pairs} pairs, its trailer says {meta.get('pairs')}")

    return meta, chunks()
