"""Videos as NVIDIA's gen_video.py makes them: looping Catmull-Rom walks (`walks`), H.264
settings and the encoder (`encode`), and the service that renders walks, grids and sweeps
(`service.VideoMaker`)."""
