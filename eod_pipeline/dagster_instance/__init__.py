"""Parts of the Dagster *instance* (dagster.yaml) this project supplies, as opposed to the
definitions in `eod_pipeline.defs`: every Dagster process (webserver, daemon, code server,
run worker) imports them by module and class name from the instance config."""
