"""Wire field kinds: how one payload field is represented and checked.

A payload is a MessagePack array whose items are described, in order, by these specs. Each spec
checks a decoded Python value and says what is wrong in a short, peer-safe sentence, so that the
codec can raise one ``MalformedFrameError`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["UINT64_MAX", "Bin", "Bool", "FieldSpec", "Int", "ListOf", "Str"]

UINT64_MAX = 2**64 - 1


class FieldSpec(Protocol):
    """Checks one field; returns ``None`` when the value is valid, else what is wrong."""

    def problem(self, value: Any) -> str | None:
        """Return a short description of what is wrong with *value*, or ``None``."""
        ...

    def to_wire(self, value: Any) -> Any:
        """Turn a valid Python value into what MessagePack encodes."""
        ...

    def from_wire(self, value: Any) -> Any:
        """Turn a valid decoded value into the dataclass field's value."""
        ...


class _Plain:
    """Mixin for specs whose Python and wire values are the same."""

    __slots__ = ()

    def to_wire(self, value: Any) -> Any:
        return value

    def from_wire(self, value: Any) -> Any:
        return value


@dataclass(frozen=True, slots=True)
class Bin(_Plain):
    """A MessagePack ``bin``: exactly one of *sizes* bytes long, or at most *max_size*."""

    sizes: tuple[int, ...] = ()
    max_size: int = 0

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with *value*, or ``None``."""
        if type(value) is not bytes:
            return "must be a binary string"
        if self.sizes:
            if len(value) not in self.sizes:
                allowed = " or ".join(str(size) for size in self.sizes)
                return f"must be {allowed} bytes long, not {len(value)}"
        elif len(value) > self.max_size:
            return f"must be at most {self.max_size} bytes long"
        return None


@dataclass(frozen=True, slots=True)
class Str(_Plain):
    """A MessagePack ``str`` of at most *max_chars* characters, without control characters."""

    max_chars: int

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with *value*, or ``None``."""
        if type(value) is not str:
            return "must be a string"
        if len(value) > self.max_chars:
            return f"must be at most {self.max_chars} characters long"
        if not value.isprintable():
            return "must not contain control characters"
        return None


@dataclass(frozen=True, slots=True)
class Int(_Plain):
    """A MessagePack integer between *minimum* and *maximum* inclusive."""

    minimum: int = 0
    maximum: int = UINT64_MAX

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with *value*, or ``None``."""
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be an integer"
        if not self.minimum <= value <= self.maximum:
            return f"must be between {self.minimum} and {self.maximum}"
        return None


@dataclass(frozen=True, slots=True)
class Bool(_Plain):
    """A MessagePack boolean."""

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with *value*, or ``None``."""
        return None if type(value) is bool else "must be true or false"


@dataclass(frozen=True, slots=True)
class ListOf:
    """An array of at most *max_items* records, each an array of *item_fields* in order.

    The Python value is a tuple of instances of *item_type*, built from the fields by keyword.
    """

    item_type: type[Any]
    item_fields: tuple[tuple[str, FieldSpec], ...]
    max_items: int

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with *value*, or ``None``."""
        if type(value) is not list:
            return "must be an array"
        if len(value) > self.max_items:
            return f"must have at most {self.max_items} items"
        for index, item in enumerate(value):
            if type(item) is not list or len(item) != len(self.item_fields):
                return f"item {index} must be an array of {len(self.item_fields)} fields"
            for (name, spec), field_value in zip(self.item_fields, item, strict=True):
                what = spec.problem(field_value)
                if what is not None:
                    return f"item {index} field '{name}' {what}"
        return None

    def to_wire(self, value: Any) -> Any:
        """Turn a tuple of records into arrays of fields."""
        return [
            [spec.to_wire(getattr(item, name)) for name, spec in self.item_fields] for item in value
        ]

    def from_wire(self, value: Any) -> Any:
        """Turn arrays of fields into a tuple of records."""
        names = [name for name, _ in self.item_fields]
        return tuple(self.item_type(**dict(zip(names, item, strict=True))) for item in value)
