from __future__ import annotations

import numpy as np
import pytest

from opsdesk.planner.forecasting.engine import ForecastOptions, run
from tests.planner.forecasting.conftest import monthly_panel


@pytest.mark.slow
def test_a_local_dask_cluster_gives_the_same_forecast_as_in_process(fast_options: ForecastOptions) -> None:
    from distributed import LocalCluster

    rng = np.random.default_rng(1)
    panel = monthly_panel(3)
    panel.loc[panel["unique_id"] == "item2", "y"] = rng.poisson(0.3, 60).astype(float)
    local = run(panel, fast_options)
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        options = ForecastOptions(
            horizon=fast_options.horizon,
            freq=fast_options.freq,
            continuous=fast_options.continuous,
            engine="dask",
            dask_address=cluster.scheduler_address,
        )
        remote = run(panel, options)
    assert [f.unique_id for f in remote] == [f.unique_id for f in local]
    for a, b in zip(local, remote, strict=True):
        assert a.model == b.model and a.pattern == b.pattern and a.ds == b.ds
        for band in ("mean", "lo80", "hi80", "lo95", "hi95"):
            assert np.allclose(getattr(a, band), getattr(b, band), rtol=1e-6, atol=1e-8), (a.unique_id, band)
        assert a.backtest_mase == pytest.approx(b.backtest_mase)
