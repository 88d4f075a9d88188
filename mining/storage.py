"""Datasets published to any fsspec URL (curriculum 2.4): `compute.storage_url`.

The project's own outputs stay under data/ (DVC versions them, later stages read them). With a
storage URL, ingest's validated tables and the feature table are also written there as
hive-partitioned Parquet datasets (`s3://bucket/prefix`, `gs://`, `abfs://`, `file:///shared/lake`,
`memory://` ...), the form that Spark, Trino, DuckDB or Dask workers on other machines read.
Credentials come from the environment (for S3: $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and,
for an S3-compatible server, $AWS_ENDPOINT_URL), never from params. A dataset is replaced as a
whole: its old files are deleted first, so a reader never sees two runs' files mixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow.fs import FSSpecHandler, PyFileSystem

if TYPE_CHECKING:
    import fsspec


def _filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem behind `url` and the path on it; fsspec is imported by a run that publishes."""
    import fsspec

    return fsspec.core.url_to_fs(url)


def _target(url: str, name: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, root = _filesystem(url.rstrip("/"))
    return fs, f"{root}/{name}"


def _clear(fs: fsspec.AbstractFileSystem, path: str) -> None:
    if fs.exists(path):
        fs.rm(path, recursive=True)


def publish_folder(folder: Path, url: str, name: str) -> str:
    """Copy a local dataset folder (hive `key=value` folders of Parquet files) to `url`/`name`,
    replacing what was there; returns the dataset's URL."""
    fs, path = _target(url, name)
    _clear(fs, path)
    for f in sorted(folder.rglob("*.parquet")):
        dest = f"{path}/{f.relative_to(folder).as_posix()}"
        fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(f), dest)
    return f"{url.rstrip('/')}/{name}"


def write_partitioned(frame: pd.DataFrame, url: str, name: str, partition_by: list[str]) -> str:
    """Write a table to `url`/`name` as Parquet, hive-partitioned by `partition_by`, replacing what
    was there; returns the dataset's URL."""
    fs, path = _target(url, name)
    _clear(fs, path)
    ds.write_dataset(pa.Table.from_pandas(frame, preserve_index=False), path, format="parquet",
                     filesystem=PyFileSystem(FSSpecHandler(fs)), partitioning=partition_by,
                     partitioning_flavor="hive", existing_data_behavior="overwrite_or_ignore")
    return f"{url.rstrip('/')}/{name}"


def read_dataset(url: str) -> pd.DataFrame:
    """A published dataset back as one table (its partition keys as columns)."""
    fs, path = _filesystem(url)
    return ds.dataset(path, filesystem=PyFileSystem(FSSpecHandler(fs)), format="parquet",
                      partitioning="hive").to_table().to_pandas()
