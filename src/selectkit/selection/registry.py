"""Selector registry: registration at the definition site, ``list_*`` / ``create_*`` lookup.

    @register_selector("my_method")
    class MySelector(Selector): ...

    create_selector("my_method", num_items=10, k=2)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from selectkit.selection.base import Selector

__all__ = ["register_selector", "list_selectors", "get_selector_class", "create_selector"]

_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_selector(name: str) -> Callable[[T], T]:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"selector name={name!r} must be a Python identifier-like string")

    def decorator(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"selector name={name!r} is already registered to {_REGISTRY[name].__qualname__}")
        _REGISTRY[name] = cls
        cls.registry_name = name
        return cls

    return decorator


def list_selectors(*, trainable: bool | None = None) -> list[str]:
    """Registered selector names, sorted; ``trainable=True/False`` filters on learnability."""
    names = sorted(_REGISTRY)
    if trainable is not None:
        names = [n for n in names if _REGISTRY[n].trainable == trainable]
    return names


def get_selector_class(name: str) -> type[Selector]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown selector name={name!r}; registered: {list_selectors()}") from None


def create_selector(name: str, **kwargs: Any) -> Selector:
    return get_selector_class(name)(**kwargs)
