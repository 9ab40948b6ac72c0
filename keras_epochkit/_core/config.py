"""Constructor arguments read from signatures, for `get_config` and `super()`.

A class lists its whole signature once, for its order, defaults and
documentation. `get_config` then reads every argument back from the
attribute that holds it (`arguments_config`), and a subclass forwards the
arguments its base takes with `super().__init__(**arguments_of(Base,
locals()))`, so neither is written out a second time.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any


def constructor_arguments(cls: type, base: type = object) -> list[str]:
    """The named arguments of `cls.__init__`, without `*args` and `**kwargs`.

    Behind a `**kwargs`, the arguments of the parents' constructors follow,
    up to `base` (excluded).
    """
    names: list[str] = []
    for klass in cls.__mro__:
        if klass is base:
            break
        if "__init__" not in vars(klass):
            continue
        params = list(inspect.signature(klass.__init__).parameters.values())[1:]
        for p in params:
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in names:
                names.append(p.name)
        if all(p.kind != p.VAR_KEYWORD for p in params):
            break
    return names


def arguments_of(base: type, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of `base.__init__`, picked from a subclass's `locals()`."""
    return {
        name: arguments[name]
        for name in constructor_arguments(base)
        if name in arguments
    }


def arguments_config(
    obj: Any, renamed: Mapping[str, str], base: type = object
) -> dict[str, Any]:
    """Every constructor argument of `type(obj)`, read from its attribute.

    An argument is read from the attribute of the same name, or from the one
    `renamed` maps it to.
    """
    return {
        name: getattr(obj, renamed.get(name, name))
        for name in constructor_arguments(type(obj), base)
    }
