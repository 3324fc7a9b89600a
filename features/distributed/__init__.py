"""Lead history on a Dask cluster: Parquet datasets read lazily, cut into partitions of whole
leads (every event of a lead in one partition), and the same pure feature steps mapped over
them; results written as partitioned Parquet."""
