"""Storage: typed tables, engine and session setup, migrations, claim queries."""
