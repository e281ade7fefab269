"""End-to-end tests that drive a real Dagster deployment (webserver + daemon) over HTTP."""
