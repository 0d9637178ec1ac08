"""Load, resolve and index an OpenAPI document. No Flask here."""

from __future__ import annotations

from mockserver.spec.index import SpecIndex
from mockserver.spec.loader import SpecError, SpecProblem, load_spec, spec_problems
from mockserver.spec.model import Operation, Parameter, Resource

__all__ = [
    "Operation",
    "Parameter",
    "Resource",
    "SpecError",
    "SpecIndex",
    "SpecProblem",
    "load_spec",
    "spec_problems",
]
