"""Password recovery by phone code or emailed link."""
