"""Identifier resolution (标识解析) and quality traceability (质量溯源): enterprise prefixes and metadata
templates, registration (one, in bulk, automatic per produced lot), Handle-style resolution with public and
authorised attributes, and the trace graph from material lots to customers (recall)."""
