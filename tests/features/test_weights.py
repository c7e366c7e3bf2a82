"""Weights registry, cache directory, verified download (from a local HTTP server) and safe loading."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch
import yaml
from local_http import serve_directory

from unav.errors import UnavError
from unav.features import weights as W

PAYLOAD_NAME = "tiny-model.pth"


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, directory) of a throwaway HTTP server on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    with serve_directory(root) as url:
        yield url, root


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make_registry(path: Path, url: str, data: bytes, **checks: object) -> Path:
    spec = {"file": PAYLOAD_NAME, "url": url, "licence": "test", "model": "test"}
    spec.update(checks)
    path.write_text(yaml.safe_dump({"weights": {"tiny": spec}}))
    return path


def payload(tmp_path: Path) -> bytes:
    src = tmp_path / "src.pth"
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, src)
    return src.read_bytes()


def test_packaged_registry_lists_every_published_file(monkeypatch) -> None:
    monkeypatch.delenv("UNAV_WEIGHTS_REGISTRY", raising=False)
    assert W.registry_path() is W.PACKAGED_REGISTRY and W.PACKAGED_REGISTRY.is_file()
    reg = W.load_registry()
    files = {e.file for e in reg.values()}
    assert {"i3d_rgb.pt", "i3d_flow.pt", "raft_large_C_T_SKHT_V1-0b8c9e55.pth", "raft-sintel.pth",
            "vggish-10086976.pth", "vggish_pca_params-970ea276.pth"} <= files
    for entry in reg.values():
        assert entry.url.startswith("https://") and entry.has_checks and entry.licence and entry.model
        prefix = entry.file.rsplit("-", 1)[-1].split(".")[0]
        if entry.sha256_prefix:  # torch.hub names carry the leading sha256 digits
            assert prefix == entry.sha256_prefix
    assert reg["raft_sintel"].sha256 == "90630d2e7d488a0d3ccb5e8194524850c4c05c732ea4ff99799822c7fa5c5cbf"
    assert W.entry_for("vggish-10086976.pth").name == "vggish"
    with pytest.raises(UnavError, match="unknown weights"):
        W.entry_for("resnet50")


def test_roles_name_the_files_unav_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The RAFT choices and each stream's file are read from the packaged registry's roles, whatever registry
    serves the files; a registry entry with an unknown role is refused naming it."""
    from unav.features.settings import ExtractSettings, required_weights, stream_weights

    monkeypatch.setenv("UNAV_WEIGHTS_REGISTRY", str(make_registry(tmp_path / "other.yaml", "https://x/y", b"")))
    assert W.raft_weight_names() == ("raft_sintel", "raft_large_C_T_SKHT_V1")
    assert ExtractSettings().raft_weights == "raft_sintel"
    assert [stream_weights(s) for s in ("rgb", "flow", "vggish")] == ["i3d_rgb", "i3d_flow", "vggish"]
    assert required_weights(ExtractSettings(weights="pretrained", raft_weights="raft_large_C_T_SKHT_V1")) == [
        "i3d_rgb", "i3d_flow", "raft_large_C_T_SKHT_V1", "vggish"]
    assert required_weights(ExtractSettings(weights="pretrained", flow_method="dis", streams=("flow",))) == ["i3d_flow"]
    with pytest.raises(UnavError, match="unknown RAFT weights 'raft_things'; choose from raft_sintel, raft_large"):
        ExtractSettings(raft_weights="raft_things")
    reg = make_registry(tmp_path / "bad.yaml", "https://x/y", b"", role="flow")
    with pytest.raises(UnavError, match="entry 'tiny' has role 'flow'; expected one of i3d_rgb, i3d_flow, raft"):
        W.load_registry(reg)


def test_weights_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UNAV_WEIGHTS", str(tmp_path / "env"))
    assert W.weights_dir(tmp_path / "cli") == tmp_path / "cli"
    assert W.weights_dir() == tmp_path / "env"
    monkeypatch.delenv("UNAV_WEIGHTS")
    assert W.weights_dir() == Path("~/.cache/unav/weights").expanduser()


