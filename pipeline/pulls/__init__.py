"""The pulls: sources Bilagsbro fetches from on a timer (Omnium OMS) — what changed since the last run, taken
once (`watermark`), turned into shared-form documents and queued (`scheduled`), and what was booked remembered
so that a late or changed record is booked as the difference only (`bookings`, `supplements`)."""
