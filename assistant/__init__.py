"""The agent, its LLM backends, roles, conversation store, REST API and the shopmind CLI."""
