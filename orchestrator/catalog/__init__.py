"""The catalog: the Skill model and one loader per source format."""

from orchestrator.catalog._skill import Skill

__all__ = ["Skill"]
