"""`--precision` of `unav extract`, `unav flow` and the workflow's shard jobs: it reaches the settings, is recorded
in the flow file and the features, and a flow file of another precision is refused by name."""
from __future__ import annotations

import json

import pytest

from unav.cli import command_parser, main
from unav.commands.extractor_options import extractor_settings
from unav.features.flowfile import read_flow_meta
from unav.media.ffmpeg import run_ffmpeg


@pytest.mark.parametrize("name, first", [("extract", ["v.mp4", "--out-dir", "o"]), ("flow", ["v.mp4", "--out", "o.flow"])])
def test_the_flag_reaches_the_settings(name, first, capsys):
    parser, _ = command_parser(name)
    args = parser.parse_args(first)
    assert extractor_settings(args, ("flow",), progress=False, batch_size=8).precision == "fp32"
    for precision in ("fp32", "tf32", "bf16"):
        args = parser.parse_args([*first, "--precision", precision])
        assert extractor_settings(args, ("flow",), progress=False, batch_size=8).precision == precision
    with pytest.raises(SystemExit):
        parser.parse_args([*first, "--precision", "fp16"])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err


def test_bf16_on_a_cpu_that_emulates_it_is_warned_about(monkeypatch, caplog):
    import unav.device

    monkeypatch.setattr(unav.device, "cpu_has_bf16", lambda: False)
    parser, _ = command_parser("extract")
    with caplog.at_level("WARNING"):
        extractor_settings(parser.parse_args(["v.mp4", "--out-dir", "o", "--device", "cpu"]), ("rgb",), progress=False)
        assert "bf16" not in caplog.text
        extractor_settings(parser.parse_args(["v.mp4", "--out-dir", "o", "--device", "cpu", "--precision", "bf16"]),
                           ("rgb",), progress=False)
    assert "--precision bf16: this CPU has no bf16 instructions" in caplog.text
    assert "use --precision fp32 here" in caplog.text


def test_the_shard_jobs_take_it():
    import argparse

    from unav.pipeline.shard_step import add_shard_parser

    parser = argparse.ArgumentParser()
    add_shard_parser(parser.add_subparsers(dest="step"))
    args = parser.parse_args(["shard", "vggish", "--manifest", "m.tsv", "--precision", "bf16"])
    assert extractor_settings(args, ("vggish",), progress=False).precision == "bf16"


def test_extract_refuses_a_flow_file_of_another_precision(tmp_path, capsys):
    clip = tmp_path / "c.mp4"
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x128:rate=25:duration=1.04",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)])
    flow = tmp_path / "c.flow"
    sizes = ["--weights", "random", "--crop", "48", "--min-side", "128", "--no-progress"]
    assert main(["flow", str(clip), "--out", str(flow), "--flow-updates", "1", "--precision", "bf16", *sizes]) == 0
    assert read_flow_meta(flow)["precision"] == "bf16"
    extract = ["extract", str(clip), "--flow", str(flow), "--streams", "flow", "--out-dir", str(tmp_path / "f"), *sizes]
    capsys.readouterr()
    assert main(extract) == 2
    assert "computed at precision bf16, expected fp32 (--precision fp32)" in capsys.readouterr().err
    assert main([*extract, "--precision", "bf16"]) == 0
    prov = json.loads((tmp_path / "f" / "c.json").read_text())
    assert prov["settings"]["precision"] == prov["flow"]["precision"] == "bf16"
    assert prov["paper_compatible"] is False and prov["rows"] == {"flow": 1}
