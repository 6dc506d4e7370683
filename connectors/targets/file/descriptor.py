"""The file target as the registry sees it: no settings but drafts-or-posted, no secrets, everything accepted."""

from __future__ import annotations

from pipeline.descriptors import Accepts, Drafts, TargetDescriptor, TargetSettings
from pipeline.fieldmap import as_is
from pipeline.model import DOCUMENT_TYPES
from pipeline.ports import Target, TargetContext
from pipeline.records.names import CONTAINER_DELIVERIES

NAME = "file"


class FileSettings(TargetSettings):
    """Only whether documents land under drafts/ (the default) or posted/."""


def connect(context: TargetContext) -> Target:
    from connectors.targets.file.target import FileTarget

    return FileTarget(context)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title="File (shared-form JSON)",
    settings=FileSettings,
    connect=connect,
    check=f"writes nothing: Bilagsbro's own Blob Storage (container {CONTAINER_DELIVERIES}) is always there",
    http=False,
    accepts=Accepts(
        documents=tuple(DOCUMENT_TYPES),
        dimensions=("*",),
        drafts=Drafts(available=True, meaning=f"a JSON file under {CONTAINER_DELIVERIES}/TENANT/drafts/; "
                                              "direct posting writes it under posted/"),
        fields=as_is(tuple(DOCUMENT_TYPES)),
    ),
)
