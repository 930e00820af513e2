"""The HTTP edge's codecs: request bodies decoded into model objects, and model objects encoded
into the response bodies (msgspec Structs, which also give the OpenAPI document its schemas)."""
