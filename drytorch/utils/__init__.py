"""Framework-free helpers: metadata representation, tensor ops, files."""
