"""Testing IPU code without an IPU: a CPU stand-in of poptorch.

poptorch ships only with Graphcore's Poplar SDK. To test code that uses :mod:`snn_ipu`'s
wrappers (``training_model``, ``inference_model``, ``backend="ipu"``) on any machine, install
the stand-in as ``poptorch`` for a block::

    from snn_ipu.testing import use_poptorch_standin

    with use_poptorch_standin(hardware=True) as poptorch:   # an "IPU" is attached
        ipu_net = snn_ipu.training_model(net, loss_fn, torch.optim.SGD(net.parameters(), lr=0.1))
        out, loss = ipu_net(x, y)        # one step, traced under the IPU's constraints, on CPU

The stand-in mirrors the signatures snn_ipu uses and refuses what the IPU refuses while it
traces (a ``torch.autograd.Function``, host syncs such as ``.item()``, a training model without
a loss marked by ``identity_loss``, optimizers poptorch lacks, a batch that does not split into
``deviceIterations x replicationFactor x gradientAccumulation`` micro-batches). It is a test
double, not a simulator: nothing is compiled and nothing is said about an IPU's speed or memory
(docs/ipu.md, "What was verified").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

# the stand-in module itself (what use_poptorch_standin yields), e.g. to set
# ``poptorch_standin.HARDWARE`` inside a block or to read ``TRACE_LOG`` (the input shapes of
# every traced micro-batch)
from . import _standin as poptorch_standin
from ._poptorch import IPU_MODEL_ENV

__all__ = ["use_poptorch_standin"]

_ABSENT = object()


@contextmanager
def use_poptorch_standin(*, hardware: bool = False) -> Iterator[ModuleType]:
    """Install :data:`poptorch_standin` as ``poptorch`` inside the ``with`` block.

    Args:
        hardware: pretend an IPU is attached (``poptorch.ipuHardwareIsAvailable()`` is True and
            the ``ipu`` backend is available). Default: False: poptorch imports but no IPU is
            attached, so :func:`snn_ipu.available` gives ``(False, reason)``, as on a machine
            with the SDK and no IPU.

    Yields the stand-in module (``snn_ipu.testing.poptorch_standin``). On leaving, the previous
    ``poptorch`` entry of ``sys.modules`` (if any), the ``POPTORCH_IPU_MODEL`` variable and the
    stand-in's switches are restored.
    """
    if not isinstance(hardware, bool):
        raise TypeError(f"use_poptorch_standin: hardware must be a bool, got {hardware!r}")
    saved_module = sys.modules.get("poptorch", _ABSENT)
    saved_hardware = poptorch_standin.HARDWARE
    saved_env = os.environ.pop(IPU_MODEL_ENV, None)
    sys.modules["poptorch"] = poptorch_standin
    poptorch_standin.HARDWARE = hardware
    poptorch_standin.TRACE_LOG.clear()
    try:
        yield poptorch_standin
    finally:
        poptorch_standin.HARDWARE = saved_hardware
        poptorch_standin.TRACE_LOG.clear()
        if saved_module is _ABSENT:
            sys.modules.pop("poptorch", None)
        else:
            sys.modules["poptorch"] = saved_module  # type: ignore[assignment]
        if saved_env is not None:
            os.environ[IPU_MODEL_ENV] = saved_env
