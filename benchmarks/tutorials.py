"""snnTorch's tutorials 5 and 6 on the digits, timed side by side in one process.

For each tutorial three programs train on the same batches from the same initial weights:

- **snnTorch 1.0.0**: ``benchmarks/snntorch_programs/tutorial_N.py``, snnTorch code as its
  tutorials write it (a Python loop over time steps);
- **snn_compat**: the same file with its imports switched to ``snn_compat.snntorch`` (nothing
  else changed; skipped when the compatibility layer is not installed);
- **snncore native**: the rewrite on snncore's own API in ``examples/tutorials/``
  (whole-sequence ``snn.Sequential``; the static input's first layer computed once);
- **snncore, one Sequential**: the native network with every layer in one ``snn.Sequential``
  over the input expanded over ``T`` steps (no hand-written handling of the static input: the
  runner sees the stride-0 time axis and runs the leading stateless layers once).

One repeat is one training epoch (10 batches of 128 digits, forward, backward and Adam step);
the programs take turns in every repeat, the table shows the median time, and the speed-ups
are medians of the per-repeat ratios (snnTorch's time / the program's time). Peak memory is
the largest number of bytes of tensor storage alive during one training step (the dispatch-mode
tracker of ``benchmarks/run.py``).

Usage::

    python benchmarks/tutorials.py            # 7 repeats after 2 warm-up epochs
    python benchmarks/tutorials.py --quick    # 2 batches, 2 repeats: a smoke run
    python benchmarks/tutorials.py --json out.json
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TUTORIALS = ROOT / "examples" / "tutorials"
sys.path[:0] = [str(ROOT), str(HERE), str(TUTORIALS)]

from _common import load_digits  # noqa: E402
from run import MemoryTracker, frozen_heap  # noqa: E402

import snncore as snn  # noqa: E402

NATIVE = {5: "tutorial_5_training", 6: "tutorial_6_surrogate_conv"}
_IMPORT = re.compile(r"^(\s*(?:import|from)\s+)snntorch\b", re.MULTILINE)


def load_module(name: str, path: Path, source: str | None = None) -> ModuleType:
    """Import ``path`` as module ``name`` (from ``source`` instead of the file when given)."""
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(path))
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    code = compile(source if source is not None else path.read_text(), str(path), "exec")
    exec(code, module.__dict__)  # noqa: S102 - the repository's own benchmark programs
    sys.modules[name] = module
    return module


def switch_imports(source: str) -> str:
    """``import snntorch ...`` / ``from snntorch ...`` -> ``snn_compat.snntorch``; nothing
    else in the program changes."""
    return _IMPORT.sub(r"\1snn_compat.snntorch", source)


def one_sequential(native: ModuleType, net: Any) -> Callable[[Any], Any]:
    """The native network with all of its layers in one ``snn.Sequential`` over the input
    expanded over ``T`` steps (the same parameters)."""
    if hasattr(net, "stem"):                                   # tutorial 6
        whole = snn.Sequential(*net.stem, *net.body)

        def forward6(x: torch.Tensor) -> torch.Tensor:
            spk, _ = whole(x.expand(net.num_steps, *x.shape))
            return spk

        return forward6
    whole = snn.Sequential(net.fc1, *net.hidden)              # tutorial 5

    def forward5(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cur2, _ = whole(x.expand(net.num_steps, *x.shape))
        spk, _, rec = net.lif2.record(cur2, "mem")
        return spk, rec["mem"]

    return forward5


def contenders(tutorial: int, seed: int) -> dict[str, Callable[[Any, Any], float]]:
    """name -> ``train_batch(data, targets)`` closure over its own network and optimizer."""
    out: dict[str, Callable[[Any, Any], float]] = {}
    program = HERE / "snntorch_programs" / f"tutorial_{tutorial}.py"
    native = load_module(NATIVE[tutorial], TUTORIALS / f"{NATIVE[tutorial]}.py")
    reference_state: dict[str, torch.Tensor] | None = None
    try:
        import snntorch  # noqa: F401
    except ImportError:
        snt = None
    else:
        snt = load_module(f"snntorch_tutorial_{tutorial}", program)
    compat = None
    if importlib.util.find_spec("snn_compat") is not None:
        compat = load_module(f"compat_tutorial_{tutorial}", program,
                             switch_imports(program.read_text()))
    for name, mod in (("snnTorch 1.0.0", snt), ("snn_compat", compat)):
        if mod is None:
            continue
        net, opt = mod.build(seed)
        reference_state = reference_state or {k: v.clone() for k, v in net.state_dict().items()}
        out[name] = _bind(mod.train_batch, net, opt)
    net, opt = native.build(seed)
    _load_matching(net, reference_state)
    out["snncore native"] = _bind(native.train_batch, net, opt)
    net2, opt2 = native.build(seed)
    _load_matching(net2, reference_state)
    forward = one_sequential(native, net2)

    class Whole(torch.nn.Module):
        num_steps = net2.num_steps

        def __init__(self) -> None:
            super().__init__()
            self.inner = net2

        def forward(self, x: torch.Tensor) -> Any:
            return forward(x)

    out["snncore, one Sequential"] = _bind(native.train_batch, Whole(), opt2)
    return out


def _bind(train_batch: Callable[..., float], net: Any, opt: Any) -> Callable[[Any, Any], float]:
    return lambda data, targets: train_batch(net, opt, data, targets)


def _load_matching(net: torch.nn.Module, state: dict[str, torch.Tensor] | None) -> None:
    """Copy the snnTorch program's initial weights into ``net``, matched by order and shape
    (the layer names differ), so every program starts from the same parameters."""
    if state is None:
        return
    src = [v for k, v in state.items() if k.endswith(("weight", "bias"))]
    dst = [p for k, p in net.named_parameters() if k.endswith(("weight", "bias"))]
    if len(src) != len(dst) or any(a.shape != b.shape for a, b in zip(src, dst, strict=True)):
        raise RuntimeError("the native network's layers do not match the snnTorch program's")
    with torch.no_grad():
        for a, b in zip(src, dst, strict=True):
            b.copy_(a)


def measure(tutorial: int, batches: int, repeats: int, warmup: int, seed: int
            ) -> dict[str, Any]:
    x_train, _, y_train, _ = load_digits(seed, flat=(tutorial == 5))
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x_train), generator=gen)[: batches * 128]
    data = [(x_train[i], y_train[i]) for i in order.split(128)]
    progs = contenders(tutorial, seed)
    times: dict[str, list[float]] = {name: [] for name in progs}
    losses: dict[str, float] = {}
    with frozen_heap():
        for rep in range(warmup + repeats):
            for name, step in progs.items():
                gc.collect()
                t0 = time.perf_counter()
                for x, y in data:
                    losses[name] = step(x, y)
                if rep >= warmup:
                    times[name].append(time.perf_counter() - t0)
    peaks: dict[str, float] = {}
    for name, step in progs.items():
        gc.collect()
        snn.backends.empty_cache()  # its blocks count as allocations of the measured step
        with MemoryTracker() as tracker:
            step(*data[0])
        peaks[name] = float(tracker.peak)
    base = times.get("snnTorch 1.0.0")
    rows = {}
    for name, ts in times.items():
        speedup = (statistics.median(b / t for b, t in zip(base, ts, strict=True))
                   if base else float("nan"))
        rows[name] = {"median_s": statistics.median(ts), "times_s": ts, "speedup": speedup,
                      "peak_bytes": peaks[name], "last_loss": losses[name]}
    return {"tutorial": tutorial, "batches": batches, "repeats": repeats, "rows": rows}


def report(result: dict[str, Any]) -> list[str]:
    lines = [f"### Tutorial {result['tutorial']} ({result['batches']} batches of 128 per "
             f"epoch, median of {result['repeats']})", "",
             "| program | epoch (ms) | speed-up vs snnTorch | peak MiB | last loss |",
             "|---|---|---|---|---|"]
    for name, r in result["rows"].items():
        lines.append(f"| {name} | {r['median_s'] * 1e3:.0f} | {r['speedup']:.2f}x | "
                     f"{r['peak_bytes'] / 2**20:.1f} | {r['last_loss']:.3f} |")
    return lines


def acceptance(results: list[dict[str, Any]]) -> list[str]:
    lines = ["", "| target | measured | |", "|---|---|---|"]
    for res in results:
        rows, t = res["rows"], res["tutorial"]
        for name, goal in (("snn_compat", 1.0), ("snncore native", 2.0)):
            if name not in rows or "snnTorch 1.0.0" not in rows:
                lines.append(f"| tutorial {t}: {name} >= {goal:g}x snnTorch | not measured "
                             "(not installed) | - |")
                continue
            s = rows[name]["speedup"]
            lines.append(f"| tutorial {t}: {name} >= {goal:g}x snnTorch | {s:.2f}x | "
                         f"{'met' if s >= goal else 'NOT met'} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 batches, 2 repeats, 1 warm-up")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--tutorials", type=int, nargs="+", default=[5, 6], choices=[5, 6],
                    help="which tutorials to time (default: 5 6)")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)
    batches, repeats, warmup = (2, 2, 1) if args.quick else (10, args.repeats, 2)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    load1 = _loadavg()
    results = [measure(t, batches, repeats, warmup, args.seed) for t in args.tutorials]
    lines = [f"torch {torch.__version__}, {torch.get_num_threads()} threads, Python "
             f"{platform.python_version()}; load average {load1} at the start, {_loadavg()} at "
             "the end", ""]
    for res in results:
        lines += report(res) + [""]
    lines += acceptance(results)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:  # pragma: no cover - not Linux
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
