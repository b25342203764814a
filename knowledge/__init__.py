"""The shop's data: warehouse schema, importers, feature builders, indexes and documents."""
