"""Pure domain: no database, no network, never reads the clock itself."""
