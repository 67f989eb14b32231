"""Looking at values under review: previews for people, JSON merge patches for approvers."""
