"""Bad annotation files, predictions and output paths for every command that reads an annotation file: one
validator (unav.data.annotations) with the same rules and messages everywhere, every problem listed, nothing
written when an input is refused.

The fixture annotation file (tests/bad_inputs/conftest.py) holds syn0000-syn0011: train syn0000-syn0006,
validation syn0007-syn0008, test syn0009-syn0011; classes sound_0, sound_1, sound_2 (label_id 0, 1, 2)."""
from __future__ import annotations

import json
from typing import Any, Callable

from .casebook import Case, Context, both, parametrize, run_case, write

V = "syn0003"           # a train video
T = "syn0009"           # a test video (the fixture predictions are for the test split)
BAD = "{tmp}/bad.json"
STATS = ["stats", "--annotations", BAD, "--out-dir", "{tmp}/stats"]
TRAIN = ["train", "--annotations", BAD, "--features", "{feats}", "--config", "{config}", "--out-dir", "{tmp}/new_run"]
PREDICT = ["predict", "--checkpoint", "{run}/last.pt", "--annotations", BAD, "--features", "{feats}",
           "--out", "{tmp}/p.json"]
EVAL_ANN = ["evaluate", "--annotations", BAD, "--predictions", "{preds}", "--out", "{tmp}/m.json"]
EVAL = ["evaluate", "--annotations", "{ann}", "--predictions", "{tmp}/p.json", "--out", "{tmp}/m.json"]
REPORT = ["report", "--metrics", "{tmp}/metrics.json", "--predictions", "{preds}", "--annotations", BAD,
          "--out-dir", "{tmp}/report"]
CHECK = ["check-inputs", "--annotations", BAD, "--out", "{tmp}/summary.json"]
NOTHING_EVALUATED = ("{tmp}/m.json", "{tmp}/m_per_class_ap.png")


# ------------------------------------------------------------------------------------------------ helpers
def ann_doc(ctx: Context) -> dict[str, Any]:
    return json.loads(ctx.fixtures["ann"].read_text())


def damaged(edit: Callable[[dict], Any], name: str = "bad.json") -> Callable[[Context], None]:
    """The fixture annotation file with `edit(doc)` applied, as {tmp}/NAME (NaN written as the NaN token)."""
    def setup(ctx: Context) -> None:
        doc = ann_doc(ctx)
        edit(doc)
        (ctx.tmp / name).write_text(json.dumps(doc))
        (ctx.tmp / "metrics.json").write_text("{}")     # for report, which reads its metrics first
    return setup


def video(**fields: Any) -> Callable[[dict], None]:
    """Set (or, with None, remove) fields of video V."""
    def edit(doc: dict) -> None:
        for key, value in fields.items():
            doc["database"][V].pop(key, None) if value is None else doc["database"][V].__setitem__(key, value)
    return edit


def event(vid: str = V, i: int = 0, **fields: Any) -> Callable[[dict], None]:
    """Set (or, with None, remove) fields of event i of `vid`; callables get the video entry."""
    def edit(doc: dict) -> None:
        entry = doc["database"][vid]
        ev = entry["annotations"][i]
        for key, value in fields.items():
            if value is None:
                ev.pop(key, None)
            else:
                ev[key] = value(entry) if callable(value) else value
    return edit


