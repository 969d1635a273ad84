"""Many machines on one library: a Ray dispatcher beside the library, one actor per GPU
(docs/cluster.md). ``ray`` is imported only when a cluster command runs."""
