"""The Landlord resources: CRD schemas, composition of entitlements, resolution against the catalogue."""
