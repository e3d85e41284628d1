"""Server-rendered UI: Jinja2 templates, one stylesheet and a small hand-written script."""
