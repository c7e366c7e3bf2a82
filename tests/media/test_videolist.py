"""Video list validation: every malformed line is rejected before any job starts, naming file:line."""
from __future__ import annotations

from pathlib import Path

import pytest

from unav.data.annotations import annotations_from_dict
from unav.errors import UnavError
from unav.media.videolist import (VideoEntry, check_against_annotations, check_youtube_id, list_local_videos,
                                  read_video_list)

GOOD = "--HuBNHXu9I,0,10\n# a comment\n\nabcdefghijk,30.5,40\n"


def write(tmp_path: Path, text: str, name: str = "videos.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_entries_in_order(tmp_path: Path) -> None:
    entries = read_video_list(write(tmp_path, GOOD))
    assert entries == [VideoEntry(1, "--HuBNHXu9I", 0.0, 10.0), VideoEntry(4, "abcdefghijk", 30.5, 40.0)]
    assert entries[1].duration == pytest.approx(9.5)


@pytest.mark.parametrize("line, expected", [
    ("abcdefghijk,0", "expected 3 comma-separated fields"),
    ("abcdefghijk,0,10,20", "got 4"),
    ("abcdefghijk,zero,10", "'zero' is not a number"),
    ("abcdefghijk,0,nan", "not a finite number"),
    ("abcdefghijk,12,10", "start 12 is not before end 10"),
    ("abcdefghijk,10,10", "start 10 is not before end 10"),
    ("abcdefghijk,-1,10", "negative"),
    ("abc;rm -rf,0,10", "unsafe character(s) ' ', ';'"),
    ("abcdefghij$,0,10", "unsafe character(s) '$'"),
    ("abcdefghi/k,0,10", "outside [A-Za-z0-9_-]"),
    ("short,0,10", "has 5 character(s)"),
])
def test_bad_line_names_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    path = write(tmp_path, f"abcdefghijk,0,10\n\n{line.replace('abcdefghijk', 'ABCDEFGHIJK')}\n")
    with pytest.raises(UnavError) as err:
        read_video_list(path)
    message = str(err.value)
    assert f"{path}:3:" in message
    assert expected.replace("abcdefghijk", "ABCDEFGHIJK") in message


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "abcdefghijk,0,10\nzzzzzzzzzzz,0,5\nabcdefghijk,3,9\n")
    with pytest.raises(UnavError, match=r"videos.csv:3: video abcdefghijk is listed twice \(first on line 1\)"):
        read_video_list(path)


def test_header_line_is_explained(tmp_path: Path) -> None:
    with pytest.raises(UnavError, match=r":1: .*no header line"):
        read_video_list(write(tmp_path, "youtube_id,start_seconds,end_seconds\nabcdefghijk,0,10\n"))


def test_empty_or_missing_list(tmp_path: Path) -> None:
    with pytest.raises(UnavError, match="lists no videos"):
        read_video_list(write(tmp_path, "# nothing\n\n"))
    with pytest.raises(UnavError, match="does not exist"):
        read_video_list(tmp_path / "nope.csv")


def test_check_youtube_id() -> None:
    assert check_youtube_id("-_aZ09-_aZ0") == "-_aZ09-_aZ0"
    with pytest.raises(UnavError, match="unsafe"):
        check_youtube_id("$(reboot)xx")


def test_missing_from_annotations_lists_lines(tmp_path: Path) -> None:
    entries = read_video_list(write(tmp_path, "abcdefghijk,0,10\nmissing0001,0,10\nmissing0002,1,2\n"))
    ann = annotations_from_dict({"database": {"abcdefghijk": {"subset": "train", "duration": 10}}}, source="a.json")
    check_against_annotations(entries[:1], ann)  # no error
    with pytest.raises(UnavError) as err:
        check_against_annotations(entries, ann, list_name="videos.csv")
    assert "2 video(s) missing from annotation file a.json" in str(err.value)
    assert "line 2: missing0001" in str(err.value) and "line 3: missing0002" in str(err.value)


def test_local_folder_and_path_list(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("b.mp4", "a-1.mkv", "notes.txt", ".hidden.mp4"):
        (folder / name).write_bytes(b"x")
    assert list_local_videos(folder) == [("a-1", folder / "a-1.mkv"), ("b", folder / "b.mp4")]
    listing = write(tmp_path, "videos/b.mp4\n\n# skip\n" + str(folder / "a-1.mkv") + "\n", name="paths.txt")
    assert [vid for vid, _ in list_local_videos(listing)] == ["b", "a-1"]
    (folder / "b.webm").write_bytes(b"x")
    with pytest.raises(UnavError, match="'b' .*used twice"):
        list_local_videos(folder)


def test_local_unsafe_or_missing_names(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "a;b.mp4").write_bytes(b"x")
    with pytest.raises(UnavError, match="not a safe name"):
        list_local_videos(folder)
    listing = write(tmp_path, "v/absent.mp4\n", name="paths.txt")
    with pytest.raises(UnavError, match=r"paths.txt:1: video file .*absent.mp4 does not exist"):
        list_local_videos(listing)
    with pytest.raises(UnavError, match="neither a folder"):
        list_local_videos(tmp_path / "nothing")
