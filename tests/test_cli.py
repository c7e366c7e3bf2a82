import subprocess
import sys

from unav.cli import COMMANDS, INTERNAL, main


def test_help_lists_every_user_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in set(COMMANDS) - INTERNAL:
        assert name in out


def test_unknown_command_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "unav.cli", "no-such-command"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "unknown command" in proc.stderr
