"""``cxsim-simulate``: compose a scenario with Hydra, simulate it, write ``metrics.json``.

cxsim-simulate                                  # the default scenario
cxsim-simulate experiment=erlang queue.agents=12 hydra.run.dir=out
cxsim-simulate experience_log=true              # also episodes.parquet
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from cxsim.apps.common import fail, run_dir, write_json, write_parquet
from cxsim.spec import SpecError, config_dir, load_scenario


def run(cfg: DictConfig) -> dict:
    """Simulate the composed config; write results into the Hydra run directory."""
    from cxsim.apps.table import print_metrics
    from cxsim.engine import simulate

    try:
        scenario = load_scenario(cfg)
    except SpecError as e:
        fail(f"invalid scenario: {e}")
    export = bool(cfg.export_observed)
    if export and not scenario.behaviour.enabled:
        fail("export_observed=true needs behaviour.enabled=true (surveys and churn)")
    out = run_dir()
    progress = bool(cfg.get("progress", True)) and sys.stderr.isatty()
    result = simulate(scenario, keep_rows=bool(cfg.experience_log) or export, progress=progress)
    metrics = result.metrics
    if export:
        from cxsim.data import observed_metrics, write_observed
        from cxsim.data.synthetic import observe

        data = observe(result, scenario)
        write_observed(data, out / "observed")
        metrics = {**metrics, "observed": observed_metrics(data)}
    if cfg.experience_log:
        write_parquet(out / "episodes.parquet", result.episodes)
    write_json(out / "metrics.json", metrics)
    print_metrics(metrics, out)
    return metrics


@hydra.main(config_path=str(config_dir()), config_name="simulate", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    run(cfg)


def main() -> None:
    """Console-script entry point."""
    _main()


if __name__ == "__main__":
    main()
