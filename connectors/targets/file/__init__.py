"""The open-format file target: each delivered document written as shared-form JSON to Blob Storage."""
