"""Where a stage computes: in its own process (`local`) or on a Dask cluster (`dask`), as
params/compute.yaml says.

`dask` connects to `compute.scheduler_address`, else to $DASK_SCHEDULER_ADDRESS (an existing
cluster: `dask scheduler` and `dask worker` processes, or a managed one); with neither it starts a
LocalCluster of `compute.local_workers` processes for the run and stops it afterwards. Tasks read
and write the project's files by path, so the workers must see the project folder (the same
machine or a shared disk) and have this package installed; secrets reach them by environment
variable, never in a task.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"


def describe(compute: dict) -> str:
    """One line for a report: which backend ran and where."""
    if compute["backend"] == "local":
        return "local: in the stage's own process"
    address = compute.get("scheduler_address") or os.environ.get(ADDRESS_ENV)
    return (f"dask: the cluster at {address}" if address else
            f"dask: a LocalCluster of {compute['local_workers']} worker processes started for the run")


@contextmanager
def dask_client(compute: dict) -> Iterator[object | None]:
    """A `distributed.Client` for the `dask` backend (None for `local`), closed on exit."""
    if compute["backend"] == "local":
        yield None
        return
    from distributed import Client, LocalCluster

    address = compute.get("scheduler_address") or os.environ.get(ADDRESS_ENV)
    if address:
        with Client(address) as client:
            yield client
        return
    with LocalCluster(n_workers=int(compute["local_workers"]), threads_per_worker=int(compute["threads_per_worker"]),
                      processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        yield client
