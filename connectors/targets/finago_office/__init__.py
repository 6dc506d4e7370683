"""Finago Office (formerly 24SevenOffice): vouchers through its SOAP web services (AccountService.SaveBundleList)."""
