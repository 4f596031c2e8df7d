"""The in-house scorer's graph component on Apache Spark, for interaction graphs past one machine.

- ``pagerank``: weighted PageRank by power iteration over an edge DataFrame, with the scipy
  path's damping, dangling-mass rule and strict L1 tolerance (:mod:`aggregator.scoring.graph`),
  from an edge list as Parquet or as the scipy path's text format.

pyspark is the optional ``spark`` extra; only the command that selects the Spark engine
(``aggregator scorer graph --engine spark``) imports this package.
"""
