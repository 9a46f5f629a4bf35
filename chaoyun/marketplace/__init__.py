"""Resource pool (产业生态供给资源池): providers, offerings, whitelist, matching."""
