"""One grammar for every command: help with defaults and examples, renamed options whose old spellings still work
with a warning, -v/-q on either side of the command name, --device auto and --no-progress where they belong."""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from unav.cli import COMMANDS, HelpFormatter, _parser_tree, command_parser, main
from unav.commands import progress
from unav.commands.aliases import Renamed
from unav.config import CONFIG_DIR, load_config

# command -> {old spelling: new spelling}: every deprecated alias the CLI accepts
ALIASES = {
    "train": {"--out": "--out-dir"},
    "stats": {"--out": "--out-dir"},
    "demo": {"--out": "--out-dir"},
    "demo-videos": {"--out": "--out-dir"},
    "detect": {"--out": "--out-dir", "--weights": "--checkpoint-weights"},
    "predict": {"--weights": "--checkpoint-weights"},
    "flow": {"--method": "--flow-method", "--updates": "--flow-updates"},
}
LONG_COMMANDS = ("train", "predict", "extract", "flow", "detect", "download", "weights fetch", "demo")
DEVICE_COMMANDS = ("train", "predict", "extract", "flow", "detect")


def parsers():
    """(name, parser) of every command and sub-action (`weights fetch`, …)."""
    for name in COMMANDS:
        top, _ = command_parser(name)
        for each in _parser_tree(top):
            yield each.prog.removeprefix("unav "), each


def options(parser: argparse.ArgumentParser):
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def action_of(parser: argparse.ArgumentParser, option: str) -> argparse.Action:
    return parser._option_string_actions[option]


