"""The fused backend's native build is visible: one line for the first build, one warning naming
the cause when there is no compiler or it fails, one build for concurrent processes, and the
status in ``snncore plugins``."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import snncore as snn
from snncore.backends import _native as native

RUN_FUSED = textwrap.dedent("""
    import warnings, torch, snncore as snn
    warnings.simplefilter("always")
    lif = snn.Leaky(beta=0.9)
    x = torch.rand(6, 2, 8) * 2
    for _ in range(3):
        spk, _ = lif.run(x, backend="fused")
    ref, _ = lif.run(x, backend="eager")
    assert torch.equal(spk, ref)
    from snncore.backends._native import native_status
    print("STATUS", native_status())
""")


def _run(tmp_path: Path, env_extra: dict[str, str], code: str = RUN_FUSED,
         ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SNNCORE_CACHE_DIR=str(tmp_path / "cache"), **env_extra)
    env.pop("SNNCORE_FUSED_NATIVE", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240, env=env, cwd=tmp_path)


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_missing_compiler_warns_once_with_the_cause_and_the_cost(tmp_path) -> None:
    res = _run(tmp_path, {"CXX": str(tmp_path / "no-such-c++")})
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("NativeBuildWarning") == 1, res.stderr
    assert "is not an executable compiler" in res.stderr and "slower" in res.stderr
    assert "building the native time loops" not in res.stderr
    assert "STATUS build failed: CXX=" in res.stdout


def test_no_compiler_on_path(tmp_path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    res = _run(tmp_path, {"PATH": str(empty), "CXX": ""})
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("NativeBuildWarning") == 1, res.stderr
    assert "no C++ compiler found" in res.stderr


def test_failing_compiler_warns_once_with_its_message(tmp_path) -> None:
    cxx = _script(tmp_path / "bad-c++", """
        import sys
        sys.stderr.write("fatal error: this compiler is broken\\n")
        sys.exit(1)
    """)
    res = _run(tmp_path, {"CXX": str(cxx)})
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("NativeBuildWarning") == 1, res.stderr
    assert "this compiler is broken" in res.stderr
    assert res.stderr.count("building the native time loops") == 1, res.stderr


def _real_library() -> Path:
    native.native_library()
    status = native.native_status()
    if not status.startswith("native ("):
        pytest.skip(f"the native loops cannot be built here: {status}")
    return Path(status[len("native ("):-1])


def test_first_build_says_one_line_and_its_time(tmp_path, monkeypatch, caplog) -> None:
    real = _real_library()
    calls = []

    def fake_compile(cxx, out, flags):
        calls.append(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real, out)
        return None

    monkeypatch.setenv("SNNCORE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "_compile", fake_compile)
    monkeypatch.setattr(native, "_lib", None)
    monkeypatch.setattr(native, "_status", "not built yet")
    monkeypatch.setattr(native, "_announced", False)
    assert native.native_status(build=False).startswith("not built yet")
    with caplog.at_level(logging.INFO, logger="snncore.backends.fused"):
        assert native.native_library() is not None
        assert native.native_library() is not None
    building = [r for r in caplog.records if "building the native time loops" in r.message]
    assert len(building) == 1 and building[0].levelno == logging.WARNING
    assert any("built in" in r.message for r in caplog.records)
    assert len(calls) == 1
    monkeypatch.setattr(native, "_lib", None)
    monkeypatch.setattr(native, "_status", "not built yet")
    assert native.native_status(build=False).startswith("cached at")


def test_concurrent_builders_wait_for_one_build(tmp_path) -> None:
    real = _real_library()
    log = tmp_path / "compiler.log"
    cxx = _script(tmp_path / "slow-c++", f"""
        import shutil, sys, time
        args = sys.argv[1:]
        out = args[args.index("-o") + 1]
        with open({str(log)!r}, "a") as fh:
            fh.write(("link" if "-shared" in args else "compile") + "\\n")
        time.sleep(1.0)
        if "-shared" in args:
            shutil.copyfile({str(real)!r}, out)
        else:
            open(out, "w").close()
    """)
    env = dict(os.environ, SNNCORE_CACHE_DIR=str(tmp_path / "cache"), CXX=str(cxx))
    env.pop("SNNCORE_FUSED_NATIVE", None)
    procs = [subprocess.Popen([sys.executable, "-c", RUN_FUSED], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
             for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "STATUS native (" in out, out + err
    assert log.read_text().split().count("link") == 1, log.read_text()


def test_plugins_listing_shows_the_native_status() -> None:
    report = snn.plugin_report()
    assert report["backends"]["fused"]["status"].startswith("native loops: ")
    import io

    from snncore._cli import main

    out = io.StringIO()
    assert main(["plugins"], out=out) == 0
    assert "native loops: " in out.getvalue()
    assert "buffer cache: up to 1024 MiB idle" in out.getvalue()


def test_plugins_listing_shows_a_cache_turned_off(monkeypatch) -> None:
    from snncore import _buffers

    monkeypatch.setattr(_buffers, "_cache", _buffers.BufferCache(0))
    status = snn.plugin_report()["backends"]["fused"]["status"]
    assert "buffer cache: off (SNNCORE_BUFFER_CACHE_MB=0)" in status


def test_plugins_listing_shows_the_streaming_threshold(monkeypatch) -> None:
    from snncore.backends import _native

    monkeypatch.setattr(_native, "STREAM_BYTES", 32 << 20)
    assert "streaming stores from 32 MiB" in snn.plugin_report()["backends"]["fused"]["status"]
    monkeypatch.setattr(_native, "STREAM_BYTES", 1 << 62)
    status = snn.plugin_report()["backends"]["fused"]["status"]
    assert status.endswith("streaming stores: off (SNNCORE_STREAM_STORES_MB=0)")


def test_disabled_native_loops_do_not_warn(tmp_path) -> None:
    env = {"SNNCORE_FUSED_NATIVE": "0"}
    res = subprocess.run([sys.executable, "-c", RUN_FUSED], capture_output=True, text=True,
                         timeout=240, env=dict(os.environ, **env), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "NativeBuildWarning" not in res.stderr
    assert "disabled by SNNCORE_FUSED_NATIVE" in res.stdout


_ROW_MARK = "// row loop: vectorised"


def _row_probe_source() -> str:
    """A translation unit that instantiates the per-neuron row loops (forward and reverse) for
    every kind, reset rule and reset delay, with and without learnable parameters, each in an
    exported function (so that the compiler optimises every instantiation)."""
    lines = ["#define SNN_PART 99", f'#include "{native.SOURCE_DIR / native._MAIN_SOURCE}"']
    par = "Par<float> p{pp[0], pp[1], pp[2], pp[3], pp[4]};"
    acc = "Acc c{aa[0], aa[1], aa[2], aa[3], aa[4]};"
    for k in range(4):
        for r in range(3):
            for d in range(2):
                for wspk, store in ((1, 0), (0, 1), (0, 2)):
                    lines.append(
                        f'extern "C" void f{k}{r}{d}{wspk}{store}(int64_t n, const float* x, '
                        "float* s, float* h, float* i, float* m, float* y, float* z, "
                        f"const float* const* pp) {{ {par} frow<float, {k}, {r}, {d}, "
                        f"{'true' if wspk else 'false'}, {store}>(n, x, s, h, i, m, y, z, p); }}")
                for sg in range(3):
                    for learn, first, total in ((0, 0, 0), (1, 0, 0), (1, 1, 1), (0, 0, 1)):
                        flags = ", ".join("true" if v else "false" for v in (learn, first, total))
                        lines.append(
                            f'extern "C" void b{k}{r}{d}{sg}{learn}{first}{total}(int64_t n, '
                            "const float* ht, const float* hp, const float* ipp, "
                            "const float* m0, const float* y0, const float* z0, const float* gt, "
                            "const float* sgt, float* gx, float* gm, float* gy, float* gz, "
                            "double* const* aa, const float* const* pp, float sa, double* gs) "
                            f"{{ {par} {acc} brow<float, {k}, {r}, {d}, {sg}, {flags}>(n, ht, "
                            "hp, ipp, m0, y0, z0, gt, sgt, gx, gm, gy, gz, c, p, sa, gs); }")
    return "\n".join(lines) + "\n"


def _gcc() -> str:
    cxx, why = native._find_compiler()
    if cxx is None:
        pytest.skip(why)
    try:
        version = subprocess.run([cxx, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"{cxx} --version failed: {exc!r}")
    if "Free Software Foundation" not in version:
        pytest.skip(f"the vectorisation report is GCC's; {cxx} is not GCC")
    return cxx


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="checks the AVX2 (x86-64-v3) build")
def test_row_loops_vectorise_without_masked_stores(tmp_path) -> None:
    """With the library's flags every per-neuron row loop is vectorised for AVX2, which has no
    masked vector stores: without ``-fno-trapping-math`` GCC vectorises the selects of a step
    (thresholds, resets) only with AVX-512 masks, and on other CPUs the loops ran scalar with
    mispredicted branches, 4x-9x slower."""
    cxx = _gcc()
    src = tmp_path / "rows.cpp"
    src.write_text(_row_probe_source())
    marked = [i for i, line in enumerate((native.SOURCE_DIR / native._MAIN_SOURCE)
                                         .read_text(encoding="utf-8").splitlines(), 1)
              if _ROW_MARK in line]
    assert len(marked) == 2, marked  # the forward and the reverse row loop
    res = subprocess.run(
        [cxx, *native._BASE_FLAGS, "-march=x86-64-v3", "-fopt-info-vec-all", "-c", str(src),
         "-o", str(tmp_path / "rows.o")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    report = [line for line in res.stderr.splitlines()
              if f"{native._MAIN_SOURCE}:" in line
              and ("loop vectorized" in line or "couldn't vectorize loop" in line)]
    for row in marked:
        at = [line for line in report if f"{native._MAIN_SOURCE}:{row}:" in line]
        missed = [line for line in at if "couldn't vectorize loop" in line]
        assert at and not missed, (row, len(missed), len(at), missed[:3])
