"""Build, release and check helpers run by the Makefile."""
