"""A local stand-in for Finago Office (24SevenOffice)'s SOAP web services, so the connector is tested over real HTTP
against the official WSDLs without the real service."""

from sandboxes.finago_office.books import Books
from sandboxes.finago_office.saving import Refused
from sandboxes.finago_office.server import APPLICATION_ID, PASSWORD, USERNAME, FinagoOfficeSandbox

__all__ = ["APPLICATION_ID", "PASSWORD", "USERNAME", "Books", "FinagoOfficeSandbox", "Refused"]
