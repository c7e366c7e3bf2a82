"""unav.pipeline.shards: the stable shard hash, shard manifests (round trip, refusals), the ids every stage
finished and the failures table."""
from __future__ import annotations

import zlib

import pytest

from unav.errors import UnavError
from unav.pipeline.shards import (COLUMNS, STAGES, Row, failure_rows, manifest_text, ok_ids, read_manifest,
                                  shard_members, shard_of, write_failures, write_manifest)

# crc32 of the UTF-8 id, written out here (not computed by the code under test): a change of hash would move
# every video of every existing workflow to another shard, so the values are pinned
PINNED_CRC32 = {"abc": 891568578, "-0aBcD_e12": 1210460097, "VIDEO_id-xyz": 641478125, "ü": 1675192789}


def test_shard_of_is_the_pinned_crc32():
    for vid, crc in PINNED_CRC32.items():
        assert zlib.crc32(vid.encode("utf-8")) == crc      # the pin itself is right
        for shards in (1, 7, 100, 4096):
            assert shard_of(vid, shards) == crc % shards
    assert (shard_of("abc", 7), shard_of("abc", 100)) == (5, 78)
    assert (shard_of("-0aBcD_e12", 7), shard_of("VIDEO_id-xyz", 100), shard_of("ü", 7)) == (0, 25, 4)


def test_shard_of_is_in_range_and_refuses_no_shards():
    ids = [f"vid{i:04d}" for i in range(500)]
    for shards in (1, 2, 3, 16, 97):
        got = [shard_of(v, shards) for v in ids]
        assert all(0 <= k < shards for k in got)
        if shards > 1:
            assert len(set(got)) > 1   # spread, not one shard for everything
    for bad in (0, -3):
        with pytest.raises(UnavError, match="at least 1"):
            shard_of("abc", bad)


def test_growth_never_moves_existing_ids():
    old = [f"id{i}" for i in range(60)]
    new = old + [f"new{i}" for i in range(15)]
    shards = 8
    before, after = shard_members(old, shards), shard_members(new, shards)
    for vid in old:
        k = shard_of(vid, shards)
        assert vid in before[k] and vid in after[k]
    gained = {shard_of(v, shards) for v in new[len(old):]}
    for k in range(shards):
        if k not in gained:
            assert after[k] == before[k]        # an untouched shard holds exactly what it held
        else:
            assert after[k][:len(before[k])] == before[k]   # old members first, in their order
    assert len(gained) < shards or len(new) - len(old) >= shards


def test_members_cover_every_id_once_in_list_order():
    ids = ["b", "a", "-x", "zz", "a1", "c", "ü"]
    members = shard_members(ids, 5)
    assert sorted(members) == [0, 1, 2, 3, 4]        # empty shards listed too
    flat = [v for k in range(5) for v in members[k]]
    assert sorted(flat) == sorted(ids) and len(flat) == len(ids)
    for k, vids in members.items():
        assert vids == [v for v in ids if shard_of(v, 5) == k]
    assert shard_members(ids, 1) == {0: ids}
    assert shard_members([], 3) == {0: [], 1: [], 2: []}


def test_manifest_round_trip(tmp_path):
    rows = [Row("--starts-with-dashes", "done", seconds=1.23456),
            Row("-x", "cached"),
            Row("bad_clip", "failed", "decode", "line one\nline two\tcolumn\r\n  end", 0.5),
            Row("q\"uote", "failed", "no_audio", 'say "hi" \\ back\\slash', 2),
            Row("later", "skipped", "upstream", "an earlier stage did not produce this video")]
    path = tmp_path / "shards" / "i3d" / "3.tsv"
    write_manifest(path, rows)
    text = path.read_text()
    assert text.splitlines()[0] == "\t".join(COLUMNS) and len(text.splitlines()) == 1 + len(rows)
    got = read_manifest(path)
    assert [r.id for r in got] == [r.id for r in rows]
    assert [r.status for r in got] == ["done", "cached", "failed", "failed", "skipped"]
    assert got[2].kind == "decode" and got[2].reason == "line one line two column end"   # flattened
    assert got[3].reason == 'say "hi" \\ back\\slash' and got[3].kind == "no_audio"
    assert got[0].seconds == 1.235 and got[3].seconds == 2.0
    assert [r.ok for r in got] == [True, True, False, False, False]
    assert not [p for p in path.parent.iterdir() if p.name != "3.tsv"]   # written atomically, no temporary
    assert manifest_text([]) == "\t".join(COLUMNS) + "\n"
    write_manifest(tmp_path / "empty.tsv", [])
    assert read_manifest(tmp_path / "empty.tsv") == []


