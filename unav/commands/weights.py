"""`unav weights fetch [NAME…]` downloads and verifies extractor weights; `unav weights verify [NAME…]` checks the
files already present (no download; exit 2 naming each missing or differing file); `unav weights list` shows the
cache."""
from __future__ import annotations

import argparse

from ..errors import UnavError
from ..features import weights as W
from .common_options import add_weights_dir_option
from .progress import add_progress_option, show_progress

EXAMPLES = (
    "unav weights fetch                      # every published file into ~/.cache/unav/weights",
    "unav weights verify --weights-dir weights/ && unav weights list --weights-dir weights/",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions = {
        "fetch": "download and verify weights (all registry entries by default)",
        "verify": "check the present files against the registry (no download)",
        "list": "table of registry entries: present?, verified?, path",
    }
    fetch, verify, lst = (sub.add_parser(name, help=text, description=text, formatter_class=parser.formatter_class,
                                         epilog=parser.epilog) for name, text in actions.items())
    fetch.add_argument("names", nargs="*", metavar="NAME", help="registry names or file names (default: all)")
    fetch.add_argument("--force", action="store_true", help="download again even if a verified file is present")
    add_progress_option(fetch)
    verify.add_argument("names", nargs="*", metavar="NAME", help="registry names or file names (default: all)")
    for p in (fetch, verify, lst):
        add_weights_dir_option(p)
        p.add_argument("--registry", default=None,
                       help="registry YAML (default: $UNAV_WEIGHTS_REGISTRY, then the packaged "
                            "unav/resources/weights.yaml)")
    for p in (fetch, lst):
        p.add_argument("--allow-unverified-weights", action="store_true",
                       help="accept files whose checksum differs from the registry (with a warning)")


def _list(args: argparse.Namespace) -> int:
    root = W.existing_dir(args.weights_dir)
    rows = [("name", "present", "verified", "path")]
    for name, entry in W.load_registry(args.registry).items():
        path = root / entry.file
        if path.is_file():
            problems = W.check(entry, W.digest_file(path))
            verified = "no (checksum differs)" if problems else ("yes" if entry.has_checks else "no checksum")
            rows.append((name, "yes", verified, str(path)))
        else:
            rows.append((name, "no", "-", str(path)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3])
    return 0


def _fetch(args: argparse.Namespace) -> int:
    results = W.fetch(args.names, args.weights_dir, args.allow_unverified_weights, registry=args.registry,
                      force=args.force, progress=show_progress(args))
    for name, (path, sha, status) in results.items():
        print(f"{name}\t{status}\t{sha}\t{path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    results = W.verify(args.names, args.weights_dir, registry=args.registry)
    for name, (path, status, _) in results.items():
        print(f"{name}\t{status}\t{path}")
    bad = {name: problems for name, (_, status, problems) in results.items() if status in ("missing", "mismatch")}
    if bad:
        detail = "; ".join(f"{name}: {', '.join(problems)}" for name, problems in bad.items())
        raise UnavError(f"{len(bad)} of {len(results)} weights file(s) failed verification ({detail}); run "
                        f"`unav weights fetch {' '.join(bad)}` to download them again")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"fetch": _fetch, "verify": _verify, "list": _list}[args.action](args)
