"""The ``snncore`` command: ``snncore plugins [--json]``, ``snncore demo``,
``snncore bench [--quick]`` and the subcommands that plugins add through the
``snncore_add_commands`` hook."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["main", "format_report"]


def format_report(report: dict[str, Any]) -> str:
    """Human-readable form of :func:`snncore.plugin_report`."""
    lines = []
    lines.append(f"plugin autoload: {'on' if report['autoload'] else 'off'}")
    lines.append("plugins:")
    for p in report["plugins"]:
        where = f"{p['distribution']} {p['version'] or ''}".strip() if p["distribution"] else ""
        lines.append(f"  {p['name']} [{p['source']}]" + (f" ({where})" if where else ""))
        for kind, names in p["registered"].items():
            lines.append(f"    {kind}s: {', '.join(names)}")
    if report["skipped"]:
        lines.append("skipped:")
        lines += [f"  {n}: {why}" for n, why in report["skipped"].items()]
    for problem in report.get("problems", []):
        lines.append(f"problem: {problem}")
    lines.append("failures:" if report["failures"] else "failures: none")
    for f in report["failures"]:
        dist = f" ({f['distribution']} {f['version'] or ''})".rstrip(")").rstrip() + ")" \
            if f["distribution"] else ""
        lines.append(f"  {f['name']}{dist} during {f['stage']}: {f['error']}")
    conflicts = report["conflicts"]
    lines.append("conflicts:" if conflicts else "conflicts: none")
    for kind, names in conflicts.items():
        for name, providers in names.items():
            lines.append(f"  {kind} {name!r}: registered by {', '.join(providers)} "
                         f"(use {providers[0]}:{name} ...)")
    lines.append("backends:")
    for name, b in report["backends"].items():
        state = "available" if b["available"] else f"unavailable: {b['reason']}"
        lines.append(f"  {name} (priority {b['priority']}, from {b['plugin']}): {state}")
        if b.get("status"):
            lines.append(f"    {b['status']}")
    return "\n".join(lines)


def _plugins(args: argparse.Namespace, out: TextIO) -> int:
    from ._api import plugin_report

    report = plugin_report()
    if args.json:
        json.dump(report, out, indent=2, sort_keys=True)
        out.write("\n")
    else:
        out.write(format_report(report) + "\n")
    return 0


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from ._demo import run_demo

    result = run_demo(epochs=args.epochs, seed=args.seed, save_plots=args.save_plots,
                      progress=not args.no_progress, out=out)
    if result["test_accuracy"] >= args.min_accuracy:
        return 0
    out.write(f"test accuracy {result['test_accuracy']:.4f} is below --min-accuracy "
              f"{args.min_accuracy:g}\n")
    return 1


def _bench(args: argparse.Namespace, out: TextIO) -> int:
    from ._bench import run_bench

    result = run_bench(quick=args.quick, threads=args.threads, out=out)
    if args.json:
        json.dump(result, out, indent=2, sort_keys=True)
        out.write("\n")
    return 0


def _ranged(kind: Any, low: float, high: float | None = None, what: str = "") -> Any:
    """An argparse type: ``kind(text)`` within ``[low, high]`` (a usage error otherwise)."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not (value >= low and (high is None or value <= high)):  # NaN fails too
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value
    return parse


def _directory(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: give the directory for the plots")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snncore", description="snncore command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", help="list plugins, what they registered, failures, backends")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_plugins)
    d = sub.add_parser("demo", help="train a spiking network on scikit-learn's 8x8 digits")
    d.add_argument("--epochs", type=_ranged(int, 1, what="an int >= 1"), default=None,
                   help="training epochs (default: recipe's)")
    d.add_argument("--seed", type=_ranged(int, 0, 2**32 - 1, what="an int in [0, 2**32 - 1]"),
                   default=0, help="random seed (default: 0)")
    d.add_argument("--save-plots", metavar="DIR", type=_directory, default=None,
                   help="save a raster and training curves as PNG into DIR (needs snncore[viz])")
    d.add_argument("--no-progress", action="store_true", help="no progress bars")
    d.add_argument("--min-accuracy", type=_ranged(float, 0.0, 1.0, what="a fraction in [0, 1]"),
                   default=0.0,
                   help="exit with status 1 if test accuracy is below this (0..1)")
    d.set_defaults(func=_demo)
    b = sub.add_parser("bench", help="time snncore's fused backend against eager and snnTorch")
    b.add_argument("--quick", action="store_true", help="a small problem (a few seconds)")
    b.add_argument("--threads", type=_ranged(int, 1, what="an int >= 1"), default=None,
                   help="PyTorch threads (default: its own)")
    b.add_argument("--json", action="store_true", help="also print the results as JSON")
    b.set_defaults(func=_bench)
    _plugin_commands(sub)
    return parser


def _plugin_commands(sub: Any) -> None:
    """Subcommands added by plugins through the ``snncore_add_commands`` hook (isolated: a
    plugin whose hook raises is reported and left out)."""
    from ._plugins import manager

    manager.call_hook("snncore_add_commands", subparsers=sub)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``snncore`` command. Returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args, out or sys.stdout))