def test_read_manifest_refusals_name_the_file(tmp_path):
    wrong_header = tmp_path / "wrong.tsv"
    wrong_header.write_text("id\tstate\tkind\treason\tseconds\nv\tdone\t\t\t0.1\n")
    with pytest.raises(UnavError, match="header") as err:
        read_manifest(wrong_header)
    assert str(wrong_header) in str(err.value)

    unknown = tmp_path / "unknown.tsv"
    write_manifest(unknown, [Row("good", "done"), Row("odd", "finished")])
    with pytest.raises(UnavError, match="unknown status") as err:
        read_manifest(unknown)
    assert str(unknown) in str(err.value) and "odd" in str(err.value) and "good" not in str(err.value)

    bad_seconds = tmp_path / "seconds.tsv"
    bad_seconds.write_text("\t".join(COLUMNS) + "\nv\tdone\t\t\tsoon\n")
    with pytest.raises(UnavError, match="cannot be read") as err:
        read_manifest(bad_seconds)
    assert str(bad_seconds) in str(err.value)

    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(UnavError, match="header"):
        read_manifest(empty)

    with pytest.raises(UnavError, match="missing") as err:
        read_manifest(tmp_path / "absent.tsv")
    assert str(tmp_path / "absent.tsv") in str(err.value)


def _manifest(root, stage, shard, rows):
    path = root / stage / f"{shard}.tsv"
    write_manifest(path, rows)
    return path


def test_ok_ids_intersects_the_stages(tmp_path):
    i3d = [_manifest(tmp_path, "i3d", 0, [Row("a", "done"), Row("b", "cached"), Row("c", "failed", "decode")]),
           _manifest(tmp_path, "i3d", 1, [Row("d", "done"), Row("e", "done"), Row("f", "skipped", "upstream")])]
    vggish = [_manifest(tmp_path, "vggish", 0, [Row("a", "cached"), Row("b", "failed", "no_audio"),
                                                Row("c", "done")]),
              _manifest(tmp_path, "vggish", 1, [Row("d", "done"), Row("f", "done")])]
    # b: ok in i3d, failed in vggish; c: the reverse; e: in no vggish manifest; f: skipped in i3d
    assert ok_ids(i3d + vggish) == {"a", "d"}
    assert ok_ids(i3d) == {"a", "b", "d", "e"}             # one stage: the union of its shards
    assert ok_ids(vggish[::-1] + i3d[::-1]) == {"a", "d"}   # order of the paths does not matter
    assert ok_ids([]) == set()


def test_failure_rows_report_each_video_once_at_its_first_failing_stage(tmp_path):
    manifests = {
        # given out of stage order on purpose: the result follows STAGES
        "vggish": [_manifest(tmp_path, "vggish", 0, [Row("silent", "failed", "no_audio", "no audio track"),
                                                      Row("junk", "failed", "decode", "vggish: unreadable"),
                                                      Row("ok", "done")])],
        "i3d": [_manifest(tmp_path, "i3d", 0, [Row("junk", "skipped", "upstream", "earlier"),
                                                Row("short", "failed", "too_short", "lasts 0.2 s"),
                                                Row("silent", "done")])],
        "flow": [_manifest(tmp_path, "flow", 0, [Row("junk", "failed", "decode", "flow: unreadable")]),
                 _manifest(tmp_path, "flow", 1, [Row("short", "done"), Row("ok", "cached")])],
        "download": [_manifest(tmp_path, "download", 0, [Row("gone", "failed", "not_found", "HTTP\t404\nnot found")])],
    }
    rows = failure_rows(manifests)
    assert [(r["id"], r["stage"], r["kind"]) for r in rows] == [
        ("gone", "download", "not_found"), ("junk", "flow", "decode"), ("short", "i3d", "too_short"),
        ("silent", "vggish", "no_audio")]
    assert rows[1]["reason"] == "flow: unreadable"        # the first failure's reason, not vggish's
    assert [s for s in STAGES if s in {r["stage"] for r in rows}] == [r["stage"] for r in rows]

    out = tmp_path / "failures.tsv"
    write_failures(out, rows)
    lines = out.read_text().splitlines()
    assert lines[0] == "id\tstage\tkind\treason" and len(lines) == 5
    assert lines[1] == "gone\tdownload\tnot_found\tHTTP 404 not found"    # tab/newline flattened
    assert all(len(ln.split("\t")) == 4 for ln in lines)
    assert failure_rows({}) == []
