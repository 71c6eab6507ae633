"""One Dagster type per reference class, so assets sharing a reference type share its Dagster type."""

from functools import cache

import dagster as dg
from pydantic import BaseModel


@cache
def ref_type(model: type[BaseModel]) -> dg.DagsterType:
    return dg.PythonObjectDagsterType(model, name=model.__name__, description=model.__doc__)
