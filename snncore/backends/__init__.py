"""snncore's built-in backend implementations.

====================  ==============================================================
``eager``             :mod:`snncore.backends._eager`: a Python loop of single steps
                      through autograd; the reference, supports every neuron
``fused``             :mod:`snncore.backends._fused`: one custom autograd function per
                      layer over all time steps, hand-written reverse loop
(native loops)        :mod:`snncore.backends._native`: the C++ time loops of ``fused``
                      (sources in ``native/fused_loops.cpp`` and ``.h``), built on
                      first use
(buffer cache)        :mod:`snncore._buffers`: large CPU output buffers reused
                      from step to step (:func:`empty_cache`, :func:`buffer_cache_info`,
                      ``SNNCORE_BUFFER_CACHE_MB``)
``triton``            :mod:`snncore.backends._triton`: GPU kernels, one launch per
                      layer and pass
====================  ==============================================================

The base class :class:`snncore.extend.Backend` and the selection rules are in the layer below
(:mod:`snncore._backends`); third-party backends subclass it and register through the
``snncore_register_backends`` hook.
"""

from __future__ import annotations

from .._buffers import buffer_cache_info, empty_cache

__all__ = ["buffer_cache_info", "empty_cache"]
