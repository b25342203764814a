"""The HTTP API: pydantic protocol models, a service object holding the agent, thin routers."""
