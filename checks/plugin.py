"""pytest plugin of gntk-checks (filled in by the framework)."""