def test_workflow_step_works_but_is_not_offered(capsys):
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert "workflow-step" not in listed
    with pytest.raises(SystemExit) as exit_:
        main(["workflow-step", "--help"])
    assert exit_.value.code == 0


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_exits_0_with_examples(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and text.rstrip().splitlines()[-1].strip().startswith("unav ")
    assert command_parser(name)[0].epilog.startswith("examples:")


def test_every_option_has_help_showing_its_default():
    formatter = HelpFormatter("unav")
    for prog, parser in parsers():
        assert parser.formatter_class is HelpFormatter, prog
        for action in options(parser):
            shown = formatter._expand_help(action) if action.help else ""
            assert shown.strip(), f"{prog} {action.option_strings or action.dest}: no help"
            if _meaningful(action.default):
                assert "default" in shown, f"{prog} {action.option_strings}: help does not show its default"
            assert "(default: None)" not in shown, prog


def _meaningful(default) -> bool:
    return not (default is None or default is False or default is argparse.SUPPRESS or default == [])


@pytest.mark.parametrize("name,old,new", [(n, o, w) for n, spell in ALIASES.items() for o, w in spell.items()])
def test_old_spelling_still_works_and_warns(name, old, new, caplog, capsys):
    parser, _ = command_parser(name)
    action = action_of(parser, new)
    assert isinstance(action, Renamed) and action_of(parser, old) is action and action.option_strings == [new]
    value = action.choices[-1] if action.choices else "7"
    with caplog.at_level(logging.WARNING, logger="unav"):
        by_old = parser.parse_args(_required(parser, action) + [old, value])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("DeprecationWarning" in w and old in w and new in w for w in warnings), warnings
    caplog.clear()
    by_new = parser.parse_args(_required(parser, action) + [new, value])
    assert vars(by_old) == vars(by_new) and not caplog.records
    parser.print_help()
    shown = capsys.readouterr().out
    assert new in shown and f"{old} " not in shown.replace(f"{old}-", "")   # the old spelling is not offered


def test_every_deprecated_spelling_is_listed_here():
    found = {}
    for prog, parser in parsers():
        for action in options(parser):
            for old in getattr(action, "deprecated", ()):
                found.setdefault(prog, {})[old] = action.option_strings[0]
    assert found == ALIASES


def _required(parser: argparse.ArgumentParser, skip: argparse.Action) -> list[str]:
    """The fewest arguments the parser accepts, leaving out `skip`."""
    argv = []
    for action in options(parser):
        if action is skip or not action.required:
            continue
        value = action.choices[0] if action.choices else "1"
        argv += [action.option_strings[0], value] if action.option_strings else [value]
    return argv


def test_deprecation_warning_reaches_stderr(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "unav.cli", "stats", "--annotations", str(tmp_path / "no.json"),
                           "--out", str(tmp_path / "stats")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "DeprecationWarning: unav stats: --out is deprecated" in proc.stderr and "use --out-dir" in proc.stderr


def test_nothing_shipped_uses_an_old_spelling():
    repo = Path(__file__).resolve().parents[2]
    shipped = [*repo.glob("workflow/rules/*.smk"), repo / "README.md", *repo.glob("scripts/*.sh")]
    for path in shipped:
        text = path.read_text()
        for old in ("--method ", "--updates ", "--weights ema", "--weights model", "--weights auto"):
            assert old not in text, f"{path.name}: {old.strip()}"
        for line in text.splitlines():
            for name in ("train", "stats", "demo", "demo-videos", "detect"):
                if f"unav {name} " in line or f"{{LAUNCH}} {name} " in line:
                    assert " --out " not in line, f"{path.name}: {line.strip()}"


@pytest.mark.parametrize("argv,level", [
    ([], logging.INFO), (["-q"], logging.WARNING), (["--verbose"], logging.DEBUG),
])
def test_log_level_before_or_after_the_command(argv, level, monkeypatch):
    import unav.commands.stats as stats

    seen = []
    monkeypatch.setattr(stats, "run", lambda args: seen.append(logging.getLogger("unav.x").getEffectiveLevel()))
    base = ["stats", "--annotations", "a.json", "--out-dir", "out"]
    assert main(argv + base) == 0 and main(base + argv) == 0
    assert seen == [level, level]
    assert main(["-q"] + base + ["-v"]) == 0 and seen[-1] == logging.DEBUG     # the last one given wins


def test_quiet_before_an_action_is_kept(monkeypatch):
    import unav.commands.weights as weights

    seen = []
    monkeypatch.setattr(weights, "run", lambda args: seen.append((args.log_level, progress.show_progress(args))))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["-q", "weights", "fetch"]) == 0 and main(["weights", "fetch", "-q"]) == 0
    assert seen == [(logging.WARNING, False)] * 2
    assert main(["weights", "fetch"]) == 0 and seen[-1] == (None, True)


def test_progress_only_at_a_terminal(monkeypatch):
    every = dict(parsers())
    for name in LONG_COMMANDS:
        parser = every[name]
        assert "--no-progress" in parser._option_string_actions, name
    args = argparse.Namespace(no_progress=False, log_level=None)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress.show_progress(args)                       # Snakemake logs, pipes
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.show_progress(args)
    assert not progress.show_progress(argparse.Namespace(no_progress=True, log_level=None))


def test_device_defaults_to_auto_everywhere():
    found = {}
    for prog, parser in parsers():
        if "--device" in parser._option_string_actions:
            found[prog] = action_of(parser, "--device").default
    assert set(found) == set(DEVICE_COMMANDS)
    assert found.pop("train") is None and load_config([])["train"]["device"] == "auto"   # the config's, auto
    assert set(found.values()) == {"auto"}


def test_flow_and_extract_default_to_pretrained_weights():
    for name in ("flow", "extract"):
        parser, _ = command_parser(name)
        assert action_of(parser, "--weights").default == "pretrained"
        assert {"--flow-method", "--flow-updates"} <= set(parser._option_string_actions)


def test_train_flags_land_in_the_saved_config(tmp_path):
    from unav.data.synthetic import make_synthetic_dataset

    ann, feats = make_synthetic_dataset(tmp_path / "syn", num_videos=12, num_classes=3, seed=1, max_rows=120)
    small = ["model.embd_dim=32", "model.dependency.hidden=8", "model.head.dim=32", "train.warmup_epochs=0",
             "train.eval_every=0", "train.lr=0.5"]                     # --lr below wins over --set
    run = tmp_path / "run"
    rc = main(["train", "--config", str(CONFIG_DIR / "demo.yaml"), "--annotations", str(ann), "--features",
               str(feats), "--out-dir", str(run), "--set", *small, "--seed", "7", "--device", "cpu",
               "--batch-size", "4", "--epochs", "1", "--lr", "3e-4", "--no-progress"])
    assert rc == 0
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["seed"] == 7 and cfg["model"]["embd_dim"] == 32
    assert {k: cfg["train"][k] for k in ("device", "batch_size", "epochs", "lr")} == {
        "device": "cpu", "batch_size": 4, "epochs": 1, "lr": 3e-4}


def test_train_refuses_a_device_before_any_work(tmp_path, capsys):
    rc = main(["train", "--annotations", str(tmp_path / "none.json"), "--features", str(tmp_path),
               "--out-dir", str(tmp_path / "run"), "--device", "gpu"])
    assert rc == 2 and "--device 'gpu' is not a device" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_extract_records_the_device_it_ran_on(tmp_path):
    from unav.device import resolve_device
    from unav.media.ffmpeg import run_ffmpeg

    video = tmp_path / "v.mp4"
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=48x32:rate=25:duration=1.4",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)])
    assert main(["extract", str(video), "--out-dir", str(tmp_path / "o"), "--streams", "rgb", "--weights", "random",
                 "--min-side", "32", "--crop", "8", "--no-progress"]) == 0            # --device: auto
    settings = json.loads((tmp_path / "o" / "v.json").read_text())["settings"]
    assert settings["device"] == str(resolve_device("auto")) != "auto"
