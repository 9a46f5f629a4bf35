"""Operations: backup and restore of the platform's data (``chaoyun backup`` / ``chaoyun restore``)."""
