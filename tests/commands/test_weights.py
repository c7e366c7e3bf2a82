"""`unav weights fetch|list` end to end against a local HTTP server."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import yaml

from unav.cli import main


@pytest.fixture()
def server(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "blob.bin").write_bytes(b"weights-bytes" * 100)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/blob.bin", b"weights-bytes" * 100
    srv.shutdown()
    srv.server_close()


def write_registry(path: Path, url: str, sha: str) -> Path:
    path.write_text(yaml.safe_dump({"weights": {"blob": {"file": "blob.bin", "url": url, "sha256": sha},
                                                "other": {"file": "other.pth", "url": url + "x",
                                                          "sha256_prefix": "abcdef12"}}}))
    return path


def test_fetch_and_list(server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, data = server
    reg = write_registry(tmp_path / "r.yaml", url, hashlib.sha256(data).hexdigest())
    wd = tmp_path / "w"
    assert main(["weights", "fetch", "blob", "--weights-dir", str(wd), "--registry", str(reg)]) == 0
    assert (wd / "blob.bin").read_bytes() == data
    assert "verified" in capsys.readouterr().out
    assert main(["weights", "list", "--weights-dir", str(wd), "--registry", str(reg)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["name", "present", "verified", "path"]
    blob = next(ln for ln in lines if ln.startswith("blob"))
    other = next(ln for ln in lines if ln.startswith("other"))
    assert blob.split()[1:3] == ["yes", "yes"] and blob.endswith(str(wd / "blob.bin"))
    assert other.split()[1] == "no"


def test_mismatch_exit_code_and_override(server, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url, data = server
    reg = write_registry(tmp_path / "r.yaml", url, "f" * 64)
    monkeypatch.setenv("UNAV_WEIGHTS_REGISTRY", str(reg))
    monkeypatch.setenv("UNAV_WEIGHTS", str(tmp_path / "w"))
    assert main(["weights", "fetch", "blob"]) == 2
    assert "refusing" in capsys.readouterr().err
    assert not (tmp_path / "w" / "blob.bin").exists()
    assert main(["weights", "fetch", "blob", "--allow-unverified-weights"]) == 0
    assert "unverified" in capsys.readouterr().out
    assert main(["weights", "list"]) == 0
    assert "checksum differs" in capsys.readouterr().out
