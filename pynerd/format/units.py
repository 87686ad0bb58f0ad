"""Human-readable durations and sizes, worded exactly as Docker words them."""

from __future__ import annotations

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_duration(seconds: float) -> str:
    """'Less than a second', '3 seconds', 'About a minute', '5 minutes', '2 hours', '3 days'…"""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units with ``precision`` significant digits: '4.26MB', '1.2kB', '0B'."""
    unit = 0
    while size >= 1000.0 and unit < len(_DECIMAL) - 1:
        size /= 1000.0
        unit += 1
    return f"{_format_g(size, precision)}{_DECIMAL[unit]}"


def _format_g(value: float, precision: int) -> str:
    """Go's %.Ng: shortest form with N significant digits, no exponent below 1e21."""
    text = f"{value:.{precision}g}"
    if "e" in text:  # %g switches to exponent form for >= 10**precision; Go too, rarely hit
        return text.replace("e+0", "e+")
    return text
