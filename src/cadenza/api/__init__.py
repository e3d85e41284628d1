"""HTTP surface: FastAPI app factory and thin routers."""