def several(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        for e in edits:
            e(doc)
    return edit


def preds(edit: Callable[[dict], Any], name: str = "p.json") -> Callable[[Context], None]:
    """The fixture predictions with `edit(doc)` applied, as {tmp}/NAME."""
    def setup(ctx: Context) -> None:
        doc = json.loads(ctx.fixtures["preds"].read_text())
        edit(doc)
        (ctx.tmp / name).write_text(json.dumps(doc))
    return setup


def add_entry(vid: str = T, **entry: Any) -> Callable[[dict], None]:
    """Insert one detection first in `vid`'s list (so it is entry 0)."""
    row = {"segment": [1.0, 3.0], "label": "sound_0", "label_id": 0, "score": 0.5}
    row.update(entry)
    row = {k: v for k, v in row.items() if v is not None}

    def edit(doc: dict) -> None:
        doc["results"].setdefault(vid, []).insert(0, dict(row))
    return edit


def mkdir(*names: str) -> Callable[[Context], None]:
    def setup(ctx: Context) -> None:
        for name in names:
            (ctx.tmp / name).mkdir(parents=True)
            (ctx.tmp / name / "keep.txt").write_text("mine")
    return setup


def summary_says(*needles: str, count: int) -> Callable[[Context], None]:
    """check-inputs wrote its summary with ok false, `count` problems and each needle in one of them."""
    def check(ctx: Context) -> None:
        summary = json.loads((ctx.tmp / "summary.json").read_text())
        assert summary["ok"] is False and len(summary["problems"]) == count, summary
        for needle in needles:
            assert any(needle in p for p in summary["problems"]), (needle, summary["problems"])
    return check


def splits_are(ctx: Context, names: set[str]) -> None:
    """stats.json counts the splits under their canonical (lower-case) names."""
    stats = json.loads((ctx.tmp / "stats" / "stats.json").read_text())
    assert set(stats["per_split"]) == names, stats["per_split"]


def media(ctx: Context) -> None:
    """{tmp}/media: the fixture clip (not in the annotation file) and a video file that is not a video."""
    folder = ctx.tmp / "media"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(ctx.fixtures["video"].read_bytes())
    (folder / "broken.mp4").write_text("<html>not a video</html>")


# ------------------------------------------------------------------------------------------------ cases
CASES = [
    # ---- the file itself
    Case("ann-not-json", EVAL_ANN, 2, "bad.json is not valid JSON", setup=write("bad.json", "{not json"),
         absent=NOTHING_EVALUATED),
    Case("ann-empty-file", STATS, 2, "bad.json is empty; expected a JSON object with a 'database' mapping",
         setup=write("bad.json", ""), absent=("{tmp}/stats",)),
    Case("ann-json-list", REPORT, 2, "expected a JSON object with a 'database' mapping of video ids, got list",
         setup=both(damaged(lambda d: None), write("bad.json", "[1, 2]")), absent=("{tmp}/report",)),
    Case("ann-missing-database", CHECK, 2, "'database' mapping of video ids, got no 'database' key",
         setup=write("bad.json", '{"videos": {}}'),
         check=summary_says("got no 'database' key", count=1)),
    Case("ann-database-list", STATS, 2, "got 'database' of type list",
         setup=write("bad.json", '{"database": []}'), absent=("{tmp}/stats",)),
    Case("ann-empty-database", CHECK, 2, "holds no videos", setup=write("bad.json", '{"database": {}}'),
         check=summary_says("holds no videos", count=1)),
    Case("ann-is-a-folder", TRAIN, 2, "bad.json is a folder; expected a JSON file", setup=mkdir("bad.json"),
         absent=("{tmp}/new_run",), unchanged=(BAD,)),
    Case("ann-does-not-exist", ["evaluate", "--annotations", "{tmp}/nope.json", "--predictions", "{preds}",
                                      "--out", "{tmp}/m.json"], 2, "nope.json does not exist",
         absent=NOTHING_EVALUATED),
    # ---- video entries
    Case("entry-not-object", STATS, 2, f"video '{V}': entry: expected an object, got list",
         setup=damaged(lambda d: d["database"].__setitem__(V, [1, 2])), absent=("{tmp}/stats",)),
    Case("subset-missing", STATS, 2, f"video '{V}': subset: missing (expected 'train', 'validation' or 'test')",
         setup=damaged(video(subset=None)), absent=("{tmp}/stats",)),
    Case("subset-empty", TRAIN, 2, f"video '{V}': subset: '' is not a known subset",
         setup=damaged(video(subset="")), absent=("{tmp}/new_run",)),
    Case("subset-typo-train", TRAIN, 2,
         f"video '{V}': subset: 'trian' is not a known subset; expected one of 'train', 'validation', 'test'",
         setup=damaged(video(subset="trian")), absent=("{tmp}/new_run",)),
    Case("subset-training-check-inputs", CHECK, 2, f"video '{V}': subset: 'Training' is not a known subset",
         setup=damaged(video(subset="Training")), check=summary_says("'Training'", count=1)),
    Case("subset-val-evaluate", EVAL_ANN, 2, f"video '{V}': subset: 'val' is not a known subset",
         setup=damaged(video(subset="val")), absent=NOTHING_EVALUATED),
    Case("subset-training-predict", PREDICT, 2, f"video '{T}': subset: 'Testing' is not a known subset",
         setup=damaged(lambda d: d["database"][T].__setitem__("subset", "Testing")), absent=("{tmp}/p.json",)),
    Case("subset-number", STATS, 2, f"video '{V}': subset: 3 is not a known subset",
         setup=damaged(video(subset=3)), absent=("{tmp}/stats",)),
    Case("duration-missing", STATS, 2, f"video '{V}': duration: missing (expected the video length in seconds)",
         setup=damaged(video(duration=None)), absent=("{tmp}/stats",)),
    Case("duration-zero", STATS, 2, f"video '{V}': duration: expected a number > 0, got 0",
         setup=damaged(several(video(duration=0), lambda d: d["database"][V].pop("annotations"))),
         absent=("{tmp}/stats",)),
    Case("duration-negative", STATS, 2, f"video '{V}': duration: expected a number > 0, got -5",
         setup=damaged(video(duration=-5)), absent=("{tmp}/stats",)),
    Case("duration-nan-string", STATS, 2, f"video '{V}': duration: expected a number > 0, got 'NaN'",
         setup=damaged(video(duration="NaN")), absent=("{tmp}/stats",)),
    Case("duration-nan-token", EVAL_ANN, 2, f"video '{V}': duration: expected a number > 0, got nan",
         setup=damaged(video(duration=float("nan"))), absent=NOTHING_EVALUATED),
    Case("duration-bool", STATS, 2, f"video '{V}': duration: expected a number > 0, got True",
         setup=damaged(video(duration=True)), absent=("{tmp}/stats",)),
    Case("fps-zero", STATS, 2, f"video '{V}': fps: expected a number > 0, got 0",
         setup=damaged(video(fps=0)), absent=("{tmp}/stats",)),
    Case("fps-string", EVAL_ANN, 2, f"video '{V}': fps: expected a number > 0, got '25'",
         setup=damaged(video(fps="25")), absent=NOTHING_EVALUATED),
    Case("annotations-not-list", STATS, 2, f"video '{V}': annotations: expected a list, got dict",
         setup=damaged(video(annotations={"segment": [0, 1]})), absent=("{tmp}/stats",)),
    # ---- events
    Case("event-not-object", STATS, 2, f"video '{V}': annotations[0]: expected an object, got str",
         setup=damaged(lambda d: d["database"][V]["annotations"].__setitem__(0, "dog")), absent=("{tmp}/stats",)),
    Case("event-missing-segment", STATS, 2, f"video '{V}': annotations[0].segment: missing",
         setup=damaged(event(segment=None)), absent=("{tmp}/stats",)),
    Case("event-missing-label", REPORT, 2, f"video '{V}': annotations[0].label: missing",
         setup=damaged(event(label=None)), absent=("{tmp}/report",)),
    Case("event-missing-label-id", STATS, 2, f"video '{V}': annotations[0].label_id: missing",
         setup=damaged(event(label_id=None)), absent=("{tmp}/stats",)),
    Case("segment-one-number", STATS, 2,
         f"video '{V}': annotations[0].segment: expected [start, end] in seconds, got [1.0]",
         setup=damaged(event(segment=[1.0])), absent=("{tmp}/stats",)),
    Case("segment-three-numbers", STATS, 2, "annotations[0].segment: expected [start, end] in seconds, got [0, 1, 2]",
         setup=damaged(event(segment=[0, 1, 2])), absent=("{tmp}/stats",)),
    Case("segment-strings", STATS, 2, "annotations[0].segment: expected [start, end] in seconds, got ['1', '2']",
         setup=damaged(event(segment=["1", "2"])), absent=("{tmp}/stats",)),
    Case("segment-nan", STATS, 2, "annotations[0].segment: expected [start, end] in seconds, got [nan, 2.0]",
         setup=damaged(event(segment=[float("nan"), 2.0])), absent=("{tmp}/stats",)),
    Case("segment-end-equals-start", STATS, 2,
         f"video '{V}': annotations[0].segment: end 2.0 must be greater than start 2.0",
         setup=damaged(event(segment=[2.0, 2.0])), absent=("{tmp}/stats",)),
    Case("segment-end-before-start", EVAL_ANN, 2, "annotations[0].segment: end 1.0 must be greater than start 3.0",
         setup=damaged(event(segment=[3.0, 1.0])), absent=NOTHING_EVALUATED),
    Case("segment-negative-start", STATS, 2,
         f"video '{V}': annotations[0].segment: [-2.0, 1.0] lies outside the video",
         setup=damaged(event(segment=[-2.0, 1.0])), absent=("{tmp}/stats",)),
    Case("segment-past-duration-says-why", STATS, 2, "lies outside the video [0, ",
         setup=damaged(event(segment=lambda e: [1.0, e["duration"] + 5])), absent=("{tmp}/stats",)),
    Case("segment-past-duration-report", REPORT, 2, "(tolerance 0.1 s)",
         setup=damaged(event(segment=lambda e: [e["duration"] - 1, e["duration"] + 1])),
         absent=("{tmp}/report",)),
    Case("label-empty", STATS, 2, f"video '{V}': annotations[0].label: expected a non-empty string, got ''",
         setup=damaged(event(label="")), absent=("{tmp}/stats",)),
    Case("label-number", EVAL_ANN, 2, f"video '{V}': annotations[0].label: expected a non-empty string, got 7",
         setup=damaged(event(label=7)), absent=NOTHING_EVALUATED),
    Case("label-id-negative", STATS, 2, f"video '{V}': annotations[0].label_id: expected an integer >= 0, got -1",
         setup=damaged(event(label_id=-1)), absent=("{tmp}/stats",)),
    Case("label-id-float", STATS, 2, f"video '{V}': annotations[0].label_id: expected an integer >= 0, got 1.0",
         setup=damaged(event(label_id=1.0)), absent=("{tmp}/stats",)),
    Case("label-id-string", REPORT, 2, "annotations[0].label_id: expected an integer >= 0, got '1'",
         setup=damaged(event(label_id="1")), absent=("{tmp}/report",)),
    Case("one-id-two-names", STATS, 2, "label_id 0 is 'a brand new sound' here but 'sound_0' in video",
         setup=damaged(several(event(label="sound_0", label_id=0, vid="syn0000"),
                               event(label="a brand new sound", label_id=0))), absent=("{tmp}/stats",)),
    Case("one-name-two-ids", STATS, 2, "label 'sound_0' has id 7 here but id 0 in video 'syn0000'",
         setup=damaged(several(event(label="sound_0", label_id=0, vid="syn0000"),
                               event(label="sound_0", label_id=7))), absent=("{tmp}/stats",)),
    Case("several-problems-all-reported", STATS, 2, "3 problems",
         setup=damaged(several(event(segment=[-3.0, 1.0]), video(subset="trian"),
                               event(vid="syn0010", label_id=-1))), absent=("{tmp}/stats",)),
    Case("several-problems-train", TRAIN, 2, "2 problems",
         setup=damaged(several(video(duration="long"), event(vid="syn0001", segment=[2, 1]))),
         absent=("{tmp}/new_run",)),
    Case("many-problems-shown-20", STATS, 2, "… and 5 more",
         setup=damaged(lambda d: [d["database"][f"syn{v:04d}"].__setitem__("subset", "x") for v in range(12)]
                       + [d["database"][f"syn{v:04d}"].__setitem__("duration", 0) for v in range(12)]
                       + [d["database"][V].__setitem__("fps", -1)]), absent=("{tmp}/stats",)),
    Case("workflow-subset-annotations", ["workflow-step", "subset-annotations", "--annotations", BAD,
                                         "--features", "{feats}", "--out", "{tmp}/used.json"], 2,
         f"video '{V}': annotations[0].segment: [-2.0, 1.0] lies outside the video",
         setup=damaged(event(segment=[-2.0, 1.0])), absent=("{tmp}/used.json",)),
    Case("detect-bad-annotations", ["detect", "{video}", "--checkpoint", "{run}/last.pt", "--annotations", BAD,
                                    "--out-dir", "{tmp}/det"], 2, f"video '{V}': subset: 'val' is not a known subset",
         setup=damaged(video(subset="val")), absent=("{tmp}/det",)),
    # ---- predictions given to evaluate
    Case("eval-unknown-label-id", EVAL, 2,
         f"p.json: video '{T}', entry 0: label_id 7 is not a class of annotation file",
         setup=preds(add_entry(label_id=7, label=None)), absent=NOTHING_EVALUATED),
    Case("eval-unknown-label-id-says-classes", EVAL, 2, "which defines label_ids 0..2",
         setup=preds(add_entry(label_id=7, label=None)), absent=NOTHING_EVALUATED),
    Case("eval-label-contradicts-id", EVAL, 2,
         f"video '{T}', entry 0: label 'sound_1' contradicts label_id 0: annotation file",
         setup=preds(add_entry(label="sound_1", label_id=0)), absent=NOTHING_EVALUATED),
    Case("eval-label-contradicts-id-says-what-file-says", EVAL, 2,
         "names label_id 0 'sound_0'; it gives 'sound_1' label_id 1",
         setup=preds(add_entry(label="sound_1", label_id=0)), absent=NOTHING_EVALUATED),
    Case("eval-label-unknown-without-id", EVAL, 2, "entry 0: label 'dog barking' is not a class of annotation file",
         setup=preds(add_entry(label="dog barking", label_id=None)), absent=NOTHING_EVALUATED),
    Case("eval-no-label-nor-id", EVAL, 2, "entry 0: missing field 'label_id' (or 'label')",
         setup=preds(add_entry(label=None, label_id=None)), absent=NOTHING_EVALUATED),
    Case("eval-video-not-in-annotations", EVAL, 2, "video 'zzzzzzz' is not in annotation file",
         setup=preds(add_entry(vid="zzzzzzz")), absent=NOTHING_EVALUATED),
    Case("eval-nan-score", EVAL, 2, f"p.json: video '{T}', entry 0: field 'score' must be a finite number, got nan",
         setup=preds(add_entry(score=float("nan"))), absent=NOTHING_EVALUATED),
    Case("eval-many-bad-entries-counted", EVAL, 2, "3 problems",
         setup=preds(lambda d: [add_entry(label_id=9, label=None)(d) for _ in range(3)]), absent=NOTHING_EVALUATED),
    Case("eval-preds-not-json-says-expected", EVAL, 2, "expected the predictions JSON of `unav predict`",
         setup=write("p.json", "{results"), absent=NOTHING_EVALUATED),
    Case("eval-preds-empty", EVAL, 2, "p.json is empty; expected the predictions JSON",
         setup=write("p.json", "\n"), absent=NOTHING_EVALUATED),
    Case("eval-preds-json-list", EVAL, 2, "got list", setup=write("p.json", "[]"), absent=NOTHING_EVALUATED),
    Case("eval-results-not-mapping", EVAL, 2,
         "'results' must be a mapping of video id -> list of detections, got list",
         setup=write("p.json", '{"results": [["syn0009", []]]}'), absent=NOTHING_EVALUATED),
    Case("eval-preds-folder", ["evaluate", "--annotations", "{ann}", "--predictions", "{tmp}", "--out",
                               "{tmp}/m.json"], 2, "is a folder; expected the predictions JSON",
         absent=NOTHING_EVALUATED),
    Case("eval-split-unknown", ["evaluate", "--annotations", "{ann}", "--predictions", "{preds}", "--split", "val",
                                "--out", "{tmp}/m.json"], 2,
         "--split 'val': expected one of train, validation, test", absent=NOTHING_EVALUATED),
    Case("eval-bad-preds-keep-existing-out", EVAL, 2, "label_id 7 is not a class",
         setup=both(preds(add_entry(label_id=7, label=None)), write("m.json", "mine")),
         unchanged=("{tmp}/m.json",)),
    # ---- output paths
    Case("eval-out-is-folder", ["evaluate", "--annotations", "{ann}", "--predictions", "{preds}", "--out",
                                "{tmp}/out"], 2, "error: --out ", setup=mkdir("out"),
         unchanged=("{tmp}/out",), absent=("{tmp}/out/metrics.json", "{tmp}/out_per_class_ap.png")),
    Case("eval-plot-is-folder", ["evaluate", "--annotations", "{ann}", "--predictions", "{preds}", "--out",
                                 "{tmp}/m.json", "--plot", "{tmp}/plots"], 2, "error: --plot ",
         setup=mkdir("plots"), unchanged=("{tmp}/plots",), absent=("{tmp}/m.json",)),
    Case("eval-default-plot-is-folder", ["evaluate", "--annotations", "{ann}", "--predictions", "{preds}",
                                         "--out", "{tmp}/m.json"], 2, "error: --plot ",
         setup=mkdir("m_per_class_ap.png"), unchanged=("{tmp}/m_per_class_ap.png",), absent=("{tmp}/m.json",)),
    Case("stats-out-is-file", ["stats", "--annotations", "{ann}", "--out-dir", "{tmp}/stats.json"], 2,
         "error: --out-dir ", setup=write("stats.json", "mine"), unchanged=("{tmp}/stats.json",)),
    Case("check-inputs-out-is-folder", ["check-inputs", "--annotations", "{ann}", "--out", "{tmp}/summary"], 2,
         "error: --out ", setup=mkdir("summary"), unchanged=("{tmp}/summary",)),
    # ---- check-inputs: everything asked for, every problem
    Case("check-inputs-several-problems",
         ["check-inputs", "--videos-csv", "{tmp}/videos.csv", "--annotations", BAD, "--out", "{tmp}/summary.json"],
         2, "5 problem(s) in the inputs",
         setup=both(damaged(several(video(subset="trian"), video(duration=-1))),
                    write("videos.csv", "abcdefghijk,0,10\nbad id,0,10\nabcdefghijk,1,2\n")),
         check=summary_says("'trian' is not a known subset", "duration: expected a number > 0",
                            "videos.csv:2: video id 'bad id'", "line 1: abcdefghijk", count=5)),
    Case("check-inputs-bad-lines-all-listed", ["check-inputs", "--videos-csv", "{tmp}/videos.csv",
                                               "--out", "{tmp}/summary.json"], 2, "videos.csv:3: ",
         setup=write("videos.csv", "abcdefghijk,5,1\nabcdefghij,0,1\nabcdefghijk,zero,1\n"),
         check=summary_says(":1: video abcdefghijk: start 5", ":2: video id 'abcdefghij'", ":3: start 'zero'",
                            count=3)),
    Case("check-inputs-probe-and-annotations", ["check-inputs", "--video-dir", "{tmp}/media", "--probe",
                                                "--annotations", "{ann}", "--out", "{tmp}/summary.json"], 2,
         "2 problem(s) in the inputs", setup=media,
         check=summary_says("2 video(s) missing from annotation file", "broken.mp4", count=2)),
    Case("check-inputs-path-list-missing-files", ["check-inputs", "--video-dir", "{tmp}/paths.txt",
                                                  "--out", "{tmp}/summary.json"], 2, "paths.txt:2: video file",
         setup=write("paths.txt", "nope1.mp4\nnope2.mp4\n"),
         check=summary_says("paths.txt:1: video file", "paths.txt:2: video file", count=2)),
    # ---- legal inputs still work (and show the fix: these were refused or mis-read before)
    Case("eval-label-only-predictions-ok", EVAL, 0, "predictions evaluated",
         setup=preds(lambda d: [e.pop("label_id") for es in d["results"].values() for e in es]
                     + [add_entry(label="sound_2", label_id=None)(d)])),
    Case("stats-upper-case-subset-ok", ["stats", "--annotations", BAD, "--out-dir", "{tmp}/stats", "--no-plots"], 0,
         "split train: videos", setup=damaged(lambda d: [e.__setitem__("subset", e["subset"].upper())
                                                          for e in d["database"].values()]),
         check=lambda ctx: splits_are(ctx, {"train", "validation", "test"})),
]


@parametrize(CASES)
def test_bad_input(case, ctx, capsys, caplog):
    run_case(case, ctx, capsys, caplog)


# ------------------------------------------------------------------------------------------------ legal inputs
def test_fixture_inputs_are_accepted(ctx: Context, capsys) -> None:
    from unav.cli import main

    ann, pred = str(ctx.fixtures["ann"]), str(ctx.fixtures["preds"])
    assert main(["stats", "--annotations", ann, "--out-dir", str(ctx.tmp / "stats"), "--no-plots"]) == 0
    assert json.loads((ctx.tmp / "stats" / "stats.json").read_text())["videos"] == 12
    assert main(["check-inputs", "--annotations", ann, "--out", str(ctx.tmp / "s.json")]) == 0
    summary = json.loads((ctx.tmp / "s.json").read_text())
    assert summary["ok"] is True and summary["problems"] == []
    assert main(["evaluate", "--annotations", ann, "--predictions", pred, "--out", str(ctx.tmp / "m.json"),
                 "--no-plot"]) == 0
    assert "inputs OK" in capsys.readouterr().out


def test_tolerated_edges_are_accepted(ctx: Context) -> None:
    """Events up to SEGMENT_TOLERANCE_S outside the video, videos without events, "Test" as a subset."""
    from unav.cli import main
    from unav.data.annotations import SEGMENT_TOLERANCE_S

    doc = ann_doc(ctx)
    entry = doc["database"][V]
    entry["annotations"][0]["segment"] = [-SEGMENT_TOLERANCE_S / 2, entry["duration"] + SEGMENT_TOLERANCE_S / 2]
    doc["database"]["syn0010"].pop("annotations")
    doc["database"]["syn0011"]["subset"] = "Test"
    path = ctx.tmp / "edges.json"
    path.write_text(json.dumps(doc))
    assert main(["stats", "--annotations", str(path), "--out-dir", str(ctx.tmp / "stats"), "--no-plots"]) == 0
    assert main(["check-inputs", "--annotations", str(path)]) == 0


def test_a_case_per_command() -> None:
    commands = {c.argv[0] for c in CASES}
    assert {"stats", "check-inputs", "evaluate", "train", "predict", "report", "detect"} <= commands
    assert len(CASES) >= 45
