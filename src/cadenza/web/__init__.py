"""Server-rendered UI: Jinja2 templates and htmx."""
