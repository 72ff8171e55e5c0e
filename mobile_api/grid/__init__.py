"""The grid worker's app: the subjects of my grids, field reports, observed community service."""
