"""AzureBlobs.open streams a blob from Azurite in the SDK's chunks as a buffered file object: every byte back, in
whatever sizes the reader asks for, line by line through a text wrapper (æøå intact), without reading it whole."""

from __future__ import annotations

import io
import random

from bilagsbro.azurite import Azurite
from connectors.storage.azure import AzureBlobs, StorageAccount


def test_a_blob_read_back_through_open_is_every_byte_in_any_read_size(azurite: Azurite) -> None:
    account = StorageAccount("STORE", {"STORE": azurite.connection_string})
    account.create_all(queues=(), tables=(), containers=("stream",))
    blobs = AzureBlobs(account)
    lines = [f"{n};Kortsalg Bodø – blåbær og rømme ÆØÅ;{n * 7 % 1000}.50\n" for n in range(120_000)]
    data = "".join(lines).encode("utf-8")  # ~6 MB: several of the SDK's 4 MB chunks
    blobs.put("stream", "stor/fil.csv", data)

    with blobs.open("stream", "stor/fil.csv") as reader:
        sizes = random.Random(7)
        parts = []
        while part := reader.read(sizes.choice((1, 17, 8192, 65536, 1 << 22))):
            parts.append(part)
    assert b"".join(parts) == data

    with io.TextIOWrapper(blobs.open("stream", "stor/fil.csv"), encoding="utf-8", newline="") as text:
        read = list(text)
    assert read == lines
