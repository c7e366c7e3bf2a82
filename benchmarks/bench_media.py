"""Timings of the media-acquisition stages on this machine: demo video generation, yt-dlp download from a local
HTTP server, trim. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_media.py [--num 30]
"""
from __future__ import annotations

import argparse
import functools
import http.server
import tempfile
import threading
import time
from pathlib import Path

from unav.media.download import DownloadOptions, download_video
from unav.media.synthetic_videos import make_demo_videos
from unav.media.trim import trim_video
from unav.media.videolist import read_video_list


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        info = make_demo_videos(root / "demo", num=args.num)
        gen = time.perf_counter() - t0
        entries = read_video_list(root / "demo" / "videos.csv")
        seconds = sum(e.duration for e in entries)
        print(f"demo-videos: {args.num} clips, {seconds:.0f} s of video at {info['size'][0]}x{info['size'][1]}: "
              f"{gen:.1f} s ({seconds / gen:.0f}x real time)")
        handler = functools.partial(_Quiet, directory=str(root / "demo" / "videos"))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        opts = DownloadOptions(url_template=f"http://127.0.0.1:{httpd.server_address[1]}/{{id}}.mp4")
        some = entries[:5]
        t0 = time.perf_counter()
        for e in some:
            download_video(e.youtube_id, root / "raw" / f"{e.youtube_id}.mp4", root / "raw" / f"{e.youtube_id}.json",
                           opts)
        dl = (time.perf_counter() - t0) / len(some)
        t0 = time.perf_counter()
        for e in some:
            download_video(e.youtube_id, root / "raw" / f"{e.youtube_id}.mp4", root / "raw" / f"{e.youtube_id}.json",
                           opts)
        skip = (time.perf_counter() - t0) / len(some)
        httpd.shutdown()
        print(f"download (yt-dlp, local http, incl. probe): {dl:.2f} s per clip; rerun of an ok clip: {skip * 1e3:.1f} ms")
        t0 = time.perf_counter()
        for e in some:
            trim_video(root / "raw" / f"{e.youtube_id}.mp4", root / "clips" / f"{e.youtube_id}.mp4", 1.0, e.end - 1.0)
        tr = time.perf_counter() - t0
        cut = sum(e.duration - 2.0 for e in some)
        print(f"trim (libx264 veryfast crf 18 + AAC): {tr / len(some):.2f} s per clip ({cut / tr:.0f}x real time)")


if __name__ == "__main__":
    main()
