"""Generate: the face studio (`service.FaceStudio`) and what it makes (`faces`)."""