def test_fetch_verifies_and_resolves(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    data = payload(tmp_path)
    (root / PAYLOAD_NAME).write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    reg = make_registry(tmp_path / "reg.yaml", f"{base}/{PAYLOAD_NAME}", data, sha256=sha,
                        git_blob=git_blob(data), size=len(data))
    cache = tmp_path / "cache"
    out = W.fetch(["tiny"], cache, registry=reg)
    assert out["tiny"] == (cache / PAYLOAD_NAME, sha, "verified")
    assert (cache / PAYLOAD_NAME).read_bytes() == data
    assert [p.name for p in cache.iterdir()] == [PAYLOAD_NAME]  # no temporary left behind
    assert W.resolve("tiny", cache, registry=reg) == (cache / PAYLOAD_NAME, sha, "verified")
    assert torch.equal(W.load_weights(cache / PAYLOAD_NAME)["w"], torch.arange(6.0).reshape(2, 3))
    # present and verified: no second download even if the server now serves something else
    (root / PAYLOAD_NAME).write_bytes(b"changed")
    assert W.fetch(["tiny"], cache, registry=reg)["tiny"][2] == "verified"


def test_checksum_mismatch_refused_then_allowed(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    data = payload(tmp_path)
    (root / PAYLOAD_NAME).write_bytes(data)
    reg = make_registry(tmp_path / "reg.yaml", f"{base}/{PAYLOAD_NAME}", data, sha256="0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(UnavError, match="refusing") as err:
        W.fetch(["tiny"], cache, registry=reg)
    assert "0" * 64 in str(err.value)
    assert not (cache / PAYLOAD_NAME).exists() and list(cache.iterdir()) == []
    path, sha, status = W.fetch(["tiny"], cache, allow_unverified=True, registry=reg)["tiny"]
    assert status == "unverified" and sha == hashlib.sha256(data).hexdigest() and path.read_bytes() == data
    with pytest.raises(UnavError, match="allow-unverified"):
        W.resolve("tiny", cache, registry=reg)
    assert W.resolve("tiny", cache, allow_unverified=True, registry=reg)[2] == "unverified"


def test_prefix_and_git_blob_checks(tmp_path: Path) -> None:
    data = payload(tmp_path)
    sha = hashlib.sha256(data).hexdigest()
    digest = W.Digest(sha256=sha, git_blob=git_blob(data), size=len(data))
    good = W.WeightEntry("t", "t.pth", "u", sha256_prefix=sha[:8], git_blob=git_blob(data))
    assert W.check(good, digest) == []
    bad = W.WeightEntry("t", "t.pth", "u", sha256_prefix="ffffffff" if sha[:8] != "ffffffff" else "00000000",
                        git_blob="1" * 40)
    assert len(W.check(bad, digest)) == 2
    (tmp_path / "t.pth").write_bytes(data)
    assert W.digest_file(tmp_path / "t.pth") == digest


def test_mirrors_are_tried_when_the_url_fails(served: tuple[str, Path], tmp_path: Path) -> None:
    # The upstream file moved (404), a second copy is not the published one, the third is: fetched and verified.
    base, root = served
    data = payload(tmp_path)
    (root / "wrong.pth").write_bytes(b"another file")
    (root / "moved").mkdir()
    (root / "moved" / PAYLOAD_NAME).write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    reg = make_registry(tmp_path / "reg.yaml", f"{base}/{PAYLOAD_NAME}", data, git_blob=git_blob(data),
                        mirrors=[f"{base}/wrong.pth", f"{base}/moved/{PAYLOAD_NAME}"])
    cache = tmp_path / "cache"
    assert W.fetch(["tiny"], cache, registry=reg)["tiny"] == (cache / PAYLOAD_NAME, sha, "verified")
    assert [p.name for p in cache.iterdir()] == [PAYLOAD_NAME]
    # every URL failing: one error naming each of them, nothing left in the cache
    (root / "moved" / PAYLOAD_NAME).unlink()
    with pytest.raises(UnavError, match="none of its 3 URLs") as err:
        W.fetch(["tiny"], tmp_path / "cache2", registry=reg)
    for url in (f"{base}/{PAYLOAD_NAME}", f"{base}/wrong.pth", f"{base}/moved/{PAYLOAD_NAME}"):
        assert url in str(err.value)
    assert list((tmp_path / "cache2").iterdir()) == []
    with pytest.raises(UnavError, match="mirrors 'x'; expected a list"):
        W.fetch(["tiny"], cache, registry=make_registry(tmp_path / "r2.yaml", f"{base}/a", data, mirrors="x"))
    with pytest.raises(UnavError, match="url 'ftp://h/a'"):
        W.fetch(["tiny"], cache, registry=make_registry(tmp_path / "r3.yaml", f"{base}/a", data, mirrors=["ftp://h/a"]))


def test_missing_file_and_bad_url(tmp_path: Path) -> None:
    reg = make_registry(tmp_path / "reg.yaml", "http://127.0.0.1:9/none.pth", b"", sha256="0" * 64)
    with pytest.raises(UnavError, match="unav weights fetch tiny"):
        W.resolve("tiny", tmp_path / "cache", registry=reg)
    with pytest.raises(UnavError, match="cannot download"):
        W.fetch(["tiny"], tmp_path / "cache", registry=reg)


@pytest.mark.parametrize("bad", ["../../x.pth", "/tmp/x.pth", "sub/x.pth", "..", "-x.pth", "a\\b.pth"])
def test_registry_file_names_stay_in_the_weights_dir(served: tuple[str, Path], tmp_path: Path, bad: str) -> None:
    url, root = served
    data = payload(tmp_path)
    (root / "w.pth").write_bytes(data)
    reg = make_registry(tmp_path / "reg.yaml", f"{url}/w.pth", data, file=bad)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(UnavError, match="plain file name"):
        W.fetch(["tiny"], tmp_path / "deep" / "cache", registry=reg)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before       # nothing written anywhere


def test_load_weights_errors_name_file_and_checksum(tmp_path: Path) -> None:
    good = tmp_path / "vggish-10086976.pth"
    torch.save({"a": torch.zeros(1000)}, good)
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnavError, match="truncated") as err:
        W.load_weights(good)
    assert "vggish-10086976.pth" in str(err.value) and "10086976" in str(err.value)
    (tmp_path / "x.pth").write_text("<html>not found</html>")
    with pytest.raises(UnavError, match="not a PyTorch weights file"):
        W.load_weights(tmp_path / "x.pth")
    with pytest.raises(UnavError, match="does not exist"):
        W.load_weights(tmp_path / "absent.pth")


def test_load_weights_numpy_arrays_without_unsafe_pickle(tmp_path: Path) -> None:
    path = tmp_path / "pca.pth"
    torch.save({"pca_eigen_vectors": np.eye(3), "pca_means": np.arange(3.0)}, path,
               _use_new_zipfile_serialization=False)
    params = W.load_weights(path)
    assert np.array_equal(params["pca_means"], np.arange(3.0))

    class Evil:
        def __reduce__(self):  # would run code under a full unpickler
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(UnavError, match="evil.pth"):
        W.load_weights(tmp_path / "evil.pth")
