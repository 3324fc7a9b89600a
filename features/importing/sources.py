"""Where an export's tables come from: a folder of CSV or Parquet files, or a DuckDB file.

Every table is read as Arrow, in chunks of ``CHUNK_ROWS`` rows and only the columns a block
needs, so an activity table of tens of millions of rows streams through in bounded memory.
CSV cells are read as text (empty cells as missing), Parquet and DuckDB keep their types.
A table is found by its name without case (``Lead`` -> ``lead.csv``), or by the file patterns
of the mapping's ``files`` section (HubSpot names its exports as it likes). A file that cannot
be read at all raises ``InputError`` naming it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq

from core.errors import InputError

CHUNK_ROWS = 500_000
SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")


class Source:
    """An export: find its tables, list their columns, read them whole or in chunks."""

    description: str

    def find(self, table: str, patterns: tuple[str, ...] = ()) -> str | None:
        """Where ``table`` is (a path or a table name), or None when the export lacks it."""
        raise NotImplementedError

    def columns(self, where: str) -> list[str]:
        raise NotImplementedError

    def chunks(self, where: str, columns: list[str]) -> Iterator[pa.Table]:
        raise NotImplementedError

    def read(self, where: str, columns: list[str]) -> pa.Table:
        parts = list(self.chunks(where, columns))
        return pa.concat_tables(parts) if parts else _empty(columns)

    def close(self) -> None:
        """Release the source (a DuckDB connection); nothing for files."""


def open_source(path: Path) -> Source:
    """A folder of files, or a DuckDB file; ``InputError`` when it is neither."""
    path = Path(path)
    if path.is_dir():
        return FolderSource(path)
    if path.is_file() and path.suffix.lower() in DUCKDB_SUFFIXES:
        return DuckDBSource(path)
    if path.exists():
        raise InputError(
            f"{path}: give the export's folder (CSV or Parquet files) or a DuckDB file "
            f"({', '.join(DUCKDB_SUFFIXES)})"
        )
    raise InputError(f"{path}: no such folder or DuckDB file")


class FolderSource(Source):
    """CSV and Parquet files in one folder (sub-folders are not searched)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = str(folder)
        self.files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(SUFFIXES)
        )

    def find(self, table: str, patterns: tuple[str, ...] = ()) -> str | None:
        for pattern in patterns:
            hits = [p for p in self.files if fnmatch.fnmatch(p.name.lower(), pattern.lower())]
            if hits:
                return str(hits[0])
        for path in self.files:
            stem = path.name.lower()
            for suffix in SUFFIXES:
                stem = stem.removesuffix(suffix)
            if stem == table.lower():
                return str(path)
        return None

    def columns(self, where: str) -> list[str]:
        path = Path(where)
        try:
            if _is_parquet(path):
                return list(pq.read_schema(path).names)
            return list(self._csv(path, None).schema.names)
        except (OSError, pa.ArrowException) as error:
            raise _unreadable(path, error) from None

    def chunks(self, where: str, columns: list[str]) -> Iterator[pa.Table]:
        path = Path(where)
        try:
            if _is_parquet(path):
                for batch in pq.ParquetFile(path).iter_batches(CHUNK_ROWS, columns=columns):
                    yield pa.Table.from_batches([batch])
                return
            reader = self._csv(path, columns)
            rows: list[pa.RecordBatch] = []
            count = 0
            for batch in reader:
                rows.append(batch)
                count += batch.num_rows
                if count >= CHUNK_ROWS:
                    yield pa.Table.from_batches(rows, schema=reader.schema)
                    rows, count = [], 0
            if rows or not count:
                yield pa.Table.from_batches(rows, schema=reader.schema)
        except (OSError, pa.ArrowException) as error:
            raise _unreadable(path, error) from None

    @staticmethod
    def _csv(path: Path, columns: list[str] | None) -> pv.CSVStreamingReader:
        parse = pv.ParseOptions(delimiter="\t" if path.name.lower().endswith(".tsv") else ",")
        convert = pv.ConvertOptions(
            column_types=None if columns is None else dict.fromkeys(columns, pa.string()),
            include_columns=columns,
            strings_can_be_null=True,
            null_values=[""],
        )
        if columns is None:
            convert = pv.ConvertOptions(strings_can_be_null=True, null_values=[""])
        options = pv.ReadOptions(block_size=16 << 20)
        return pv.open_csv(path, read_options=options, parse_options=parse, convert_options=convert)


class DuckDBSource(Source):
    """Tables of a DuckDB file (a warehouse sync copied locally), in any schema."""

    def __init__(self, path: Path) -> None:
        try:
            import duckdb
        except ImportError:
            raise InputError(
                f"{path}: reading a DuckDB file needs the duckdb package "
                "(pip install 'leadscore[warehouse]')"
            ) from None
        try:
            self.connection = duckdb.connect(str(path), read_only=True)
            rows = self.connection.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        except duckdb.Error as error:
            raise _unreadable(path, error) from None
        self.description = str(path)
        self.tables = {f"{schema}.{name}": name for schema, name in rows}

    def find(self, table: str, patterns: tuple[str, ...] = ()) -> str | None:
        for pattern in (*patterns, table):
            for qualified, name in self.tables.items():
                if fnmatch.fnmatch(name.lower(), pattern.lower().removesuffix(".csv")):
                    return qualified
        return None

    def _quoted(self, where: str) -> str:
        schema, name = where.split(".", 1)
        return f'"{schema}"."{name}"'

    def columns(self, where: str) -> list[str]:
        cursor = self.connection.execute(f"select * from {self._quoted(where)} limit 0")
        return [d[0] for d in cursor.description]

    def chunks(self, where: str, columns: list[str]) -> Iterator[pa.Table]:
        listed = ", ".join(f'"{c}"' for c in columns)
        relation = self.connection.sql(f"select {listed} from {self._quoted(where)}")
        reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
        reader = reader(CHUNK_ROWS)
        empty = True
        for batch in reader:
            empty = False
            yield pa.Table.from_batches([batch])
        if empty:
            yield _empty(columns)

    def close(self) -> None:
        self.connection.close()


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith((".parquet", ".pq"))


def _empty(columns: list[str]) -> pa.Table:
    return pa.table({c: pa.array([], pa.string()) for c in columns})


def _unreadable(path: Path, error: Exception) -> InputError:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return InputError(f"{path}: cannot read it: {text}")
