"""The training sets on a 2-worker LocalCluster equal the local engine's, row for row and
value for value, whether the tables are shuffled by lead or already partitioned by lead; and
what cannot be partitioned is an error naming it, what lands in the wrong partition is counted."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.errors import DataContractError, InputError
from features.build import build_training_sets
from features.distributed.build import build_on_cluster
from features.distributed.dataset import PARTITIONING_FILE, lead_partitions, table_files
from features.io import read_lead_history
from tests.factories import partitioned_by_lead


@pytest.fixture(scope="module")
def local_sets(simulation_dir: Path):
    history, set_aside = read_lead_history(simulation_dir)
    return build_training_sets(history, horizon_days=90, set_aside=set_aside)


@pytest.fixture(scope="module")
def by_lead(simulation, tmp_path_factory) -> Path:
    return partitioned_by_lead(simulation.history, tmp_path_factory.mktemp("by-lead"))


@pytest.mark.parametrize("layout", ["shuffled", "partitioned_by_lead"])
def test_training_sets_on_two_workers_equal_the_local_engine(
    dask_client, local_sets, simulation_dir, by_lead, layout
):
    data = simulation_dir if layout == "shuffled" else by_lead
    partitions = lead_partitions(data, workers=2, partitions=4)
    assert partitions.shuffled is (layout == "shuffled")
    lines = []
    sets, set_aside = build_on_cluster(
        dask_client, partitions, horizon_days=90, progress=lines.append
    )
    assert set_aside == []
    assert (
        lines[-1]
        == f"training sets: {len(partitions.parts)}/{len(partitions.parts)} partitions done"
    )
    for name, local in local_sets.items():
        pd.testing.assert_frame_equal(sets[name].frame, local.frame)  # exact, dtypes too
        assert sets[name].manifest == local.manifest
        assert len(local.frame) > 100


def test_written_as_partitioned_parquet_that_reads_back_as_the_same_rows(
    dask_client, local_sets, by_lead, tmp_path
):
    out = tmp_path / "features"
    (out / "mql_to_sql").mkdir(parents=True)
    (out / "mql_to_sql" / "part.00099.parquet").write_bytes(b"an earlier run's part")
    sets, _ = build_on_cluster(
        dask_client, lead_partitions(by_lead, workers=2), horizon_days=90, out=out
    )
    for name, local in local_sets.items():
        parts = sorted((out / name).glob("part.*.parquet"))
        assert [p.name for p in parts] == [
            "part.00000.parquet",
            "part.00001.parquet",
            "part.00002.parquet",
        ]
        back = pd.read_parquet(parts).sort_values(["decision_time", "lead_id"], kind="stable")
        pd.testing.assert_frame_equal(back.reset_index(drop=True), local.frame)
        manifest = json.loads((out / f"{name}.manifest.json").read_text())
        assert manifest["rows"] == local.manifest["rows"] == sets[name].manifest["rows"]


def test_events_whose_lead_is_in_another_partition_are_counted_not_dropped(
    dask_client, simulation, tmp_path
):
    data = partitioned_by_lead(simulation.history, tmp_path / "data")
    moved = pd.read_parquet(data / "touches" / "part-0.parquet")
    # part-0's touches written into part-1's file: their leads are not in partition 1
    both = pd.concat([moved, pd.read_parquet(data / "touches" / "part-1.parquet")])
    both.to_parquet(data / "touches" / "part-1.parquet", index=False)
    moved.head(0).to_parquet(data / "touches" / "part-0.parquet", index=False)
    _, set_aside = build_on_cluster(dask_client, lead_partitions(data), horizon_days=90)
    counted = {(s.table, s.reason): s.rows for s in set_aside}
    assert counted[("touches", "lead_id not in leads")] == len(moved) > 0


def test_a_missing_table_or_folder_names_the_path(tmp_path, simulation):
    with pytest.raises(InputError, match="no such folder"):
        table_files(tmp_path / "nothing")
    data = partitioned_by_lead(simulation.history, tmp_path / "data")
    for path in (data / "touches").iterdir():
        path.unlink()
    with pytest.raises(DataContractError, match=r"touches.*no \.parquet files"):
        table_files(data)
    (data / "touches").rmdir()
    with pytest.raises(DataContractError, match=r"table not found.*touches"):
        table_files(data)


def test_a_dataset_said_to_be_by_lead_needs_the_same_files_per_table(tmp_path, simulation):
    data = partitioned_by_lead(simulation.history, tmp_path / "data")
    (data / "touches" / "part-2.parquet").rename(data / "touches" / "other.parquet")
    with pytest.raises(DataContractError, match="same file names"):
        lead_partitions(data)
    (data / PARTITIONING_FILE).write_text(json.dumps({"by": "account_id"}))
    with pytest.raises(DataContractError, match="expected lead_id"):
        lead_partitions(data)
