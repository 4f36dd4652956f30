"""Integrations at the edge: LangGraph, and MCP (servers as a catalog source and an executor
transport; orchestrator itself as an MCP tool-search gateway)."""
