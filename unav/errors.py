"""User-facing errors: the CLI prints their message (no traceback) and exits with status 2."""


class UnavError(Exception):
    """A problem with the user's input or files; the message names the video, file and expectation."""


class UnavProblems(UnavError):
    """Every problem found in one pass over an input (not just the first): `problems` holds them all, each a
    complete message naming the file, the video and the expectation; the message shows the first SHOWN."""

    SHOWN = 20

    def __init__(self, problems: list[str], header: str) -> None:
        self.problems = list(problems)
        super().__init__(format_problems(self.problems, header, self.SHOWN))


def format_problems(problems: list[str], header: str, shown: int = UnavProblems.SHOWN) -> str:
    """One problem: itself (the message users already know); several: the header, then one per line."""
    if len(problems) == 1:
        return problems[0]
    lines = [f"{header}: {len(problems)} problems"] + [f"  - {p}" for p in problems[:shown]]
    if len(problems) > shown:
        lines.append(f"  … and {len(problems) - shown} more")
    return "\n".join(lines)
