"""One module per tool family: pydantic input model + pure function + JSON schema for the LLM."""
