"""Morph two photos: project both, walk A -> B -> A, and ask D along the way
(`morph`, `service.Morpher`)."""
