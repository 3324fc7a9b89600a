"""The Dask engine's training and batch scoring: training sets with their hand-set points built
on partitions of whole leads, trees grown by ``lightgbm.dask`` across the workers, and the
champions scoring a partitioned lead set; the same run, model and registry as the local path."""
