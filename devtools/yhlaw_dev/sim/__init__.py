"""Simulators of the district's source systems: the outside world of the demo, tests and bench.

``SIMULATORS`` names, per simulated source, the module that builds it and its port when
``SIM_BASE_PORT`` is 8801 (the default); another base shifts every port by the same amount.
The platform knows none of this: it reads a source through the Airflow connection named in
the source's spec, wherever that points.
"""

from __future__ import annotations

import os
from typing import NamedTuple

DEFAULT_BASE_PORT = 8801


class Simulated(NamedTuple):
    module: str     # exposes build_source(settings)
    port: int       # with SIM_BASE_PORT=8801


SIMULATORS: dict[str, Simulated] = {
    "enforcement": Simulated("yhlaw_dev.sim.enforcement", 8801),
    "legal_services": Simulated("yhlaw_dev.sim.legal_services", 8802),
    "mediation": Simulated("yhlaw_dev.sim.mediation", 8803),
    "petitions": Simulated("yhlaw_dev.sim.petitions", 8804),
    "courts": Simulated("yhlaw_dev.sim.courts", 8805),
    "admin_review": Simulated("yhlaw_dev.sim.admin_review", 8808),
    "corrections": Simulated("yhlaw_dev.sim.corrections", 8806),
    "supervision": Simulated("yhlaw_dev.sim.supervision", 8807),
    "investment": Simulated("yhlaw_dev.sim.investment", 8809),
    "gov_service": Simulated("yhlaw_dev.sim.gov_service", 8810),
}


def simulated_sources() -> list[str]:
    """The sources the project ships a simulator of, in spec order (each must have a spec).

    ``SIM_SOURCES=a,b`` keeps only those (a developer working on one source runs its tests and
    the simulators it needs without starting, or depending on, the others)."""
    from yhlaw.spec import source_names

    names = source_names()
    unknown = sorted(set(SIMULATORS) - set(names))
    if unknown:
        raise ValueError(f"simulators without a source spec: {unknown}")
    only = [n.strip() for n in os.environ.get("SIM_SOURCES", "").split(",") if n.strip()]
    return [n for n in names if n in SIMULATORS and (not only or n in only)]


def sim_port(source: str, base_port: int = DEFAULT_BASE_PORT) -> int:
    """The port of ``source``'s simulator when the first simulator listens on ``base_port``."""
    return base_port + SIMULATORS[source].port - DEFAULT_BASE_PORT
