"""Cluster mode: relay nodes sharing their state through Redis (DESIGN.md §7, docs/cluster.md).

:class:`~quicko.relay.cluster.state.ClusterState` holds the node's mirror stores (sans-I/O);
:class:`~quicko.relay.cluster.link.ClusterLink` writes them through to Redis, publishes and
applies changes, delivers frames across nodes and keeps the node's lease.
"""

from quicko.relay.cluster.link import ClusterError, ClusterLink, check_persistence
from quicko.relay.cluster.state import ClusterState

__all__ = ["ClusterError", "ClusterLink", "ClusterState", "check_persistence"]
