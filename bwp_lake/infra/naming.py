"""Construct ids from names such as ``land_report`` or ``ORDER_FEES``."""

import re


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)
