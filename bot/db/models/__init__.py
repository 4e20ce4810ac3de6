"""All model modules, imported so that `Base.metadata` is complete (Alembic compares against it).

Each feature keeps its tables in its own module here; new modules are picked up automatically.
"""

from __future__ import annotations

import importlib
import pkgutil

from bot.db.base import Base

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Base"]
