"""The one shape of everything the workflow writes as JSON: camelCase keys, as in the ASL.

The states' inputs and outputs (``bwp.models``) and the manifest (``bwp.lake.manifest``) both
derive from it; it lives in the lake's contract so that the stack can read the manifest.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
