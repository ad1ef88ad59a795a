"""SAE-SPLADE model toolkit: concept-level learned sparse retrieval on all-MiniLM-L6-v2."""
__version__ = "0.1.0"
