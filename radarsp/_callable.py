"""Modules named after a verb that can also be called as that verb.

``radarsp.cluster`` is both the module ``radarsp/cluster.py`` and, as the issue tracker and
README promise, the function ``radarsp.cluster(detections, ...)``. A module attribute of a
package cannot be both unless the module itself is callable, which this provides: calling the
module calls its namesake function, and ``import radarsp.cluster as m`` still gives the module.
"""

from __future__ import annotations

import importlib
import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return getattr(self, self.__name__.rsplit(".", 1)[-1])(*args, **kwargs)

    def __reduce__(self):
        # by reference, as (cloud)pickle treats plain modules: dask.distributed ships closures
        return importlib.import_module, (self.__name__,)


def make_callable(module_name: str) -> None:
    """Let ``module_name`` be called as its function of the same (last) name."""
    sys.modules[module_name].__class__ = _CallableModule
