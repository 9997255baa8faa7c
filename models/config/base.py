"""What every section of the site file shares: the strict base model and the value types used everywhere."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from models.secrets import ENV_NAME


class ConfigModel(BaseModel):
    # NaN and infinity pass every range check unnoticed, so no float key may hold them.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
EnvName = Annotated[
    str,
    Field(
        pattern=rf"^{ENV_NAME}$",
        title="Environment variable",
        description="Name of an environment variable holding the secret, e.g. GRIDWATCH_WEBHOOK_SECRET.",
    ),
]
