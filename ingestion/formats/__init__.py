"""One module per wire format: parse, validate, map to the canonical event, shape answers."""
