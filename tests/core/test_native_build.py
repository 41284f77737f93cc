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
