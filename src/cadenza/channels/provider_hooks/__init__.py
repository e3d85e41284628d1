"""What email providers post back: their events, their signatures, and mail they received."""
