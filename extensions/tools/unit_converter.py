"""The unit conversion tool: length, mass, temperature, volume, time and data sizes."""

from __future__ import annotations

#: Factors to each dimension's base unit (metre, kilogram, litre, second, byte).
_FACTORS: dict[str, dict[str, float]] = {
    "length": {
        "mm": 1e-3, "cm": 1e-2, "m": 1.0, "km": 1e3, "in": 0.0254, "ft": 0.3048,
        "yd": 0.9144, "mi": 1609.344, "nmi": 1852.0,
    },
    "mass": {"mg": 1e-6, "g": 1e-3, "kg": 1.0, "t": 1e3, "oz": 0.028349523125, "lb": 0.45359237, "st": 6.35029318},
    "volume": {
        "ml": 1e-3, "cl": 1e-2, "l": 1.0, "m3": 1e3, "tsp": 0.00492892159375, "tbsp": 0.01478676478125,
        "cup": 0.2365882365, "pt": 0.473176473, "qt": 0.946352946, "gal": 3.785411784,
    },
    "time": {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "day": 86400.0, "week": 604800.0, "year": 31557600.0},
    "data": {
        "bit": 0.125, "B": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
        "KiB": 1024.0, "MiB": 1024.0**2, "GiB": 1024.0**3, "TiB": 1024.0**4,
    },
}  # fmt: skip
_ALIASES = {
    "meter": "m", "meters": "m", "metre": "m", "kilometer": "km", "kilometers": "km", "mile": "mi", "miles": "mi",
    "foot": "ft", "feet": "ft", "inch": "in", "inches": "in", "yard": "yd", "yards": "yd",
    "gram": "g", "grams": "g", "kilogram": "kg", "kilograms": "kg", "pound": "lb", "pounds": "lb", "lbs": "lb",
    "ounce": "oz", "ounces": "oz", "tonne": "t", "liter": "l", "liters": "l", "litre": "l", "litres": "l",
    "gallon": "gal", "gallons": "gal", "second": "s", "seconds": "s", "sec": "s", "minute": "min", "minutes": "min",
    "hour": "h", "hours": "h", "days": "day", "weeks": "week", "years": "year", "byte": "B", "bytes": "B",
    "bits": "bit", "kb": "KB", "mb": "MB", "gb": "GB", "tb": "TB", "kib": "KiB", "mib": "MiB", "gib": "GiB",
    "tib": "TiB", "celsius": "C", "°c": "C", "c": "C", "fahrenheit": "F", "°f": "F", "f": "F", "kelvin": "K", "k": "K",
}  # fmt: skip
_TEMPERATURES = ("C", "F", "K")


def unit_converter(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a quantity between units of length, mass, temperature, volume, time or data size.

    Args:
        value: The number to convert.
        from_unit: The unit it is in, e.g. "km", "lb", "C", "gal", "h", "MiB".
        to_unit: The unit wanted, of the same kind.
    """
    source, target = _unit(from_unit), _unit(to_unit)
    if source in _TEMPERATURES or target in _TEMPERATURES:
        if not (source in _TEMPERATURES and target in _TEMPERATURES):
            raise ValueError(f"cannot convert {from_unit} to {to_unit}: only temperatures convert to temperatures")
        result = _from_kelvin(_to_kelvin(value, source), target)
    else:
        kind = _dimension(source)
        if target not in _FACTORS[kind]:
            raise ValueError(f"cannot convert {from_unit} ({kind}) to {to_unit} ({_dimension(target)})")
        result = value * _FACTORS[kind][source] / _FACTORS[kind][target]
    return f"{value:g} {source} = {round(result, 10):g} {target}"


def _unit(name: str) -> str:
    cleaned = name.strip()
    if any(cleaned in units for units in _FACTORS.values()) or cleaned in _TEMPERATURES:
        return cleaned
    alias = _ALIASES.get(cleaned.lower())
    if alias is None:
        raise ValueError(f"unknown unit {name[:40]!r}")
    return alias


def _dimension(unit: str) -> str:
    for kind, units in _FACTORS.items():
        if unit in units:
            return kind
    raise ValueError(f"unknown unit {unit!r}")


def _to_kelvin(value: float, unit: str) -> float:
    return {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[unit]


def _from_kelvin(value: float, unit: str) -> float:
    return {"C": value - 273.15, "F": (value - 273.15) * 9 / 5 + 32, "K": value}[unit]


TOOL = unit_converter
