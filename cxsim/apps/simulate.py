"""``cxsim-simulate``: compose a scenario with Hydra, simulate it, write ``metrics.json``.

cxsim-simulate                                  # the default scenario
cxsim-simulate experiment=erlang queue.agents=12 hydra.run.dir=out
cxsim-simulate experience_log=true              # also episodes.parquet
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from cxsim.apps.common import fail, run_dir, write_json
from cxsim.spec import SpecError, config_dir, load_scenario


def run(cfg: DictConfig) -> dict:
    """Simulate the composed config; write results into the Hydra run directory."""
    from cxsim.apps.table import print_metrics
    from cxsim.engine import simulate

    try:
        scenario = load_scenario(cfg)
    except SpecError as e:
        fail(f"invalid scenario: {e}")
    out = run_dir()
    progress = bool(cfg.get("progress", True)) and sys.stderr.isatty()
    result = simulate(scenario, keep_rows=bool(cfg.experience_log), progress=progress)
    write_json(out / "metrics.json", result.metrics)
    if result.episodes is not None:
        from cxsim.apps.common import write_parquet

        write_parquet(out / "episodes.parquet", result.episodes)
    print_metrics(result.metrics, out)
    return result.metrics


@hydra.main(config_path=str(config_dir()), config_name="simulate", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    run(cfg)


def main() -> None:
    """Console-script entry point."""
    _main()


if __name__ == "__main__":
    main()
