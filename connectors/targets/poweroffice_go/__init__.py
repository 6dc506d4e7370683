"""PowerOffice GO (API v2) as a target: drafts in the journal-entry view, or direct posting on the tenant's opt-in."""
