"""Edge: board profiles and the body-sensor-network energy / bandwidth simulator (planned)."""
