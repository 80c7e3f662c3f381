"""cxml's heavy jobs on Apache Spark: the same point-in-time reads, feature function, model and
text pipeline as the local engine, a bucket of customers per task (``cxml.spark.jobs``)."""
