"""yt-dlp downloads through a real HTTP server on 127.0.0.1: good video, 404, a web page under a video name,
reruns (ok skipped, failures retried), transient failures with backoff, the failures TSV, and one URL downloaded
under the name yt-dlp gives it (detect's URL inputs)."""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import socket
import threading
from pathlib import Path

import pytest

pytest.importorskip("yt_dlp")

from unav.cli import main  # noqa: E402
from unav.errors import UnavError  # noqa: E402
from unav.media.download import (DownloadOptions, classify_failure, collect_failures, download_url,  # noqa: E402
                                 download_video, read_status, ytdlp_command, ytdlp_url_command)
from unav.media.ffmpeg import run_ffmpeg  # noqa: E402


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(served folder, URL template): good.mp4 is a 2-s lavfi clip, page.mp4 an HTML page; nothing else."""
    root = tmp_path_factory.mktemp("served")
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=2",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=2",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", f"file:{root / 'good.mp4'}"])
    (root / "page.mp4").write_text("<html><body>This video has moved.</body></html>\n")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/{{id}}.mp4"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_good_video(server, tmp_path: Path) -> None:
    root, template = server
    status = download_video("good", tmp_path / "raw" / "good.mp4", tmp_path / "good.json",
                            DownloadOptions(url_template=template))
    assert status["ok"] and status["attempts"] == 1 and status["kind"] == "ok"
    assert status["url"] == template.replace("{id}", "good")
    assert status["duration"] == pytest.approx(2.0, abs=0.1) and status["has_audio"] is True
    assert (tmp_path / "raw" / "good.mp4").read_bytes() == (root / "good.mp4").read_bytes()
    assert read_status(tmp_path / "good.json") == status
    assert _leftovers(tmp_path / "raw") == []


def test_404_is_recorded_and_exits_0_in_the_workflows_mode(server, tmp_path: Path, capsys) -> None:
    _, template = server
    out, status_file = tmp_path / "raw" / "gone.mp4", tmp_path / "gone.json"
    rc = main(["download", "--id=gone", "--url-template", template, "--out", str(out), "--status", str(status_file),
               "--retries", "2", "--backoff", "5", "--record-failure"])
    assert rc == 0
    status = json.loads(status_file.read_text())
    assert status["ok"] is False and status["kind"] == "not_found" and "404" in status["reason"]
    assert status["attempts"] == 1  # permanent: not retried (no 5 s backoff wait)
    assert not out.exists() and _leftovers(out.parent) == []
    assert "FAILED" in capsys.readouterr().out
    # outside the workflow's mode the same failure exits 2 (--strict, the old spelling, still works)
    assert main(["download", "gone", "--url-template", template, "--out", str(out), "--status",
                 str(status_file)]) == 2
    assert main(["download", "gone", "--url-template", template, "--out", str(out), "--status",
                 str(status_file), "--strict"]) == 2


def test_existing_file_is_never_removed(server, tmp_path: Path, capsys) -> None:
    root, template = server
    out, status_file = tmp_path / "mine.mp4", tmp_path / "mine.json"
    out.write_bytes(b"the user's only copy")
    # a failing download neither removes nor replaces it, and says so (exit 2)
    for extra in ([], ["--force"], ["--record-failure"]):
        rc = main(["download", "gone", "--url-template", template, "--out", str(out), "--status", str(status_file),
                   "--retries", "0", *extra])
        assert rc == 2, extra          # refused before any download, in every mode
        assert out.read_bytes() == b"the user's only copy", extra
    assert "--force" in capsys.readouterr().err
    # a good download does not replace it without --force, and does with it
    assert main(["download", "good", "--url-template", template, "--out", str(out), "--status",
                 str(status_file)]) == 2
    assert out.read_bytes() == b"the user's only copy"
    assert main(["download", "good", "--url-template", template, "--out", str(out), "--status",
                 str(status_file), "--force"]) == 0
    assert out.read_bytes() == (root / "good.mp4").read_bytes()
    assert _leftovers(tmp_path) == []


def test_web_page_named_mp4_is_not_a_video(server, tmp_path: Path) -> None:
    _, template = server
    status = download_video("page", tmp_path / "page.mp4", tmp_path / "page.json",
                            DownloadOptions(url_template=template))
    assert status["ok"] is False and status["kind"] == "not_a_video"
    assert status["reason"].startswith("not a video")
    assert not (tmp_path / "page.mp4").exists() and _leftovers(tmp_path) == []


def test_rerun_skips_ok_and_retries_failures(server, tmp_path: Path) -> None:
    root, template = server
    opts = DownloadOptions(url_template=template)
    first = download_video("good", tmp_path / "good.mp4", tmp_path / "good.json", opts)
    late = download_video("late", tmp_path / "late.mp4", tmp_path / "late.json", opts)
    assert first["ok"] and not late["ok"]
    # now the server has the late video and no longer the good one
    shutil.copy(root / "good.mp4", root / "late.mp4")
    (root / "good.mp4").rename(root / "good.bak")
    try:
        again = download_video("good", tmp_path / "good.mp4", tmp_path / "good.json", opts)
        late = download_video("late", tmp_path / "late.mp4", tmp_path / "late.json", opts)
    finally:
        (root / "good.bak").rename(root / "good.mp4")
        (root / "late.mp4").unlink()
    assert again == first  # nothing downloaded: the server would have answered 404
    assert late["ok"] and late["attempts"] == 1 and (tmp_path / "late.mp4").is_file()


def test_transient_failure_retried_with_backoff(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    opts = DownloadOptions(url_template=f"http://127.0.0.1:{port}/{{id}}.mp4", retries=2, backoff=0.5)
    status = download_video("abcdefghijk", tmp_path / "v.mp4", tmp_path / "v.json", opts, sleep=waits.append)
    assert status["ok"] is False and status["kind"] == "network" and status["attempts"] == 3
    assert waits == [0.5, 1.0]
    with pytest.raises(UnavError, match="abcdefghijk: download from .* failed: network error"):
        download_video("abcdefghijk", tmp_path / "v.mp4", tmp_path / "v.json",
                       DownloadOptions(url_template=opts.url_template, retries=0), strict=True)
    assert read_status(tmp_path / "v.json")["attempts"] == 1


def test_collect_failures(tmp_path: Path, capsys) -> None:
    rows = [{"id": "aaaaaaaaaaa", "ok": True, "reason": "", "attempts": 1, "url": "u1"},
            {"id": "bbbbbbbbbbb", "ok": False, "reason": "private video:\tERROR: x\ny", "attempts": 1, "url": "u2"},
            {"id": "ccccccccccc", "ok": True, "reason": "", "attempts": 2, "url": "u3"}]
    files = []
    for row in rows:
        files.append(tmp_path / f"{row['id']}.status.json")
        files[-1].write_text(json.dumps(row))
    files.append(tmp_path / "ddddddddddd.status.json")  # never written (job killed)
    ok_ids, failures = collect_failures(files, tmp_path / "failures.tsv", tmp_path / "ok.txt")
    assert ok_ids == ["aaaaaaaaaaa", "ccccccccccc"] and [f["id"] for f in failures] == ["bbbbbbbbbbb", "ddddddddddd"]
    lines = (tmp_path / "failures.tsv").read_text().splitlines()
    assert lines[0] == "id\treason\tattempts\turl"
    assert lines[1] == "bbbbbbbbbbb\tprivate video: ERROR: x y\t1\tu2"
    assert lines[2].startswith("ddddddddddd\tno readable status file") and len(lines) == 3
    assert (tmp_path / "ok.txt").read_text() == "aaaaaaaaaaa\nccccccccccc\n"
    # the same through the CLI, with a status list file
    (tmp_path / "list.txt").write_text("\n".join(str(f) for f in files[1:]) + "\n")
    rc = main(["download", "collect", str(files[0]), "--status-list", str(tmp_path / "list.txt"),
               "--failures", str(tmp_path / "f2.tsv"), "--ok-list", str(tmp_path / "ok2.txt")])
    assert rc == 0 and "2 video(s) ok, 2 failed" in capsys.readouterr().out
    assert (tmp_path / "f2.tsv").read_text() == (tmp_path / "failures.tsv").read_text()


@pytest.mark.parametrize("stderr, kind", [
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access", "private"),
    ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "unavailable"),
    ("ERROR: [youtube] abc: Sign in to confirm your age.", "age_restricted"),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", "forbidden"),
    ("ERROR: [youtube] abc: HTTP Error 429: Too Many Requests", "rate_limited"),
    ("ERROR: Unsupported URL: http://x/y", "not_a_video"),
    ("ERROR: something new", "error"),
])
def test_classify_failure(stderr: str, kind: str) -> None:
    got, reason = classify_failure("[youtube] abc: Downloading webpage\n" + stderr)
    assert got == kind and reason.endswith(stderr)


def test_command_passes_options_through(tmp_path: Path) -> None:
    opts = DownloadOptions(rate_limit="2M", sleep_interval=1.5, cookies="c.txt", proxy="socks5://h:1",
                           format="b", extra_args=["--extractor-args", "youtube:x=y"])
    cmd = ytdlp_command("https://www.youtube.com/watch?v=-abcdefghij", tmp_path / "50%.mp4", opts)
    assert cmd[1:3] == ["-m", "yt_dlp"] and cmd[-2:] == ["--", "https://www.youtube.com/watch?v=-abcdefghij"]
    for flag, value in [("--limit-rate", "2M"), ("--sleep-interval", "1.5"), ("--cookies", "c.txt"),
                        ("--proxy", "socks5://h:1"), ("-f", "b"), ("-o", str(tmp_path / "50%%.mp4")),
                        ("--extractor-args", "youtube:x=y")]:
        assert cmd[cmd.index(flag) + 1] == value
    assert "--no-mtime" in cmd and "--enable-file-urls" not in cmd
    assert "--enable-file-urls" in ytdlp_command("file:///x/{id}.mp4", tmp_path / "a.mp4", DownloadOptions())


def test_file_url_source_and_bad_ids(server, tmp_path: Path) -> None:
    root, _ = server
    status = download_video("good", tmp_path / "a.mp4", tmp_path / "a.json",
                            DownloadOptions(url_template=root.as_uri() + "/{id}.mp4"))
    assert status["ok"] and (tmp_path / "a.mp4").is_file()
    with pytest.raises(UnavError, match="not a safe name"):
        download_video("x;rm -rf", tmp_path / "b.mp4", tmp_path / "b.json")
    with pytest.raises(UnavError, match="no {id} placeholder"):
        download_video("good", tmp_path / "b.mp4", tmp_path / "b.json", DownloadOptions(url_template="http://x/"))


def test_one_url_is_saved_under_its_id_and_checked(server, tmp_path: Path) -> None:
    root, template = server
    got = download_url(template.replace("{id}", "good"), tmp_path / "dl")
    assert got == tmp_path / "dl" / "good.mp4" and got.read_bytes() == (root / "good.mp4").read_bytes()
    waits: list[float] = []
    for name, reason in (("gone", "HTTP 404 not found"), ("page", "not a video")):
        url = template.replace("{id}", name)
        with pytest.raises(UnavError) as err:
            download_url(url, tmp_path / name, DownloadOptions(retries=2), sleep=waits.append)
        assert str(err.value).startswith(f"{url}: download with yt-dlp failed (1 attempt(s)): {reason}")
        assert list((tmp_path / name).iterdir()) == []        # the web page is not left behind
    assert waits == []                                         # permanent failures: no retry


def test_url_command_names_the_file_by_its_id_without_user_config(tmp_path: Path) -> None:
    cmd = ytdlp_url_command("https://example.org/v", tmp_path / "50%", DownloadOptions(format="bv*+ba/b"))
    assert cmd[cmd.index("-o") + 1] == f"{tmp_path}/50%%/%(id)s.%(ext)s"
    assert cmd[cmd.index("--print") + 1] == "after_move:filepath" and "--ignore-config" in cmd
    assert cmd[cmd.index("-f") + 1] == "bv*+ba/b" and cmd[-2:] == ["--", "https://example.org/v"]
