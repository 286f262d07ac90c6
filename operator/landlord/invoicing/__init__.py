"""The billing sidecar: invoices written, numbered, dunned and archived."""
