"""The tool graph: tools and states, cost-weighted edges, and the cheapest healthy plan."""

from orchestrator.graph._bound import GoalBound
from orchestrator.graph._graph import Fallback, Join, NodeKind, ToolGraph, ToolNode
from orchestrator.graph._load import graph_from_definition, load_graph
from orchestrator.graph._policy import GraphPolicy
from orchestrator.graph._routing import Plan, plan_route
from orchestrator.graph._weights import EdgeCost, ToolStats, Weights

__all__ = [
    "EdgeCost",
    "Fallback",
    "GoalBound",
    "GraphPolicy",
    "Join",
    "NodeKind",
    "Plan",
    "ToolGraph",
    "ToolNode",
    "ToolStats",
    "Weights",
    "graph_from_definition",
    "load_graph",
    "plan_route",
]
