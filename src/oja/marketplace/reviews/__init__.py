"""Reviews and ratings of products and stores by verified buyers, with moderation."""
