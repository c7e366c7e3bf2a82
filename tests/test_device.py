"""unav/device.py: device names, and whether the CPU runs bf16 natively (the train.amp=bf16 warning)."""
from pathlib import Path

import pytest
import torch

from unav.device import cpu_has_bf16, resolve_device
from unav.errors import UnavError


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="reads the Linux CPU flags")
def test_bf16_support_is_the_cpus_bf16_instructions():
    # The kernel's flag list is an independent source: oneDNN's "bf16 supported" is true on any AVX-512 CPU,
    # including those where bf16 is emulated and slower than fp32.
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[1].split())
    if not flags:
        pytest.skip("no x86 CPU flags here")
    assert cpu_has_bf16() == bool(flags & {"avx512_bf16", "amx_bf16"})


def test_device_names_are_checked():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(UnavError, match="not a device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(UnavError, match="no CUDA device"):
            resolve_device("cuda:1")


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_that_emulates_it_is_warned_about(native, monkeypatch, caplog):
    import unav.device

    monkeypatch.setattr(unav.device, "cpu_has_bf16", lambda: native)
    with caplog.at_level("WARNING"):
        warned = unav.device.warn_if_bf16_emulated("cpu", "train.amp bf16", "train.amp none")
    assert warned is (not native)
    assert ("emulated and slower than fp32; use train.amp none here" in caplog.text) is (not native)
    assert unav.device.warn_if_bf16_emulated("meta", "train.amp bf16", "train.amp none") is False   # not a CPU
