"""``snntorch.functional.probe``: record layer inputs, outputs, attributes and gradients.

The monitors keep snnTorch's interface (``records``, ``monitored_layers``, ``monitor[name]``,
``clear_recorded_data()``, ``enable()``/``disable()``, ``remove_hooks()``) on PyTorch's removable
module hooks. For forward records, :class:`snncore.Monitor` is the native equivalent (layers by
type or name, state fields, ``stacked()`` records, whole-sequence ``run`` calls).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["unpack_len1_tuple", "BaseMonitor", "OutputMonitor", "InputMonitor",
           "AttributeMonitor", "GradInputMonitor", "GradOutputMonitor"]


def unpack_len1_tuple(x: Any) -> Any:
    """``x[0]`` if ``x`` is a one-element tuple, else ``x``."""
    if isinstance(x, tuple) and len(x) == 1:
        return x[0]
    return x


def _identity(x: Any) -> Any:
    return x


class BaseMonitor:
    """Records in call order (``records``), indexed per layer name (``monitor["fc1"]``)."""

    def __init__(self) -> None:
        self.hooks: list[Any] = []
        self.monitored_layers: list[str] = []
        self.records: list[Any] = []
        self.name_records_index: dict[str, list[int]] = {}
        self._enable = True

    def __getitem__(self, i: int | str) -> Any:
        if isinstance(i, int):
            return self.records[i]
        if isinstance(i, str):
            if i not in self.name_records_index:
                raise KeyError(f"{type(self).__name__}: no monitored layer {i!r}; monitored: "
                               f"{self.monitored_layers}")
            return [self.records[j] for j in self.name_records_index[i]]
        raise TypeError(f"{type(self).__name__}: index with an int or a layer name, got {i!r}")

    def clear_recorded_data(self) -> None:
        """Forget every record (the hooks stay)."""
        self.records.clear()
        for v in self.name_records_index.values():
            v.clear()

    def enable(self) -> None:
        """Record again after :meth:`disable`."""
        self._enable = True

    def disable(self) -> None:
        """Stop recording (the hooks stay)."""
        self._enable = False

    def is_enable(self) -> bool:
        """Whether the monitor records."""
        return self._enable

    def remove_hooks(self) -> None:
        """Detach every hook from the network."""
        for hook in self.hooks:
            hook.remove()
        self.hooks.clear()

    def __del__(self) -> None:
        self.remove_hooks()

    def _record(self, name: str, value: Any) -> None:
        if self._enable:
            self.name_records_index[name].append(len(self.records))
            self.records.append(value)

    def _watch(self, net: nn.Module, instance: Any, register: Callable[[nn.Module, str], Any]
               ) -> None:
        if not isinstance(net, nn.Module):
            raise TypeError(f"{type(self).__name__}: net must be a torch.nn.Module, got "
                            f"{type(net).__name__}")
        if instance is None:
            instance = type(net)
        for name, m in net.named_modules():
            if isinstance(m, instance):
                self.monitored_layers.append(name)
                self.name_records_index[name] = []
                self.hooks.append(register(m, name))


class _HookMonitor(BaseMonitor):
    """Records ``fn(args[pick])`` of a forward hook ``(module, input, output)`` or a full backward
    hook ``(module, grad_input, grad_output)`` on every module of type ``instance``."""

    _hook = "register_forward_hook"
    _pick = 2

    def _setup(self, net: nn.Module, instance: Any, attr: str) -> None:
        self._fn_attr = attr  # read when the hook fires: reassigning it works, as in snnTorch
        self._watch(net, instance,
                    lambda m, name: getattr(m, self._hook)(self.create_hook(name)))

    def create_hook(self, name: str) -> Callable:
        """The hook recording layer ``name``."""
        def hook(m: nn.Module, first: Any, second: Any) -> None:
            if self.is_enable():
                fn = getattr(self, self._fn_attr)
                self._record(name, fn(unpack_len1_tuple((m, first, second)[self._pick])))
        return hook


class OutputMonitor(_HookMonitor):
    """Record ``function_on_output(output)`` of every module of type ``instance`` in ``net``."""

    def __init__(self, net: nn.Module, instance: Any = None,
                 function_on_output: Callable = _identity) -> None:
        super().__init__()
        self.function_on_output = function_on_output
        self._setup(net, instance, "function_on_output")


class InputMonitor(_HookMonitor):
    """Record ``function_on_input(input)`` of every module of type ``instance`` in ``net``."""

    _pick = 1

    def __init__(self, net: nn.Module, instance: Any = None,
                 function_on_input: Callable = _identity) -> None:
        super().__init__()
        self.function_on_input = function_on_input
        self._setup(net, instance, "function_on_input")


class AttributeMonitor(BaseMonitor):
    """Record ``function_on_attribute(module.<attribute_name>)`` before (``pre_forward``) or
    after each forward of every module of type ``instance``; e.g. ``"mem"`` of compat neurons."""

    def __init__(self, attribute_name: str, pre_forward: bool, net: nn.Module,
                 instance: Any = None, function_on_attribute: Callable = _identity) -> None:
        super().__init__()
        self.attribute_name = attribute_name
        self.function_on_attribute = function_on_attribute

        def register(m: nn.Module, name: str) -> Any:
            hook = self.create_hook(name)
            if pre_forward:
                return m.register_forward_pre_hook(lambda mod, x: hook(mod, x, None))
            return m.register_forward_hook(hook)

        self._watch(net, instance, register)

    def create_hook(self, name: str) -> Callable:
        """The hook recording layer ``name``'s attribute."""
        def hook(m: nn.Module, x: Any, y: Any) -> None:
            if self.is_enable():
                self._record(name, self.function_on_attribute(getattr(m, self.attribute_name)))
        return hook


class GradInputMonitor(_HookMonitor):
    """Record ``function_on_grad_input(grad_input)`` in every backward pass through modules of
    type ``instance`` (a full backward hook)."""

    _hook = "register_full_backward_hook"
    _pick = 1

    def __init__(self, net: nn.Module, instance: Any = None,
                 function_on_grad_input: Callable = _identity) -> None:
        super().__init__()
        self.function_on_grad_input = function_on_grad_input
        self._setup(net, instance, "function_on_grad_input")


class GradOutputMonitor(_HookMonitor):
    """Record ``function_on_grad_output(grad_output)`` in every backward pass through modules
    of type ``instance`` (a full backward hook)."""

    _hook = "register_full_backward_hook"

    def __init__(self, net: nn.Module, instance: Any = None,
                 function_on_grad_output: Callable = _identity) -> None:
        super().__init__()
        self.function_on_grad_output = function_on_grad_output
        self._setup(net, instance, "function_on_grad_output")
