"""API v1's endpoints, one module per area: probes, checks, banks, the registry, admin."""
