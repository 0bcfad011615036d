"""Small helpers shared by the core: atomic writes, config (de)serialisation."""
