"""What the checks advise names the code location's real assets and run config."""

import datetime as dt
import json

import pytest

from eod_pipeline.defs.assets.corporate_actions import adjustments_asset_key, event_asset_key
from eod_pipeline.defs.assets.prices import PriceFetchConfig, price_asset_key
from eod_pipeline.ingest.events import SPLIT_EVENTS
from eod_pipeline.quality import advice


@pytest.mark.parametrize("code", ["US", "LSE"])
def test_asset_names_are_the_asset_keys(code):
    assert advice.asset(advice.PRICES, code) == price_asset_key(code).to_user_string()
    assert advice.asset(advice.SPLITS, code) == event_asset_key(
        SPLIT_EVENTS, code).to_user_string()
    assert advice.asset(advice.ADJUSTMENTS, code) == adjustments_asset_key(
        code).to_user_string()


def test_the_run_config_is_the_price_assets_config():


    config = json.loads(advice.price_run_config("US", ["BRK-B", "AAPL", "BRK-B"]))
    (op, body), = config["ops"].items()
    assert op == price_asset_key("US").to_python_identifier()
    parsed = PriceFetchConfig(**body["config"])
    assert parsed.refetch and parsed.tickers == ["AAPL", "BRK-B"]
    # More tickers than a launchpad should list: the whole exchange instead.
    many = [f"T{i}" for i in range(advice.TICKERS_NAMED + 1)]
    assert "tickers" not in json.loads(advice.price_run_config("US", many))["ops"][op]["config"]


def test_partitions_read_as_the_launchpad_takes_them():
    day = dt.date(2026, 4, 14)
    assert advice.partitions(day, day) == "partition 2026-04-14"
    assert advice.partitions(day, dt.date(2026, 4, 15)) == "partitions 2026-04-14...2026-04-15"
