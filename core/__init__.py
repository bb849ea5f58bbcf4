"""Shared infrastructure of every tab: model store, device, errors, image I/O, media, runs."""
