"""Interop: run crew's patterns on other agent frameworks (AutoGen, CrewAI) and import projects."""
