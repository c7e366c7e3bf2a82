"""The `detect` rule (workflow/rules/detect.smk) is reachable exactly as its header documents:
`snakemake detect --config detect='{"videos": …, "checkpoint": …, "html": true}'` passes the config schema and
plans one job over the folder's videos; a misspelt key is refused by the schema, naming it."""
from __future__ import annotations

from .helpers import job_counts, snakemake


def _folder(tmp_path):
    (tmp_path / "my_videos").mkdir()
    for name in ("a.mp4", "b.mkv", ".hidden.mp4", "notes.txt"):
        (tmp_path / "my_videos" / name).write_bytes(b"\0")
    (tmp_path / "runs/x").mkdir(parents=True)
    (tmp_path / "runs/x/best.pt").write_bytes(b"\0")


def test_detect_rule_as_documented(tmp_path):
    _folder(tmp_path)
    # the target first: --quiet and --config take several values and would swallow it
    proc = snakemake(tmp_path, "detect", "--dry-run", "--quiet", "rules", "--config",
                     'detect={"videos": "my_videos", "checkpoint": "runs/x/best.pt", "html": true}')
    assert job_counts(proc.stdout + proc.stderr) == {"detect": 1}
    proc = snakemake(tmp_path, "detect", "--dry-run", "--printshellcmds", "--config",
                     'detect={"videos": "my_videos", "checkpoint": "runs/x/best.pt", "html": true}')
    shell = proc.stdout + proc.stderr
    assert "unav detect" in shell and "--html" in shell
    assert "a.mp4" in shell and "b.mkv" in shell and ".hidden.mp4" not in shell and "notes.txt" not in shell


def test_detect_rule_unknown_key_is_refused(tmp_path):
    _folder(tmp_path)
    proc = snakemake(tmp_path, "detect", "--dry-run", "--config",
                     'detect={"videos": "my_videos", "checkpoint": "runs/x/best.pt", "treshold": 0.5}', check=False)
    assert proc.returncode != 0
    assert "treshold" in proc.stdout + proc.stderr
