"""The job runner (huey; embedded SQLite queue by default, Redis in production): claimed jobs with progress,
cancel and retry after a worker's death, and every periodic task once per period. See docs/deployment.md."""
