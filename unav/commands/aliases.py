"""Renamed options: the new spelling, and the old one still accepted for one release with a warning naming the
new one. Every command declares its renamed options through `add_renamed`, so the warning reads the same
everywhere. The old spelling only leads to the option: help, usage and error messages name the new one."""
from __future__ import annotations

import argparse
import logging

log = logging.getLogger("unav.cli")


class Renamed(argparse.Action):
    """Stores the value like argparse's default action; warns when it came under a deprecated spelling."""

    def __init__(self, option_strings: list[str], dest: str, deprecated: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.deprecated = tuple(deprecated)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        if option_string in self.deprecated:
            log.warning("DeprecationWarning: %s: %s is deprecated and will be removed in the next release; use %s",
                        parser.prog, option_string, self.option_strings[0])
        setattr(namespace, self.dest, values)


def add_renamed(parser: argparse.ArgumentParser | argparse._ArgumentGroup, new: str, *old: str,
                **kwargs) -> argparse.Action:
    """Option `new`, also reached by each deprecated spelling in `old`."""
    action = parser.add_argument(new, action=Renamed, deprecated=old, **kwargs)
    for spelling in old:   # a lookup entry only, so argparse never shows it
        if spelling in parser._option_string_actions:
            raise ValueError(f"{spelling} already names another option")
        parser._option_string_actions[spelling] = action
    return action
