"""The local OpenAI-compatible model server (`shopmind serve-model`)."""
