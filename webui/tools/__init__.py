"""Tool use: tools as Python functions, their registry, call formats, the constrained turn and the API seam."""
