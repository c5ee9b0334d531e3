"""The only modules that call AWS. Each turns SDK failures into domain errors."""
