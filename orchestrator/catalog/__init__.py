"""The catalog: the Skill model and one loader per source format."""

from orchestrator.catalog._agent_skills import load_agent_skill, load_agent_skills
from orchestrator.catalog._callables import callables_by_skill_id, skills_from_callables
from orchestrator.catalog._functions import skills_from_functions
from orchestrator.catalog._langchain import skills_from_langchain_tools
from orchestrator.catalog._load import CatalogSource, load_catalog
from orchestrator.catalog._mcp import skills_from_mcp_tools
from orchestrator.catalog._modules import module_tools
from orchestrator.catalog._openapi import skills_from_openapi
from orchestrator.catalog._skill import Skill
from orchestrator.catalog._store import catalog_hash, save_catalog_jsonl

__all__ = [
    "CatalogSource",
    "Skill",
    "callables_by_skill_id",
    "catalog_hash",
    "load_agent_skill",
    "load_agent_skills",
    "load_catalog",
    "module_tools",
    "save_catalog_jsonl",
    "skills_from_callables",
    "skills_from_functions",
    "skills_from_langchain_tools",
    "skills_from_mcp_tools",
    "skills_from_openapi",
]
